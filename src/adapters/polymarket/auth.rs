//! CLOB authentication: L1 (an EIP-712 `ClobAuth` signature by the wallet, to create or derive
//! API credentials) and L2 (an HMAC-SHA256 of each trading request under the API secret), for
//! both sides — the bot signs, the embedded venue verifies — plus redacting secret holders.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::signing::{
    Address, SignError, Signer, checksum_address, decimal_digits, hex_address, hex_signature,
    keccak, parse_address, parse_signature, recover_signer, word_address, word_u64,
};

/// A secret string (API secret, passphrase). `Debug` and `Display` print `<redacted>`; only
/// [`Secret::expose`] gives the value.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The value, for the few places that must send or key with it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// L2 credentials as `POST /auth/api-key` and `GET /auth/derive-api-key` return them
/// (`{"apiKey","secret","passphrase"}`). `Debug` shows the key and redacts the rest.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct ApiCreds {
    /// The API key (a UUID); it is the `owner` of every order.
    #[serde(rename = "apiKey")]
    pub api_key: String,
    /// The HMAC key, urlsafe base64.
    pub secret: Secret,
    /// Sent in `POLY_PASSPHRASE`.
    pub passphrase: Secret,
}

/// Why an authentication step failed. Messages never contain a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A key, address or signature problem from the signing layer.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// `POLY_TIMESTAMP` is not a decimal integer.
    #[error("timestamp is not a decimal integer")]
    BadTimestamp,
    /// `POLY_NONCE` is not a decimal integer.
    #[error("nonce is not a decimal integer")]
    BadNonce,
    /// The L1 signature is valid but was made by another address than `POLY_ADDRESS`.
    #[error("L1 signature was not made by the claimed address")]
    WrongSigner,
    /// The API secret is not urlsafe base64.
    #[error("API secret is not urlsafe base64")]
    BadSecret,
    /// The API key or passphrase holds a character an HTTP header value cannot carry.
    #[error("API key or passphrase is not printable ASCII")]
    BadHeaderValue,
}

/// The message every L1 signature attests.
const CLOB_AUTH_MESSAGE: &str = "This message attests that I control the given wallet";
const CLOB_AUTH_TYPE: &str =
    "ClobAuth(address address,string timestamp,uint256 nonce,string message)";
const CLOB_DOMAIN_TYPE: &str = "EIP712Domain(string name,string version,uint256 chainId)";
const CLOB_DOMAIN_NAME: &str = "ClobAuthDomain";
const CLOB_DOMAIN_VERSION: &str = "1";

/// The L1 digest with the timestamp as the exact decimal text that is signed (and sent).
fn clob_auth_digest_text(
    address: &Address,
    timestamp: &[u8],
    nonce: u64,
    chain_id: u64,
) -> [u8; 32] {
    let mut domain = [0u8; 4 * 32];
    domain[..32].copy_from_slice(&keccak(CLOB_DOMAIN_TYPE.as_bytes()));
    domain[32..64].copy_from_slice(&keccak(CLOB_DOMAIN_NAME.as_bytes()));
    domain[64..96].copy_from_slice(&keccak(CLOB_DOMAIN_VERSION.as_bytes()));
    domain[96..].copy_from_slice(&word_u64(chain_id));

    let mut data = [0u8; 5 * 32];
    data[..32].copy_from_slice(&keccak(CLOB_AUTH_TYPE.as_bytes()));
    data[32..64].copy_from_slice(&word_address(address));
    data[64..96].copy_from_slice(&keccak(timestamp));
    data[96..128].copy_from_slice(&word_u64(nonce));
    data[128..].copy_from_slice(&keccak(CLOB_AUTH_MESSAGE.as_bytes()));

    let mut encoded = [0u8; 2 + 32 + 32];
    encoded[..2].copy_from_slice(&[0x19, 0x01]);
    encoded[2..34].copy_from_slice(&keccak(&domain));
    encoded[34..].copy_from_slice(&keccak(&data));
    keccak(&encoded)
}

