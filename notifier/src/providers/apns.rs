//! Apple Push Notification service over HTTP/2 with token authentication: an ES256 JWT made
//! from the `.p8` key (`kid` = key id, `iss` = team id), reused for 50 minutes (Apple wants
//! it renewed within the hour and not more often than every 20 minutes).

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use web_push_native::jwt_simple::prelude::*;

use crate::config::ApnsConfig;
use crate::message::Push;
use crate::outcome::{excerpt, judge, retry_after, transport_error, Outcome};

const JWT_REUSE: Duration = Duration::from_secs(50 * 60);
/// An alert still worth showing an hour later; a wake-up is not.
const ALERT_EXPIRY_SECS: i64 = 3600;

pub struct Apns {
    client: reqwest::Client,
    base_url: String,
    topic: String,
    team_id: String,
    key: ES256KeyPair,
    jwt: tokio::sync::Mutex<Option<(String, Instant)>>,
}

impl Apns {
    pub fn new(config: &ApnsConfig, client: reqwest::Client) -> Result<Self, String> {
        use secrecy::ExposeSecret;
        let pem = match (&config.key_pem, &config.key_file) {
            (Some(pem), _) => pem.expose_secret().to_string(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?,
            (None, None) => return Err("apns needs key_file or key_pem".into()),
        };
        let key = ES256KeyPair::from_pem(&pem)
            .map_err(|e| format!("the APNs key is not a P-256 .p8 key: {e}"))?
            .with_key_id(&config.key_id);
        Ok(Apns {
            client,
            base_url: config.base_url.trim_end_matches('/').to_string(),
            topic: config.topic.clone(),
            team_id: config.team_id.clone(),
            key,
            jwt: Default::default(),
        })
    }

    async fn provider_token(&self) -> Result<String, Outcome> {
        let mut cached = self.jwt.lock().await;
        if let Some((jwt, made)) = cached.as_ref() {
            if made.elapsed() < JWT_REUSE {
                return Ok(jwt.clone());
            }
        }
        // Only `iss` and `iat`, as Apple documents.
        let mut claims =
            Claims::create(Duration::from_secs(3600).into()).with_issuer(&self.team_id);
        claims.expires_at = None;
        claims.invalid_before = None;
        let jwt = self
            .key
            .sign(claims)
            .map_err(|e| Outcome::retry(format!("apns: signing the provider token: {e}")))?;
        *cached = Some((jwt.clone(), Instant::now()));
        Ok(jwt)
    }

    pub async fn send(&self, push: &Push, device_token: &str) -> Outcome {
        // Device tokens are hex; anything else is not one (and never reaches a URL path).
        if device_token.len() < 32 || !device_token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Outcome::TokenRefused {
                error: "apns: the device's token is not an APNs device token".into(),
            };
        }
        let jwt = match self.provider_token().await {
            Ok(jwt) => jwt,
            Err(outcome) => return outcome,
        };
        let mut request = self
            .client
            .post(format!("{}/3/device/{device_token}", self.base_url))
            .header("authorization", format!("bearer {jwt}"))
            .header("apns-topic", &self.topic)
            .header("apns-id", push.delivery_id().to_string());
        request = match push {
            Push::Alert(alert) => request
                .header("apns-push-type", "alert")
                .header("apns-priority", "10")
                .header("apns-collapse-id", &alert.collapse_key)
                .header(
                    "apns-expiration",
                    (chrono::Utc::now().timestamp() + ALERT_EXPIRY_SECS).to_string(),
                ),
            // Background pushes must go at priority 5.
            Push::WakeUp(_) => request
                .header("apns-push-type", "background")
                .header("apns-priority", "5")
                .header("apns-expiration", "0"),
        };
        let response = match request.json(&payload(push)).send().await {
            Ok(response) => response,
            Err(err) => return transport_error("apns", &err),
        };
        let outcome = judge(response, classify).await;
        if matches!(&outcome, Outcome::Retry { error, .. } if error.contains("ProviderToken")) {
            *self.jwt.lock().await = None;
        }
        outcome
    }
}

