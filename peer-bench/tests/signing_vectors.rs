//! pmbot's V2 order signing against the official SDK: for a table of orders (both exchanges,
//! both sides, every tick size), the SDK's `Client::sign` and pmbot's signer must produce the same
//! 65 bytes, and the SDK's signature must recover to the signer from pmbot's order hash.
//!
//! With `WRITE_VECTORS=1` the table and the SDK's outputs are written to pmbot's
//! `tests/fixtures/signing/v2_orders.json`, which `tests/signing.rs` replays without the SDK.

use std::future::Future;
use std::pin::pin;
use std::str::FromStr as _;
use std::task::{Context, Poll, Waker};

use pmbot::adapters::polymarket::signing::{
    Domain, Exchange, OrderFields, SALT_MASK, Signer, amounts, order_hash, parse_u256, salt_from,
};
use pmbot::domain::{Px, Qty, Side};
use polymarket_client_sdk_v2::auth::{Credentials, LocalSigner, Signer as _, Uuid};
use polymarket_client_sdk_v2::clob::types::{
    OrderPayload, OrderSignature, OrderV2, Side as SdkSide, SignableOrder, SignatureType, TickSize,
};
use polymarket_client_sdk_v2::clob::{Client, Config};
use polymarket_client_sdk_v2::types::{Address, B256, Decimal, U256};
use serde_json::json;

/// Hardhat's first well-known test account: public knowledge, never funded on Polygon.
const SECRET_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// A funder address for the non-EOA case (any address will do).
const FUNDER: &str = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";

/// One row of the table: what a strategy would hand the order builder.
struct Case {
    name: &'static str,
    exchange: Exchange,
    side: Side,
    price: &'static str,
    size: &'static str,
    tick: &'static str,
    token_id: &'static str,
    signature_type: SignatureType,
    metadata: u8,
    builder: u8,
}

fn cases() -> Vec<Case> {
    let case = |name, exchange, side, price, size, tick| Case {
        name,
        exchange,
        side,
        price,
        size,
        tick,
        token_id: peer_bench::YES_TOKEN,
        signature_type: SignatureType::Eoa,
        metadata: 0,
        builder: 0,
    };
    vec![
        case(
            "std buy 0.01",
            Exchange::Standard,
            Side::Buy,
            "0.55",
            "12.345678",
            "0.01",
        ),
        case(
            "std sell 0.01",
            Exchange::Standard,
            Side::Sell,
            "0.55",
            "100",
            "0.01",
        ),
        case(
            "std buy 0.1",
            Exchange::Standard,
            Side::Buy,
            "0.3",
            "7.5",
            "0.1",
        ),
        case(
            "std sell 0.001",
            Exchange::Standard,
            Side::Sell,
            "0.123",
            "33.339",
            "0.001",
        ),
        case(
            "neg buy 0.005",
            Exchange::NegRisk,
            Side::Buy,
            "0.915",
            "1000.999",
            "0.005",
        ),
        case(
            "neg sell 0.0025",
            Exchange::NegRisk,
            Side::Sell,
            "0.0075",
            "5",
            "0.0025",
        ),
        case(
            "neg buy 0.0001 min lot",
            Exchange::NegRisk,
            Side::Buy,
            "0.9999",
            "0.01",
            "0.0001",
        ),
        case(
            "neg sell 0.01 large",
            Exchange::NegRisk,
            Side::Sell,
            "0.01",
            "250000",
            "0.01",
        ),
        Case {
            token_id: peer_bench::NO_TOKEN,
            ..case(
                "std buy other token",
                Exchange::Standard,
                Side::Buy,
                "0.47",
                "21",
                "0.01",
            )
        },
        Case {
            signature_type: SignatureType::GnosisSafe,
            metadata: 0xab,
            builder: 0x5c,
            ..case(
                "std buy safe+metadata",
                Exchange::Standard,
                Side::Buy,
                "0.62",
                "3.3",
                "0.01",
            )
        },
    ]
}

/// Polls a future the SDK completes without I/O (every lookup is pre-cached).
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

fn tick_size(tick: &str) -> TickSize {
    match tick {
        "0.1" => TickSize::Tenth,
        "0.01" => TickSize::Hundredth,
        "0.005" => TickSize::HalfCent,
        "0.0025" => TickSize::QuarterCent,
        "0.001" => TickSize::Thousandth,
        "0.0001" => TickSize::TenThousandth,
        other => panic!("not a tick: {other}"),
    }
}

/// The SDK's limit-order amounts, transcribed from `OrderBuilder<Limit>::build` (its builder
/// fetches the server version over HTTP, so it cannot run offline): the size is rounded toward
/// zero to 2 places (for a positive size, `trunc_with_scale(2)`), `size × price` truncated to
/// tick decimals + 2, both scaled to 1e-6.
fn sdk_amounts(side: Side, price: &str, size: &str, tick: &str) -> (u128, u128) {
    let price = Decimal::from_str(price).unwrap();
    let size = Decimal::from_str(size).unwrap().trunc_with_scale(2);
    let decimals = tick_size(tick).as_decimal().scale();
    let usdc = (size * price).trunc_with_scale(decimals + 2);
    let fixed = |d: Decimal| {
        u128::try_from(d.normalize().trunc_with_scale(6).mantissa()).expect("positive amount")
    };
    match side {
        Side::Buy => (fixed(usdc), fixed(size)),
        Side::Sell => (fixed(size), fixed(usdc)),
    }
}

