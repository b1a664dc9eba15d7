//! The venue's account calls off the hot path, on a blocking ureq agent: create or derive API
//! credentials (L1), look up one order, list open orders and trades (paged until `LTE=`), read
//! balances, cancel everything (L2). Typed results; errors name the call and never a secret.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::orders::{CancelResult, parse_cancels};
use crate::adapters::polymarket::auth::{ApiCreds, L1Auth, L2Signer, l1_headers};
use crate::adapters::polymarket::rest::{RestError, agent};
use crate::adapters::polymarket::signing::{hex_hash, parse_hash};
use crate::domain::intents::Liquidity;
use crate::domain::num::{Px, Qty, Side};

/// The first page cursor and the one that means "no more pages".
const FIRST_CURSOR: &str = "MA==";
const END_CURSOR: &str = "LTE=";
/// A cursor that never ends is a venue bug; stop after this many pages.
const MAX_PAGES: usize = 10_000;

/// Where an order stands, as REST reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderState {
    /// Resting.
    Live,
    /// Fully matched.
    Matched,
    /// Held by the matching delay.
    Delayed,
    /// Not matched and not resting.
    Unmatched,
    /// Cancelled (by us, by the venue, or expired).
    Cancelled,
}

/// One order from `GET /data/order/{id}` or `GET /data/orders`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestOrder {
    /// The order hash.
    pub id: [u8; 32],
    /// Its state.
    pub state: OrderState,
    /// The outcome token id.
    pub asset_id: String,
    /// Buy or sell.
    pub side: Side,
    /// Limit price.
    pub price: Px,
    /// Size when placed.
    pub original_size: Qty,
    /// Size matched so far.
    pub size_matched: Qty,
    /// GTC, GTD, FOK or FAK.
    pub order_type: String,
    /// Unix seconds; 0 = none.
    pub expiration_s: u64,
    /// Unix seconds.
    pub created_at_s: u64,
    /// Trades this order took part in.
    pub trade_ids: Vec<String>,
}

/// One maker order of a trade.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MakerFill {
    /// The maker order's hash.
    pub order_id: [u8; 32],
    /// Its owner's API key.
    pub owner: String,
    /// The token the maker order trades.
    pub asset_id: String,
    /// The maker order's side.
    pub side: Side,
    /// The maker order's price.
    pub price: Px,
    /// Shares matched against it.
    pub matched: Qty,
    /// Its fee rate, basis points.
    pub fee_rate_bps: u32,
}

/// One trade from `GET /data/trades`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestTrade {
    /// The venue's trade id.
    pub id: String,
    /// MATCHED, MINED, CONFIRMED, RETRYING or FAILED, as sent.
    pub status: String,
    /// The taker order's hash.
    pub taker_order_id: [u8; 32],
    /// The token the taker traded.
    pub asset_id: String,
    /// The taker's side.
    pub side: Side,
    /// Taker size.
    pub size: Qty,
    /// Taker price.
    pub price: Px,
    /// Taker fee rate, basis points.
    pub fee_rate_bps: u32,
    /// Whether the caller was taker or maker in it.
    pub trader_side: Liquidity,
    /// The maker orders matched.
    pub maker_orders: Vec<MakerFill>,
    /// Settlement transaction hash ("" until mined).
    pub transaction_hash: String,
}

/// Which balance `GET /balance-allowance` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BalanceAsset<'a> {
    /// pUSD.
    Collateral,
    /// An outcome token.
    Conditional(&'a str),
}

/// A balance and the allowance that binds it, 1e-6 units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BalanceAllowance {
    /// The balance.
    pub balance: u64,
    /// The smallest allowance the venue reported (`None` when it reported none).
    pub allowance: Option<u64>,
}

/// A blocking client for the calls that are not on the order path.
pub struct RestClient {
    agent: ureq::Agent,
    base: String,
}

