//! The official SDK (`polymarket_client_sdk_v2`) talks to a loopback HTTP server that records
//! each request: pmbot must verify the SDK's L1 and L2 headers, and produce the very same header
//! values and `POST /order` body for the same inputs.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use pmbot::adapters::polymarket::auth::{
    ApiCreds, L2Signer, Secret, l1_headers, l1_sign, l1_verify, l2_verify,
};
use pmbot::adapters::polymarket::signing::{
    Domain, Exchange, OrderFields, Signer, parse_u256, sign_order, write_order_body,
};
use pmbot::domain::Side;
use polymarket_client_sdk_v2::auth::{Credentials, LocalSigner, Signer as _, Uuid};
use polymarket_client_sdk_v2::clob::types::{OrderPayload, OrderType, OrderV2, SignableOrder};
use polymarket_client_sdk_v2::clob::{Client, Config};
use polymarket_client_sdk_v2::types::{Address, B256, U256};

/// Hardhat's first well-known account (public, the key the SDK's own tests use).
const SECRET_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const API_KEY: &str = "3f2b6a8e-1c4d-4e5f-8a9b-0c1d2e3f4a5b";
const API_SECRET: &str = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU-";
const PASSPHRASE: &str = "phrase-for-tests";
const TOKEN: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";

/// One request as the server read it; header names lowercased.
struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("{} {}: no {name} header", self.method, self.path))
    }
}

type Log = Arc<Mutex<Vec<Request>>>;

/// The canned 200 body for each endpoint the tests call.
fn response_for(path: &str) -> String {
    match path {
        "/auth/api-key" | "/auth/derive-api-key" => format!(
            r#"{{"apiKey":"{API_KEY}","secret":"{API_SECRET}","passphrase":"{PASSPHRASE}"}}"#
        ),
        "/order" => concat!(
            r#"{"success":true,"errorMsg":"","orderID":"0x01","status":"live","#,
            r#""makingAmount":"","takingAmount":"","transactionsHashes":[],"tradeIDs":[]}"#
        )
        .to_owned(),
        "/cancel-all" => r#"{"canceled":[],"not_canceled":{}}"#.to_owned(),
        other => panic!("unexpected request to {other}"),
    }
}

/// Serves keep-alive HTTP/1.1 requests on one connection until the client closes it.
fn serve_connection(stream: TcpStream, log: &Log) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap().to_owned();
        let target = parts.next().unwrap();
        let path = target.split('?').next().unwrap().to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
        }
        let length = headers
            .get("content-length")
            .map_or(0, |v| v.parse::<usize>().unwrap());
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let reply = response_for(&path);
        write!(
            writer,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{reply}",
            reply.len()
        )
        .unwrap();
        log.lock().unwrap().push(Request {
            method,
            path,
            headers,
            body,
        });
    }
}

/// Starts the recording server; returns its base URL and the request log.
fn server() -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let shared = Arc::clone(&log);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let log = Arc::clone(&shared);
            thread::spawn(move || serve_connection(stream.unwrap(), &log));
        }
    });
    (url, log)
}

fn take(log: &Log, path: &str) -> Request {
    let mut log = log.lock().unwrap();
    let at = log
        .iter()
        .position(|r| r.path == path)
        .unwrap_or_else(|| panic!("the SDK sent nothing to {path}"));
    log.remove(at)
}

fn pmbot_signer() -> Signer {
    let mut secret = [0u8; 32];
    for (byte, pair) in secret.iter_mut().zip(SECRET_KEY.as_bytes()[2..].chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap();
    }
    Signer::from_secret(&secret).unwrap()
}

