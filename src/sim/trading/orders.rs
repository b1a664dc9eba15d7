//! `POST /order` and `POST /orders`: the body as the official clients write it, every check the
//! real venue makes before matching (owner, EIP-712 signature, signer and maker, amounts on the
//! tick), then the engine, then the real response shapes. A refused single order is answered
//! HTTP 400 with the venue's `{"error": message}` and, in the same object, the batch entry's
//! fields (`success: false`, `errorMsg`, `orderID`), so either kind of client reads the reason.

use serde::Deserialize;
use serde_json::{Value, json};
use sha3::{Digest, Keccak256};

use crate::adapters::polymarket::signing::{
    self, Domain, Exchange as Contract, OrderFields, parse_address, parse_u256, recover_signer,
};
use crate::domain::num::{Px, Qty, Side};
use crate::sim::http::{HttpRequest, Reply};
use crate::sim::hub::{Hub, State};
use crate::sim::matching::{NewOrder, OrderId, OrderStatus, OrderType, Reject, Submitted};

use super::gate::{self, Caller};
use super::{advance, decimal6, error, hex0x, now_ms, ok, publish_engine_events};

/// Most orders in one `POST /orders`.
pub const MAX_BATCH: usize = 15;

/// One entry of a `POST /order(s)` body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderRequest {
    order: WireOrder,
    owner: String,
    order_type: String,
    #[serde(default)]
    post_only: Option<bool>,
}

/// The signed order as sent.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireOrder {
    salt: u64,
    maker: String,
    signer: String,
    token_id: String,
    maker_amount: String,
    taker_amount: String,
    side: String,
    #[serde(default)]
    expiration: Option<String>,
    signature_type: u8,
    timestamp: String,
    metadata: String,
    builder: String,
    signature: String,
}

/// What became of one order.
enum Outcome {
    /// The engine took it.
    Accepted(OrderId, Submitted),
    /// Refused, with the venue's message and the order id when it could be computed.
    Refused(Option<OrderId>, String),
}

/// Answers an order request: faults first, then each order in turn.
pub fn post(hub: &Hub, request: &HttpRequest) -> Reply {
    let batch = request.path == "/orders";
    let now = now_ms();
    let mut guard = hub.lock();
    let state = &mut *guard;
    advance(state, now);
    let caller = match gate::l2(state, request, now / 1000) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    if let Some(reply) = state.exchange.faults.before() {
        return reply;
    }
    let entries: Vec<OrderRequest> = if batch {
        match serde_json::from_slice::<Vec<OrderRequest>>(&request.body) {
            Ok(list) if list.len() > MAX_BATCH => {
                return error(
                    400,
                    &format!(
                        "Too many orders in payload: {}, max allowed: {MAX_BATCH}",
                        list.len()
                    ),
                );
            }
            Ok(list) => list,
            Err(e) => return error(400, &format!("Invalid order payload: {e}")),
        }
    } else {
        match serde_json::from_slice::<OrderRequest>(&request.body) {
            Ok(one) => vec![one],
            Err(e) => return error(400, &format!("Invalid order payload: {e}")),
        }
    };
    let outcomes: Vec<Outcome> = entries
        .iter()
        .map(|entry| place(state, &caller, entry, now))
        .collect();
    publish_engine_events(state);
    let counts = &mut state.exchange.faults.counts;
    for o in &outcomes {
        match o {
            Outcome::Accepted(..) => counts.orders_accepted += 1,
            Outcome::Refused(..) => counts.orders_rejected += 1,
        }
    }
    if outcomes.iter().any(|o| matches!(o, Outcome::Accepted(..)))
        && let Some(reply) = state.exchange.faults.after_accept()
    {
        return reply;
    }
    if batch {
        return ok(&Value::Array(outcomes.iter().map(response).collect()));
    }
    match &outcomes[0] {
        refused @ Outcome::Refused(_, message) => {
            let mut body = response(refused);
            body["error"] = Value::String(message.clone());
            Reply::json(400, body.to_string())
        }
        accepted => ok(&response(accepted)),
    }
}

/// Verifies one order and hands it to the engine.
fn place(state: &mut State, caller: &Caller, entry: &OrderRequest, now: u64) -> Outcome {
    let order = match verify(state, caller, entry) {
        Ok(order) => order,
        Err((id, message)) => return Outcome::Refused(id, message),
    };
    let id = order.id;
    match state.exchange.engine.submit(&mut state.world, order, now) {
        Ok(submitted) => Outcome::Accepted(id, submitted),
        Err(reject) => {
            if reject == Reject::Duplicate {
                state.exchange.faults.counts.duplicate_orders += 1;
            }
            Outcome::Refused(Some(id), reject.error_msg().to_owned())
        }
    }
}

