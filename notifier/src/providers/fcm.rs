//! Firebase Cloud Messaging, HTTP v1 (`POST /v1/projects/{project}/messages:send`), with an
//! OAuth2 access token from the service account (RS256 JWT bearer grant), cached until a
//! few minutes before it expires and dropped when FCM says it is no good.
//!
//! Hand-written on reqwest rather than `gcp_auth`: the token URL and FCM's base URL must be
//! settable (tests point them at a local HTTP/2 server), and one HTTP stack serves both.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use web_push_native::jwt_simple::prelude::*;

use crate::config::FcmConfig;
use crate::message::Push;
use crate::outcome::{excerpt, judge, retry_after, transport_error, Outcome};

const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// FCM asks senders that hit its quota to wait at least a minute.
const QUOTA_WAIT: Duration = Duration::from_secs(60);
/// A cached token is renewed this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(300);

#[derive(Deserialize)]
struct ServiceAccount {
    project_id: String,
    client_email: String,
    private_key: String,
    token_uri: Option<String>,
}

pub struct Fcm {
    client: reqwest::Client,
    send_url: String,
    token_url: String,
    client_email: String,
    key: RS256KeyPair,
    token: tokio::sync::Mutex<Option<(String, Instant)>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

impl Fcm {
    pub fn new(config: &FcmConfig, client: reqwest::Client) -> Result<Self, String> {
        use secrecy::ExposeSecret;
        let json = match (&config.service_account_json, &config.service_account_file) {
            (Some(json), _) => json.expose_secret().to_string(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?,
            (None, None) => {
                return Err("fcm needs service_account_file or service_account_json".into())
            }
        };
        let account: ServiceAccount = serde_json::from_str(&json)
            .map_err(|e| format!("the FCM service account is not valid JSON: {e}"))?;
        let key = RS256KeyPair::from_pem(&account.private_key)
            .map_err(|e| format!("the FCM service account's private key: {e}"))?;
        Ok(Fcm {
            client,
            send_url: format!(
                "{}/v1/projects/{}/messages:send",
                config.base_url.trim_end_matches('/'),
                account.project_id
            ),
            token_url: config
                .token_url
                .clone()
                .or(account.token_uri)
                .unwrap_or_else(|| DEFAULT_TOKEN_URL.into()),
            client_email: account.client_email,
            key,
            token: Default::default(),
        })
    }

    /// A valid access token, fetched (once, however many sends wait for it) when missing.
    async fn access_token(&self) -> Result<String, Outcome> {
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref() {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let claims = Claims::with_custom_claims(
            ScopeClaims {
                scope: SCOPE.to_string(),
            },
            Duration::from_secs(3600).into(),
        )
        .with_issuer(&self.client_email)
        .with_audience(&self.token_url);
        let assertion = self
            .key
            .sign(claims)
            .map_err(|e| Outcome::retry(format!("fcm: signing the token request: {e}")))?;
        let response = self
            .client
            .post(&self.token_url)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| transport_error("fcm token", &e))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(Outcome::retry(format!(
                "fcm: the token endpoint answered {status}: {}",
                excerpt(&text)
            )));
        }
        let token: TokenResponse = serde_json::from_str(&text)
            .map_err(|e| Outcome::retry(format!("fcm: unreadable token response: {e}")))?;
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600));
        let until = Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN);
        *cached = Some((token.access_token.clone(), until));
        Ok(token.access_token)
    }

    pub async fn send(&self, push: &Push, device_token: &str) -> Outcome {
        let access = match self.access_token().await {
            Ok(token) => token,
            Err(outcome) => return outcome,
        };
        let response = match self
            .client
            .post(&self.send_url)
            .bearer_auth(access)
            .json(&message(push, device_token))
            .send()
            .await
        {
            Ok(response) => response,
            Err(err) => return transport_error("fcm", &err),
        };
        if response.status() == http::StatusCode::UNAUTHORIZED {
            // The token was revoked or expired early: the next attempt fetches another.
            *self.token.lock().await = None;
        }
        judge(response, classify).await
    }
}

/// Google's `scope` claim beside the registered ones.
#[derive(Serialize, Deserialize)]
struct ScopeClaims {
    scope: String,
}

/// The v1 message for a push to one registration token.
pub fn message(push: &Push, token: &str) -> Value {
    let data = Value::Object(push.data());
    match push {
        Push::Alert(alert) => json!({"message": {
            "token": token,
            "notification": {"title": alert.title, "body": alert.body},
            "data": data,
            "android": {
                "priority": "high",
                "collapse_key": alert.collapse_key,
                "notification": {"tag": alert.collapse_key},
            },
            "apns": {
                "headers": {"apns-priority": "10", "apns-collapse-id": alert.collapse_key},
                "payload": {"aps": {"thread-id": alert.collapse_key, "sound": "default"}},
            },
        }}),
        Push::WakeUp(_) => json!({"message": {
            "token": token,
            "data": data,
            "android": {"priority": "high", "ttl": "60s"},
            "apns": {
                "headers": {"apns-priority": "5", "apns-push-type": "background"},
                "payload": {"aps": {"content-available": 1}},
            },
        }}),
    }
}