fn sdk_signer() -> LocalSigner<k256::ecdsa::SigningKey> {
    SECRET_KEY
        .parse::<LocalSigner<_>>()
        .unwrap()
        .with_chain_id(Some(137))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn sdk_l1_headers_verify_and_equal_pmbot_s() {
    let (url, log) = server();
    let signer = pmbot_signer();
    let client = Client::new(&url, Config::default()).unwrap();
    let creds = client.create_api_key(&sdk_signer(), Some(7)).await.unwrap();
    assert_eq!(creds.key().to_string(), API_KEY);
    client.derive_api_key(&sdk_signer(), None).await.unwrap();

    for (path, method, nonce) in [
        ("/auth/api-key", "POST", 7),
        ("/auth/derive-api-key", "GET", 0),
    ] {
        let request = take(&log, path);
        assert_eq!(request.method, method);
        let sent = |name: &str| request.header(&name.to_ascii_lowercase()).to_owned();
        assert_eq!(
            l1_verify(
                &sent("POLY_ADDRESS"),
                &sent("POLY_SIGNATURE"),
                &sent("POLY_TIMESTAMP"),
                &sent("POLY_NONCE"),
                137
            ),
            Ok(signer.address()),
            "{path}"
        );
        let timestamp = sent("POLY_TIMESTAMP").parse().unwrap();
        let ours = l1_headers(&l1_sign(&signer, timestamp, nonce, 137).unwrap());
        for (name, value) in ours {
            assert_eq!(sent(name), value, "{path}: {name}");
        }
        assert_eq!(
            l1_verify(
                &sent("POLY_ADDRESS"),
                &sent("POLY_SIGNATURE"),
                &sent("POLY_TIMESTAMP"),
                &sent("POLY_NONCE"),
                80_002
            ),
            Err(pmbot::adapters::polymarket::auth::AuthError::WrongSigner),
            "{path}: another chain"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn sdk_l2_requests_verify_and_equal_pmbot_s() {
    let (url, log) = server();
    let signer = pmbot_signer();
    let sdk_signer = sdk_signer();
    let credentials = Credentials::new(
        Uuid::parse_str(API_KEY).unwrap(),
        API_SECRET.to_owned(),
        PASSPHRASE.to_owned(),
    );
    let client = Client::new(&url, Config::default())
        .unwrap()
        .authentication_builder(&sdk_signer)
        .credentials(credentials)
        .authenticate()
        .await
        .unwrap();

    let fields = OrderFields {
        salt: 4_503_599_627_370_495,
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
    };
    let mut order = OrderV2::default();
    order.salt = U256::from(fields.salt);
    order.maker = Address::from(fields.maker);
    order.signer = Address::from(fields.signer);
    order.tokenId = U256::from_be_bytes(fields.token_id);
    order.makerAmount = U256::from(fields.maker_amount);
    order.takerAmount = U256::from(fields.taker_amount);
    order.timestamp = U256::from(fields.timestamp_ms);
    order.metadata = B256::ZERO;
    order.builder = B256::ZERO;
    let mut signable = SignableOrder::default();
    signable.payload = OrderPayload::new(order, U256::from(1_764_003_600u64));
    signable.order_type = OrderType::GTD;
    signable.post_only = Some(true);
    signable.defer_exec = Some(false);
    client.set_neg_risk(U256::from_be_bytes(fields.token_id), false);
    let signed = client.sign(&sdk_signer, signable).await.unwrap();
    client.post_order(signed).await.unwrap();
    client.cancel_all_orders().await.unwrap();

    let creds = ApiCreds {
        api_key: API_KEY.to_owned(),
        secret: Secret::new(API_SECRET.to_owned()),
        passphrase: Secret::new(PASSPHRASE.to_owned()),
    };
    let l2 = L2Signer::new(&creds, &signer.address()).unwrap();
    let ours = sign_order(&signer, &Domain::polygon(Exchange::Standard), fields).unwrap();
    let mut body = Vec::new();
    write_order_body(&mut body, &ours, TOKEN, 1_764_003_600, API_KEY, "GTD", true);

    let post = take(&log, "/order");
    assert_eq!(
        String::from_utf8(post.body.clone()).unwrap(),
        String::from_utf8(body).unwrap(),
        "POST /order body"
    );
    let cancel = take(&log, "/cancel-all");
    assert!(cancel.body.is_empty());
    for request in [post, cancel] {
        let timestamp = request.header("poly_timestamp");
        assert!(
            l2_verify(
                API_SECRET,
                timestamp,
                &request.method,
                &request.path,
                &request.body,
                request.header("poly_signature")
            ),
            "{} {}",
            request.method,
            request.path
        );
        let ours = l2.headers(
            timestamp.parse().unwrap(),
            &request.method,
            &request.path,
            &request.body,
        );
        for (name, value) in ours {
            assert_eq!(
                request.header(&name.to_ascii_lowercase()),
                value,
                "{} {}: {name}",
                request.method,
                request.path
            );
        }
    }
}
