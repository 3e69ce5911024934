//! HTTPS out of the box: the local CA, its certificate for the names a phone uses, links that
//! follow the host a request came in on, re-issue when the names change, certificates from
//! files that are re-read when renewed, and from an ACME CA (Debian's `pebble`). Every client
//! here trusts exactly one CA (no web roots, no exceptions) and reaches the server on
//! 127.0.0.1 under a name mapped by the client itself.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use reqwest::{StatusCode, Version};
use securecam_tests::{both_backends, expect_json, spawn_app, spawn_app_with, Backend, LAN_NAME};
use serde_json::json;
use sha2::{Digest, Sha256};

both_backends!(https_serves_the_api_and_the_app_and_links_follow_the_host);

async fn https_serves_the_api_and_the_app_and_links_follow_the_host(backend: Backend) {
    let app = spawn_app(backend).await;
    let https = app.https_client();
    let port = app.https_address.unwrap().port();

    // The API over HTTPS, on HTTP/2 (ALPN), by a LAN name the certificate covers.
    let health = https
        .get(app.https_url("/healthz"))
        .send()
        .await
        .expect("the certificate is trusted for the LAN name");
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.version(), Version::HTTP_2);
    // And the web app's pages.
    let page = https.get(app.https_url("/camera")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));

    // The CA, as phones install it, matches its fingerprint in /api/v1/tls.
    let info = expect_json(app.get("/api/v1/tls", None).await, StatusCode::OK).await;
    assert_eq!(info["mode"], "self-signed");
    let pem = app.get("/ca.pem", None).await;
    assert_eq!(pem.status(), StatusCode::OK);
    assert_eq!(pem.text().await.unwrap(), app.ca_pem());
    let der = app.get("/ca.crt", None).await;
    assert_eq!(der.status(), StatusCode::OK);
    assert_eq!(der.headers()["content-type"], "application/x-x509-ca-cert");
    let der = der.bytes().await.unwrap();
    let fingerprint = Sha256::digest(&der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    assert_eq!(info["ca_sha256"], fingerprint);
    let urls: Vec<&str> = info["https_urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    for expected in [
        format!("https://{LAN_NAME}:{port}"),
        format!("https://localhost:{port}"),
        format!("https://127.0.0.1:{port}"),
        format!("https://[::1]:{port}"),
    ] {
        assert!(urls.contains(&expected.as_str()), "{expected} in {urls:?}");
    }
    // LAN addresses and names come before loopback: what a QR code for a phone should carry.
    let localhost = urls.iter().position(|u| u.contains("localhost")).unwrap();
    assert!(urls[..localhost].iter().all(|u| !u.contains("127.0.0.1")));

    // A name the certificate does not cover is refused by the same client.
    let wrong = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(app.ca_pem().as_bytes()).unwrap())
        .resolve("wrong.home.arpa", app.https_address.unwrap())
        .build()
        .unwrap()
        .get(format!("https://wrong.home.arpa:{port}/healthz"))
        .send()
        .await;
    assert!(wrong.is_err(), "a name not in the certificate: {wrong:?}");

    // Links follow the request: a phone that came over HTTPS by the LAN name gets LAN HTTPS
    // links, one on loopback HTTP gets loopback HTTP links...
    let pairing = |client: reqwest::Client, url: String, host: Option<&'static str>| async move {
        let mut request = client
            .post(url)
            .json(&json!({"name": "Kitchen", "platform": "android"}));
        if let Some(host) = host {
            request = request.header("host", host);
        }
        let started = expect_json(request.send().await.unwrap(), StatusCode::CREATED).await;
        started["pair_url"].as_str().unwrap().to_string()
    };
    let over_https = pairing(https.clone(), app.https_url("/api/v1/pairing-codes"), None).await;
    assert!(
        over_https.starts_with(&format!("https://{LAN_NAME}:{port}/pair?code=")),
        "{over_https}"
    );
    let over_http = pairing(app.client.clone(), app.url("/api/v1/pairing-codes"), None).await;
    assert!(
        over_http.starts_with(&format!("http://{}/pair?code=", app.address)),
        "{over_http}"
    );
    // ...and a Host that is none of the server's names gets the configured default, never
    // a link to somewhere else.
    let forged = pairing(
        app.client.clone(),
        app.url("/api/v1/pairing-codes"),
        Some("evil.example"),
    )
    .await;
    assert!(
        forged.starts_with(&format!("http://localhost:{}/pair", app.address.port())),
        "{forged}"
    );

    // A browser on this machine keeps plain HTTP pages (loopback is a secure context).
    let local = app.get("/camera", None).await;
    assert_eq!(local.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_certificate_is_reissued_by_the_same_ca_when_the_names_change() {
    let mut app = spawn_app_with(Backend::Sqlite, |s| {
        s.tls.extra_names = Some("first.home.arpa".into());
    })
    .await;
    let ca = app.ca_pem();
    let client_for = |name: &'static str, https: SocketAddr| {
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
            .resolve(name, https)
            .build()
            .unwrap()
    };
    let health = |name: &'static str, https: SocketAddr| {
        let client = client_for(name, https);
        async move {
            client
                .get(format!("https://{name}:{}/healthz", https.port()))
                .send()
                .await
        }
    };
    let issued = std::fs::read(app.data_dir().join("tls/server.pem")).unwrap();
    assert!(health("first.home.arpa", app.https_address.unwrap())
        .await
        .is_ok());

    // The same names after a restart: the same certificate, not a new one per start.
    app.restart().await;
    assert_eq!(
        std::fs::read(app.data_dir().join("tls/server.pem")).unwrap(),
        issued
    );

    app.restart_with(|s| s.tls.extra_names = Some("second.home.arpa".into()))
        .await;
    assert_eq!(app.ca_pem(), ca, "the CA a phone trusted stays");
    assert_ne!(
        std::fs::read(app.data_dir().join("tls/server.pem")).unwrap(),
        issued
    );
    let https = app.https_address.unwrap();
    let second = health("second.home.arpa", https).await;
    assert_eq!(
        second.expect("trusted without a new step").status(),
        StatusCode::OK
    );
    assert!(
        health("first.home.arpa", https).await.is_err(),
        "the old name is gone from the certificate"
    );
    // The key stays private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for key in ["keys/tls-ca-key.pem", "keys/tls-server-key.pem"] {
            let mode = std::fs::metadata(app.data_dir().join(key))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{key}");
        }
    }
}

