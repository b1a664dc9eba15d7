//! The execution wire against a loopback HTTP/1.1 server written here (std TcpListener, rustls
//! for https): keep-alive reuse, L2 headers the server verifies, deadlines (Timeout + redial),
//! chunked bodies, 429/5xx, Connection: close, servers closing idle connections, malformed
//! responses, no allocation per request once warm; and the order-response decoders on fixtures.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use pmbot::adapters::polymarket::auth::L1Auth;
use pmbot::adapters::polymarket::auth::{ApiCreds, L2Signer, Secret, l2_verify};
use pmbot::adapters::polymarket::clob_client::rest::{BalanceAsset, OrderState, RestClient};
use pmbot::adapters::polymarket::clob_client::{
    ClobClient, ClobConfig, Completion, DecodeError, Endpoint, HttpError, HttpOutcome, PostResult,
    PostStatus, SendError, parse_cancels, parse_post_orders,
};
use pmbot::domain::intents::VenueReject;
use pmbot::domain::num::{Px, Qty, Side};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::{CountingAlloc, allocations_of};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const API_KEY: &str = "00000000-0000-0000-0000-000000000001";
const ADDRESS: [u8; 20] = [0xf3; 20];
const ORDER_ID: &str = "0x23b457271bce9fa09b4f79125c9ec09e968235a462de82e318ef4eb6fe0ffeb0";

fn signer() -> L2Signer {
    let creds = ApiCreds {
        api_key: API_KEY.into(),
        secret: Secret::new(SECRET.into()),
        passphrase: Secret::new("pass".into()),
    };
    L2Signer::new(&creds, &ADDRESS).unwrap()
}

/// A request as the server read it.
struct Req {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }
}

/// What the server does with a request.
enum Reply {
    /// Writes these pieces, flushing after each.
    Pieces(Vec<Vec<u8>>),
    /// Writes the bytes, then closes the connection.
    ThenClose(Vec<u8>),
    /// Never answers (the connection stays open until the client drops it).
    Hold,
}

fn ok_json(status: &str, body: &str) -> Reply {
    Reply::Pieces(vec![
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    ])
}

fn live(id: &str) -> String {
    format!(
        r#"{{"errorMsg":"","orderID":"{id}","status":"live","success":true,"makingAmount":"","takingAmount":"","transactionsHashes":[],"tradeIDs":[]}}"#
    )
}

/// The replies the tests script, chosen by the request body.
fn script(req: &Req) -> Reply {
    let body = String::from_utf8_lossy(&req.body);
    if req.path == "/time" {
        return ok_json("200 OK", "1700000000");
    }
    if let Some(reply) = rest_route(req) {
        return reply;
    }
    if body.contains("hold") {
        return Reply::Hold;
    }
    if body.contains("chunked") {
        let json = format!("[{},{}]", live(ORDER_ID), live(ORDER_ID));
        let (a, b) = json.split_at(json.len() / 2);
        return Reply::Pieces(vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
            format!("{:x}\r\n{a}\r\n", a.len()).into_bytes(),
            format!("{:X};ext=1\r\n{b}\r\n0\r\n\r\n", b.len()).into_bytes(),
        ]);
    }
    if body.contains("busy") {
        return ok_json("429 Too Many Requests", r#"{"error":"too many requests"}"#);
    }
    if body.contains("broken") {
        return ok_json(
            "500 Internal Server Error",
            r#"{"error":"Internal server error"}"#,
        );
    }
    if body.contains("close") {
        let json = live(ORDER_ID);
        return Reply::ThenClose(
            format!(
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{json}",
                json.len()
            )
            .into_bytes(),
        );
    }
    if body.contains("garbage") {
        return Reply::Pieces(vec![b"HTTP/1.1 OK fine\r\n\r\n".to_vec()]);
    }
    ok_json("200 OK", &live(ORDER_ID))
}

/// Reads one request; `None` at EOF.
fn read_request(stream: &mut impl Read) -> Option<Req> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).ok()?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_owned(), first.next()?.to_owned());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut req = Req {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    let len: usize = match req.header("content-length") {
        "" => 0,
        n => n.parse().ok()?,
    };
    req.body = vec![0; len];
    stream.read_exact(&mut req.body).ok()?;
    Some(req)
}

