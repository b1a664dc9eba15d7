//! Replays the official SDK's signed V2 orders (tests/fixtures/signing/v2_orders.json, written by
//! peer-bench/tests/signing_vectors.rs) and requires pmbot to reproduce every amount, order hash
//! and signature byte for byte; then runs the SDK itself (a dev-dependency) on the same orders
//! and requires its V3 signatures and its `POST /order(s)` serialization to equal pmbot's.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use pmbot::adapters::polymarket::signing::{
    Domain, Exchange, OrderFields, SignedOrder, Signer, amounts, append_order_entry, order_hash,
    parse_u256, sign_order, write_order_body,
};
use pmbot::domain::{Px, Qty, Side};
use polymarket_client_sdk_v2::auth::state::Authenticated;
use polymarket_client_sdk_v2::auth::{Credentials, LocalSigner, Normal, Signer as _, Uuid};
use polymarket_client_sdk_v2::clob::types::{
    OrderPayload, OrderSignature, OrderType, OrderV2, SignableOrder, SignedOrder as SdkSignedOrder,
};
use polymarket_client_sdk_v2::clob::{Client, Config};
use polymarket_client_sdk_v2::types::{Address, B256, U256};
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

/// One fixture row as pmbot's order fields, with what the SDK produced for it.
struct Row {
    name: String,
    exchange: Exchange,
    token_id: String,
    fields: OrderFields,
    hash: [u8; 32],
    signature: [u8; 65],
}

fn table() -> Value {
    serde_json::from_str(VECTORS).unwrap()
}

fn signer() -> Signer {
    Signer::from_secret(&bytes(&table()["secret_key"])).unwrap()
}

fn rows() -> Vec<Row> {
    let table = table();
    table["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let name = row["name"].as_str().unwrap().to_owned();
            let side = Side::parse(text(&row["side"])).unwrap();
            let exchange = match row["exchange"].as_str().unwrap() {
                "standard" => Exchange::Standard,
                "neg_risk" => Exchange::NegRisk,
                other => panic!("{name}: unknown exchange {other}"),
            };
            let (maker_amount, taker_amount) = amounts(
                side,
                Px::parse(text(&row["price"])).unwrap(),
                Qty::parse(text(&row["size"])).unwrap(),
                Px::parse(text(&row["tick"])).unwrap(),
            )
            .unwrap();
            assert_eq!(maker_amount, decimal_u64(&row["maker_amount"]), "{name}");
            assert_eq!(taker_amount, decimal_u64(&row["taker_amount"]), "{name}");
            assert_eq!(number(&row["chain_id"]), 137, "{name}");
            Row {
                exchange,
                token_id: row["token_id"].as_str().unwrap().to_owned(),
                fields: OrderFields {
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
                },
                hash: bytes(&row["hash"]),
                signature: bytes(&row["signature"]),
                name,
            }
        })
        .collect()
}

#[test]
fn pmbot_reproduces_the_sdk_vectors() {
    let signer = signer();
    assert_eq!(signer.address(), bytes::<20>(&table()["address"]));
    let mut covered = [[false; 2]; 2];
    for row in rows() {
        covered[usize::from(row.exchange == Exchange::NegRisk)]
            [usize::from(row.fields.side == Side::Sell)] = true;
        let hash = order_hash(&Domain::polygon(row.exchange), &row.fields);
        assert_eq!(hash, row.hash, "{}: order hash", row.name);
        assert_eq!(
            signer.sign(&hash).unwrap(),
            row.signature,
            "{}: signature",
            row.name
        );
    }
    assert_eq!(covered, [[true; 2]; 2], "both exchanges × both sides");
}

/// Polls a future the SDK completes without I/O (its neg-risk lookups are primed).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the SDK waited on I/O: a cache was not primed"),
    }
}

const OWNER: &str = "3f2b6a8e-1c4d-4e5f-8a9b-0c1d2e3f4a5b";

/// The SDK, authenticated offline with fixed credentials, and its signer for the fixture key.
fn sdk() -> (
    Client<Authenticated<Normal>>,
    LocalSigner<k256::ecdsa::SigningKey>,
) {
    let key = table()["secret_key"].as_str().unwrap().to_owned();
    let signer = key
        .parse::<LocalSigner<_>>()
        .unwrap()
        .with_chain_id(Some(137));
    let credentials = Credentials::new(
        Uuid::parse_str(OWNER).unwrap(),
        "c2VjcmV0".to_owned(),
        "pass".to_owned(),
    );
    let client = Client::new("https://clob.polymarket.com", Config::default()).unwrap();
    let client = ready(
        client
            .authentication_builder(&signer)
            .credentials(credentials)
            .authenticate(),
    )
    .unwrap();
    (client, signer)
}