impl RestClient {
    /// A client for the venue at `base_url` with a per-call `timeout`.
    pub fn new(base_url: &str, timeout: Duration) -> RestClient {
        RestClient {
            agent: agent(timeout),
            base: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// `POST /auth/api-key`: new credentials for the L1-attested wallet.
    pub fn create_api_key(&self, l1: &L1Auth) -> Result<ApiCreds, RestError> {
        let url = format!("{}/auth/api-key", self.base);
        let mut req = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json");
        for (name, value) in l1_headers(l1) {
            req = req.header(name, value);
        }
        shaped(&url, read(&url, req.send(&[][..]))?)
    }

    /// `GET /auth/derive-api-key`: the existing credentials for the wallet and nonce.
    pub fn derive_api_key(&self, l1: &L1Auth) -> Result<ApiCreds, RestError> {
        let url = format!("{}/auth/derive-api-key", self.base);
        let mut req = self
            .agent
            .get(&url)
            .header("Content-Type", "application/json");
        for (name, value) in l1_headers(l1) {
            req = req.header(name, value);
        }
        shaped(&url, read(&url, req.call())?)
    }

    /// Creates credentials, or derives them when creating fails (they already exist).
    pub fn create_or_derive_api_key(&self, l1: &L1Auth) -> Result<ApiCreds, RestError> {
        self.create_api_key(l1).or_else(|_| self.derive_api_key(l1))
    }

    /// `GET /data/order/{id}`: the order, or `None` when the venue does not know it.
    pub fn get_order(
        &self,
        l2: &L2Signer,
        now_s: u64,
        id: &[u8; 32],
    ) -> Result<Option<RestOrder>, RestError> {
        let hex = hex_hash(id);
        let path = format!("/data/order/{}", String::from_utf8_lossy(&hex));
        let url = format!("{}{path}", self.base);
        let response = self.l2_get(l2, now_s, &path, &url).call();
        if let Err(ureq::Error::StatusCode(404)) = response {
            return Ok(None);
        }
        let body = read(&url, response)?;
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Null) => Ok(None),
            Ok(Value::Object(o)) if o.is_empty() => Ok(None),
            _ => parse_order(&body).map(Some).map_err(|why| shape(&url, why)),
        }
    }

    /// `GET /data/orders`, every page: the account's open orders.
    pub fn open_orders(&self, l2: &L2Signer, now_s: u64) -> Result<Vec<RestOrder>, RestError> {
        self.paged(l2, now_s, "/data/orders", "", |v| {
            let raw: RawOrder = Deserialize::deserialize(v).map_err(|e| e.to_string())?;
            raw.typed()
        })
    }

    /// `GET /data/trades`, every page: the account's trades, only those matched after `after_s`
    /// (Unix seconds) when given, so a long-lived account is not read back to its first trade.
    pub fn trades(
        &self,
        l2: &L2Signer,
        now_s: u64,
        after_s: Option<u64>,
    ) -> Result<Vec<RestTrade>, RestError> {
        let filter = after_s.map_or(String::new(), |a| format!("after={a}&"));
        self.paged(l2, now_s, "/data/trades", &filter, |v| {
            let raw: RawTrade = Deserialize::deserialize(v).map_err(|e| e.to_string())?;
            raw.typed()
        })
    }

    /// `GET /balance-allowance` for pUSD or an outcome token.
    pub fn balance_allowance(
        &self,
        l2: &L2Signer,
        now_s: u64,
        asset: BalanceAsset,
        signature_type: u8,
    ) -> Result<BalanceAllowance, RestError> {
        let path = "/balance-allowance";
        let query = match asset {
            BalanceAsset::Collateral => {
                format!("?asset_type=COLLATERAL&signature_type={signature_type}")
            }
            BalanceAsset::Conditional(token) => format!(
                "?asset_type=CONDITIONAL&token_id={}&signature_type={signature_type}",
                percent_encode(token)
            ),
        };
        let url = format!("{}{path}{query}", self.base);
        let body = read(&url, self.l2_get(l2, now_s, path, &url).call())?;
        parse_balance(&body).map_err(|why| shape(&url, why))
    }

    /// `DELETE /cancel-all`: cancels every open order of the account.
    pub fn cancel_all(&self, l2: &L2Signer, now_s: u64) -> Result<CancelResult, RestError> {
        let path = "/cancel-all";
        let url = format!("{}{path}", self.base);
        let mut req = self
            .agent
            .delete(&url)
            .header("Content-Type", "application/json");
        for (name, value) in l2.headers(now_s, "DELETE", path, b"") {
            req = req.header(name, value);
        }
        let body = read(&url, req.call())?;
        parse_cancels(&body).map_err(|e| shape(&url, e.to_string()))
    }

