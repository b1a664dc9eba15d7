//! Trading secrets (the wallet key, the CLOB API credentials) from the environment or a
//! mode-0600 file — never from a committed config. Nothing here prints a secret: `Debug` shows
//! addresses and the API key only, and error messages name variables, never their values.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;

use crate::adapters::polymarket::auth::{ApiCreds, Secret};
use crate::adapters::polymarket::signing::{Address, Signer, parse_address};

/// The wallet key, `0x` + 64 hex digits.
pub const PRIVATE_KEY: &str = "PMBOT_PRIVATE_KEY";
/// A file of `KEY=VALUE` lines holding any of these variables; it must be mode 0600.
pub const SECRETS_FILE: &str = "PMBOT_SECRETS_FILE";
/// The CLOB API key; with the two below, or none of the three (credentials derived at start-up).
pub const API_KEY: &str = "PMBOT_API_KEY";
/// The CLOB API secret (urlsafe base64).
pub const API_SECRET: &str = "PMBOT_API_SECRET";
/// The CLOB API passphrase.
pub const API_PASSPHRASE: &str = "PMBOT_API_PASSPHRASE";
/// The funder (maker) address when it is not the signer (proxy or safe wallets).
pub const FUNDER: &str = "PMBOT_FUNDER";
/// 0 EOA (default), 1 proxy, 2 Gnosis safe.
pub const SIGNATURE_TYPE: &str = "PMBOT_SIGNATURE_TYPE";

const KNOWN: [&str; 7] = [
    PRIVATE_KEY,
    SECRETS_FILE,
    API_KEY,
    API_SECRET,
    API_PASSPHRASE,
    FUNDER,
    SIGNATURE_TYPE,
];

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

/// Why the secrets could not be loaded. Messages name variables and paths, never values.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// Neither the environment nor the secrets file sets the wallet key.
    #[error("{PRIVATE_KEY} is not set (in the environment or the {SECRETS_FILE} file)")]
    MissingPrivateKey,
    /// The wallet key is not `0x` + 64 hex digits of a valid secp256k1 scalar.
    #[error("{PRIVATE_KEY} is not 0x followed by 64 hex digits of a valid secp256k1 key")]
    BadPrivateKey,
    /// Some but not all of the three API credential variables are set.
    #[error("set all of {API_KEY}, {API_SECRET}, {API_PASSPHRASE} or none of them")]
    PartialCreds,
    /// The funder is not an address.
    #[error("{FUNDER} is not 0x followed by 40 hex digits")]
    BadFunder,
    /// The signature type is not 0, 1 or 2.
    #[error("{SIGNATURE_TYPE} must be 0 (EOA), 1 (proxy) or 2 (safe)")]
    BadSignatureType,
    /// A proxy or safe signature type without a funder address.
    #[error("{SIGNATURE_TYPE} 1 or 2 needs {FUNDER}")]
    MissingFunder,
    /// The secrets file is readable by group or others.
    #[error("secrets file {path} has mode {mode:04o}; it must be 0600 (chmod 600 {path})")]
    InsecureFile {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The secrets file could not be opened or read.
    #[error("secrets file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error (it never carries file contents).
        source: std::io::Error,
    },
    /// A line of the secrets file is not `KEY=VALUE` with a known key.
    #[error("secrets file {path} line {line}: expected KEY=VALUE with a PMBOT_* key")]
    BadLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
}

/// Reads a secrets file: it must be mode 0600 (no group or other bits); blank lines and `#`
/// comments are skipped; every other line is `KEY=VALUE` with one of the known keys.
fn read_file(path: PathBuf) -> Result<HashMap<String, String>, SecretsError> {
    let io = |source| SecretsError::Io {
        path: path.clone(),
        source,
    };
    let mut file = File::open(&path).map_err(io)?;
    let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretsError::InsecureFile { path, mode });
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io)?;
    let mut values = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((key, value)) if KNOWN.contains(&key.trim()) && key.trim() != SECRETS_FILE => {
                values.insert(key.trim().to_owned(), value.trim().to_owned());
            }
            _ => {
                return Err(SecretsError::BadLine { path, line: i + 1 });
            }
        }
    }
    Ok(values)
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