type Refusal = (Option<OrderId>, String);

fn refuse(message: &str) -> Refusal {
    (None, message.to_owned())
}

/// Everything the venue checks before matching.
fn verify(state: &mut State, caller: &Caller, entry: &OrderRequest) -> Result<NewOrder, Refusal> {
    let o = &entry.order;
    if entry.owner != caller.api_key {
        return Err(refuse("the order owner has to be the owner of the API KEY"));
    }
    let asset = state
        .world
        .asset_by_token(&o.token_id)
        .ok_or_else(|| refuse(Reject::UnknownAsset.error_msg()))?;
    let spec = &state.world.market_of(asset).spec;
    let (tick, neg_risk) = (spec.tick, spec.neg_risk);
    let fields = fields(o).ok_or_else(|| refuse("invalid order payload"))?;
    let contract = if neg_risk {
        Contract::NegRisk
    } else {
        Contract::Standard
    };
    let hash = signing::order_hash(&Domain::polygon(contract), &fields);
    let id = OrderId(hash);
    let refused = |message: &str| (Some(id), message.to_owned());
    let signature = parse_signature(&o.signature).ok_or_else(|| refused("invalid signature"))?;
    match recover_signer(&hash, &signature) {
        Ok(signer) if signer == fields.signer => {}
        _ => return Err(refused("invalid signature")),
    }
    if fields.signer != caller.address {
        return Err(refused(
            "the order signer address has to be the address of the API KEY",
        ));
    }
    check_maker(state, caller, &fields).map_err(&refused)?;
    let (price, size) = price_and_size(&fields, tick).map_err(|r| refused(r.error_msg()))?;
    let order_type = order_type(&entry.order_type, o.expiration.as_deref())
        .ok_or_else(|| refused("invalid order type or expiration"))?;
    let post_only = entry.post_only.unwrap_or(false);
    if post_only && !order_type.rests() {
        return Err(refused(
            "invalid post-only order: only GTC and GTD orders can be post-only",
        ));
    }
    Ok(NewOrder {
        id,
        account: caller.account,
        owner: caller.api_key.clone(),
        maker_address: hex0x(&fields.maker),
        asset,
        side: fields.side,
        price,
        size,
        order_type,
        post_only,
    })
}

/// `maker` is the signer for an EOA order, else the account's funder (the first one it used).
fn check_maker(
    state: &mut State,
    caller: &Caller,
    fields: &OrderFields,
) -> Result<(), &'static str> {
    match fields.signature_type {
        0 if fields.maker == fields.signer => Ok(()),
        0 => Err("invalid maker: an EOA order's maker must be its signer"),
        1 | 2 if fields.maker != [0u8; 20] => {
            if state
                .exchange
                .accounts
                .bind_funder(caller.account, &fields.maker)
            {
                Ok(())
            } else {
                Err("invalid maker: not this account's funder")
            }
        }
        _ => Err("invalid signature type"),
    }
}

/// The signed fields, or `None` if any is malformed.
fn fields(o: &WireOrder) -> Option<OrderFields> {
    Some(OrderFields {
        salt: o.salt,
        maker: parse_address(&o.maker).ok()?,
        signer: parse_address(&o.signer).ok()?,
        token_id: parse_u256(o.token_id.as_bytes()).ok()?,
        maker_amount: o.maker_amount.parse().ok()?,
        taker_amount: o.taker_amount.parse().ok()?,
        side: match o.side.as_str() {
            "BUY" => Side::Buy,
            "SELL" => Side::Sell,
            _ => return None,
        },
        signature_type: o.signature_type,
        timestamp_ms: o.timestamp.parse().ok()?,
        metadata: bytes32(&o.metadata)?,
        builder: bytes32(&o.builder)?,
    })
}

