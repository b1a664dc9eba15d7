//! Replays the official SDK's signed V2 orders (tests/fixtures/signing/v2_orders.json, written by
//! peer-bench/tests/signing_vectors.rs) and requires pmbot to reproduce every amount, order hash
//! and signature byte for byte.

use pmbot::adapters::polymarket::signing::{
    Domain, Exchange, OrderFields, Signer, amounts, order_hash, parse_u256,
};
use pmbot::domain::{Px, Qty, Side};
use serde_json::Value;

const VECTORS: &str = include_str!("fixtures/signing/v2_orders.json");

fn bytes<const N: usize>(value: &Value) -> [u8; N] {
    let text = value.as_str().expect("hex string");
    let digits = text.strip_prefix("0x").expect("0x prefix").as_bytes();
    assert_eq!(digits.len(), 2 * N, "{text}: wrong length");
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks(2)) {
        let pair = std::str::from_utf8(pair).expect("ascii hex");
        *byte = u8::from_str_radix(pair, 16).expect("hex digit");
    }
    out
}

fn text(value: &Value) -> &[u8] {
    value.as_str().expect("string").as_bytes()
}

fn number(value: &Value) -> u64 {
    value.as_u64().expect("unsigned number")
}

fn decimal_u64(value: &Value) -> u64 {
    value
        .as_str()
        .expect("decimal string")
        .parse()
        .expect("u64")
}

#[test]
fn pmbot_reproduces_the_sdk_vectors() {
    let table: Value = serde_json::from_str(VECTORS).unwrap();
    let signer = Signer::from_secret(&bytes(&table["secret_key"])).unwrap();
    assert_eq!(signer.address(), bytes::<20>(&table["address"]));

    let orders = table["orders"].as_array().unwrap();
    let mut covered = [[false; 2]; 2];
    for row in orders {
        let name = row["name"].as_str().unwrap();
        let side = Side::parse(text(&row["side"])).unwrap();
        let exchange = match row["exchange"].as_str().unwrap() {
            "standard" => Exchange::Standard,
            "neg_risk" => Exchange::NegRisk,
            other => panic!("{name}: unknown exchange {other}"),
        };
        covered[usize::from(exchange == Exchange::NegRisk)][usize::from(side == Side::Sell)] = true;

        let (maker_amount, taker_amount) = amounts(
            side,
            Px::parse(text(&row["price"])).unwrap(),
            Qty::parse(text(&row["size"])).unwrap(),
            Px::parse(text(&row["tick"])).unwrap(),
        )
        .unwrap();
        assert_eq!(maker_amount, decimal_u64(&row["maker_amount"]), "{name}");
        assert_eq!(taker_amount, decimal_u64(&row["taker_amount"]), "{name}");

        let order = OrderFields {
            salt: number(&row["salt"]),
            maker: bytes(&row["maker"]),
            signer: bytes(&row["signer"]),
            token_id: parse_u256(text(&row["token_id"])).unwrap(),
            maker_amount,
            taker_amount,
            side,
            signature_type: u8::try_from(number(&row["signature_type"])).unwrap(),
            timestamp_ms: number(&row["timestamp_ms"]),
            metadata: bytes(&row["metadata"]),
            builder: bytes(&row["builder"]),
        };
        let domain = Domain::new(exchange, number(&row["chain_id"]));
        let hash = order_hash(&domain, &order);
        assert_eq!(hash, bytes::<32>(&row["hash"]), "{name}: order hash");
        assert_eq!(
            signer.sign(&hash).unwrap(),
            bytes::<65>(&row["signature"]),
            "{name}: signature"
        );
    }
    assert_eq!(covered, [[true; 2]; 2], "both exchanges × both sides");
}