/// A CA and a certificate it issued for `names`, as PEM: (CA, chain, key).
fn issue(names: &[&str]) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("test CA for {}", names[0]),
    );
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, &ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_mode_picks_up_a_renewed_certificate_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (
        dir.path().join("fullchain.pem"),
        dir.path().join("privkey.pem"),
    );
    let (first_ca, chain, key) = issue(&["cam.example.test"]);
    std::fs::write(&cert_file, chain).unwrap();
    std::fs::write(&key_file, key).unwrap();
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.tls.mode = securecam::tls::TlsMode::Files;
        s.tls.cert_file = Some(cert_file.clone());
        s.tls.key_file = Some(key_file.clone());
        s.tls.check_interval_secs = 1;
    })
    .await;
    let https = app.https_address.unwrap();
    let trusting = |ca: &str| {
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
            .resolve("cam.example.test", https)
            .build()
            .unwrap()
    };
    let url = format!("https://cam.example.test:{}/healthz", https.port());
    assert_eq!(
        trusting(&first_ca).get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );
    let info = expect_json(app.get("/api/v1/tls", None).await, StatusCode::OK).await;
    assert_eq!(info["mode"], "files");
    assert_eq!(info["ca_sha256"], serde_json::Value::Null);
    assert_eq!(
        app.get("/ca.pem", None).await.status(),
        StatusCode::NOT_FOUND
    );

    // certbot renews: new files (from another CA here, so the switch is visible).
    let (second_ca, chain, key) = issue(&["cam.example.test"]);
    std::fs::write(&key_file, key).unwrap();
    std::fs::write(&cert_file, chain).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if trusting(&second_ca).get(&url).send().await.is_ok() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the renewed certificate is served within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(trusting(&first_ca).get(&url).send().await.is_err());
}

