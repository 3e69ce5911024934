//! Stand-ins for the push services this server cannot reach in a test: local HTTP/2 (h2c)
//! servers that answer as FCM's HTTP v1 API and APNs do — their documented successes and
//! errors, scripted per device token — and check what they are sent (the OAuth2 assertion,
//! the APNs provider token, headers). Everything received is kept for the test to read.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use securecam_notifier::jwt_simple::prelude::*;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// One answer a stand-in gives: status, extra headers, body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Answer {
    pub fn new(status: u16, body: Value) -> Self {
        Answer {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    /// FCM's error body (`google.rpc.Status` with an `FcmError` detail).
    pub fn fcm_error(status: u16, code: &str, message: &str) -> Self {
        Answer::new(
            status,
            json!({"error": {"code": status, "message": message, "status": code,
                "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                             "errorCode": code}]}}),
        )
    }

    /// APNs's error body.
    pub fn apns_error(status: u16, reason: &str) -> Self {
        Answer::new(status, json!({"reason": reason}))
    }
}

/// A request a stand-in received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    /// The device token it was for.
    pub token: Option<String>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Default)]
struct Script {
    /// Answers to give, in order, per device token; then success.
    answers: HashMap<String, VecDeque<Answer>>,
    received: Vec<Received>,
    token_requests: usize,
    /// Requests refused for bad credentials (a test expects none).
    auth_failures: Vec<String>,
}

type Shared = Arc<Mutex<Script>>;

/// A running stand-in.
pub struct PushServer {
    pub url: String,
    script: Shared,
}

impl PushServer {
    /// `token`'s next pushes get `answers`, in order; after them, success.
    pub fn script(&self, token: &str, answers: Vec<Answer>) {
        self.script
            .lock()
            .unwrap()
            .answers
            .insert(token.to_string(), answers.into());
    }

    /// Pushes received (token requests aside), oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }

    pub fn received_for(&self, token: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.token.as_deref() == Some(token))
            .collect()
    }

    pub fn token_requests(&self) -> usize {
        self.script.lock().unwrap().token_requests
    }

    pub fn auth_failures(&self) -> Vec<String> {
        self.script.lock().unwrap().auth_failures.clone()
    }
}

async fn serve<F>(handle: F) -> PushServer
where
    F: Fn(&Shared, http::request::Parts, Bytes) -> Answer + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let script: Shared = Default::default();
    let handle = Arc::new(handle);
    let shared = script.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let handle = handle.clone();
            let shared = shared.clone();
            let service =
                hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                    let handle = handle.clone();
                    let shared = shared.clone();
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let answer = handle(&shared, parts, body);
                        let mut response = Response::builder().status(answer.status);
                        for (name, value) in &answer.headers {
                            response = response.header(*name, value);
                        }
                        Ok::<_, Infallible>(
                            response
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(answer.body)))
                                .unwrap(),
                        )
                    }
                });
            tokio::spawn(async move {
                let _ =
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
            });
        }
    });
    PushServer { url, script }
}

fn next_answer(script: &mut Script, token: &str, success: Answer) -> Answer {
    script
        .answers
        .get_mut(token)
        .and_then(VecDeque::pop_front)
        .unwrap_or(success)
}

/// A Firebase project for tests: a service account (its key made here) and an FCM stand-in
/// whose token endpoint checks the account's signed assertion.
pub struct FakeFcm {
    pub server: PushServer,
    /// The service account JSON, as the Firebase console hands it out.
    pub service_account: String,
}

pub const FCM_PROJECT: &str = "securecam-test";
const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