fn hex_bytes<const N: usize>(s: &str) -> Option<[u8; N]> {
    let hex = s.strip_prefix("0x").unwrap_or(s).as_bytes();
    if hex.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

fn bytes32(s: &str) -> Option<[u8; 32]> {
    hex_bytes(s)
}

fn parse_signature(s: &str) -> Option<[u8; 65]> {
    hex_bytes(s)
}

/// Parses an order id (`0x` + 64 hex digits).
pub fn parse_order_id(s: &str) -> Option<OrderId> {
    bytes32(s).map(OrderId)
}

/// Price and size implied by the amounts; they must be exactly what the SDK's rules give for
/// that price and size on the market's tick.
fn price_and_size(fields: &OrderFields, tick: Px) -> Result<(Px, Qty), Reject> {
    let (usdc, shares) = match fields.side {
        Side::Buy => (fields.maker_amount, fields.taker_amount),
        Side::Sell => (fields.taker_amount, fields.maker_amount),
    };
    if shares == 0 {
        return Err(Reject::Tick);
    }
    let px = u128::from(usdc) * u128::from(Px::ONE.0) / u128::from(shares);
    let price = Px(u16::try_from(px).map_err(|_| Reject::Tick)?);
    let size = Qty(shares);
    match signing::amounts(fields.side, price, size, tick) {
        Ok(pair) if pair == (fields.maker_amount, fields.taker_amount) => Ok((price, size)),
        _ => Err(Reject::Tick),
    }
}

fn order_type(name: &str, expiration: Option<&str>) -> Option<OrderType> {
    let expiration: u64 = expiration.unwrap_or("0").parse().ok()?;
    match (name, expiration) {
        ("GTC", 0) => Some(OrderType::Gtc),
        ("FOK", 0) => Some(OrderType::Fok),
        ("FAK", 0) => Some(OrderType::Fak),
        ("GTD", e) if e > 0 => Some(OrderType::Gtd { expiration_s: e }),
        _ => None,
    }
}

/// The simulated settlement transaction hash of a trade.
pub fn transaction_hash(trade_id: &str) -> String {
    let digest: [u8; 32] = Keccak256::digest(trade_id.as_bytes()).into();
    hex0x(&digest)
}

fn status_name(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Live => "live",
        OrderStatus::Delayed => "delayed",
        OrderStatus::Matched => "matched",
        OrderStatus::Unmatched | OrderStatus::Cancelled => "unmatched",
    }
}

/// One order's entry in the response (the whole body of a single `POST /order`).
fn response(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Accepted(id, s) => json!({
            "errorMsg": "",
            "orderID": id.to_string(),
            "takingAmount": decimal6(s.taking),
            "makingAmount": decimal6(s.making),
            "status": status_name(s.status),
            "success": true,
            "transactionsHashes": s.trade_ids.iter().map(|t| transaction_hash(t)).collect::<Vec<_>>(),
            "tradeIDs": s.trade_ids,
        }),
        Outcome::Refused(id, message) => json!({
            "errorMsg": message,
            "orderID": id.map(|i| i.to_string()).unwrap_or_default(),
            "takingAmount": "",
            "makingAmount": "",
            "status": "",
            "success": false,
            "transactionsHashes": [],
            "tradeIDs": [],
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(side: Side, maker_amount: u64, taker_amount: u64) -> OrderFields {
        OrderFields {
            salt: 1,
            maker: [1; 20],
            signer: [1; 20],
            token_id: [0; 32],
            maker_amount,
            taker_amount,
            side,
            signature_type: 0,
            timestamp_ms: 0,
            metadata: [0; 32],
            builder: [0; 32],
        }
    }

    #[test]
    fn price_and_size_come_from_exact_amounts() {
        let tick = Px(100);
        assert_eq!(
            price_and_size(&order(Side::Buy, 2_500_000, 5_000_000), tick),
            Ok((Px(5000), Qty(5_000_000)))
        );
        assert_eq!(
            price_and_size(&order(Side::Sell, 5_000_000, 2_000_000), tick),
            Ok((Px(4000), Qty(5_000_000)))
        );
        assert_eq!(
            price_and_size(&order(Side::Buy, 2_525_000, 5_000_000), tick),
            Err(Reject::Tick)
        );
        assert_eq!(
            price_and_size(&order(Side::Buy, 1, 0), tick),
            Err(Reject::Tick)
        );
        assert_eq!(
            price_and_size(&order(Side::Buy, 2_500_001, 5_000_000), tick),
            Err(Reject::Tick)
        );
    }

    #[test]
    fn order_types_and_expirations() {
        assert_eq!(order_type("GTC", Some("0")), Some(OrderType::Gtc));
        assert_eq!(order_type("FAK", None), Some(OrderType::Fak));
        assert_eq!(
            order_type("GTD", Some("1700000000")),
            Some(OrderType::Gtd {
                expiration_s: 1_700_000_000
            })
        );
        assert_eq!(order_type("GTD", Some("0")), None);
        assert_eq!(order_type("GTC", Some("5")), None);
        assert_eq!(order_type("XYZ", None), None);
    }

    #[test]
    fn ids_and_signatures_parse_strictly() {
        let id = format!("0x{}", "ab".repeat(32));
        assert_eq!(parse_order_id(&id), Some(OrderId([0xab; 32])));
        assert_eq!(parse_order_id("0xab"), None);
        assert_eq!(parse_order_id(&format!("0x{}", "zz".repeat(32))), None);
        assert!(parse_signature(&format!("0x{}", "1b".repeat(65))).is_some());
        assert_eq!(transaction_hash("t").len(), 66);
    }
}
