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
//! - `submit/presigned` and `submit/fresh_sign`: the live sink taking one intent (a lone GTC
//!   order) until its request bytes are written to a loopback socket: the order taken from the
//!   pre-signed ladder or signed on the spot, recorded by the order manager, its body and L2
//!   headers written, the request handed to a warm keep-alive connection. The answer is read
//!   outside the timed part.
//! - `http_request/pmbot` vs `http_request/ureq`: one signed `POST /orders` (a 15-order batch)
//!   and its response over loopback, through the hand-written keep-alive client and through
//!   ureq with the same body, headers and response decoder, against the same server. Round trip.
//!
//! Each group is one function handed to `criterion_group!` at the bottom; add a group the same
//! way. Run with `cargo bench --bench execution` (`-- --quick` on a shared machine).

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use pmbot::adapters::polymarket::auth::{ApiCreds, L2Signer, Secret};
use pmbot::adapters::polymarket::clob_client::{
    ClobClient, ClobConfig, Endpoint, PostResult, parse_post_orders,
};
use pmbot::adapters::polymarket::signing::{
    Domain, Exchange, OrderFields, Signer, parse_u256, sign_order, write_order_body,
};
use pmbot::adapters::polymarket::ws_user::UserEvent;
use pmbot::bot::clock::Clock;
use pmbot::domain::Side;
use pmbot::domain::intents::{ClientId, ExecKind, ExecReport, GroupId, Intent, PlaceOrder, Tif};
use pmbot::domain::num::{AssetIdx, Px, Qty};
use pmbot::execution::live::LiveSink;
use pmbot::execution::{IntentMsg, Sink};
use polymarket_client_sdk_v2::auth::state::Authenticated;
use polymarket_client_sdk_v2::auth::{Credentials, LocalSigner, Normal, Signer as _, Uuid};
use polymarket_client_sdk_v2::clob::types::{OrderPayload, OrderType, OrderV2, SignableOrder};
use polymarket_client_sdk_v2::clob::{Client, Config};
use polymarket_client_sdk_v2::types::{Address, B256, U256};

// Shared with the tests; this bench uses part of it.
#[allow(dead_code)]
#[path = "../tests/support/stub_clob.rs"]
mod stub_clob;

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

const RESPONSE_ENTRY: &str = r#"{"errorMsg":"","orderID":"0x23b457271bce9fa09b4f79125c9ec09e968235a462de82e318ef4eb6fe0ffeb0","status":"live","success":true,"makingAmount":"","takingAmount":"","transactionsHashes":[],"tradeIDs":[]}"#;