/// The EIP-712 digest of `ClobAuth{address, timestamp (decimal string), nonce, message}` under
/// the domain `{name: "ClobAuthDomain", version: "1", chainId}`.
pub fn clob_auth_digest(address: &Address, timestamp: u64, nonce: u64, chain_id: u64) -> [u8; 32] {
    let mut buf = [0; 20];
    clob_auth_digest_text(
        address,
        decimal_digits(timestamp, &mut buf),
        nonce,
        chain_id,
    )
}

/// A wallet's L1 attestation: what the four L1 headers carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L1Auth {
    /// The wallet (signer) address.
    pub address: Address,
    /// `r ‖ s ‖ v` over [`clob_auth_digest`], `v` = 27 or 28.
    pub signature: [u8; 65],
    /// Unix seconds.
    pub timestamp: u64,
    /// The credential nonce (0 unless the account uses several key sets).
    pub nonce: u64,
}

/// Signs the L1 attestation for `timestamp` and `nonce` on `chain_id`.
pub fn l1_sign(
    signer: &Signer,
    timestamp: u64,
    nonce: u64,
    chain_id: u64,
) -> Result<L1Auth, SignError> {
    let address = signer.address();
    let signature = signer.sign(&clob_auth_digest(&address, timestamp, nonce, chain_id))?;
    Ok(L1Auth {
        address,
        signature,
        timestamp,
        nonce,
    })
}

