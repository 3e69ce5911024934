//! Accounts: sign-up, sign-in, sign-out, sessions, password reset, rate limits, audit.

use reqwest::StatusCode;
use securecam_tests::{
    both_backends, expect_json, expect_problem, spawn_app, spawn_app_with, Backend,
};
use serde_json::json;

both_backends!(
    sign_up_returns_user_and_working_session,
    sign_up_rejects_duplicates_and_bad_values,
    sign_in_and_sign_out,
    sessions_are_listed_and_revoked,
    password_reset_by_mailed_token,
    guesses_lock_out_their_own_address_never_the_owner,
    sign_in_is_rate_limited_per_ip,
    concurrent_guesses_do_not_pass_the_account_limit,
    sessions_expire,
    passwords_are_argon2id_and_tokens_hashed,
);

async fn sign_up_returns_user_and_working_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .post(
            "/api/v1/auth/sign-up",
            None,
            &json!({"email": "  Ada@Example.COM ", "password": "correct horse", "name": "Ada"}),
        )
        .await;
    let body = expect_json(response, StatusCode::CREATED).await;
    let user = &body["user"];
    assert_eq!(user["email"], "ada@example.com", "emails are normalised");
    assert_eq!(user["name"], "Ada");
    assert_eq!(user["email_verified"], false);
    assert!(user.get("password_hash").is_none() && user.get("password").is_none());
    let token = body["session"]["token"].as_str().unwrap();
    assert!(token.starts_with("scu_") && token.len() >= 40);
    assert!(body["session"]["expires_at"].is_string());

    let me = expect_json(
        app.get("/api/v1/auth/session", Some(token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["user"], *user);
    assert_eq!(me["session"]["id"], body["session"]["id"]);
    assert_eq!(me["session"]["ip_address"], "127.0.0.1");
    assert!(
        me["session"].get("token").is_none(),
        "the token is never shown again"
    );
    assert_eq!(app.audit_actions(token).await, vec!["auth.sign_up"]);
}

async fn sign_up_rejects_duplicates_and_bad_values(backend: Backend) {
    let app = spawn_app(backend).await;
    app.sign_up("taken@example.com").await;
    let again = app
        .post(
            "/api/v1/auth/sign-up",
            None,
            &json!({"email": "TAKEN@example.com", "password": "another password", "name": "X"}),
        )
        .await;
    expect_problem(again, StatusCode::CONFLICT, "email_taken").await;

    for (body, why) in [
        (
            json!({"email": "not-an-email", "password": "long enough", "name": "X"}),
            "email",
        ),
        (
            json!({"email": "a@b.co", "password": "short", "name": "X"}),
            "password",
        ),
        (
            json!({"email": "a@b.co", "password": "long enough", "name": "   "}),
            "name",
        ),
    ] {
        let response = app.post("/api/v1/auth/sign-up", None, &body).await;
        let problem = expect_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(
            problem["detail"].as_str().unwrap().contains(why),
            "{problem}"
        );
    }
    let missing = app
        .post("/api/v1/auth/sign-up", None, &json!({"email": "a@b.co"}))
        .await;
    expect_problem(missing, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;

    let garbage = app
        .client
        .post(app.url("/api/v1/auth/sign-up"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_problem(garbage, StatusCode::BAD_REQUEST, "malformed_json").await;

    let no_type = app
        .client
        .post(app.url("/api/v1/auth/sign-up"))
        .body("{}")
        .send()
        .await
        .unwrap();
    expect_problem(
        no_type,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    // Nothing of the failed attempts was kept: the email is still free.
    app.sign_up("a@b.co").await;
}

async fn sign_in_and_sign_out(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("bob@example.com").await;

    let wrong = app
        .post(
            "/api/v1/auth/sign-in",
            None,
            &json!({"email": user.email, "password": "wrong password"}),
        )
        .await;
    expect_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let unknown = app
        .post(
            "/api/v1/auth/sign-in",
            None,
            &json!({"email": "nobody@example.com", "password": "whatever1"}),
        )
        .await;
    let problem = expect_problem(unknown, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(
        problem["detail"], "email or password is wrong",
        "same answer as a wrong password"
    );

    let ok = app
        .post(
            "/api/v1/auth/sign-in",
            None,
            &json!({"email": "BOB@example.com", "password": user.password}),
        )
        .await;
    let body = expect_json(ok, StatusCode::OK).await;
    assert_eq!(body["user"]["id"], user.id.as_str());
    let token = body["session"]["token"].as_str().unwrap().to_string();
    assert_ne!(token, user.token, "each sign-in is a new session");
    expect_json(
        app.get("/api/v1/auth/session", Some(&token)).await,
        StatusCode::OK,
    )
    .await;

    let out = app
        .post("/api/v1/auth/sign-out", Some(&token), &json!({}))
        .await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let after = app.get("/api/v1/auth/session", Some(&token)).await;
    assert!(after.headers().get("www-authenticate").is_some());
    expect_problem(after, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // The other session lives on.
    expect_json(
        app.get("/api/v1/auth/session", Some(&user.token)).await,
        StatusCode::OK,
    )
    .await;

    let actions = app.audit_actions(&user.token).await;
    assert_eq!(
        actions,
        vec![
            "auth.sign_out",
            "auth.sign_in",
            "auth.sign_in_failed",
            "auth.sign_up"
        ],
        "newest first"
    );
    let logs = expect_json(
        app.get("/api/v1/audit-logs", Some(&user.token)).await,
        StatusCode::OK,
    )
    .await;
    let failed = &logs["items"][2];
    assert_eq!(failed["metadata"]["reason"], "wrong_password");
    assert_eq!(failed["ip_address"], "127.0.0.1");

    for (header, why) in [
        ("", "none"),
        ("Basic abc", "basic"),
        ("Bearer scu_nope", "unknown"),
        ("Bearer x", "garbage"),
    ] {
        let mut request = app.client.get(app.url("/api/v1/auth/session"));
        if !header.is_empty() {
            request = request.header("authorization", header);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{why}");
    }
}

async fn sessions_are_listed_and_revoked(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("carol@example.com").await;
    let mut tokens = vec![user.token.clone()];
    for _ in 0..2 {
        let body = expect_json(
            app.post(
                "/api/v1/auth/sign-in",
                None,
                &json!({"email": user.email, "password": user.password}),
            )
            .await,
            StatusCode::OK,
        )
        .await;
        tokens.push(body["session"]["token"].as_str().unwrap().to_string());
    }
    let list = expect_json(
        app.get("/api/v1/auth/sessions?limit=2", Some(&tokens[2]))
            .await,
        StatusCode::OK,
    )
    .await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["current"], true, "the newest is this one");
    assert_eq!(items[1]["current"], false);
    assert!(items[0].get("token").is_none());
    let cursor = list["next_cursor"].as_str().unwrap();
    let rest = expect_json(
        app.get(
            &format!("/api/v1/auth/sessions?limit=2&cursor={cursor}"),
            Some(&tokens[2]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    let oldest = rest["items"][0]["id"].as_str().unwrap().to_string();
    // In use (and so cached) right before it is revoked.
    assert_eq!(
        app.get("/api/v1/auth/session", Some(&tokens[0]))
            .await
            .status(),
        StatusCode::OK
    );

    let revoke = app
        .delete(&format!("/api/v1/auth/sessions/{oldest}"), Some(&tokens[2]))
        .await;
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/auth/session", Some(&tokens[0]))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let again = app
        .delete(&format!("/api/v1/auth/sessions/{oldest}"), Some(&tokens[2]))
        .await;
    expect_problem(again, StatusCode::NOT_FOUND, "not_found").await;
    assert!(app
        .audit_actions(&tokens[2])
        .await
        .contains(&"auth.session_revoke".to_string()));

    for bad in ["limit=0", "limit=201", "cursor=%%%", "limit=abc"] {
        let response = app
            .get(&format!("/api/v1/auth/sessions?{bad}"), Some(&tokens[2]))
            .await;
        assert!(
            [StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY]
                .contains(&response.status()),
            "{bad}: {}",
            response.status()
        );
    }
}

async fn password_reset_by_mailed_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("dora@example.com").await;
    // Used once, so the credential cache holds it: the reset must still end it at once.
    assert_eq!(
        app.get("/api/v1/auth/session", Some(&user.token))
            .await
            .status(),
        StatusCode::OK
    );
    // What a thief with that session could make: a viewer device with a token of its own,
    // connected. And a camera phone, which must stay paired.
    let thiefs = app
        .create_device(&user.token, "Thief's tablet", "viewer")
        .await;
    let porch = app.create_device(&user.token, "Porch", "camera").await;
    assert_eq!(
        app.get("/api/v1/events", Some(&thiefs.token))
            .await
            .status(),
        StatusCode::OK
    );
    let mut thiefs_ws = app.connect_device(&thiefs.token).await;

    // Unknown email: the same 202, and no mail.
    let unknown = app
        .post(
            "/api/v1/auth/password-reset/request",
            None,
            &json!({"email": "ghost@example.com"}),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::ACCEPTED);
    let known = app
        .post(
            "/api/v1/auth/password-reset/request",
            None,
            &json!({"email": "Dora@example.com"}),
        )
        .await;
    assert_eq!(known.status(), StatusCode::ACCEPTED);
    let mail = app.wait_for_mail(1).await;
    assert_eq!(mail.to, "dora@example.com");
    // Both requests were answered before their background work ran; give the unknown one
    // time to have sent something if it were going to.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        app.mailer.sent().len(),
        1,
        "nothing was sent for the unknown email"
    );
    let token = mail
        .body
        .split_whitespace()
        .find(|w| w.starts_with("scr_"))
        .expect("token in the mail")
        .to_string();
    assert!(mail.body.contains("/reset-password?token=scr_"));

    // A second request sends a new link and voids the first.
    let second = app
        .post(
            "/api/v1/auth/password-reset/request",
            None,
            &json!({"email": "dora@example.com"}),
        )
        .await;
    assert_eq!(second.status(), StatusCode::ACCEPTED);
    let newer = app.wait_for_mail(2).await;
    let voided = app
        .post(
            "/api/v1/auth/password-reset",
            None,
            &json!({"token": token, "new_password": "a brand new password"}),
        )
        .await;
    expect_problem(voided, StatusCode::BAD_REQUEST, "invalid_reset_token").await;
    let token = newer
        .body
        .split_whitespace()
        .find(|w| w.starts_with("scr_"))
        .expect("token in the second mail")
        .to_string();

    let weak = app
        .post(
            "/api/v1/auth/password-reset",
            None,
            &json!({"token": token, "new_password": "short"}),
        )
        .await;
    expect_problem(weak, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let reset = app
        .post(
            "/api/v1/auth/password-reset",
            None,
            &json!({"token": token, "new_password": "a brand new password"}),
        )
        .await;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);

    assert_eq!(
        app.get("/api/v1/auth/session", Some(&user.token))
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "all sessions revoked"
    );
    assert_eq!(
        app.get("/api/v1/events", Some(&thiefs.token))
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "viewer devices signed out"
    );
    securecam_tests::ws_close_code(&mut thiefs_ws).await;
    assert_eq!(
        app.get(&format!("/api/v1/devices/{}", porch.id), Some(&porch.token))
            .await
            .status(),
        StatusCode::OK,
        "the camera phone keeps its token"
    );
    // The owner is told what the reset ended.
    let notice = app.wait_for_mail(3).await;
    assert!(
        notice.body.contains("1 viewing device")
            && notice.body.contains("Camera phones stay paired"),
        "{}",
        notice.body
    );
    let old = app
        .post(
            "/api/v1/auth/sign-in",
            None,
            &json!({"email": user.email, "password": user.password}),
        )
        .await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let new = app
        .post(
            "/api/v1/auth/sign-in",
            None,
            &json!({"email": user.email, "password": "a brand new password"}),
        )
        .await;
    let body = expect_json(new, StatusCode::OK).await;
    let reused = app
        .post(
            "/api/v1/auth/password-reset",
            None,
            &json!({"token": token, "new_password": "yet another password"}),
        )
        .await;
    expect_problem(reused, StatusCode::BAD_REQUEST, "invalid_reset_token").await;
    let actions = app
        .audit_actions(body["session"]["token"].as_str().unwrap())
        .await;
    assert!(
        actions.contains(&"auth.password_reset_request".to_string()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"auth.password_reset".to_string()),
        "{actions:?}"
    );
}

async fn guesses_lock_out_their_own_address_never_the_owner(backend: Backend) {
    // Addresses as a trusted proxy reports them (X-Forwarded-For), so one test can be many
    // clients.
    let app = spawn_app_with(backend, |s| s.signal.trust_forwarded_for = true).await;
    let user = app.sign_up("eve@example.com").await;
    let sign_in = |from: &'static str, password: String| {
        let request = app
            .client
            .post(app.url("/api/v1/auth/sign-in"))
            .header("x-forwarded-for", from)
            .json(&json!({"email": "eve@example.com", "password": password}));
        async move { request.send().await.unwrap() }
    };
    let attacker = "203.0.113.5";
    for _ in 0..5 {
        let r = sign_in(attacker, "guess guess".into()).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // The guessing address waits now, even with the right password...
    let limited = sign_in(attacker, user.password.clone()).await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    expect_problem(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // ...and the owner, elsewhere, is not locked out.
    let owner = sign_in("198.51.100.7", user.password.clone()).await;
    assert_eq!(owner.status(), StatusCode::OK);

    // Guesses from many addresses at once: each address gets its five tries, the account
    // only slows down (a delay before the check), and the right password still works.
    let guesses = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]
        .into_iter()
        .flat_map(|from| (0..5).map(move |i| (from, format!("wrong {i}"))))
        .map(|(from, password)| sign_in(from, password));
    let statuses: Vec<StatusCode> = futures::future::join_all(guesses)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    assert!(
        statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    let owner = sign_in("198.51.100.7", user.password.clone()).await;
    assert_eq!(
        owner.status(),
        StatusCode::OK,
        "never a refusal for the owner"
    );

    // Another account is not affected.
    let other = app.sign_up("frank@example.com").await;
    let ok = app
        .post(
            "/api/v1/auth/sign-in",
            None,
            &json!({"email": other.email, "password": other.password}),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
}

async fn sign_in_is_rate_limited_per_ip(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.signal.rate_limits.sign_in_per_ip = securecam_signal::config::Limit::new(3, 60);
    })
    .await;
    let user = app.sign_up("gina@example.com").await;
    for i in 0..3 {
        let r = app
            .post(
                "/api/v1/auth/sign-in",
                None,
                &json!({"email": format!("x{i}@example.com"), "password": "whatever1"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let limited = app
        .post(
            "/api/v1/auth/sign-in",
            None,
            &json!({"email": user.email, "password": user.password}),
        )
        .await;
    assert!(limited.headers().contains_key("retry-after"));
    expect_problem(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

async fn sessions_expire(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.signal.session_lifetime = std::time::Duration::from_secs(1);
    })
    .await;
    let user = app.sign_up("hal@example.com").await;
    assert_eq!(
        app.get("/api/v1/auth/session", Some(&user.token))
            .await
            .status(),
        StatusCode::OK
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        app.get("/api/v1/auth/session", Some(&user.token))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let idle = spawn_app_with(backend, |s| {
        s.signal.session_idle_timeout = std::time::Duration::from_secs(1);
    })
    .await;
    let user = idle.sign_up("ida@example.com").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        idle.get("/api/v1/auth/session", Some(&user.token))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn passwords_are_argon2id_and_tokens_hashed(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("jo@example.com").await;
    let creds = app
        .db
        .get_user_credentials("jo@example.com")
        .await
        .unwrap()
        .unwrap();
    let hash = creds.password_hash.unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(&user.password));
    // The database knows the session only by the token's SHA-256.
    assert!(app
        .db
        .get_session_by_token_hash(&user.token)
        .await
        .unwrap()
        .is_none());
    let hashed = securecam_signal::auth::tokens::hash(&user.token);
    assert!(app
        .db
        .get_session_by_token_hash(&hashed)
        .await
        .unwrap()
        .is_some());
}

async fn concurrent_guesses_do_not_pass_the_account_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("kim@example.com").await;
    // Twelve guesses at once: the password check is slow, so a check-then-record limiter
    // would let them all through. Only the limit's five may be tried.
    let bodies: Vec<_> = (0..12)
        .map(|i| json!({"email": user.email, "password": format!("guess {i} wrong")}))
        .collect();
    let guesses = bodies
        .iter()
        .map(|body| app.post("/api/v1/auth/sign-in", None, body));
    let statuses: Vec<StatusCode> = futures::future::join_all(guesses)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    let tried = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((tried, limited), (5, 7), "{statuses:?}");
}
