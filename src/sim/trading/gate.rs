//! Authentication at the door: L1 (wallet-signed) requests that create or derive API keys, and
//! the L2 HMAC headers every trading request carries, with the timestamp window.

use serde_json::json;

use crate::adapters::polymarket::auth::{l1_verify, l2_verify};
use crate::adapters::polymarket::signing::{Address, POLYGON, parse_address};
use crate::sim::http::{HttpRequest, Reply};
use crate::sim::hub::{Hub, State};
use crate::sim::matching::AccountId;

use super::{error, ok};

/// The real venue's answer to a bad L1 request.
const L1_FAILED: &str = "Invalid L1 Request headers";
/// The real venue's answer to a bad L2 request.
const L2_FAILED: &str = "Unauthorized/Invalid api key";

/// Who an authenticated request is from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The engine account.
    pub account: AccountId,
    /// The API key the request used.
    pub api_key: String,
    /// The signer address that owns the account.
    pub address: Address,
}

/// `POST /auth/api-key` and `GET /auth/derive-api-key`: both return the credentials for the
/// address and nonce, creating (and funding) the account on first use. An L1 signature may be
/// used any number of times, as the official clients send the same one to both endpoints.
pub fn api_key(hub: &Hub, request: &HttpRequest) -> Reply {
    let header = |name: &str| request.header(name).unwrap_or("");
    let nonce = header("POLY_NONCE");
    let nonce = if nonce.is_empty() { "0" } else { nonce };
    let address = match l1_verify(
        header("POLY_ADDRESS"),
        header("POLY_SIGNATURE"),
        header("POLY_TIMESTAMP"),
        nonce,
        POLYGON,
    ) {
        Ok(address) => address,
        Err(_) => return error(401, L1_FAILED),
    };
    let Ok(nonce) = nonce.parse::<u64>() else {
        return error(401, L1_FAILED);
    };
    let mut guard = hub.lock();
    let state = &mut *guard;
    let derived = state.exchange.accounts.derive(&address, nonce);
    state
        .exchange
        .fund(derived.account, derived.created, &state.world);
    let c = &derived.credentials;
    ok(&json!({"apiKey": c.api_key, "secret": c.secret, "passphrase": c.passphrase}))
}

/// Checks the five L2 headers: a known API key with its passphrase, the key owner's address, a
/// timestamp within the window of `now_s`, and the HMAC over timestamp, method, path and body.
pub fn l2(state: &State, request: &HttpRequest, now_s: u64) -> Result<Caller, Reply> {
    let header = |name: &str| request.header(name).ok_or_else(|| error(401, L2_FAILED));
    let api_key = header("POLY_API_KEY")?;
    let (account, creds) = state
        .exchange
        .accounts
        .by_api_key(api_key)
        .ok_or_else(|| error(401, L2_FAILED))?;
    let passphrase = header("POLY_PASSPHRASE")?;
    let address = parse_address(header("POLY_ADDRESS")?).map_err(|_| error(401, L2_FAILED))?;
    if passphrase != creds.passphrase || address != account.address {
        return Err(error(401, L2_FAILED));
    }
    let timestamp = header("POLY_TIMESTAMP")?;
    let ts: u64 = timestamp.parse().map_err(|_| error(401, L2_FAILED))?;
    if ts.abs_diff(now_s) > state.exchange.spec.l2_window_s {
        return Err(error(401, L2_FAILED));
    }
    let signature = header("POLY_SIGNATURE")?;
    if !l2_verify(
        &creds.secret,
        timestamp,
        &request.method,
        &request.path,
        &request.body,
        signature,
    ) {
        return Err(error(401, L2_FAILED));
    }
    Ok(Caller {
        account: account.id,
        api_key: creds.api_key.clone(),
        address,
    })
}