pub async fn fake_fcm() -> FakeFcm {
    let key = RS256KeyPair::generate(2048).unwrap();
    let public = key.public_key();
    let email = "notifier@securecam-test.iam.gserviceaccount.com";
    let server = serve(move |script, parts, body| {
        let mut script = script.lock().unwrap();
        let path = parts.uri.path().to_string();
        if path == "/token" {
            script.token_requests += 1;
            let form: HashMap<String, String> = url::form_urlencoded::parse(&body)
                .into_owned()
                .collect();
            let verified = form
                .get("assertion")
                .and_then(|jwt| public.verify_token::<Value>(jwt, None).ok());
            let ok = form.get("grant_type").map(String::as_str)
                == Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
                && verified.as_ref().is_some_and(|claims| {
                    claims.issuer.as_deref() == Some(email) && claims.custom["scope"] == FCM_SCOPE
                });
            if !ok {
                script.auth_failures.push(format!("token request {form:?}"));
                return Answer::new(400, json!({"error": "invalid_grant"}));
            }
            let n = script.token_requests;
            return Answer::new(
                200,
                json!({"access_token": format!("ya29.test-{n}"), "expires_in": 3599, "token_type": "Bearer"}),
            );
        }
        let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let token = message["message"]["token"].as_str().unwrap_or_default().to_string();
        script.received.push(Received {
            path: path.clone(),
            headers: parts.headers.clone(),
            body: body.clone(),
            token: Some(token.clone()),
        });
        let bearer = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !bearer.starts_with("Bearer ya29.test-") {
            script.auth_failures.push(format!("send with {bearer:?}"));
            return Answer::fcm_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.");
        }
        if path != format!("/v1/projects/{FCM_PROJECT}/messages:send") {
            return Answer::fcm_error(404, "NOT_FOUND", "no such path");
        }
        let n = script.received.len();
        next_answer(
            &mut script,
            &token,
            Answer::new(200, json!({"name": format!("projects/{FCM_PROJECT}/messages/{n}")})),
        )
    })
    .await;
    let service_account = json!({
        "type": "service_account",
        "project_id": FCM_PROJECT,
        "private_key_id": "test",
        "private_key": key.to_pem().unwrap(),
        "client_email": email,
        "token_uri": format!("{}/token", server.url),
    })
    .to_string();
    FakeFcm {
        server,
        service_account,
    }
}

/// An Apple developer account for tests: a `.p8` key (made here) and an APNs stand-in that
/// checks the provider token it signs.
pub struct FakeApns {
    pub server: PushServer,
    pub key_pem: String,
}

pub const APNS_KEY_ID: &str = "ABC123DEFG";
pub const APNS_TEAM_ID: &str = "TEAM123456";
pub const APNS_TOPIC: &str = "org.securecam.app";

pub async fn fake_apns() -> FakeApns {
    let key = ES256KeyPair::generate();
    let public = key.public_key();
    let key_pem = key.to_pem().unwrap();
    let server = serve(move |script, parts, body| {
        let mut script = script.lock().unwrap();
        let path = parts.uri.path().to_string();
        let token = path
            .strip_prefix("/3/device/")
            .unwrap_or_default()
            .to_string();
        script.received.push(Received {
            path: path.clone(),
            headers: parts.headers.clone(),
            body: body.clone(),
            token: Some(token.clone()),
        });
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let jwt = header("authorization");
        let jwt = jwt.strip_prefix("bearer ").unwrap_or_default();
        let metadata = Token::decode_metadata(jwt).ok();
        let claims = public
            .verify_token::<NoCustomClaims>(
                jwt,
                Some(VerificationOptions {
                    allowed_issuers: Some(HashSet::from_strings(&[APNS_TEAM_ID])),
                    ..Default::default()
                }),
            )
            .ok();
        if claims.is_none() || metadata.as_ref().and_then(|m| m.key_id()) != Some(APNS_KEY_ID) {
            script.auth_failures.push(format!("provider token {jwt:?}"));
            return Answer::apns_error(403, "InvalidProviderToken");
        }
        if header("apns-topic") != APNS_TOPIC {
            return Answer::apns_error(400, "BadTopic");
        }
        if uuid::Uuid::parse_str(&header("apns-id")).is_err() {
            return Answer::apns_error(400, "BadMessageId");
        }
        let id = header("apns-id");
        next_answer(
            &mut script,
            &token,
            Answer::new(200, json!({})).with_header("apns-id", &id),
        )
    })
    .await;
    FakeApns { server, key_pem }
}