fn ascii(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// The L1 headers as the SDK sends them: `POLY_ADDRESS` (lowercase hex), `POLY_SIGNATURE`
/// (`0x` + 130 hex), `POLY_TIMESTAMP`, `POLY_NONCE`.
pub fn l1_headers(a: &L1Auth) -> [(&'static str, String); 4] {
    [
        ("POLY_ADDRESS", ascii(&hex_address(&a.address))),
        ("POLY_SIGNATURE", ascii(&hex_signature(&a.signature))),
        ("POLY_TIMESTAMP", a.timestamp.to_string()),
        ("POLY_NONCE", a.nonce.to_string()),
    ]
}

fn decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Checks the four L1 header values on `chain_id` and returns the address they prove control
/// of. The timestamp is hashed exactly as sent; its freshness is the caller's policy.
pub fn l1_verify(
    address: &str,
    signature: &str,
    timestamp: &str,
    nonce: &str,
    chain_id: u64,
) -> Result<Address, AuthError> {
    let claimed = parse_address(address)?;
    let signature = parse_signature(signature)?;
    decimal(timestamp).ok_or(AuthError::BadTimestamp)?;
    let nonce = decimal(nonce).ok_or(AuthError::BadNonce)?;
    let digest = clob_auth_digest_text(&claimed, timestamp.as_bytes(), nonce, chain_id);
    if recover_signer(&digest, &signature)? == claimed {
        Ok(claimed)
    } else {
        Err(AuthError::WrongSigner)
    }
}

type HmacSha256 = Hmac<Sha256>;

fn keyed_mac(secret_b64: &str) -> Result<HmacSha256, AuthError> {
    let key = URL_SAFE
        .decode(secret_b64)
        .map_err(|_| AuthError::BadSecret)?;
    HmacSha256::new_from_slice(&key).map_err(|_| AuthError::BadSecret)
}

/// Feeds `timestamp ‖ METHOD ‖ path ‖ body` into `mac`.
fn feed(mac: &mut HmacSha256, timestamp: &[u8], method: &str, path: &str, body: &[u8]) {
    mac.update(timestamp);
    mac.update(method.as_bytes());
    mac.update(path.as_bytes());
    mac.update(body);
}

const B64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Urlsafe base64 with `=` padding of a 32-byte tag: always 44 characters.
fn b64_tag(tag: &[u8]) -> [u8; 44] {
    let mut out = [b'='; 44];
    for (chunk, quad) in tag.chunks(3).zip(out.chunks_exact_mut(4)) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for (i, c) in quad.iter_mut().enumerate().take(chunk.len() + 1) {
            *c = B64_URL[(n >> (18 - 6 * i) & 0x3f) as usize];
        }
    }
    out
}

fn is_header_safe(text: &str) -> bool {
    text.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// Signs trading requests with L2 headers: the HMAC is keyed once, so each request costs one
/// clone of its state and one pass over the message.
#[derive(Clone)]
pub struct L2Signer {
    mac: HmacSha256,
    api_key: String,
    passphrase: Secret,
    address: [u8; 42],
}

impl L2Signer {
    /// Keys the HMAC with the decoded secret and checksums `address` (the L1 signer's).
    pub fn new(creds: &ApiCreds, address: &Address) -> Result<L2Signer, AuthError> {
        if !is_header_safe(&creds.api_key) || !is_header_safe(creds.passphrase.expose()) {
            return Err(AuthError::BadHeaderValue);
        }
        let mut checksummed = [0u8; 42];
        checksummed.copy_from_slice(checksum_address(address).as_bytes());
        Ok(L2Signer {
            mac: keyed_mac(creds.secret.expose())?,
            api_key: creds.api_key.clone(),
            passphrase: creds.passphrase.clone(),
            address: checksummed,
        })
    }

    /// The API key (the `owner` of orders).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Urlsafe base64 (with padding) of `HMAC_SHA256(secret, timestamp ‖ METHOD ‖ path ‖ body)`;
    /// `path` excludes the query string, `body` is the exact bytes sent. No allocation.
    pub fn signature(&self, timestamp: u64, method: &str, path: &str, body: &[u8]) -> [u8; 44] {
        let mut mac = self.mac.clone();
        feed(
            &mut mac,
            decimal_digits(timestamp, &mut [0; 20]),
            method,
            path,
            body,
        );
        b64_tag(&mac.finalize().into_bytes())
    }

    /// Appends the five `POLY_*: value\r\n` header lines (address, api key, passphrase,
    /// signature, timestamp) to `out`; no allocation once `out` has room.
    pub fn write_headers(
        &self,
        timestamp: u64,
        method: &str,
        path: &str,
        body: &[u8],
        out: &mut Vec<u8>,
    ) {
        let signature = self.signature(timestamp, method, path, body);
        out.extend_from_slice(b"POLY_ADDRESS: ");
        out.extend_from_slice(&self.address);
        out.extend_from_slice(b"\r\nPOLY_API_KEY: ");
        out.extend_from_slice(self.api_key.as_bytes());
        out.extend_from_slice(b"\r\nPOLY_PASSPHRASE: ");
        out.extend_from_slice(self.passphrase.expose().as_bytes());
        out.extend_from_slice(b"\r\nPOLY_SIGNATURE: ");
        out.extend_from_slice(&signature);
        out.extend_from_slice(b"\r\nPOLY_TIMESTAMP: ");
        out.extend_from_slice(decimal_digits(timestamp, &mut [0; 20]));
        out.extend_from_slice(b"\r\n");
    }

    /// The same five headers as name/value pairs, for the non-hot-path client.
    pub fn headers(
        &self,
        timestamp: u64,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> [(&'static str, String); 5] {
        [
            ("POLY_ADDRESS", ascii(&self.address)),
            ("POLY_API_KEY", self.api_key.clone()),
            ("POLY_PASSPHRASE", self.passphrase.expose().to_owned()),
            (
                "POLY_SIGNATURE",
                ascii(&self.signature(timestamp, method, path, body)),
            ),
            ("POLY_TIMESTAMP", timestamp.to_string()),
        ]
    }
}

impl fmt::Debug for L2Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("L2Signer")
            .field("address", &ascii(&self.address))
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

/// Checks an L2 `POLY_SIGNATURE` against the account's secret, in constant time. The timestamp
/// is hashed exactly as sent; its freshness is the caller's policy. A malformed secret or
/// signature is simply not valid.
pub fn l2_verify(
    secret_b64: &str,
    timestamp: &str,
    method: &str,
    path: &str,
    body: &[u8],
    signature: &str,
) -> bool {
    let Ok(mut mac) = keyed_mac(secret_b64) else {
        return false;
    };
    let mut tag = [0u8; 33];
    match URL_SAFE.decode_slice(signature, &mut tag) {
        Ok(32) => {}
        _ => return false,
    }
    feed(&mut mac, timestamp.as_bytes(), method, path, body);
    mac.verify_slice(&tag[..32]).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hardhat's first well-known account, the key the SDK's own auth tests use.
    const TEST_SECRET: [u8; 32] = [
        0xac, 0x09, 0x74, 0xbe, 0xc3, 0x9a, 0x17, 0xe3, 0x6b, 0xa4, 0xa6, 0xb4, 0xd2, 0x38, 0xff,
        0x94, 0x4b, 0xac, 0xb4, 0x78, 0xcb, 0xed, 0x5e, 0xfc, 0xae, 0x78, 0x4d, 0x7b, 0xf4, 0xf2,
        0xff, 0x80,
    ];
    const AMOY: u64 = 80_002;
    /// The SDK's `l1_headers_should_succeed` vector (Amoy, timestamp 10 000 000, nonce 23).
    const SDK_L1_SIGNATURE: &str = "0xf62319a987514da40e57e2f4d7529f7bac38f0355bd88bb5adbb3768d80de6c1682518e0af677d5260366425f4361e7b70c25ae232aff0ab2331e2b164a1aedc1b";
    /// The SDK's L2 test secret (32 zero bytes).
    const ZERO_SECRET: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    fn creds(secret: &str, passphrase: &str) -> ApiCreds {
        ApiCreds {
            api_key: "00000000-0000-0000-0000-000000000000".to_owned(),
            secret: Secret::new(secret.to_owned()),
            passphrase: Secret::new(passphrase.to_owned()),
        }
    }

    #[test]
    fn l1_signature_matches_the_sdk_vector_and_verifies() {
        let signer = Signer::from_secret(&TEST_SECRET).unwrap();
        let auth = l1_sign(&signer, 10_000_000, 23, AMOY).unwrap();
        let headers = l1_headers(&auth);
        assert_eq!(
            headers[0],
            (
                "POLY_ADDRESS",
                "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266".to_owned()
            )
        );
        assert_eq!(headers[1], ("POLY_SIGNATURE", SDK_L1_SIGNATURE.to_owned()));
        assert_eq!(headers[2], ("POLY_TIMESTAMP", "10000000".to_owned()));
        assert_eq!(headers[3], ("POLY_NONCE", "23".to_owned()));

        let [(_, address), (_, signature), (_, timestamp), (_, nonce)] = headers;
        assert_eq!(
            l1_verify(&address, &signature, &timestamp, &nonce, AMOY),
            Ok(signer.address())
        );
        let checksummed = checksum_address(&signer.address());
        assert_eq!(
            l1_verify(&checksummed, &signature, &timestamp, &nonce, AMOY),
            Ok(signer.address())
        );
    }

    #[test]
    fn l1_verify_refuses_changed_fields() {
        let signer = Signer::from_secret(&TEST_SECRET).unwrap();
        let [(_, address), (_, signature), (_, timestamp), (_, nonce)] =
            l1_headers(&l1_sign(&signer, 1_700_000_000, 0, 137).unwrap());
        let other = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
        assert_eq!(
            l1_verify(other, &signature, &timestamp, &nonce, 137),
            Err(AuthError::WrongSigner)
        );
        assert_eq!(
            l1_verify(&address, &signature, "1700000001", &nonce, 137),
            Err(AuthError::WrongSigner)
        );
        assert_eq!(
            l1_verify(&address, &signature, "01700000000", &nonce, 137),
            Err(AuthError::WrongSigner)
        );
        assert_eq!(
            l1_verify(&address, &signature, &timestamp, "1", 137),
            Err(AuthError::WrongSigner)
        );
        assert_eq!(
            l1_verify(&address, &signature, &timestamp, &nonce, AMOY),
            Err(AuthError::WrongSigner)
        );
        assert_eq!(
            l1_verify(&address, &signature, "17e8", &nonce, 137),
            Err(AuthError::BadTimestamp)
        );
        assert_eq!(
            l1_verify(&address, &signature, &timestamp, "-1", 137),
            Err(AuthError::BadNonce)
        );
        assert_eq!(
            l1_verify("0x1234", &signature, &timestamp, &nonce, 137),
            Err(AuthError::Sign(SignError::InvalidAddress))
        );
        assert_eq!(
            l1_verify(&address, "0x1b", &timestamp, &nonce, 137),
            Err(AuthError::Sign(SignError::InvalidSignature))
        );
    }

    #[test]
    fn l2_signature_matches_the_sdk_vectors() {
        let signer = Signer::from_secret(&TEST_SECRET).unwrap();
        let l2 = L2Signer::new(&creds(ZERO_SECRET, "pass"), &signer.address()).unwrap();
        assert_eq!(
            &l2.signature(1, "GET", "/", b""),
            b"eHaylCwqRSOa2LFD77Nt_SaTpbsxzN8eTEI3LryhEj4="
        );
        assert_eq!(
            &l2.signature(1_000_000, "test-sign", "/orders", br#"{"hash":"0x123"}"#),
            b"4gJVbox-R6XlDK4nlaicig0_ANVL1qdcahiL8CXfXLM="
        );
    }

    #[test]
    fn l2_headers_carry_the_checksummed_address_and_verify() {
        let signer = Signer::from_secret(&TEST_SECRET).unwrap();
        let secret = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU-";
        let l2 = L2Signer::new(&creds(secret, "phrase"), &signer.address()).unwrap();
        let body = br#"{"orderID":"0xab"}"#;
        let headers = l2.headers(1_764_000_000, "DELETE", "/order", body);
        assert_eq!(headers[0].1, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
        assert_eq!(headers[1].1, "00000000-0000-0000-0000-000000000000");
        assert_eq!(headers[2].1, "phrase");
        assert_eq!(headers[4].1, "1764000000");
        let signature = &headers[3].1;
        assert!(l2_verify(
            secret,
            "1764000000",
            "DELETE",
            "/order",
            body,
            signature
        ));
        assert!(!l2_verify(
            secret,
            "1764000001",
            "DELETE",
            "/order",
            body,
            signature
        ));
        assert!(!l2_verify(
            secret,
            "1764000000",
            "POST",
            "/order",
            body,
            signature
        ));
        assert!(!l2_verify(
            secret,
            "1764000000",
            "DELETE",
            "/orders",
            body,
            signature
        ));
        assert!(!l2_verify(
            secret,
            "1764000000",
            "DELETE",
            "/order",
            b"{}",
            signature
        ));
        assert!(!l2_verify(
            ZERO_SECRET,
            "1764000000",
            "DELETE",
            "/order",
            body,
            signature
        ));
        assert!(!l2_verify(
            "not base64!",
            "1764000000",
            "DELETE",
            "/order",
            body,
            signature
        ));
        assert!(!l2_verify(
            secret,
            "1764000000",
            "DELETE",
            "/order",
            body,
            "short"
        ));

        let mut lines = Vec::new();
        l2.write_headers(1_764_000_000, "DELETE", "/order", body, &mut lines);
        let expected: String = headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        assert_eq!(String::from_utf8(lines).unwrap(), expected);
    }

    #[test]
    fn base64_tag_matches_the_base64_crate() {
        for seed in 0u8..8 {
            let tag = keccak(&[seed]);
            assert_eq!(b64_tag(&tag).as_slice(), URL_SAFE.encode(tag).as_bytes());
        }
    }

    #[test]
    fn bad_credentials_are_refused_without_echoing_them() {
        let address = [7u8; 20];
        let err = L2Signer::new(&creds("%%%%", "phrase"), &address).unwrap_err();
        assert_eq!(err, AuthError::BadSecret);
        assert!(!err.to_string().contains("%%%%"));
        let err = L2Signer::new(&creds(ZERO_SECRET, "hunter2\r\nX-Evil: 1"), &address).unwrap_err();
        assert_eq!(err, AuthError::BadHeaderValue);
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn secrets_are_redacted_in_debug_and_display() {
        let creds: ApiCreds = serde_json::from_str(
            r#"{"apiKey":"key-1","secret":"c2VjcmV0LXZhbHVl","passphrase":"hunter2-phrase"}"#,
        )
        .unwrap();
        assert_eq!(creds.secret.expose(), "c2VjcmV0LXZhbHVl");
        let shown = format!("{creds:?} {} {}", creds.secret, creds.passphrase);
        assert!(shown.contains("key-1"));
        assert!(!shown.contains("c2VjcmV0LXZhbHVl"));
        assert!(!shown.contains("hunter2"));
        let l2 = L2Signer::new(&creds, &[7; 20]).unwrap();
        let shown = format!("{l2:?}");
        assert!(
            !shown.contains("c2VjcmV0LXZhbHVl") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
