//! The `securecam` binary as a user runs it: `serve` with no configuration, graceful
//! shutdown on SIGTERM, `migrate`, `user create`.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::support::{securecam, serve_with, sigterm, Server};

/// Writes a JSON POST on a new connection and returns the stream to read the answer from.
fn start_post(url: &str, path: &str, body: &str) -> std::net::TcpStream {
    let host = url
        .strip_prefix("http://")
        .unwrap()
        .replace("localhost", "127.0.0.1");
    let mut stream = std::net::TcpStream::connect(&host).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    stream
}

fn read_response(mut stream: std::net::TcpStream) -> String {
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    response
}

/// Creates an account with the CLI; returns its id.
fn create_user(dir: &Path, email: &str, password: &str) -> std::process::Output {
    let mut child = securecam(dir)
        .args(["user", "create", "--email", email, "--name", "Owner"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Starts `serve` and waits for its "open <url>" line; returns the child, the URL and every
/// log line so far.
fn serve(
    dir: &Path,
    extra_env: &[(&str, &str)],
) -> (Server, String, Vec<String>, mpsc::Receiver<String>) {
    serve_with(dir, &["serve"], extra_env)
}

fn serve_components(
    dir: &Path,
    components: &str,
) -> (Server, String, Vec<String>, mpsc::Receiver<String>) {
    serve_with(
        dir,
        &["serve", "--components", components],
        &[("SECURECAM_HTTP_ADDR", "127.0.0.1:0")],
    )
}

fn http_get(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let host = host.replace("localhost", "127.0.0.1");
    let mut stream = std::net::TcpStream::connect(&host).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn serve_with_no_configuration_uses_data_dir_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    // The only override: port 0 instead of 8080, so the test never collides with anything.
    let (server, url, lines, rx) = serve(dir.path(), &[("SECURECAM_HTTP_ADDR", "127.0.0.1:0")]);
    assert!(
        url.starts_with("http://localhost:") && !url.ends_with(":0"),
        "{url}"
    );
    assert_eq!(
        lines.len(),
        1,
        "one line tells the user where to open it: {lines:?}"
    );
    // The next says where a phone opens camera mode over HTTPS.
    let phone = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(
        phone.contains("on a phone on this network, open https://") && phone.contains("/camera"),
        "{phone}"
    );
    assert!(dir.path().join("data/tls/ca.pem").exists());

    let (status, body) = http_get(&format!("{url}/readyz"));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("sqlite"));
    assert!(dir.path().join("data/securecam.db").exists());
    assert!(dir.path().join("data/objects").is_dir());
    let key = dir.path().join("data/keys/media-signing-ed25519.pem");
    let key_bytes = std::fs::read(&key).unwrap();

    server.stop();
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");

    // A second start keeps the same keys and database.
    let (server, _, _, _) = serve(dir.path(), &[("SECURECAM_HTTP_ADDR", "127.0.0.1:0")]);
    assert_eq!(
        std::fs::read(&key).unwrap(),
        key_bytes,
        "signing keys are kept"
    );
    server.stop();
}

#[test]
fn components_can_run_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (server, url, lines, _) = serve_components(dir.path(), "relay");
    assert!(
        lines.last().unwrap().contains("components=relay"),
        "{lines:?}"
    );
    assert_eq!(http_get(&format!("{url}/healthz")).0, 200);
    assert_eq!(
        http_get(&format!("{url}/api/v1/devices")).0,
        404,
        "no signal API without the signal component"
    );
    server.stop();

    let bad = securecam(dir.path())
        .args(["serve", "--components", "signal,bogus"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bogus"));
}

#[test]
fn migrate_and_user_create() {
    let dir = tempfile::tempdir().unwrap();
    let out = securecam(dir.path()).arg("migrate").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("migrations applied"));

    let out = create_user(dir.path(), "Owner@Example.com", "a long password");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(uuid_like(&id), "prints the new user's id: {id}");

    let out = create_user(dir.path(), "owner@example.com", "a long password");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists"));
    let out = create_user(dir.path(), "short@example.com", "short");
    assert!(!out.status.success(), "a short password is refused");

    // The account works: sign in through the API of a server on the same data directory.
    let (server, url, _, _) = serve(dir.path(), &[("SECURECAM_HTTP_ADDR", "127.0.0.1:0")]);
    let body = r#"{"email":"owner@example.com","password":"a long password"}"#;
    let response = read_response(start_post(&url, "/api/v1/auth/sign-in", body));
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(&id));
    server.stop();
}

#[test]
fn sigterm_lets_requests_in_flight_finish() {
    let dir = tempfile::tempdir().unwrap();
    let out = create_user(dir.path(), "owner@example.com", "a long password");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Twelve sign-ins at once to one account would trip its attempt limit (5): lift it.
    let (server, url, _, _) = serve(
        dir.path(),
        &[
            ("SECURECAM_HTTP_ADDR", "127.0.0.1:0"),
            (
                "SECURECAM_SIGNAL__RATE_LIMITS__SIGN_IN_FAILURES_PER_ACCOUNT_AND_ADDRESS__MAX",
                "100",
            ),
            (
                "SECURECAM_SIGNAL__RATE_LIMITS__SIGN_IN_FAILURES_PER_ACCOUNT_AND_ADDRESS__WINDOW_SECONDS",
                "60",
            ),
        ],
    );
    // Each sign-in hashes with argon2id (tens of ms, a few at a time): twelve of them are
    // still being worked on when SIGTERM arrives.
    let body = r#"{"email":"owner@example.com","password":"a long password"}"#;
    let in_flight: Vec<_> = (0..12)
        .map(|_| start_post(&url, "/api/v1/auth/sign-in", body))
        .collect();
    std::thread::sleep(Duration::from_millis(30));
    sigterm(&server.0);
    for stream in in_flight {
        let response = read_response(stream);
        assert!(
            response.starts_with("HTTP/1.1 200"),
            "in-flight request finished: {response}"
        );
    }
    server.wait_clean_exit();
    // New connections are refused once it has stopped.
    let host = url
        .strip_prefix("http://")
        .unwrap()
        .replace("localhost", "127.0.0.1");
    assert!(std::net::TcpStream::connect(host).is_err());
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}