fn hex(bytes: &[u8]) -> String {
    let digits: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("0x{digits}")
}

#[test]
fn pmbot_signs_byte_identical_to_the_sdk() {
    let secret: [u8; 32] = U256::from_str_radix(SECRET_KEY, 16).unwrap().to_be_bytes();
    let ours = Signer::from_secret(&secret).unwrap();
    let sdk_signer = LocalSigner::from_str(SECRET_KEY)
        .unwrap()
        .with_chain_id(Some(137));
    assert_eq!(ours.address(), sdk_signer.address().0.0);

    let client = Client::new("https://clob.polymarket.com", Config::default()).unwrap();
    let credentials = Credentials::new(Uuid::nil(), "c2VjcmV0".to_owned(), "pass".to_owned());
    let client = ready(
        client
            .authentication_builder(&sdk_signer)
            .credentials(credentials)
            .authenticate(),
    )
    .unwrap();
    let funder = Address::from_str(FUNDER).unwrap();

    let mut vectors = Vec::new();
    for (i, case) in cases().iter().enumerate() {
        let price = Px::parse(case.price.as_bytes()).unwrap();
        let size = Qty::parse(case.size.as_bytes()).unwrap();
        let tick = Px::parse(case.tick.as_bytes()).unwrap();
        let (maker_amount, taker_amount) = amounts(case.side, price, size, tick).unwrap();
        let sdk = sdk_amounts(case.side, case.price, case.size, case.tick);
        assert_eq!(
            (u128::from(maker_amount), u128::from(taker_amount)),
            sdk,
            "{}: amounts",
            case.name
        );

        let index = u64::try_from(i).unwrap();
        let salt = if i == 0 {
            SALT_MASK
        } else {
            salt_from(index.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        };
        let maker = if case.signature_type == SignatureType::Eoa {
            ours.address()
        } else {
            funder.0.0
        };
        let fields = OrderFields {
            salt,
            maker,
            signer: ours.address(),
            token_id: parse_u256(case.token_id.as_bytes()).unwrap(),
            maker_amount,
            taker_amount,
            side: case.side,
            signature_type: case.signature_type as u8,
            timestamp_ms: 1_764_000_000_000 + index * 1_234,
            metadata: [case.metadata; 32],
            builder: [case.builder; 32],
        };
        let domain = Domain::polygon(case.exchange);
        let hash = order_hash(&domain, &fields);
        let signature = ours.sign(&hash).unwrap();

        let mut order = OrderV2::default();
        order.salt = U256::from(fields.salt);
        order.maker = Address::from(fields.maker);
        order.signer = Address::from(fields.signer);
        order.tokenId = U256::from_str(case.token_id).unwrap();
        order.makerAmount = U256::from(sdk.0);
        order.takerAmount = U256::from(sdk.1);
        order.side = match case.side {
            Side::Buy => SdkSide::Buy,
            Side::Sell => SdkSide::Sell,
        } as u8;
        order.signatureType = case.signature_type as u8;
        order.timestamp = U256::from(fields.timestamp_ms);
        order.metadata = B256::from(fields.metadata);
        order.builder = B256::from(fields.builder);
        let mut signable = SignableOrder::default();
        signable.payload = OrderPayload::new(order, U256::ZERO);
        client.set_neg_risk(
            U256::from_str(case.token_id).unwrap(),
            case.exchange == Exchange::NegRisk,
        );
        let signed = ready(client.sign(&sdk_signer, signable)).unwrap();
        let OrderSignature::Ecdsa(sdk_signature) = signed.signature else {
            panic!("{}: the SDK wrapped an ECDSA order signature", case.name);
        };

        assert_eq!(
            signature,
            sdk_signature.as_bytes(),
            "{}: signature",
            case.name
        );
        assert_eq!(
            sdk_signature
                .recover_address_from_prehash(&B256::from(hash))
                .unwrap(),
            sdk_signer.address(),
            "{}: the SDK's signature is not over pmbot's order hash",
            case.name
        );

        vectors.push(json!({
            "name": case.name,
            "exchange": match case.exchange { Exchange::Standard => "standard", Exchange::NegRisk => "neg_risk", Exchange::V3 => "v3" },
            "chain_id": domain.chain_id(),
            "side": case.side.as_str(),
            "price": case.price,
            "size": case.size,
            "tick": case.tick,
            "salt": fields.salt,
            "maker": hex(&fields.maker),
            "signer": hex(&fields.signer),
            "token_id": case.token_id,
            "maker_amount": sdk.0.to_string(),
            "taker_amount": sdk.1.to_string(),
            "signature_type": fields.signature_type,
            "timestamp_ms": fields.timestamp_ms,
            "metadata": hex(&fields.metadata),
            "builder": hex(&fields.builder),
            "hash": hex(&hash),
            "signature": hex(&sdk_signature.as_bytes()),
        }));
    }

    if std::env::var_os("WRITE_VECTORS").is_some_and(|v| v == "1") {
        let table = json!({
            "source": "polymarket_client_sdk_v2 0.9 Client::sign (peer-bench/tests/signing_vectors.rs)",
            "secret_key": format!("0x{SECRET_KEY}"),
            "address": hex(&ours.address()),
            "orders": vectors,
        });
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/signing/v2_orders.json"
        );
        std::fs::write(path, serde_json::to_string_pretty(&table).unwrap() + "\n").unwrap();
    }
}
