//! Slow and idle clients cannot hold the server: a client that sends half a header, or
//! nothing, is closed after the header timeout (also on the HTTPS listener, before the TLS
//! handshake is done), a connection with no traffic after the idle timeout, and one address
//! holds at most so many connections at once.

use std::time::Duration;

use reqwest::StatusCode;
use securecam_tests::{both_backends, spawn_app_with, Backend};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

both_backends!(
    slow_and_idle_clients_are_closed,
    one_address_holds_a_bounded_number_of_connections
);

/// Whether the server closes `stream` within `within` (a read sees the end or an error).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A 408 or similar before the close is fine; keep reading to the end.
            Ok(Ok(_)) => continue,
        }
    }
}

async fn slow_and_idle_clients_are_closed(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.http.header_read_timeout_secs = 1;
        s.http.idle_timeout_secs = 2;
    })
    .await;
    let mut half_header = TcpStream::connect(app.address).await.unwrap();
    half_header
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(app.address).await.unwrap();
    let mut silent_tls = TcpStream::connect(app.https_address.unwrap())
        .await
        .unwrap();
    for (what, stream) in [
        ("half a header", &mut half_header),
        ("nothing at all", &mut silent),
        ("no TLS handshake", &mut silent_tls),
    ] {
        assert!(
            closed_within(stream, Duration::from_secs(10)).await,
            "a client that sent {what} is closed"
        );
    }
    // Everyone else is served as before.
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
}

async fn one_address_holds_a_bounded_number_of_connections(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.http.max_connections_per_address = 4;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(app.address).await.unwrap());
    }
    // The fifth from the same address is closed at once, long before any timeout.
    let mut fifth = TcpStream::connect(app.address).await.unwrap();
    assert!(
        closed_within(&mut fifth, Duration::from_secs(3)).await,
        "the fifth connection is refused"
    );
    // A slot freed is a slot to use.
    held.pop();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut stream = TcpStream::connect(app.address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response).await;
        if response.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a freed slot serves again: {response:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
