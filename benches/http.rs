//! `http_request`: one signed `POST /orders` (a 15-order batch) and its response over loopback,
//! through the hand-written keep-alive client (`pmbot`) and through ureq (`ureq`) with the same
//! body, the same L2 headers and the same response decoder, against the same keep-alive server.
//! Round-trip time.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use pmbot::adapters::polymarket::auth::{ApiCreds, L2Signer, Secret};
use pmbot::adapters::polymarket::clob_client::{
    ClobClient, ClobConfig, Endpoint, PostResult, parse_post_orders,
};

const RESPONSE_ENTRY: &str = r#"{"errorMsg":"","orderID":"0x23b457271bce9fa09b4f79125c9ec09e968235a462de82e318ef4eb6fe0ffeb0","status":"live","success":true,"makingAmount":"","takingAmount":"","transactionsHashes":[],"tradeIDs":[]}"#;

/// A keep-alive server answering every request with the same 15-entry result array.
fn serve() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let body = format!("[{}]", vec![RESPONSE_ENTRY; 15].join(","));
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(mut tcp) = tcp else { return };
            tcp.set_nodelay(true).unwrap();
            let response = response.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                let mut filled = 0;
                loop {
                    let Ok(n) = tcp.read(&mut buf[filled..]) else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    filled += n;
                    let Some(head) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let text = String::from_utf8_lossy(&buf[..head]).to_ascii_lowercase();
                    let len: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    if filled < head + 4 + len {
                        continue;
                    }
                    filled = 0;
                    if tcp.write_all(response.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn signer() -> L2Signer {
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
    let port = serve();
    let body = batch_body();
    let l2 = signer();
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

criterion_group!(benches, http_request);
criterion_main!(benches);
