//! Operations endpoints, the OpenAPI document and unknown routes.

use reqwest::StatusCode;
use securecam_tests::{both_backends, expect_json, expect_problem, spawn_app, Backend};

both_backends!(
    health_readiness_and_metrics,
    openapi_documents_every_route,
    unknown_routes_are_problems
);

async fn health_readiness_and_metrics(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(
        expect_json(app.get("/healthz", None).await, StatusCode::OK).await["status"],
        "ok"
    );
    let ready = expect_json(app.get("/readyz", None).await, StatusCode::OK).await;
    assert_eq!(ready["status"], "ready");
    let expected = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(ready["database"], expected);

    app.sign_up("metrics@example.com").await;
    let metrics = app.get("/metrics", None).await;
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(
            r#"http_requests_total{method="POST",route="/api/v1/auth/sign-up",status="201"}"#
        ),
        "{text}"
    );
    assert!(text.contains("http_request_duration_seconds"));
}

async fn openapi_documents_every_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let spec = expect_json(app.get("/openapi.json", None).await, StatusCode::OK).await;
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let paths = spec["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/v1/auth/sign-up", &["post"][..]),
        ("/api/v1/auth/sign-in", &["post"]),
        ("/api/v1/auth/sign-out", &["post"]),
        ("/api/v1/auth/session", &["get"]),
        ("/api/v1/auth/sessions", &["get"]),
        ("/api/v1/auth/sessions/{id}", &["delete"]),
        ("/api/v1/auth/password-reset/request", &["post"]),
        ("/api/v1/auth/password-reset", &["post"]),
        ("/api/v1/devices", &["get", "post"]),
        ("/api/v1/devices/{id}", &["get", "patch", "delete"]),
        ("/api/v1/audit-logs", &["get"]),
    ] {
        for method in methods {
            assert!(
                paths[path].get(*method).is_some(),
                "{method} {path} is documented"
            );
        }
    }
    assert!(spec["components"]["schemas"]["Problem"].is_object());
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
    assert!(
        paths["/api/v1/tls"].get("get").is_some(),
        "GET /api/v1/tls is documented"
    );
    // The reference page is served by this server alone (its scripts from the binary, none
    // from a CDN), under the app's content security policy, and reads /openapi.json.
    let docs = app.get("/docs/", None).await;
    assert_eq!(docs.status(), StatusCode::OK);
    let csp = docs.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger-ui-bundle.js"), "{html}");
    assert!(
        !html.contains("https://"),
        "nothing from another origin: {html}"
    );
    let initializer = app.get("/docs/swagger-initializer.js", None).await;
    assert_eq!(initializer.status(), StatusCode::OK);
    let initializer = initializer.text().await.unwrap();
    assert!(initializer.contains("/openapi.json"), "{initializer}");
    let bundle = app.get("/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(bundle.status(), StatusCode::OK);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
}

async fn unknown_routes_are_problems(backend: Backend) {
    let app = spawn_app(backend).await;
    expect_problem(
        app.get("/api/v1/nope", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Errors raised outside the handlers are problem documents too.
    let wrong_method = app
        .request(reqwest::Method::PUT, "/api/v1/auth/sign-in", None, None)
        .await;
    assert!(wrong_method.headers().contains_key("allow"));
    expect_problem(
        wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    let user = app.sign_up("big@example.com").await;
    let huge = app
        .client
        .post(app.url("/api/v1/devices"))
        .bearer_auth(&user.token)
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    expect_problem(huge, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}