/// The JSON body: `aps` and the app's data beside it.
pub fn payload(push: &Push) -> Value {
    let mut body = push.data();
    let aps = match push {
        Push::Alert(alert) => json!({
            "alert": {"title": alert.title, "body": alert.body},
            "sound": "default",
            "thread-id": alert.collapse_key,
            "mutable-content": 1,
        }),
        Push::WakeUp(_) => json!({"content-available": 1}),
    };
    body.insert("aps".into(), aps);
    Value::Object(body)
}

/// What APNs's answer means, per Apple's "Handling notification responses from APNs".
pub fn classify(
    status: u16,
    headers: &http::HeaderMap,
    body: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Outcome {
    if status == 200 {
        return Outcome::Sent;
    }
    let reason = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["reason"].as_str().map(str::to_string))
        .unwrap_or_else(|| excerpt(body));
    let error = format!("apns: {status} {reason}");
    match (status, reason.as_str()) {
        (410, _) | (400, "BadDeviceToken") | (400, "DeviceTokenNotForTopic") => {
            Outcome::TokenRefused { error }
        }
        (403, "ExpiredProviderToken" | "InvalidProviderToken") | (429, _) | (500..=599, _) => {
            Outcome::Retry {
                error,
                retry_after: retry_after(headers, now),
            }
        }
        // A certificate or key problem is the operator's to fix; the job waits for it.
        (403, _) => Outcome::retry(error),
        _ => Outcome::Rejected { error },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_answers_are_classified() {
        let none = http::HeaderMap::new();
        let now = chrono::Utc::now();
        let reason = |r: &str| json!({"reason": r}).to_string();
        assert_eq!(classify(200, &none, "", now), Outcome::Sent);
        for (status, why) in [
            (410, "Unregistered"),
            (400, "BadDeviceToken"),
            (400, "DeviceTokenNotForTopic"),
        ] {
            assert!(
                matches!(
                    classify(status, &none, &reason(why), now),
                    Outcome::TokenRefused { .. }
                ),
                "{status} {why}"
            );
        }
        for (status, why) in [
            (400, "PayloadEmpty"),
            (413, "PayloadTooLarge"),
            (400, "BadTopic"),
            (404, "BadPath"),
        ] {
            assert!(
                matches!(
                    classify(status, &none, &reason(why), now),
                    Outcome::Rejected { .. }
                ),
                "{status} {why}"
            );
        }
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "30".parse().unwrap());
        assert_eq!(
            classify(429, &headers, &reason("TooManyRequests"), now),
            Outcome::Retry {
                error: "apns: 429 TooManyRequests".into(),
                retry_after: Some(Duration::from_secs(30))
            }
        );
        for (status, why) in [
            (503, "ServiceUnavailable"),
            (500, "InternalServerError"),
            (403, "ExpiredProviderToken"),
        ] {
            assert!(
                matches!(
                    classify(status, &none, &reason(why), now),
                    Outcome::Retry { .. }
                ),
                "{status} {why}"
            );
        }
    }

    #[test]
    fn alerts_and_wake_ups_have_their_aps() {
        let alert = crate::message::render(
            uuid::Uuid::now_v7(),
            "event",
            &json!({"event_id": "e1", "camera_device_id": "c", "camera_name": "Porch", "title": "Motion"}),
            "https://cam.example",
        )
        .unwrap();
        let body = payload(&alert);
        assert_eq!(body["aps"]["alert"]["title"], "Porch");
        assert_eq!(body["aps"]["thread-id"], "c");
        assert_eq!(body["event_id"], "e1");
        assert!(body.to_string().len() <= 4096);
        let wake = crate::message::render(
            uuid::Uuid::now_v7(),
            "command_wakeup",
            &json!({"command_id": "c1"}),
            "x",
        )
        .unwrap();
        assert_eq!(payload(&wake)["aps"], json!({"content-available": 1}));
    }
}
