//! The venue's trading accounts: one per signer address, created on its first L1
//! authentication, with API credentials derived deterministically from (address, nonce, venue
//! seed) — so deriving again with the same nonce gives the same key, as the real venue does.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use sha3::{Digest, Keccak256};

use crate::adapters::polymarket::signing::Address;
use crate::sim::matching::AccountId;

/// The engine account id of the first trading account: 0 is the house, 1 collects fees.
pub const FIRST_CLIENT: u32 = 2;

/// One set of API credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The API key (a UUID, as the official clients expect).
    pub api_key: String,
    /// The HMAC secret, urlsafe base64 of 32 bytes.
    pub secret: String,
    /// The passphrase (64 hex digits).
    pub passphrase: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("api_key", &self.api_key)
            .field("secret", &"<redacted>")
            .field("passphrase", &"<redacted>")
            .finish()
    }
}

/// One trading account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenueAccount {
    /// Its id in the matching engine's ledger.
    pub id: AccountId,
    /// The signer address that owns it.
    pub address: Address,
    /// The funder (proxy or safe wallet) its orders name as `maker`, once one has been used.
    pub funder: Option<Address>,
    /// Credentials by nonce.
    creds: Vec<(u64, Credentials)>,
}

impl VenueAccount {
    /// The credentials derived for `nonce`, if they have been.
    pub fn credentials(&self, nonce: u64) -> Option<&Credentials> {
        self.creds.iter().find(|(n, _)| *n == nonce).map(|(_, c)| c)
    }
}

/// Every trading account.
#[derive(Clone, Debug, Default)]
pub struct Accounts {
    seed: u64,
    list: Vec<VenueAccount>,
    by_address: HashMap<Address, usize>,
    by_key: HashMap<String, usize>,
}

/// What [`Accounts::derive`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Derived {
    /// The account's engine id.
    pub account: AccountId,
    /// Whether the account was created by this call (and must be funded).
    pub created: bool,
    /// The credentials for the nonce asked.
    pub credentials: Credentials,
}

impl Accounts {
    /// No accounts yet; credentials are derived from `seed`.
    pub fn new(seed: u64) -> Accounts {
        Accounts {
            seed,
            ..Accounts::default()
        }
    }

    /// The credentials of `address` for `nonce`, creating the account and the credentials as
    /// needed. The same inputs always give the same credentials.
    pub fn derive(&mut self, address: &Address, nonce: u64) -> Derived {
        let (index, created) = match self.by_address.get(address) {
            Some(&i) => (i, false),
            None => {
                let index = self.list.len();
                let id = AccountId(
                    FIRST_CLIENT + u32::try_from(index).unwrap_or(u32::MAX - FIRST_CLIENT),
                );
                self.list.push(VenueAccount {
                    id,
                    address: *address,
                    funder: None,
                    creds: Vec::new(),
                });
                self.by_address.insert(*address, index);
                (index, true)
            }
        };
        let account = &mut self.list[index];
        if account.credentials(nonce).is_none() {
            let creds = derive_credentials(self.seed, address, nonce);
            self.by_key.insert(creds.api_key.clone(), index);
            account.creds.push((nonce, creds));
        }
        let credentials = account
            .credentials(nonce)
            .cloned()
            .expect("credentials for this nonce were just ensured");
        Derived {
            account: account.id,
            created,
            credentials,
        }
    }

    /// The account an API key belongs to, with that key's credentials.
    pub fn by_api_key(&self, api_key: &str) -> Option<(&VenueAccount, &Credentials)> {
        let account = &self.list[*self.by_key.get(api_key)?];
        let creds = account
            .creds
            .iter()
            .map(|(_, c)| c)
            .find(|c| c.api_key == api_key)?;
        Some((account, creds))
    }

    /// The account of a signer address.
    pub fn by_address(&self, address: &Address) -> Option<&VenueAccount> {
        self.by_address.get(address).map(|&i| &self.list[i])
    }

