//! Serving the web app: its pages, assets and service worker, with the headers a page that
//! handles camera and tokens needs, and nothing outside `web/`. (The app itself is tested in
//! Chromium by `browser.rs`.)

use reqwest::StatusCode;
use securecam_tests::{both_backends, spawn_app, spawn_app_with, Backend};

both_backends!(
    pages_assets_and_headers,
    a_web_dir_replaces_the_built_in_app
);

async fn pages_assets_and_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    let index = app.get("/", None).await;
    assert_eq!(index.status(), StatusCode::OK);
    assert!(index.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = index.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(index.headers()["referrer-policy"], "no-referrer");
    assert_eq!(index.headers()["x-content-type-options"], "nosniff");
    let etag = index.headers()["etag"].to_str().unwrap().to_string();
    let page = index.text().await.unwrap();
    assert!(page.contains("/assets/js/main.js"), "{page}");

    // Every route of the app is the same page, including the links the server hands out.
    for path in [
        "/camera",
        "/pair?code=ABCD-EFGH",
        "/invite?code=x",
        "/reset-password?token=x",
        "/events/0193a3a0-0000-7000-8000-000000000000",
        "/app/events",
        "/trust",
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.text().await.unwrap(), page, "{path}");
    }

    // Unchanged files are revalidated, not sent again.
    let again = app
        .client
        .get(format!("{}/", app.base_url))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    let script = app.get("/assets/js/main.js", None).await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    let worker = app.get("/sw.js", None).await;
    assert_eq!(worker.status(), StatusCode::OK);
    let worker = worker.text().await.unwrap();
    assert!(worker.contains("push") && worker.contains("fetch"));

    // Installable: the manifest at the root, with its icons.
    let manifest = app.get("/manifest.webmanifest", None).await;
    assert_eq!(manifest.status(), StatusCode::OK);
    assert_eq!(
        manifest.headers()["content-type"],
        "application/manifest+json"
    );
    let manifest: serde_json::Value = manifest.json().await.unwrap();
    assert_eq!(manifest["start_url"], "/app");
    assert_eq!(manifest["display"], "standalone");
    for icon in manifest["icons"].as_array().unwrap() {
        let icon = app.get(icon["src"].as_str().unwrap(), None).await;
        assert_eq!(icon.status(), StatusCode::OK);
        assert_eq!(icon.headers()["content-type"], "image/png");
    }
    assert!(manifest["icons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["purpose"] == "maskable" && i["sizes"] == "512x512"));

    for missing in [
        "/assets/nope.js",
        "/assets/index.html",
        "/assets/..%2FCargo.toml",
        "/assets/%2e%2e/Cargo.toml",
    ] {
        let response = app.get(missing, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{missing}"
        );
    }
}

async fn a_web_dir_replaces_the_built_in_app(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<!doctype html><p>mine</p>").unwrap();
    std::fs::create_dir(dir.path().join("js")).unwrap();
    std::fs::write(dir.path().join("js/x.js"), "export {};").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "kept out").unwrap();
    let app = spawn_app_with(backend, |settings| {
        settings.web_dir = Some(dir.path().to_path_buf())
    })
    .await;
    let page = app.get("/app", None).await;
    assert_eq!(page.text().await.unwrap(), "<!doctype html><p>mine</p>");
    let script = app.get("/assets/js/x.js", None).await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    // Nothing above the directory, however the path is spelled.
    for path in [
        "/assets/js/..%2F..%2Fsecret.txt",
        "/assets/%2e%2e/%2e%2e/etc/passwd",
    ] {
        assert_eq!(
            app.get(path, None).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}