/// Debian's Pebble (the ACME test server) and its DNS stand-in, on loopback only, every name
/// resolving to 127.0.0.1. Stopped when dropped.
struct Pebble {
    directory: String,
    /// The CA of Pebble's own HTTPS (for the directory).
    own_ca: std::path::PathBuf,
    management: u16,
    _children: Vec<tokio::process::Child>,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Pebble {
    /// Validates HTTP-01 on `http_port` and TLS-ALPN-01 on `tls_port` of 127.0.0.1.
    async fn start(http_port: u16, tls_port: u16) -> Pebble {
        for binary in ["pebble", "pebble-challtestsrv"] {
            assert!(
                std::process::Command::new("sh")
                    .args(["-c", &format!("command -v {binary}")])
                    .output()
                    .is_ok_and(|o| o.status.success()),
                "{binary} is missing: install Debian's `pebble` (./scripts/test does)"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        // Pebble's own HTTPS certificate, for 127.0.0.1.
        let (own_ca, chain, key) = issue(&["localhost", "127.0.0.1"]);
        let write = |name: &str, contents: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, contents).unwrap();
            path
        };
        let own_ca_path = write("pebble-ca.pem", &own_ca);
        let cert = write("cert.pem", &chain);
        let key = write("key.pem", &key);
        let (listen, management, dns, dns_management) =
            (free_port(), free_port(), free_port(), free_port());
        let config = write(
            "pebble.json",
            &json!({"pebble": {
                "listenAddress": format!("127.0.0.1:{listen}"),
                "managementListenAddress": format!("127.0.0.1:{management}"),
                "certificate": cert,
                "privateKey": key,
                "httpPort": http_port,
                "tlsPort": tls_port,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false,
            }})
            .to_string(),
        );
        let log = |name: &str| std::fs::File::create(dir.path().join(name)).unwrap();
        // Answers A for every name with 127.0.0.1 and no AAAA (Pebble tries IPv6 first).
        let dns_server = tokio::process::Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-dns01", &format!("127.0.0.1:{dns}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{dns_management}")])
            .stdout(log("challtestsrv.log"))
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pebble = tokio::process::Command::new("pebble")
            .arg("-config")
            .arg(&config)
            .args(["-dnsserver", &format!("127.0.0.1:{dns}"), "-strict=false"])
            // No random waits, no rejected nonces, every order validated afresh.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(log("pebble.log"))
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pebble = Pebble {
            directory: format!("https://127.0.0.1:{listen}/dir"),
            own_ca: own_ca_path,
            management,
            _children: vec![dns_server, pebble],
            _dir: dir,
        };
        let client = pebble.client();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while client.get(&pebble.directory).send().await.is_err() {
            assert!(std::time::Instant::now() < deadline, "Pebble starts");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        pebble
    }

    fn client(&self) -> reqwest::Client {
        let ca = std::fs::read(&self.own_ca).unwrap();
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .build()
            .unwrap()
    }

    /// The root that signs what Pebble issues (new at every start).
    async fn issuing_root(&self) -> String {
        self.client()
            .get(format!("https://127.0.0.1:{}/roots/0", self.management))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_mode_gets_certificates_from_pebble_by_tls_alpn_and_by_http() {
    let (http_port, tls_port) = (free_port(), free_port());
    let pebble = Pebble::start(http_port, tls_port).await;
    let root = pebble.issuing_root().await;
    for (challenge, domain) in [
        (securecam::tls::AcmeChallenge::TlsAlpn01, "alpn.camera.test"),
        (securecam::tls::AcmeChallenge::Http01, "http.camera.test"),
    ] {
        let app = spawn_app_with(Backend::Sqlite, |s| {
            // Where Pebble validates: the HTTPS port for TLS-ALPN-01, the HTTP one for HTTP-01.
            s.http_addr = SocketAddr::from(([127, 0, 0, 1], http_port));
            s.https_addr = Some(SocketAddr::from(([127, 0, 0, 1], tls_port)));
            s.tls.mode = securecam::tls::TlsMode::Acme;
            s.tls.acme_domains = Some(domain.into());
            s.tls.acme_contact = Some("owner@example.org".into());
            s.tls.acme_directory_url = pebble.directory.clone();
            s.tls.acme_directory_ca_file = Some(pebble.own_ca.clone());
            s.tls.acme_challenge = challenge;
        })
        .await;
        let client = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(root.as_bytes()).unwrap())
            .resolve(domain, app.https_address.unwrap())
            .build()
            .unwrap();
        let url = format!("https://{domain}:{tls_port}/healthz");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let health = loop {
            match client.get(&url).send().await {
                Ok(response) => break response,
                Err(err) => {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "{challenge:?}: a certificate from Pebble within 60 s: {err}"
                    );
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        };
        assert_eq!(health.status(), StatusCode::OK, "{challenge:?}");
        let info = expect_json(app.get("/api/v1/tls", None).await, StatusCode::OK).await;
        assert_eq!(info["mode"], "acme");
        assert_eq!(
            info["https_urls"][0],
            format!("https://{domain}:{tls_port}")
        );
        // Cached under the data directory, for the next start.
        assert!(std::fs::read_dir(app.data_dir().join("acme"))
            .unwrap()
            .any(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("cached_cert_")));
        // Stopped, so the next server can bind the same ports.
        app.stop().await;
    }
}
