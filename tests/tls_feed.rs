//! The feed's `wss://` path: TLS by rustls under tungstenite on a non-blocking socket, against a
//! loopback server with a self-signed certificate trusted through `venue.tls_ca_file`.

use std::io::Write;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Poll, Token};
use pmbot::adapters::polymarket::transport::{self, ConnectError};
use tungstenite::Message;

/// A one-connection `wss://` echo server for `localhost`; returns its port and the CA file.
fn serve_once(dir: &std::path::Path) -> (u16, std::path::PathBuf, std::thread::JoinHandle<()>) {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::File::create(&ca)
        .unwrap()
        .write_all(key.cert.pem().as_bytes())
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
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
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        let Ok(mut ws) = tungstenite::accept(rustls::StreamOwned::new(conn, tcp)) else {
            return;
        };
        if let Ok(Message::Text(text)) = ws.read() {
            let _ = ws.send(Message::text(format!("echo:{}", text.as_str())));
        }
        let _ = ws.read();
    });
    (port, ca, server)
}

#[test]
fn wss_connects_with_a_trusted_ca_and_carries_frames() {
    let dir = std::env::temp_dir().join(format!("pmbot-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (port, ca, server) = serve_once(&dir);
    let tls = transport::tls_config(Some(&ca)).unwrap();
    let poll = Poll::new().unwrap();
    let url = format!("wss://localhost:{port}/ws/market");
    let mut socket =
        transport::connect(&url, Duration::from_secs(5), &poll, Token(0), &tls).unwrap();
    socket.send(Message::text("PING")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let reply = loop {
        match socket.read() {
            Ok(Message::Text(text)) => break text.as_str().to_owned(),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let _ = socket.flush();
                assert!(Instant::now() < deadline, "no reply over TLS");
                std::thread::yield_now();
            }
            Err(e) => panic!("read failed: {e}"),
        }
    };
    assert_eq!(reply, "echo:PING");
    drop(socket);
    server.join().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn wss_refuses_a_server_whose_certificate_is_not_trusted() {
    let dir = std::env::temp_dir().join(format!("pmbot-tls-untrusted-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (port, _ca, server) = serve_once(&dir);
    let tls = transport::tls_config(None).unwrap();
    let poll = Poll::new().unwrap();
    let url = format!("wss://localhost:{port}/ws/market");
    let Err(err) = transport::connect(&url, Duration::from_secs(5), &poll, Token(0), &tls) else {
        panic!("an untrusted certificate was accepted");
    };
    assert!(
        matches!(
            err,
            ConnectError::Handshake { .. } | ConnectError::Io { .. }
        ),
        "{err}"
    );
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    server.join().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_ca_file_without_certificates_is_refused_by_name() {
    let path = std::env::temp_dir().join(format!("pmbot-empty-ca-{}.pem", std::process::id()));
    std::fs::write(&path, "not a certificate\n").unwrap();
    let err = transport::tls_config(Some(&path)).unwrap_err();
    assert!(err.to_string().contains("venue.tls_ca_file"), "{err}");
    std::fs::remove_file(&path).ok();
}