/// The body parameters a row is sent with: every order type, post-only on and off, GTD with an
/// expiration.
fn order_params(i: usize) -> (OrderType, &'static str, bool, u64) {
    match i % 5 {
        0 => (OrderType::GTC, "GTC", false, 0),
        1 => (OrderType::GTC, "GTC", true, 0),
        2 => (OrderType::GTD, "GTD", true, 1_764_003_600 + i as u64),
        3 => (OrderType::FOK, "FOK", false, 0),
        _ => (OrderType::FAK, "FAK", false, 0),
    }
}

/// Has the SDK sign `row` (V2 on its exchange, or V3) and returns its signed order.
fn sdk_sign(row: &Row, v3: bool, i: usize) -> SdkSignedOrder {
    let (client, signer) = sdk();
    let f = &row.fields;
    let mut order = OrderV2::default();
    order.salt = U256::from(f.salt);
    order.maker = Address::from(f.maker);
    order.signer = Address::from(f.signer);
    order.tokenId = U256::from_be_bytes(f.token_id);
    order.makerAmount = U256::from(f.maker_amount);
    order.takerAmount = U256::from(f.taker_amount);
    order.side = match f.side {
        Side::Buy => 0,
        Side::Sell => 1,
    };
    order.signatureType = f.signature_type;
    order.timestamp = U256::from(f.timestamp_ms);
    order.metadata = B256::from(f.metadata);
    order.builder = B256::from(f.builder);
    let (order_type, _, post_only, expiration) = order_params(i);
    let expiration = U256::from(expiration);
    let mut signable = SignableOrder::default();
    signable.payload = if v3 {
        OrderPayload::new_v3(order, expiration)
    } else {
        OrderPayload::new(order, expiration)
    };
    signable.order_type = order_type;
    signable.post_only = Some(post_only);
    signable.defer_exec = Some(false);
    client.set_neg_risk(
        U256::from_be_bytes(f.token_id),
        row.exchange == Exchange::NegRisk,
    );
    ready(client.sign(&signer, signable)).unwrap()
}

fn pmbot_entry(out: &mut Vec<u8>, order: &SignedOrder, row: &Row, i: usize) {
    let (_, order_type, post_only, expiration) = order_params(i);
    append_order_entry(
        out,
        order,
        &row.token_id,
        expiration,
        OWNER,
        order_type,
        post_only,
    );
}

#[test]
fn order_bodies_are_the_sdk_serialization_byte_for_byte() {
    let signer = signer();
    let mut batch = b"[".to_vec();
    let mut sdk_batch = Vec::new();
    let mut body = Vec::new();
    for (i, row) in rows().iter().enumerate() {
        let order = sign_order(&signer, &Domain::polygon(row.exchange), row.fields).unwrap();
        let sdk = sdk_sign(row, false, i);
        let (_, order_type, post_only, expiration) = order_params(i);
        write_order_body(
            &mut body,
            &order,
            &row.token_id,
            expiration,
            OWNER,
            order_type,
            post_only,
        );
        assert_eq!(
            String::from_utf8(body.clone()).unwrap(),
            serde_json::to_string(&sdk).unwrap(),
            "{}",
            row.name
        );
        if i > 0 {
            batch.push(b',');
        }
        pmbot_entry(&mut batch, &order, row, i);
        sdk_batch.push(sdk);
    }
    batch.push(b']');
    assert_eq!(
        String::from_utf8(batch).unwrap(),
        serde_json::to_string(&sdk_batch).unwrap(),
        "POST /orders batch"
    );
}

#[test]
fn v3_orders_sign_and_serialize_like_the_sdk() {
    let signer = signer();
    let domain = Domain::polygon(Exchange::V3);
    let mut body = Vec::new();
    for (i, row) in rows().iter().enumerate() {
        let order = sign_order(&signer, &domain, row.fields).unwrap();
        assert_ne!(order.hash, row.hash, "{}: V3 hash equals V2", row.name);
        let sdk = sdk_sign(row, true, i);
        let OrderSignature::Ecdsa(sdk_signature) = &sdk.signature else {
            panic!("{}: the SDK wrapped an ECDSA signature", row.name);
        };
        assert_eq!(
            order.signature,
            sdk_signature.as_bytes(),
            "{}: V3 signature",
            row.name
        );
        body.clear();
        pmbot_entry(&mut body, &order, row, i);
        assert_eq!(
            String::from_utf8(body.clone()).unwrap(),
            serde_json::to_string(&sdk).unwrap(),
            "{}: V3 body",
            row.name
        );
    }
}