    fn l2_get(
        &self,
        l2: &L2Signer,
        now_s: u64,
        path: &str,
        url: &str,
    ) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        let mut req = self
            .agent
            .get(url)
            .header("Content-Type", "application/json");
        for (name, value) in l2.headers(now_s, "GET", path, b"") {
            req = req.header(name, value);
        }
        req
    }

    /// Reads `{"data":[…],"next_cursor":…}` pages from `MA==` until `LTE=`, decoding each entry;
    /// `filter` goes before the cursor in the query (`key=value&`, or empty).
    fn paged<T>(
        &self,
        l2: &L2Signer,
        now_s: u64,
        path: &str,
        filter: &str,
        mut decode: impl FnMut(&Value) -> Result<T, String>,
    ) -> Result<Vec<T>, RestError> {
        let mut items = Vec::new();
        let mut cursor = FIRST_CURSOR.to_owned();
        for _ in 0..MAX_PAGES {
            let url = format!(
                "{}{path}?{filter}next_cursor={}",
                self.base,
                percent_encode(&cursor)
            );
            let body = read(&url, self.l2_get(l2, now_s, path, &url).call())?;
            let page: Page =
                serde_json::from_slice(&body).map_err(|e| shape(&url, e.to_string()))?;
            for entry in &page.data {
                items.push(decode(entry).map_err(|why| shape(&url, why))?);
            }
            match page.next_cursor.as_deref() {
                None | Some("") | Some(END_CURSOR) => return Ok(items),
                Some(next) if next == cursor => {
                    return Err(shape(
                        &url,
                        "the next cursor repeats the current one".into(),
                    ));
                }
                Some(next) => cursor = next.to_owned(),
            }
        }
        Err(shape(
            &format!("{}{path}", self.base),
            format!("more than {MAX_PAGES} pages"),
        ))
    }
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    data: Vec<Value>,
    next_cursor: Option<String>,
}

fn shape(url: &str, why: String) -> RestError {
    RestError::Shape {
        url: url.to_owned(),
        why,
    }
}