/// Serves one connection until the client closes it or a reply closes it.
fn serve_conn(mut stream: impl Read + Write, seen: &std::sync::mpsc::Sender<Req>) {
    while let Some(req) = read_request(&mut stream) {
        let reply = script(&req);
        if seen.send(req).is_err() {
            return;
        }
        match reply {
            Reply::Pieces(pieces) => {
                for piece in pieces {
                    if stream
                        .write_all(&piece)
                        .and_then(|()| stream.flush())
                        .is_err()
                    {
                        return;
                    }
                }
            }
            Reply::ThenClose(bytes) => {
                let _ = stream.write_all(&bytes).and_then(|()| stream.flush());
                return;
            }
            Reply::Hold => {}
        }
    }
}

struct Server {
    port: u16,
    accepted: Arc<AtomicUsize>,
    requests: Receiver<Req>,
    /// Server-side sockets (plain only), so a test can close one.
    sockets: Receiver<TcpStream>,
}

fn serve(tls: Option<Arc<rustls::ServerConfig>>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let (seen, requests) = channel();
    let (socket_tx, sockets) = channel();
    let count = accepted.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { return };
            count.fetch_add(1, Ordering::SeqCst);
            let seen = seen.clone();
            match &tls {
                None => {
                    let _ = socket_tx.send(tcp.try_clone().unwrap());
                    std::thread::spawn(move || serve_conn(tcp, &seen));
                }
                Some(config) => {
                    let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                    std::thread::spawn(move || {
                        serve_conn(rustls::StreamOwned::new(conn, tcp), &seen);
                    });
                }
            }
        }
    });
    Server {
        port,
        accepted,
        requests,
        sockets,
    }
}

fn config(conns: usize) -> ClobConfig {
    ClobConfig {
        conns,
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(2),
        warm_every: Duration::from_secs(3600),
    }
}

fn client(server: &Server, conns: usize) -> ClobClient {
    let endpoint = Endpoint::parse(&format!("http://127.0.0.1:{}", server.port)).unwrap();
    ClobClient::connect(&endpoint, config(conns), signer(), None).unwrap()
}

/// Polls until `n` completions have arrived (bounded by a 5 s guard).
fn complete_n(client: &mut ClobClient, n: usize) -> Vec<Completion> {
    let guard = Instant::now() + Duration::from_secs(5);
    let mut out = Vec::new();
    while out.len() < n {
        assert!(Instant::now() < guard, "no completion");
        client.poll(Instant::now(), &mut out);
    }
    assert_eq!(out.len(), n);
    out
}

/// Polls until one completion arrives.
fn complete(client: &mut ClobClient, out: &mut Vec<Completion>) -> Completion {
    *out = complete_n(client, 1);
    out[0]
}

/// Polls until `n` connections are free again (after a redial).
fn until_free(client: &mut ClobClient, n: usize) {
    let guard = Instant::now() + Duration::from_secs(5);
    let mut out = Vec::new();
    while client.free_conns() < n {
        assert!(Instant::now() < guard, "connection not back");
        client.poll(Instant::now(), &mut out);
        assert!(out.is_empty());
    }
}

fn status(c: &Completion) -> u16 {
    match c.outcome {
        HttpOutcome::Ok { status, .. } => status,
        other => panic!("not a response: {other:?}"),
    }
}

