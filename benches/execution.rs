//! Execution-path benchmarks (issue 6): what it costs to turn an order into signed, authenticated
//! bytes on the wire.
//!
//! - `sign_order/pmbot`: `signing::sign_order` for a V2 BUY on the standard exchange: the
//!   EIP-712 struct hash, the digest under the precomputed domain separator, and the secp256k1
//!   signature through libsecp256k1 (RFC 6979 nonce, low `s`, recovery id).
//! - `sign_order/official_sdk`: the same order through `polymarket_client_sdk_v2`'s own path,
//!   `Client::sign` (neg-risk cache lookup, alloy's EIP-712 hashing, alloy's `LocalSigner` on the
//!   pure-Rust `k256`), polled to completion without a runtime (every lookup is primed, so it
//!   never waits). Both produce the same 65 bytes (checked before timing).
//! - `l2_hmac/pmbot`: `L2Signer::signature` over a real `POST /order` body (HMAC-SHA256 from a
//!   pre-keyed state, urlsafe base64).
//!
//! Each group is one function handed to `criterion_group!` at the bottom; add a group the same
//! way. Run with `cargo bench --bench execution` (`-- --quick` on a shared machine).

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, criterion_group, criterion_main};
use pmbot::adapters::polymarket::auth::{ApiCreds, L2Signer, Secret};
use pmbot::adapters::polymarket::signing::{
    Domain, Exchange, OrderFields, Signer, parse_u256, sign_order, write_order_body,
};
use pmbot::domain::Side;
use polymarket_client_sdk_v2::auth::state::Authenticated;
use polymarket_client_sdk_v2::auth::{Credentials, LocalSigner, Normal, Signer as _, Uuid};
use polymarket_client_sdk_v2::clob::types::{OrderPayload, OrderType, OrderV2, SignableOrder};
use polymarket_client_sdk_v2::clob::{Client, Config};
use polymarket_client_sdk_v2::types::{Address, B256, U256};

/// Hardhat's first well-known test account: public, never funded.
const SECRET_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// A real 77-digit token id.
const TOKEN: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
const OWNER: &str = "3f2b6a8e-1c4d-4e5f-8a9b-0c1d2e3f4a5b";

fn secret() -> [u8; 32] {
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(SECRET_KEY.as_bytes()[2..].chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap();
    }
    out
}

/// BUY 12.34 shares at 0.55: the order both signers sign.
fn order(signer: &Signer) -> OrderFields {
    OrderFields {
        salt: 0x1f_ffff_ffff_ffff,
        maker: signer.address(),
        signer: signer.address(),
        token_id: parse_u256(TOKEN.as_bytes()).unwrap(),
        maker_amount: 6_787_000,
        taker_amount: 12_340_000,
        side: Side::Buy,
        signature_type: 0,
        timestamp_ms: 1_764_000_000_000,
        metadata: [0; 32],
        builder: [0; 32],
    }
}

/// Polls a future that completes without I/O.
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

fn sdk_order(fields: &OrderFields) -> SignableOrder {
    let mut order = OrderV2::default();
    order.salt = U256::from(fields.salt);
    order.maker = Address::from(fields.maker);
    order.signer = Address::from(fields.signer);
    order.tokenId = U256::from_be_bytes(fields.token_id);
    order.makerAmount = U256::from(fields.maker_amount);
    order.takerAmount = U256::from(fields.taker_amount);
    order.side = 0;
    order.signatureType = fields.signature_type;
    order.timestamp = U256::from(fields.timestamp_ms);
    order.metadata = B256::from(fields.metadata);
    order.builder = B256::from(fields.builder);
    let mut signable = SignableOrder::default();
    signable.payload = OrderPayload::new(order, U256::ZERO);
    signable.order_type = OrderType::GTC;
    signable.post_only = Some(false);
    signable
}

fn sign_order_group(c: &mut Criterion) {
    let signer = Signer::from_secret(&secret()).unwrap();
    let domain = Domain::polygon(Exchange::Standard);
    let fields = order(&signer);

    let sdk_signer = SECRET_KEY
        .parse::<LocalSigner<k256::ecdsa::SigningKey>>()
        .unwrap()
        .with_chain_id(Some(137));
    let credentials = Credentials::new(
        Uuid::parse_str(OWNER).unwrap(),
        "c2VjcmV0".to_owned(),
        "pass".to_owned(),
    );
    let client: Client<Authenticated<Normal>> = ready(
        Client::new("https://clob.polymarket.com", Config::default())
            .unwrap()
            .authentication_builder(&sdk_signer)
            .credentials(credentials)
            .authenticate(),
    )
    .unwrap();
    client.set_neg_risk(U256::from_be_bytes(fields.token_id), false);
    let signable = sdk_order(&fields);

    let ours = sign_order(&signer, &domain, fields).unwrap();
    let theirs = ready(client.sign(&sdk_signer, signable.clone())).unwrap();
    assert_eq!(
        theirs.signature.to_string().as_bytes(),
        &pmbot::adapters::polymarket::signing::hex_signature(&ours.signature)[..],
        "both sign the same order"
    );

    let mut group = c.benchmark_group("sign_order");
    group.bench_function("pmbot", |b| {
        b.iter(|| sign_order(&signer, &domain, black_box(fields)).unwrap());
    });
    group.bench_function("official_sdk", |b| {
        b.iter(|| ready(client.sign(&sdk_signer, black_box(signable.clone()))).unwrap());
    });
    group.finish();
}

fn l2_hmac_group(c: &mut Criterion) {
    let signer = Signer::from_secret(&secret()).unwrap();
    let creds = ApiCreds {
        api_key: OWNER.to_owned(),
        secret: Secret::new("c2VjcmV0LWtleS1mb3ItYmVuY2hlcy1vbmx5LTAxMjM-".to_owned()),
        passphrase: Secret::new("passphrase".to_owned()),
    };
    let l2 = L2Signer::new(&creds, &signer.address()).unwrap();
    let order = sign_order(
        &signer,
        &Domain::polygon(Exchange::Standard),
        order(&signer),
    )
    .unwrap();
    let mut body = Vec::new();
    write_order_body(&mut body, &order, TOKEN, 0, OWNER, "GTC", false);

    let mut group = c.benchmark_group("l2_hmac");
    group.bench_function("pmbot", |b| {
        b.iter(|| l2.signature(black_box(1_764_000_000), "POST", "/order", black_box(&body)));
    });
    group.finish();
}

criterion_group!(benches, sign_order_group, l2_hmac_group);
criterion_main!(benches);