/// The body of a successful call; transport and status failures become `RestError::Http`.
fn read(
    url: &str,
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Vec<u8>, RestError> {
    let http = |why: String| RestError::Http {
        url: url.to_owned(),
        why,
    };
    response
        .map_err(|e| http(e.to_string()))?
        .body_mut()
        .read_to_vec()
        .map_err(|e| http(e.to_string()))
}

fn shaped<T: for<'de> Deserialize<'de>>(url: &str, body: Vec<u8>) -> Result<T, RestError> {
    serde_json::from_slice(&body).map_err(|e| shape(url, e.to_string()))
}

/// Percent-encodes everything but unreserved characters (`MA==` → `MA%3D%3D`).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A string or a number, as its text.
#[derive(Deserialize)]
#[serde(untagged)]
enum Text {
    Str(String),
    Num(serde_json::Number),
}

impl Text {
    fn as_string(&self) -> String {
        match self {
            Text::Str(s) => s.clone(),
            Text::Num(n) => n.to_string(),
        }
    }
}

#[derive(Deserialize)]
struct RawOrder {
    id: String,
    status: String,
    asset_id: String,
    side: String,
    price: Text,
    original_size: Text,
    size_matched: Text,
    #[serde(default)]
    order_type: String,
    expiration: Option<Text>,
    #[serde(default)]
    created_at: Option<Text>,
    #[serde(default)]
    associate_trades: Option<Vec<String>>,
}

impl RawOrder {
    fn typed(self) -> Result<RestOrder, String> {
        Ok(RestOrder {
            id: order_hash("id", &self.id)?,
            state: match self.status.to_ascii_uppercase().as_str() {
                "LIVE" => OrderState::Live,
                "MATCHED" => OrderState::Matched,
                "DELAYED" => OrderState::Delayed,
                "UNMATCHED" => OrderState::Unmatched,
                "CANCELED" | "CANCELLED" | "CANCELED_MARKET_RESOLVED" => OrderState::Cancelled,
                other => return Err(format!("unknown order status {other:?}")),
            },
            asset_id: self.asset_id,
            side: side(&self.side)?,
            price: px("price", &self.price)?,
            original_size: qty("original_size", &self.original_size)?,
            size_matched: qty("size_matched", &self.size_matched)?,
            order_type: self.order_type,
            expiration_s: seconds("expiration", self.expiration.as_ref())?,
            created_at_s: seconds("created_at", self.created_at.as_ref())?,
            trade_ids: self.associate_trades.unwrap_or_default(),
        })
    }
}

fn parse_order(body: &[u8]) -> Result<RestOrder, String> {
    let raw: RawOrder = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    raw.typed()
}

#[derive(Deserialize)]
struct RawMaker {
    order_id: String,
    owner: String,
    asset_id: String,
    side: String,
    price: Text,
    matched_amount: Text,
    #[serde(default)]
    fee_rate_bps: Option<Text>,
}

#[derive(Deserialize)]
struct RawTrade {
    id: String,
    status: String,
    taker_order_id: String,
    asset_id: String,
    side: String,
    size: Text,
    price: Text,
    #[serde(default)]
    fee_rate_bps: Option<Text>,
    trader_side: String,
    #[serde(default)]
    maker_orders: Vec<RawMaker>,
    #[serde(default)]
    transaction_hash: Option<String>,
}

impl RawTrade {
    fn typed(self) -> Result<RestTrade, String> {
        let maker_orders = self
            .maker_orders
            .iter()
            .map(|m| {
                Ok(MakerFill {
                    order_id: order_hash("maker order_id", &m.order_id)?,
                    owner: m.owner.clone(),
                    asset_id: m.asset_id.clone(),
                    side: side(&m.side)?,
                    price: px("maker price", &m.price)?,
                    matched: qty("matched_amount", &m.matched_amount)?,
                    fee_rate_bps: bps(m.fee_rate_bps.as_ref())?,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(RestTrade {
            taker_order_id: order_hash("taker_order_id", &self.taker_order_id)?,
            side: side(&self.side)?,
            size: qty("size", &self.size)?,
            price: px("price", &self.price)?,
            fee_rate_bps: bps(self.fee_rate_bps.as_ref())?,
            trader_side: match self.trader_side.as_str() {
                "TAKER" => Liquidity::Taker,
                "MAKER" => Liquidity::Maker,
                other => return Err(format!("unknown trader_side {other:?}")),
            },
            maker_orders,
            transaction_hash: self.transaction_hash.unwrap_or_default(),
            id: self.id,
            status: self.status,
            asset_id: self.asset_id,
        })
    }
}

fn order_hash(field: &str, text: &str) -> Result<[u8; 32], String> {
    parse_hash(text).map_err(|_| format!("{field} {text:?} is not 0x + 64 hex digits"))
}

fn side(text: &str) -> Result<Side, String> {
    Side::parse(text.as_bytes()).ok_or_else(|| format!("unknown side {text:?}"))
}

fn px(field: &str, t: &Text) -> Result<Px, String> {
    Px::parse(t.as_string().as_bytes()).map_err(|e| format!("{field}: {e}"))
}

fn qty(field: &str, t: &Text) -> Result<Qty, String> {
    Qty::parse(t.as_string().as_bytes()).map_err(|e| format!("{field}: {e}"))
}

fn seconds(field: &str, t: Option<&Text>) -> Result<u64, String> {
    match t {
        None => Ok(0),
        Some(t) => t
            .as_string()
            .parse()
            .map_err(|_| format!("{field} is not whole seconds")),
    }
}

fn bps(t: Option<&Text>) -> Result<u32, String> {
    match t {
        None => Ok(0),
        Some(t) => t
            .as_string()
            .parse()
            .map_err(|_| "fee_rate_bps is not an integer".to_owned()),
    }
}

/// `{"balance":"<1e-6 units>", "allowance": "…" | "allowances": {contract: "…"}}`.
fn parse_balance(body: &[u8]) -> Result<BalanceAllowance, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    // Whole decimal digits; an amount past u64 (an unlimited allowance is 2^256 - 1) reads as
    // u64::MAX, which no balance can exceed.
    let units = |field: &str, v: &Value| -> Result<u64, String> {
        v.as_str()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .map(|s| s.parse().unwrap_or(u64::MAX))
            .ok_or_else(|| format!("{field} is not a string of whole 1e-6 units"))
    };
    let balance = units("balance", &v["balance"])?;
    let allowance = match (&v["allowance"], &v["allowances"]) {
        (Value::Null, Value::Object(all)) => all
            .values()
            .map(|a| units("allowances", a))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .min(),
        (Value::Null, _) => None,
        (a, _) => Some(units("allowance", a)?),
    };
    Ok(BalanceAllowance { balance, allowance })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_percent_encoded() {
        assert_eq!(percent_encode("MA=="), "MA%3D%3D");
        assert_eq!(percent_encode("a+b/c"), "a%2Bb%2Fc");
    }

    #[test]
    fn balances_are_whole_micro_units() {
        let b =
            parse_balance(br#"{"balance":"1000000000","allowance":"999999999000000"}"#).unwrap();
        assert_eq!(b.balance, 1_000_000_000);
        assert_eq!(b.allowance, Some(999_999_999_000_000));
        let b = parse_balance(br#"{"balance":"5","allowances":{"0xa":"7","0xb":"3"}}"#).unwrap();
        assert_eq!(b.allowance, Some(3));
        let unlimited = r#"{"balance":"5","allowances":{"0xa":"115792089237316195423570985008687907853269984665640564039457584007913129639935"}}"#;
        assert_eq!(
            parse_balance(unlimited.as_bytes()).unwrap().allowance,
            Some(u64::MAX)
        );
        assert!(
            parse_balance(br#"{"balance":"250.500000"}"#)
                .unwrap_err()
                .contains("balance")
        );
    }
}