fn http_signer() -> L2Signer {
    let creds = ApiCreds {
        api_key: "00000000-0000-0000-0000-000000000001".into(),
        secret: Secret::new("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into()),
        passphrase: Secret::new("pass".into()),
    };
    L2Signer::new(&creds, &[0xf3; 20]).unwrap()
}

/// A realistic 15-order batch body (about 11 KiB).
fn batch_body() -> Vec<u8> {
    let entry = r#"{"order":{"salt":123456789,"maker":"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266","signer":"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266","tokenId":"71321045679252212594626385532706912750332728571942532289631379312455583992563","makerAmount":"100000000","takerAmount":"50000000","side":"BUY","expiration":"0","signatureType":0,"timestamp":"1713398400000","metadata":"0x0000000000000000000000000000000000000000000000000000000000000000","builder":"0x0000000000000000000000000000000000000000000000000000000000000000","signature":"0xabcdef1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef1234567890ab1b"},"owner":"00000000-0000-0000-0000-000000000001","orderType":"GTC","deferExec":false,"postOnly":false}"#;
    format!("[{}]", vec![entry; 15].join(",")).into_bytes()
}

fn http_request(c: &mut Criterion) {
    let batch = format!("[{}]", vec![RESPONSE_ENTRY; 15].join(","));
    let port = stub_clob::serve(move |_| (200, batch.clone()));
    let body = batch_body();
    let l2 = http_signer();
    let mut group = c.benchmark_group("http_request");

    let endpoint = Endpoint::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let config = ClobConfig {
        conns: 1,
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(5),
        warm_every: Duration::from_secs(3600),
    };
    let mut client = ClobClient::connect(&endpoint, config, l2.clone(), None).unwrap();
    let mut out = Vec::with_capacity(4);
    let mut results: Vec<PostResult> = Vec::with_capacity(16);
    group.bench_function("pmbot", |b| {
        b.iter(|| {
            client.send_orders(&body, true, 1_700_000_000, 1).unwrap();
            out.clear();
            while out.is_empty() {
                client.poll(Instant::now(), &mut out);
            }
            parse_post_orders(client.body(&out[0].outcome), &mut results).unwrap();
            assert_eq!(results.len(), 15);
        });
    });

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let url = format!("http://127.0.0.1:{port}/orders");
    group.bench_function("ureq", |b| {
        b.iter(|| {
            let mut req = agent.post(&url).header("Content-Type", "application/json");
            for (name, value) in l2.headers(1_700_000_000, "POST", "/orders", &body) {
                req = req.header(name, value);
            }
            let response = req
                .send(&body[..])
                .unwrap()
                .body_mut()
                .read_to_vec()
                .unwrap();
            parse_post_orders(&response, &mut results).unwrap();
            assert_eq!(results.len(), 15);
        });
    });
    group.finish();
}

/// A live sink on one warm connection to a loopback server that refuses every order (so each
/// order ends at once and the order manager never fills up), pre-signing or not.
fn live_sink(port: u16, presign: bool) -> (LiveSink, rtrb::Producer<UserEvent>) {
    let mut settings = stub_clob::dev_settings(&[]);
    settings.execution.presign.enabled = presign;
    settings.execution.presign.interval = Duration::ZERO;
    let registry = stub_clob::binary_registry(1);
    stub_clob::live_sink(
        port,
        registry,
        settings.execution,
        1,
        vec![Qty::from_shares(10)],
        Clock::new(),
    )
}

/// BUY 10 Yes at 0.55, GTC, alone in its group.
fn intent(id: u64, clock: &Clock) -> IntentMsg {
    let now = clock.raw();
    IntentMsg {
        t_rx: now,
        t_int: now,
        decided_ms: 0,
        intent: Intent::Place(PlaceOrder {
            client_id: ClientId(id),
            asset: AssetIdx(0),
            side: Side::Buy,
            limit_px: Px(5500),
            size: Qty::from_shares(10),
            tif: Tif::Gtc,
            post_only: false,
            group: GroupId(id),
            group_len: 1,
        }),
    }
}

/// Polls until the order's refusal comes back (and, pre-signing, the ladder is full again).
fn settle(sink: &mut LiveSink, id: u64, out: &mut Vec<ExecReport>) {
    let done = |out: &[ExecReport]| {
        out.iter()
            .any(|r| r.client_id.0 == id && matches!(r.kind, ExecKind::Rejected { .. }))
    };
    while sink.poll(out) || !done(out) {}
    out.clear();
}

fn submit_group(c: &mut Criterion) {
    let refusal =
        r#"{"success":false,"errorMsg":"not enough balance / allowance","orderID":"","status":""}"#;
    let port = stub_clob::serve(move |_| (200, refusal.to_owned()));
    let clock = Clock::new();
    let mut group = c.benchmark_group("submit");
    for (name, presign) in [("presigned", true), ("fresh_sign", false)] {
        let (mut sink, _user) = live_sink(port, presign);
        let mut out = Vec::with_capacity(64);
        let mut next = 1;
        // The first order centres the ladder on its price; the poll signs the ladder.
        sink.on_intent(&intent(next, &clock), &mut out);
        settle(&mut sink, next, &mut out);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    next += 1;
                    let msg = intent(next, &clock);
                    let start = Instant::now();
                    sink.on_intent(&msg, &mut out);
                    timed += start.elapsed();
                    settle(&mut sink, next, &mut out);
                }
                timed
            });
        });
        let summary = sink.summary();
        if presign {
            assert_eq!(
                summary.counters.presign_misses, 1,
                "only the first order missed"
            );
        } else {
            assert_eq!(summary.counters.presign_hits, 0);
        }
    }
    group.finish();
}

criterion_group!(
    benches,
    sign_order_group,
    l2_hmac_group,
    submit_group,
    http_request
);
criterion_main!(benches);