#[test]
fn one_connection_carries_many_signed_requests() {
    let server = serve(None);
    let mut client = client(&server, 1);
    let mut out = Vec::new();
    let mut results = Vec::new();
    for i in 0..20u64 {
        let body = format!(r#"{{"order":{{"salt":{i}}},"owner":"{API_KEY}"}}"#);
        client
            .send_orders(body.as_bytes(), false, 1_700_000_000 + i, i)
            .unwrap();
        assert_eq!(
            client.send_orders(b"{}", false, 0, 99),
            Err(SendError::Busy)
        );
        let done = complete(&mut client, &mut out);
        assert_eq!((done.tag, status(&done)), (i, 200));
        parse_post_orders(client.body(&done.outcome), &mut results).unwrap();
        assert_eq!(results[0].status, PostStatus::Live);
        let req = server.requests.recv().unwrap();
        assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/order"));
        assert_eq!(req.body, body.as_bytes());
        assert_eq!(req.header("content-type"), "application/json");
        assert_eq!(req.header("POLY_API_KEY"), API_KEY);
        assert_eq!(
            req.header("POLY_TIMESTAMP"),
            (1_700_000_000 + i).to_string()
        );
        assert!(l2_verify(
            SECRET,
            req.header("POLY_TIMESTAMP"),
            "POST",
            "/order",
            &req.body,
            req.header("POLY_SIGNATURE"),
        ));
    }
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn cancels_carry_order_hashes_and_are_signed() {
    let server = serve(None);
    let mut client = client(&server, 2);
    let mut out = Vec::new();
    let id = [0xab; 32];
    let hex = format!("0x{}", "ab".repeat(32));
    client.send_cancel(&id, 5, 1).unwrap();
    client.send_cancels(&[id, [0x01; 32]], 5, 2).unwrap();
    let mut tags: Vec<u64> = complete_n(&mut client, 2).iter().map(|c| c.tag).collect();
    tags.sort_unstable();
    assert_eq!(tags, [1, 2]);
    client.send_cancel_all(5, 3).unwrap();
    assert_eq!(complete(&mut client, &mut out).tag, 3);
    let mut seen: Vec<Req> = server.requests.try_iter().collect();
    seen.sort_by(|a, b| a.path.cmp(&b.path));
    let bodies: Vec<(&str, &str, String)> = seen
        .iter()
        .map(|r| {
            (
                r.method.as_str(),
                r.path.as_str(),
                String::from_utf8_lossy(&r.body).into_owned(),
            )
        })
        .collect();
    assert_eq!(
        bodies,
        [
            ("DELETE", "/cancel-all", String::new()),
            ("DELETE", "/order", format!(r#"{{"orderID":"{hex}"}}"#)),
            (
                "DELETE",
                "/orders",
                format!(r#"["{hex}","0x{}"]"#, "01".repeat(32))
            ),
        ]
    );
    for r in &seen {
        assert!(l2_verify(
            SECRET,
            "5",
            "DELETE",
            &r.path,
            &r.body,
            r.header("POLY_SIGNATURE")
        ));
    }
}

#[test]
fn a_late_response_times_out_and_the_connection_is_redialled() {
    let server = serve(None);
    let mut client = client(&server, 1);
    let mut out = Vec::new();
    client.send_orders(br#"{"hold":1}"#, false, 1, 7).unwrap();
    client.poll(Instant::now(), &mut out);
    assert!(out.is_empty(), "nothing can have completed");
    client.poll(Instant::now() + Duration::from_secs(3), &mut out);
    assert_eq!(
        out,
        [Completion {
            tag: 7,
            outcome: HttpOutcome::Timeout
        }]
    );
    until_free(&mut client, 1);
    client.send_orders(b"{}", false, 1, 8).unwrap();
    let done = complete(&mut client, &mut out);
    assert_eq!((done.tag, status(&done)), (8, 200));
    assert_eq!(server.accepted.load(Ordering::SeqCst), 2);
}

#[test]
fn chunked_bodies_are_reassembled() {
    let server = serve(None);
    let mut client = client(&server, 1);
    let mut out = Vec::new();
    client.send_orders(br#"["chunked"]"#, true, 1, 1).unwrap();
    let done = complete(&mut client, &mut out);
    assert_eq!(status(&done), 200);
    let mut results = Vec::new();
    parse_post_orders(client.body(&done.outcome), &mut results).unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(server.requests.recv().unwrap().path, "/orders");
    // The connection is still the first one.
    client.send_orders(b"{}", false, 1, 2).unwrap();
    complete(&mut client, &mut out);
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn rate_limits_and_server_errors_come_back_as_statuses() {
    let server = serve(None);
    let mut client = client(&server, 1);
    let mut out = Vec::new();
    client.send_orders(br#"{"busy":1}"#, false, 1, 1).unwrap();
    let done = complete(&mut client, &mut out);
    assert_eq!(status(&done), 429);
    assert_eq!(
        client.body(&done.outcome),
        br#"{"error":"too many requests"}"#
    );
    client.send_orders(br#"{"broken":1}"#, false, 1, 2).unwrap();
    let done = complete(&mut client, &mut out);
    assert_eq!(status(&done), 500);
    let mut results = Vec::new();
    assert!(matches!(
        parse_post_orders(client.body(&done.outcome), &mut results),
        Err(DecodeError::NoSuccess)
    ));
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn connection_close_is_honoured_and_redialled() {
    let server = serve(None);
    let mut client = client(&server, 1);
    let mut out = Vec::new();
    client.send_orders(br#"{"close":1}"#, false, 1, 1).unwrap();
    assert_eq!(status(&complete(&mut client, &mut out)), 200);
    until_free(&mut client, 1);
    client.send_orders(b"{}", false, 1, 2).unwrap();
    assert_eq!(status(&complete(&mut client, &mut out)), 200);
    assert_eq!(server.accepted.load(Ordering::SeqCst), 2);
}

#[test]
fn a_connection_the_server_closed_while_idle_is_not_used() {
    let server = serve(None);
    let mut client = client(&server, 1);
    let first = server.sockets.recv().unwrap();
    first.shutdown(std::net::Shutdown::Both).unwrap();
    // The probe finds the close before any byte is written: nothing reaches the venue.
    let guard = Instant::now() + Duration::from_secs(5);
    while client.send_orders(b"{}", false, 1, 1) == Err(SendError::Busy) {
        assert!(Instant::now() < guard, "never redialled");
        client.poll(Instant::now(), &mut Vec::new());
    }
    let mut out = Vec::new();
    assert_eq!(status(&complete(&mut client, &mut out)), 200);
    assert_eq!(server.accepted.load(Ordering::SeqCst), 2);
}

#[test]
fn malformed_responses_fail_the_request_without_panicking() {
    let server = serve(None);
    let mut client = client(&server, 1);
    let mut out = Vec::new();
    client
        .send_orders(br#"{"garbage":1}"#, false, 1, 1)
        .unwrap();
    let done = complete(&mut client, &mut out);
    assert_eq!(done.outcome, HttpOutcome::Malformed(HttpError::StatusLine));
    until_free(&mut client, 1);
    client.send_orders(b"{}", false, 1, 2).unwrap();
    assert_eq!(status(&complete(&mut client, &mut out)), 200);
}

#[test]
fn keep_warm_probes_idle_connections_quietly() {
    let server = serve(None);
    let endpoint = Endpoint::parse(&format!("http://127.0.0.1:{}/", server.port)).unwrap();
    let mut cfg = config(2);
    cfg.warm_every = Duration::from_millis(1);
    let mut client = ClobClient::connect(&endpoint, cfg, signer(), None).unwrap();
    client.keep_warm(Instant::now() + Duration::from_secs(1));
    assert_eq!(client.free_conns(), 0);
    let mut out = Vec::new();
    until_free(&mut client, 2);
    assert!(out.is_empty());
    let paths: Vec<String> = server.requests.try_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/time", "/time"]);
    client.poll(Instant::now(), &mut out);
    assert!(out.is_empty());
}

#[test]
fn https_requests_go_over_rustls() {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let server_config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![key.cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.signing_key.serialize_der().into()),
    )
    .unwrap();
    let server = serve(Some(Arc::new(server_config)));
    let mut roots = rustls::RootCertStore::empty();
    roots.add(key.cert.der().clone()).unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let endpoint = Endpoint::parse(&format!("https://localhost:{}", server.port)).unwrap();
    let mut client =
        ClobClient::connect(&endpoint, config(1), signer(), Some(Arc::new(tls))).unwrap();
    let mut out = Vec::new();
    for tag in 0..3 {
        client.send_orders(br#"[{"x":1}]"#, true, 9, tag).unwrap();
        let done = complete(&mut client, &mut out);
        assert_eq!((done.tag, status(&done)), (tag, 200));
    }
    let req = server.requests.recv().unwrap();
    assert_eq!(req.header("host"), format!("localhost:{}", server.port));
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn no_allocation_per_request_once_warm() {
    let server = serve(None);
    let mut client = client(&server, 2);
    let body = format!(
        "[{}]",
        vec![r#"{"order":{"salt":1},"owner":"k"}"#; 15].join(",")
    );
    let mut out = Vec::with_capacity(16);
    let mut results: Vec<PostResult> = Vec::with_capacity(16);
    let mut run = |client: &mut ClobClient, n: u64| {
        for tag in 0..n {
            client.send_orders(body.as_bytes(), true, 1, tag).unwrap();
            out.clear();
            while out.is_empty() {
                client.poll(Instant::now(), &mut out);
            }
            parse_post_orders(client.body(&out[0].outcome), &mut results).unwrap();
            assert_eq!(results.len(), 1);
        }
    };
    run(&mut client, 20);
    assert_eq!(allocations_of(|| run(&mut client, 200)), 0);
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/http/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn order_response_fixtures_decode_or_fail_clearly() {
    let mut results = Vec::new();
    parse_post_orders(&fixture("http_order_response_failed.json"), &mut results).unwrap();
    assert_eq!(
        results,
        [PostResult {
            success: false,
            error: Some(VenueReject::Balance),
            order_id: [0; 32],
            status: PostStatus::Unmatched,
            making: 0,
            taking: 0,
        }]
    );
    assert!(matches!(
        parse_post_orders(&fixture("http_order_response_error_500.json"), &mut results),
        Err(DecodeError::NoSuccess)
    ));
    // This fixture's orderID has 66 hex digits: not an order hash, so refused.
    assert!(matches!(
        parse_post_orders(&fixture("http_order_response_ok.json"), &mut results),
        Err(DecodeError::OrderId)
    ));
}

#[test]
fn batch_results_keep_request_order_and_amounts() {
    let body = format!(
        r#"[{{"errorMsg":"","orderID":"{ORDER_ID}","status":"matched","success":true,"makingAmount":"50.25","takingAmount":"100","tradeIDs":["t1"]}},
            {{"errorMsg":"invalid post-only order: order crosses book","orderID":"","status":"","success":false,"makingAmount":"","takingAmount":""}},
            {{"error_msg":"","orderID":"{ORDER_ID}","status":"delayed","success":true,"makingAmount":"","takingAmount":""}}]"#
    );
    let mut results = Vec::new();
    parse_post_orders(body.as_bytes(), &mut results).unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].status, PostStatus::Matched);
    assert_eq!(
        (results[0].making, results[0].taking),
        (50_250_000, 100_000_000)
    );
    assert_eq!(results[0].order_id[..2], [0x23, 0xb4]);
    assert_eq!(results[1].error, Some(VenueReject::PostOnlyCross));
    assert_eq!(results[2].status, PostStatus::Delayed);
    for bad in [
        &b"[{\"success\":true,\"orderID\":\"0x12\",\"status\":\"live\"}]"[..],
        b"[{\"success\":true,\"status\":\"sideways\"}]",
        b"[{\"success\":true,\"status\":\"live\",\"makingAmount\":\"1.0000001\"}]",
        b"[{\"success\":true,\"status\":\"live\"}",
        b"{\"success\":true,\"status\":\"live\"} trailing",
        b"",
    ] {
        assert!(
            parse_post_orders(bad, &mut results).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

const CREDS: &str = r#"{"apiKey":"k-1","secret":"c2VjcmV0","passphrase":"p-1"}"#;

/// The account endpoints, served from the fixtures.
fn rest_route(req: &Req) -> Option<Reply> {
    let text = |name: &str| String::from_utf8(fixture(name)).unwrap();
    let page = |body: String, next: &str| {
        let mut v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["next_cursor"] = next.into();
        v.to_string()
    };
    let known = "/data/order/0xaaaa000000000000000000000000000000000000000000000000000000000001";
    Some(match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/auth/api-key") => ok_json("400 Bad Request", r#"{"error":"exists"}"#),
        ("GET", "/auth/derive-api-key") => ok_json("200 OK", CREDS),
        ("GET", "/data/orders?next_cursor=MA%3D%3D") => {
            ok_json("200 OK", &page(text("http_open_orders_page.json"), "MQ=="))
        }
        ("GET", "/data/orders?next_cursor=MQ%3D%3D") => {
            ok_json("200 OK", &text("http_open_orders_page.json"))
        }
        ("GET", "/data/trades?next_cursor=MA%3D%3D")
        | ("GET", "/data/trades?after=1700000000&next_cursor=MA%3D%3D") => {
            ok_json("200 OK", &text("http_trades_page.json"))
        }
        ("GET", path) if path == known => {
            let v: serde_json::Value =
                serde_json::from_str(&text("http_open_orders_page.json")).unwrap();
            ok_json("200 OK", &v["data"][0].to_string())
        }
        ("GET", path) if path.starts_with("/data/order/") => ok_json("404 Not Found", "{}"),
        ("GET", path) if path.starts_with("/balance-allowance?asset_type=COLLATERAL") => {
            ok_json("200 OK", &text("http_balance_allowance_collateral.json"))
        }
        ("DELETE", "/cancel-all") if req.body.is_empty() => {
            ok_json("200 OK", &text("http_batch_cancel_response.json"))
        }
        _ => return None,
    })
}

#[test]
fn rest_client_reads_the_account_calls() {
    let server = serve(None);
    let rest = RestClient::new(
        &format!("http://127.0.0.1:{}/", server.port),
        Duration::from_secs(5),
    );
    let l1 = L1Auth {
        address: ADDRESS,
        signature: [0x11; 65],
        timestamp: 1_700_000_000,
        nonce: 0,
    };
    let creds = rest.create_or_derive_api_key(&l1).unwrap();
    assert_eq!(
        (creds.api_key.as_str(), creds.secret.expose()),
        ("k-1", "c2VjcmV0")
    );
    let create = server.requests.recv().unwrap();
    assert_eq!(create.header("POLY_NONCE"), "0");
    assert_eq!(create.header("POLY_TIMESTAMP"), "1700000000");
    assert_eq!(create.header("content-length"), "0");
    assert_eq!(server.requests.recv().unwrap().path, "/auth/derive-api-key");

    let l2 = signer();
    let orders = rest.open_orders(&l2, 7).unwrap();
    assert_eq!(orders.len(), 4, "two pages of two");
    assert_eq!(orders[1].state, OrderState::Live);
    assert_eq!(orders[1].side, Side::Sell);
    assert_eq!(orders[1].price, Px(4_000));
    assert_eq!(orders[1].size_matched, Qty::from_shares(50));
    for page in server.requests.try_iter() {
        assert_eq!(page.header("POLY_TIMESTAMP"), "7");
        assert!(l2_verify(
            SECRET,
            "7",
            "GET",
            "/data/orders",
            b"",
            page.header("POLY_SIGNATURE")
        ));
    }

    let mut id = [0u8; 32];
    id[0] = 0xaa;
    id[1] = 0xaa;
    id[31] = 1;
    let found = rest.get_order(&l2, 7, &id).unwrap().unwrap();
    assert_eq!((found.id, found.original_size), (id, Qty::from_shares(200)));
    assert_eq!(rest.get_order(&l2, 7, &[0x55; 32]).unwrap(), None);

    let balance = rest
        .balance_allowance(&l2, 7, BalanceAsset::Collateral, 0)
        .unwrap();
    assert_eq!(balance.balance, 1_000_000_000);

    let cancelled = rest.cancel_all(&l2, 7).unwrap();
    assert_eq!(cancelled.canceled.len(), 2);

    // The trades fixture names its orders with 66 hex digits: refused, naming the field.
    let err = rest.trades(&l2, 7, None).unwrap_err().to_string();
    assert!(err.contains("taker_order_id"), "{err}");
    // Windowed by match time: the filter rides before the cursor (the server answers only that
    // exact query with the fixture), and the L2 signature still covers the bare path.
    let err = rest
        .trades(&l2, 7, Some(1_700_000_000))
        .unwrap_err()
        .to_string();
    assert!(err.contains("taker_order_id"), "{err}");
    let windowed = server.requests.try_iter().last().unwrap();
    assert_eq!(
        windowed.path,
        "/data/trades?after=1700000000&next_cursor=MA%3D%3D"
    );
    assert!(l2_verify(
        SECRET,
        "7",
        "GET",
        "/data/trades",
        b"",
        windowed.header("POLY_SIGNATURE")
    ));
}

#[test]
fn cancel_fixtures_decode() {
    let ok = parse_cancels(&fixture("http_cancel_response_ok.json")).unwrap();
    assert_eq!(ok.canceled.len(), 1);
    assert_eq!(ok.canceled[0][..4], [0xb8, 0x16, 0x48, 0x2a]);
    assert!(ok.not_canceled.is_empty());
    let batch = parse_cancels(&fixture("http_batch_cancel_response.json")).unwrap();
    assert_eq!(batch.canceled, [[0x11; 32], [0x22; 32]]);
    assert_eq!(
        batch.not_canceled,
        [([0x33; 32], "already canceled or matched".to_owned())]
    );
}
