//! Trading secrets (the wallet key, the CLOB API credentials) turned from the settings'
//! `secrets` section — filled only from `PMBOT_SECRETS__*` variables or a mode-0600 key file,
//! never from a committed config — into a signer and credentials. Nothing here prints a
//! secret: `Debug` shows addresses and the API key only, and errors name settings keys, never
//! their values.

use crate::adapters::polymarket::auth::ApiCreds;
use crate::adapters::polymarket::signing::{Address, Signer, parse_address};
use crate::bot::settings::{ExecutionSettings, SecretsSettings};

/// What the trading side needs to sign orders and authenticate.
#[derive(Debug)]
pub struct Secrets {
    /// The wallet key (its `Debug` shows the address only).
    pub signer: Signer,
    /// The funder, when orders spend another wallet's funds.
    pub funder: Option<Address>,
    /// 0 EOA, 1 proxy, 2 Gnosis safe.
    pub signature_type: u8,
    /// API credentials if configured; `None` means derive them with L1 at start-up.
    pub creds: Option<ApiCreds>,
}

impl Secrets {
    /// The order `maker`: the funder if set, else the signer.
    pub fn maker(&self) -> Address {
        self.funder.unwrap_or(self.signer.address())
    }
}

/// Why the secrets are not usable. Messages name settings keys, never values.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// No wallet key configured.
    #[error(
        "secrets.private_key is not set: set PMBOT_SECRETS__PRIVATE_KEY, or \
         PMBOT_SECRETS__PRIVATE_KEY_FILE naming a mode-0600 file"
    )]
    MissingPrivateKey,
    /// The wallet key is not `0x` + 64 hex digits of a valid secp256k1 scalar.
    #[error("secrets.private_key is not 0x followed by 64 hex digits of a valid secp256k1 key")]
    BadPrivateKey,
    /// Some but not all of the three API credentials are set.
    #[error("set all of secrets.api_key, secrets.api_secret, secrets.api_passphrase or none")]
    PartialCreds,
    /// The funder is not an address.
    #[error("execution.funder is not 0x followed by 40 hex digits")]
    BadFunder,
    /// A proxy or safe signature type without a funder address.
    #[error("execution.signature_type 1 or 2 needs execution.funder")]
    MissingFunder,
}

fn parse_key(text: &str) -> Result<Signer, SecretsError> {
    let digits = text.strip_prefix("0x").unwrap_or(text).as_bytes();
    if digits.len() != 64 {
        return Err(SecretsError::BadPrivateKey);
    }
    let mut secret = [0u8; 32];
    for (byte, pair) in secret.iter_mut().zip(digits.chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).map_err(|_| SecretsError::BadPrivateKey)?;
        *byte = u8::from_str_radix(pair, 16).map_err(|_| SecretsError::BadPrivateKey)?;
    }
    let signer = Signer::from_secret(&secret).map_err(|_| SecretsError::BadPrivateKey);
    secret.fill(0);
    signer
}