    /// Records the funder an account's orders use; false if it already uses a different one.
    pub fn bind_funder(&mut self, id: AccountId, funder: &Address) -> bool {
        let Some(index) =
            id.0.checked_sub(FIRST_CLIENT)
                .and_then(|i| usize::try_from(i).ok())
        else {
            return false;
        };
        let Some(account) = self.list.get_mut(index) else {
            return false;
        };
        match account.funder {
            Some(f) => f == *funder,
            None => {
                account.funder = Some(*funder);
                true
            }
        }
    }
}

fn derive_credentials(seed: u64, address: &Address, nonce: u64) -> Credentials {
    let bytes = |label: &[u8]| -> [u8; 32] {
        let mut h = Keccak256::new();
        h.update(b"pmbot-venue-credentials");
        h.update(label);
        h.update(seed.to_be_bytes());
        h.update(address);
        h.update(nonce.to_be_bytes());
        h.finalize().into()
    };
    let mut key = bytes(b"key");
    key[6] = (key[6] & 0x0f) | 0x40;
    key[8] = (key[8] & 0x3f) | 0x80;
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let api_key = format!(
        "{}-{}-{}-{}-{}",
        hex(&key[0..4]),
        hex(&key[4..6]),
        hex(&key[6..8]),
        hex(&key[8..10]),
        hex(&key[10..16])
    );
    Credentials {
        api_key,
        secret: URL_SAFE.encode(bytes(b"secret")),
        passphrase: hex(&bytes(b"passphrase")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Address = [0xaa; 20];
    const B: Address = [0xbb; 20];

    #[test]
    fn derivation_is_stable_per_address_and_nonce() {
        let mut accounts = Accounts::new(7);
        let first = accounts.derive(&A, 0);
        assert!(first.created);
        assert_eq!(first.account, AccountId(FIRST_CLIENT));
        let again = accounts.derive(&A, 0);
        assert!(!again.created);
        assert_eq!(again.credentials, first.credentials);
        let other_nonce = accounts.derive(&A, 1);
        assert_eq!(other_nonce.account, first.account);
        assert_ne!(other_nonce.credentials.api_key, first.credentials.api_key);
        let other = accounts.derive(&B, 0);
        assert_eq!(other.account, AccountId(FIRST_CLIENT + 1));
        assert_ne!(other.credentials.secret, first.credentials.secret);
        let reseeded = Accounts::new(8).derive(&A, 0);
        assert_ne!(reseeded.credentials.api_key, first.credentials.api_key);
    }

    #[test]
    fn credentials_have_the_shapes_clients_parse() {
        let creds = Accounts::new(1).derive(&A, 0).credentials;
        let key = creds.api_key.as_bytes();
        assert_eq!(key.len(), 36);
        assert_eq!(key[14], b'4');
        assert!(matches!(key[19], b'8' | b'9' | b'a' | b'b'));
        assert_eq!(URL_SAFE.decode(&creds.secret).unwrap().len(), 32);
        assert_eq!(creds.passphrase.len(), 64);
        assert!(!format!("{creds:?}").contains(&creds.secret));
    }

    #[test]
    fn lookups_find_accounts_by_key_and_address() {
        let mut accounts = Accounts::new(3);
        let d = accounts.derive(&A, 5);
        let (account, creds) = accounts.by_api_key(&d.credentials.api_key).unwrap();
        assert_eq!(account.address, A);
        assert_eq!(creds.secret, d.credentials.secret);
        assert!(accounts.by_api_key("nope").is_none());
        assert_eq!(accounts.by_address(&A).unwrap().id, d.account);
        assert!(!accounts.bind_funder(AccountId::HOUSE, &B));
        assert!(accounts.bind_funder(d.account, &B));
        assert!(accounts.bind_funder(d.account, &B));
        assert!(!accounts.bind_funder(d.account, &A));
    }
}