/// Loads the secrets: each variable from `env` (e.g. `|k| std::env::var(k).ok()`) or, failing
/// that, from the `PMBOT_SECRETS_FILE` file if one is named.
pub fn load(env: &dyn Fn(&str) -> Option<String>) -> Result<Secrets, SecretsError> {
    let file = match env(SECRETS_FILE) {
        Some(path) => read_file(PathBuf::from(path))?,
        None => HashMap::new(),
    };
    let get = |key: &str| {
        env(key)
            .or_else(|| file.get(key).cloned())
            .filter(|v| !v.is_empty())
    };

    let signer = parse_key(&get(PRIVATE_KEY).ok_or(SecretsError::MissingPrivateKey)?)?;
    let funder = get(FUNDER)
        .map(|text| parse_address(&text).map_err(|_| SecretsError::BadFunder))
        .transpose()?;
    let signature_type = match get(SIGNATURE_TYPE).as_deref() {
        None | Some("0") => 0,
        Some("1") => 1,
        Some("2") => 2,
        Some(_) => return Err(SecretsError::BadSignatureType),
    };
    if signature_type != 0 && funder.is_none() {
        return Err(SecretsError::MissingFunder);
    }
    let creds = match (get(API_KEY), get(API_SECRET), get(API_PASSPHRASE)) {
        (Some(api_key), Some(secret), Some(passphrase)) => Some(ApiCreds {
            api_key,
            secret: Secret::new(secret),
            passphrase: Secret::new(passphrase),
        }),
        (None, None, None) => None,
        _ => return Err(SecretsError::PartialCreds),
    };
    Ok(Secrets {
        signer,
        funder,
        signature_type,
        creds,
    })
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::*;

    /// Hardhat's first well-known account (public).
    const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    const ADDRESS: &str = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
    const API_SECRET_VALUE: &str = "c2VjcmV0LXZhbHVlLWZvci10ZXN0cw==";
    const PASSPHRASE_VALUE: &str = "passphrase-value-xyz";

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |key| map.get(key).cloned()
    }

    fn temp_file(name: &str, text: &str, mode: u32) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("pmbot-secrets-{}-{name}", std::process::id()));
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn all_env() -> Vec<(&'static str, &'static str)> {
        vec![
            (PRIVATE_KEY, KEY),
            (API_KEY, "key-uuid"),
            (API_SECRET, API_SECRET_VALUE),
            (API_PASSPHRASE, PASSPHRASE_VALUE),
        ]
    }

    /// No secret value (the key with or without `0x`, the API secret, the passphrase) in `text`.
    fn assert_clean(text: &str) {
        for secret in [KEY, &KEY[2..], API_SECRET_VALUE, PASSPHRASE_VALUE] {
            assert!(!text.contains(secret), "a secret leaked into: {text}");
        }
    }

    #[test]
    fn loads_everything_from_the_environment() {
        let secrets = load(&env_of(&all_env())).unwrap();
        assert_eq!(secrets.signer.address(), parse_address(ADDRESS).unwrap());
        assert_eq!(secrets.maker(), secrets.signer.address());
        assert_eq!(secrets.signature_type, 0);
        let creds = secrets.creds.as_ref().unwrap();
        assert_eq!(creds.api_key, "key-uuid");
        assert_eq!(creds.secret.expose(), API_SECRET_VALUE);
        assert_eq!(creds.passphrase.expose(), PASSPHRASE_VALUE);
        let shown = format!("{secrets:?}");
        assert!(shown.contains(&ADDRESS[2..]), "{shown}");
        assert_clean(&shown);
        assert_clean(&format!("{} {}", creds.secret, creds.passphrase));
    }

    #[test]
    fn funder_and_signature_type() {
        let funder = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
        let secrets = load(&env_of(&[
            (PRIVATE_KEY, &KEY[2..]),
            (FUNDER, funder),
            (SIGNATURE_TYPE, "2"),
        ]))
        .unwrap();
        assert_eq!(secrets.maker(), parse_address(funder).unwrap());
        assert_eq!(secrets.signature_type, 2);
        assert!(secrets.creds.is_none());
        let err = load(&env_of(&[(PRIVATE_KEY, KEY), (SIGNATURE_TYPE, "1")])).unwrap_err();
        assert!(matches!(err, SecretsError::MissingFunder));
        let err = load(&env_of(&[(PRIVATE_KEY, KEY), (SIGNATURE_TYPE, "3")])).unwrap_err();
        assert!(matches!(err, SecretsError::BadSignatureType));
        let err = load(&env_of(&[(PRIVATE_KEY, KEY), (FUNDER, "0x12")])).unwrap_err();
        assert!(matches!(err, SecretsError::BadFunder));
    }

    #[test]
    fn errors_never_carry_values() {
        let bad_key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ffzz";
        let err = load(&env_of(&[(PRIVATE_KEY, bad_key)])).unwrap_err();
        assert!(matches!(err, SecretsError::BadPrivateKey));
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(&bad_key[2..60]), "{shown}");
        assert!(matches!(
            load(&env_of(&[(PRIVATE_KEY, &KEY[..40])])).unwrap_err(),
            SecretsError::BadPrivateKey
        ));
        assert!(matches!(
            load(&env_of(&[])).unwrap_err(),
            SecretsError::MissingPrivateKey
        ));
        let mut partial = all_env();
        partial.retain(|(k, _)| *k != API_PASSPHRASE);
        let err = load(&env_of(&partial)).unwrap_err();
        assert!(matches!(err, SecretsError::PartialCreds));
        assert_clean(&format!("{err} {err:?}"));
    }

    #[test]
    fn reads_a_0600_file_and_the_environment_wins() {
        let text = format!(
            "# pmbot secrets\n{PRIVATE_KEY}={KEY}\n\n{API_KEY} = file-key\n{API_SECRET}={API_SECRET_VALUE}\n{API_PASSPHRASE}={PASSPHRASE_VALUE}\n"
        );
        let path = temp_file("ok", &text, 0o600);
        let path_text = path.to_str().unwrap();
        let secrets = load(&env_of(&[(SECRETS_FILE, path_text)])).unwrap();
        assert_eq!(secrets.signer.address(), parse_address(ADDRESS).unwrap());
        assert_eq!(secrets.creds.as_ref().unwrap().api_key, "file-key");
        let secrets = load(&env_of(&[(SECRETS_FILE, path_text), (API_KEY, "env-key")])).unwrap();
        assert_eq!(secrets.creds.unwrap().api_key, "env-key");
        fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_world_readable_file_is_refused() {
        let path = temp_file("open", &format!("{PRIVATE_KEY}={KEY}\n"), 0o644);
        let err = load(&env_of(&[(SECRETS_FILE, path.to_str().unwrap())])).unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(&err, SecretsError::InsecureFile { mode: 0o644, path: p } if p == &path),
            "{err:?}"
        );
        assert!(
            message.contains("0644") && message.contains("chmod 600"),
            "{message}"
        );
        assert_clean(&format!("{message} {err:?}"));
        fs::remove_file(&path).unwrap();
    }

    #[test]
    fn bad_lines_and_missing_files_name_the_place_not_the_value() {
        let path = temp_file("bad", &format!("{PRIVATE_KEY}={KEY}\n{KEY}\n"), 0o600);
        let err = load(&env_of(&[(SECRETS_FILE, path.to_str().unwrap())])).unwrap_err();
        assert!(
            matches!(err, SecretsError::BadLine { line: 2, .. }),
            "{err:?}"
        );
        assert_clean(&format!("{err} {err:?}"));
        fs::remove_file(&path).unwrap();

        let missing = Path::new("/nonexistent/pmbot-secrets");
        let err = load(&env_of(&[(SECRETS_FILE, missing.to_str().unwrap())])).unwrap_err();
        assert!(matches!(err, SecretsError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("/nonexistent/pmbot-secrets"));
    }
}