/// The signer, funder and credentials the settings describe (`secrets` for the key and the
/// API credentials, `execution` for the funder and the signature type).
pub fn from_settings(
    secrets: &SecretsSettings,
    execution: &ExecutionSettings,
) -> Result<Secrets, SecretsError> {
    let key = secrets
        .private_key
        .as_ref()
        .filter(|k| !k.expose().is_empty())
        .ok_or(SecretsError::MissingPrivateKey)?;
    let signer = parse_key(key.expose())?;
    let funder = execution
        .funder
        .as_deref()
        .filter(|f| !f.is_empty())
        .map(|text| parse_address(text).map_err(|_| SecretsError::BadFunder))
        .transpose()?;
    if execution.signature_type != 0 && funder.is_none() {
        return Err(SecretsError::MissingFunder);
    }
    let creds = match (
        &secrets.api_key,
        &secrets.api_secret,
        &secrets.api_passphrase,
    ) {
        (Some(api_key), Some(secret), Some(passphrase)) => Some(ApiCreds {
            api_key: api_key.expose().to_owned(),
            secret: secret.clone(),
            passphrase: passphrase.clone(),
        }),
        (None, None, None) => None,
        _ => return Err(SecretsError::PartialCreds),
    };
    Ok(Secrets {
        signer,
        funder,
        signature_type: execution.signature_type,
        creds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::polymarket::auth::Secret;
    use crate::bot::settings::Settings;

    /// Hardhat's first well-known account (public).
    const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    const ADDRESS: &str = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
    const API_SECRET_VALUE: &str = "c2VjcmV0LXZhbHVlLWZvci10ZXN0cw==";
    const PASSPHRASE_VALUE: &str = "passphrase-value-xyz";

    fn secret(v: &str) -> Option<Secret> {
        Some(Secret::new(v.to_owned()))
    }

    fn settings() -> (SecretsSettings, ExecutionSettings) {
        let s = Settings::shipped_dev().unwrap();
        let mut secrets = s.secrets;
        secrets.private_key = secret(KEY);
        secrets.api_key = secret("key-uuid");
        secrets.api_secret = secret(API_SECRET_VALUE);
        secrets.api_passphrase = secret(PASSPHRASE_VALUE);
        (secrets, s.execution)
    }

    /// No secret value (the key with or without `0x`, the API secret, the passphrase) in `text`.
    fn assert_clean(text: &str) {
        for secret in [KEY, &KEY[2..], API_SECRET_VALUE, PASSPHRASE_VALUE] {
            assert!(!text.contains(secret), "a secret leaked into: {text}");
        }
    }

    #[test]
    fn builds_signer_and_credentials_and_shows_no_secret() {
        let (secrets, execution) = settings();
        let loaded = from_settings(&secrets, &execution).unwrap();
        assert_eq!(loaded.signer.address(), parse_address(ADDRESS).unwrap());
        assert_eq!(loaded.maker(), loaded.signer.address());
        assert_eq!(loaded.signature_type, 0);
        let creds = loaded.creds.as_ref().unwrap();
        assert_eq!(creds.api_key, "key-uuid");
        assert_eq!(creds.secret.expose(), API_SECRET_VALUE);
        assert_eq!(creds.passphrase.expose(), PASSPHRASE_VALUE);
        let shown = format!("{loaded:?} {secrets:?}");
        assert!(shown.contains(&ADDRESS[2..]), "{shown}");
        assert_clean(&shown);
        assert_clean(&format!("{} {}", creds.secret, creds.passphrase));
    }

    #[test]
    fn funder_and_signature_type() {
        let (secrets, mut execution) = settings();
        let funder = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
        execution.funder = Some(funder.into());
        execution.signature_type = 2;
        let loaded = from_settings(&secrets, &execution).unwrap();
        assert_eq!(loaded.maker(), parse_address(funder).unwrap());
        assert_eq!(loaded.signature_type, 2);
        execution.funder = None;
        let err = from_settings(&secrets, &execution).unwrap_err();
        assert!(matches!(err, SecretsError::MissingFunder));
        execution.funder = Some("0x12".into());
        let err = from_settings(&secrets, &execution).unwrap_err();
        assert!(matches!(err, SecretsError::BadFunder));
    }

    #[test]
    fn errors_never_carry_values() {
        let (mut secrets, execution) = settings();
        let bad_key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ffzz";
        secrets.private_key = secret(bad_key);
        let err = from_settings(&secrets, &execution).unwrap_err();
        assert!(matches!(err, SecretsError::BadPrivateKey));
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(&bad_key[2..60]), "{shown}");
        secrets.private_key = secret(&KEY[..40]);
        assert!(matches!(
            from_settings(&secrets, &execution).unwrap_err(),
            SecretsError::BadPrivateKey
        ));
        secrets.private_key = None;
        assert!(matches!(
            from_settings(&secrets, &execution).unwrap_err(),
            SecretsError::MissingPrivateKey
        ));
        let (mut secrets, execution) = settings();
        secrets.api_passphrase = None;
        let err = from_settings(&secrets, &execution).unwrap_err();
        assert!(matches!(err, SecretsError::PartialCreds));
        assert_clean(&format!("{err} {err:?} {secrets:?}"));
    }
}
