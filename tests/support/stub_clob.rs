//! A loopback stand-in for the CLOB's REST endpoint, shared by the live-sink tests and the
//! execution and end-to-end benches: a keep-alive HTTP/1.1 server whose answers a closure
//! decides, the `dev` settings, binary-market registries, and a live sink wired to the server
//! with a fixed development key.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pmbot::adapters::polymarket::auth::{ApiCreds, L2Signer, Secret};
use pmbot::adapters::polymarket::clob_client::rest::RestClient;
use pmbot::adapters::polymarket::clob_client::{ClobClient, ClobConfig, Endpoint};
use pmbot::adapters::polymarket::signing::Signer;
use pmbot::adapters::polymarket::ws_user::UserEvent;
use pmbot::bot::clock::Clock;
use pmbot::bot::settings::{ExecutionSettings, Overlay, Settings};
use pmbot::domain::markets::{MarketSpec, Registry};
use pmbot::domain::num::{Px, Qty};
use pmbot::execution::live::{LiveParts, LiveSink};
use pmbot::execution::order_signer::OrderSigner;

/// The repository's `dev` profile with `overrides` (`key.path=value`) applied.
pub fn dev_settings(overrides: &[String]) -> Settings {
    Settings::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("config"),
        &Overlay::Profile("dev".into()),
        std::iter::empty::<(String, String)>(),
        overrides,
    )
    .unwrap()
}

/// One request as the server read it.
#[derive(Clone, Debug)]
pub struct Request {
    /// `GET`, `POST`, `DELETE`.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The body, as text.
    pub body: String,
}

impl Request {
    /// Signed orders in the body (one for `POST /order`, up to 15 for `POST /orders`).
    pub fn orders(&self) -> usize {
        self.body.matches("{\"order\":").count()
    }
}

/// Serves keep-alive HTTP/1.1 on a free loopback port, one thread per connection, answering
/// each request with `answer`'s status and JSON body; returns the port.
pub fn serve<F>(answer: F) -> u16
where
    F: Fn(&Request) -> (u16, String) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(mut tcp) = tcp else { return };
            tcp.set_nodelay(true).unwrap();
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::with_capacity(64 * 1024);
                let mut chunk = [0u8; 16 * 1024];
                loop {
                    let Ok(n) = tcp.read(&mut chunk) else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(request) = take_request(&mut buf) {
                        let (status, body) = answer(&request);
                        let reply = format!(
                            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n\
                             Content-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if tcp.write_all(reply.as_bytes()).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    port
}

/// Takes the first complete request off `buf`, if it holds one.
fn take_request(buf: &mut Vec<u8>) -> Option<Request> {
    let head = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let text = String::from_utf8_lossy(&buf[..head]).into_owned();
    let len: usize = text
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    if buf.len() < head + 4 + len {
        return None;
    }
    let body = String::from_utf8_lossy(&buf[head + 4..head + 4 + len]).into_owned();
    buf.drain(..head + 4 + len);
    let mut first = text.lines().next().unwrap().split(' ');
    Some(Request {
        method: first.next().unwrap().to_owned(),
        path: first.next().unwrap().to_owned(),
        body,
    })
}

/// `markets` fee-free binary markets on a 0.01 tick with a minimum order of 5 shares; market
/// `i` has condition id `0x…{i+1}` and tokens `"{1000 + 2i}"` (Yes) and `"{1001 + 2i}"` (No).
pub fn binary_registry(markets: usize) -> Arc<Registry> {
    let mut registry = Registry::default();
    for i in 0..markets {
        registry
            .add_market(MarketSpec {
                condition_id: format!("0x{:064x}", i + 1),
                token_ids: vec![yes_token(i), no_token(i)],
                tick: Px(100),
                min_order_size: Qty::from_shares(5),
                ..MarketSpec::default()
            })
            .unwrap();
    }
    Arc::new(registry)
}

/// Market `i`'s Yes token id in [`binary_registry`].
pub fn yes_token(i: usize) -> String {
    (1000 + 2 * i).to_string()
}

/// Market `i`'s No token id in [`binary_registry`].
pub fn no_token(i: usize) -> String {
    (1001 + 2 * i).to_string()
}

/// A live sink on `conns` warm connections to the server on `port`, trading `registry` with a
/// fixed development key, pre-signing `presign_sizes` when `execution.presign` says so. The
/// returned producer is the user channel's side of its ring. `clock` must be the one that
/// stamps the intents' `t_rx` for `tick_to_trade` to mean anything.
pub fn live_sink(
    port: u16,
    registry: Arc<Registry>,
    execution: ExecutionSettings,
    conns: usize,
    presign_sizes: Vec<Qty>,
    clock: Clock,
) -> (LiveSink, rtrb::Producer<UserEvent>) {
    let key = Signer::from_secret(&[0x42; 32]).unwrap();
    let address = key.address();
    let creds = ApiCreds {
        api_key: "00000000-0000-0000-0000-000000000001".into(),
        secret: Secret::new("c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU-".into()),
        passphrase: Secret::new("pass".into()),
    };
    let l2 = L2Signer::new(&creds, &address).unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let config = ClobConfig {
        conns,
        connect_timeout: Duration::from_secs(5),
        request_timeout: execution.request_timeout,
        warm_every: Duration::from_secs(3600),
    };
    let client =
        ClobClient::connect(&Endpoint::parse(&url).unwrap(), config, l2.clone(), None).unwrap();
    let (user_tx, user_rx) = rtrb::RingBuffer::new(16);
    let sink = LiveSink::new(LiveParts {
        signer: OrderSigner::new(key, address, 0, 137, registry.clone()),
        rest: RestClient::new(&url, execution.request_timeout),
        registry,
        client,
        l2,
        user: user_rx,
        settings: execution,
        presign_sizes,
        clock,
    });
    (sink, user_tx)
}