/// What FCM's answer means, per its documented error codes
/// (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode).
pub fn classify(
    status: u16,
    headers: &http::HeaderMap,
    body: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Outcome {
    if (200..300).contains(&status) {
        return Outcome::Sent;
    }
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let error = &parsed["error"];
    let message = error["message"].as_str().unwrap_or_default();
    let fcm_code = error["details"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|detail| detail["errorCode"].as_str());
    let code = fcm_code
        .or_else(|| error["status"].as_str())
        .unwrap_or("UNKNOWN");
    let error = format!("fcm: {status} {code}: {}", excerpt(message));
    match (status, code) {
        (_, "UNREGISTERED") | (404, _) => Outcome::TokenRefused { error },
        (_, "SENDER_ID_MISMATCH") => Outcome::TokenRefused { error },
        (400, "INVALID_ARGUMENT")
            if message.to_ascii_lowercase().contains("registration token") =>
        {
            Outcome::TokenRefused { error }
        }
        (429, _) | (_, "QUOTA_EXCEEDED") => Outcome::Retry {
            error,
            retry_after: Some(
                retry_after(headers, now)
                    .unwrap_or_default()
                    .max(QUOTA_WAIT),
            ),
        },
        (401, _) | (_, "THIRD_PARTY_AUTH_ERROR") | (500..=599, _) => Outcome::Retry {
            error,
            retry_after: retry_after(headers, now),
        },
        _ => Outcome::Rejected { error },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(status: u16, code: &str, message: &str) -> String {
        json!({"error": {"code": status, "message": message, "status": code,
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]}})
        .to_string()
    }

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }

    #[test]
    fn documented_answers_are_classified() {
        let none = http::HeaderMap::new();
        assert_eq!(
            classify(200, &none, r#"{"name":"projects/p/messages/1"}"#, now()),
            Outcome::Sent
        );
        assert!(matches!(
            classify(
                404,
                &none,
                &error(404, "UNREGISTERED", "Requested entity was not found."),
                now()
            ),
            Outcome::TokenRefused { .. }
        ));
        assert!(matches!(
            classify(
                400,
                &none,
                &error(
                    400,
                    "INVALID_ARGUMENT",
                    "The registration token is not a valid FCM registration token"
                ),
                now()
            ),
            Outcome::TokenRefused { .. }
        ));
        assert!(matches!(
            classify(
                403,
                &none,
                &error(403, "SENDER_ID_MISMATCH", "SenderId mismatch"),
                now()
            ),
            Outcome::TokenRefused { .. }
        ));
        // A bad message is not the token's fault.
        assert!(matches!(
            classify(
                400,
                &none,
                &error(400, "INVALID_ARGUMENT", "Invalid JSON payload"),
                now()
            ),
            Outcome::Rejected { .. }
        ));
        match classify(
            503,
            &none,
            &error(503, "UNAVAILABLE", "The service is unavailable."),
            now(),
        ) {
            Outcome::Retry { error, retry_after } => {
                assert!(error.contains("503 UNAVAILABLE"), "{error}");
                assert_eq!(retry_after, None);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(502, &none, "<html>bad gateway</html>", now()),
            Outcome::Retry { .. }
        ));
    }

    #[test]
    fn quota_errors_wait_at_least_a_minute() {
        let mut headers = http::HeaderMap::new();
        let quota = error(429, "QUOTA_EXCEEDED", "Quota exceeded.");
        assert_eq!(
            classify(429, &headers, &quota, now()),
            Outcome::Retry {
                error: "fcm: 429 QUOTA_EXCEEDED: Quota exceeded.".into(),
                retry_after: Some(QUOTA_WAIT)
            }
        );
        headers.insert(http::header::RETRY_AFTER, "5".parse().unwrap());
        assert!(matches!(
            classify(429, &headers, &quota, now()),
            Outcome::Retry { retry_after: Some(wait), .. } if wait == QUOTA_WAIT
        ));
        headers.insert(http::header::RETRY_AFTER, "300".parse().unwrap());
        assert!(matches!(
            classify(429, &headers, &quota, now()),
            Outcome::Retry { retry_after: Some(wait), .. } if wait == Duration::from_secs(300)
        ));
    }

    #[test]
    fn alerts_collapse_per_camera_and_wake_ups_are_data_only() {
        let alert = crate::message::render(
            uuid::Uuid::now_v7(),
            "event",
            &json!({"event_id": "e1", "camera_device_id": "cam-1", "camera_name": "Porch", "title": "Motion"}),
            "https://cam.example",
        )
        .unwrap();
        let sent = message(&alert, "tok");
        assert_eq!(sent["message"]["token"], "tok");
        assert_eq!(sent["message"]["notification"]["title"], "Porch");
        assert_eq!(sent["message"]["android"]["collapse_key"], "cam1");
        assert_eq!(
            sent["message"]["apns"]["headers"]["apns-collapse-id"],
            "cam1"
        );
        assert!(sent.to_string().len() < 4096);
        let wake = crate::message::render(
            uuid::Uuid::now_v7(),
            "command_wakeup",
            &json!({"command_id": "c1", "command_type": "ping"}),
            "https://cam.example",
        )
        .unwrap();
        let sent = message(&wake, "tok");
        assert!(sent["message"].get("notification").is_none());
        assert_eq!(
            sent["message"]["apns"]["headers"]["apns-push-type"],
            "background"
        );
    }
}
