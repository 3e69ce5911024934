//! Web Push (RFC 8030) to a browser's push service: the payload encrypted for the
//! subscription (RFC 8291, aes128gcm), signed with the server's VAPID key (RFC 8292), with
//! `Urgency` and a `Topic` so alerts of one camera replace each other while undelivered.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use web_push_native::{p256::PublicKey, Auth, WebPushBuilder};

use crate::guard;
use crate::message::Push;
use crate::outcome::{excerpt, judge, retry_after, transport_error, Outcome};
use crate::vapid::VapidKey;

/// How long a push service keeps an undelivered message.
const ALERT_TTL: Duration = Duration::from_secs(3600);
const WAKE_UP_TTL: Duration = Duration::from_secs(60);

/// The browser's `PushSubscription.toJSON()`, which is what a `webpush` device's push token
/// holds.
#[derive(Deserialize)]
struct Subscription {
    endpoint: String,
    keys: Keys,
}

#[derive(Deserialize)]
struct Keys {
    p256dh: String,
    auth: String,
}

pub struct WebPush {
    client: reqwest::Client,
    key: VapidKey,
    subject: String,
    allow_private: bool,
}

impl WebPush {
    pub fn new(
        client: reqwest::Client,
        key: VapidKey,
        subject: String,
        allow_private: bool,
    ) -> Self {
        WebPush {
            client,
            key,
            subject,
            allow_private,
        }
    }

    pub async fn send(&self, push: &Push, subscription: &str) -> Outcome {
        let request = match self.request(push, subscription) {
            Ok(request) => request,
            Err(outcome) => return outcome,
        };
        let response = match self.client.execute(request).await {
            Ok(response) => response,
            Err(err) => return transport_error("webpush", &err),
        };
        judge(response, classify).await
    }

    /// The encrypted, signed request; an outcome when the subscription cannot be used.
    fn request(&self, push: &Push, subscription: &str) -> Result<reqwest::Request, Outcome> {
        let refused = |why: String| Outcome::TokenRefused {
            error: format!("webpush: {why}"),
        };
        let subscription: Subscription = serde_json::from_str(subscription)
            .map_err(|e| refused(format!("the push token is not a PushSubscription: {e}")))?;
        let url: reqwest::Url = subscription
            .endpoint
            .parse()
            .map_err(|e| refused(format!("the endpoint is not a URL: {e}")))?;
        guard::check_url(&url, self.allow_private).map_err(|why| Outcome::Rejected {
            error: format!("webpush: the endpoint is refused: {why}"),
        })?;
        let p256dh = URL_SAFE_NO_PAD
            .decode(subscription.keys.p256dh.trim_end_matches('='))
            .ok()
            .and_then(|bytes| PublicKey::from_sec1_bytes(&bytes).ok())
            .ok_or_else(|| refused("keys.p256dh is not a P-256 public key".into()))?;
        let auth = URL_SAFE_NO_PAD
            .decode(subscription.keys.auth.trim_end_matches('='))
            .ok()
            .filter(|bytes| bytes.len() == 16)
            .ok_or_else(|| refused("keys.auth is not 16 bytes".into()))?;
        let endpoint: http::Uri = subscription
            .endpoint
            .parse()
            .map_err(|e| refused(format!("the endpoint is not a URI: {e}")))?;
        let (ttl, urgency, topic) = match push {
            Push::Alert(alert) => (ALERT_TTL, "high", Some(alert.collapse_key.as_str())),
            Push::WakeUp(_) => (WAKE_UP_TTL, "high", None),
        };
        let built = WebPushBuilder::new(endpoint, p256dh, Auth::clone_from_slice(&auth))
            .with_valid_duration(ttl)
            .build(body(push).to_string())
            .map_err(|e| Outcome::rejected(format!("webpush: could not encrypt: {e}")))?;
        let authorization = vapid_authorization(&self.key, &url, &self.subject)
            .map_err(|e| Outcome::rejected(format!("webpush: could not sign: {e}")))?;
        let (parts, bytes) = built.into_parts();
        let mut request = self
            .client
            .post(url)
            .headers(parts.headers)
            .header(http::header::AUTHORIZATION, authorization)
            .header("urgency", urgency)
            .body(bytes);
        // A topic is at most 32 base64url characters; a camera id without dashes is 32 hex.
        if let Some(topic) = topic.filter(|t| t.len() <= 32) {
            request = request.header("topic", topic);
        }
        request
            .build()
            .map_err(|e| Outcome::rejected(format!("webpush: {e}")))
    }
}

/// `Authorization: vapid t=<JWT>, k=<public key>` (RFC 8292 §3). Signed here rather than by
/// web-push-native's `with_vapid`, whose `aud` leaves out the endpoint's port: the audience
/// is the endpoint's origin, port included (the independent subscriber in the tests refuses
/// anything else, as a push service may). Valid for 12 hours, within the 24 allowed.
pub fn vapid_authorization(
    key: &VapidKey,
    endpoint: &reqwest::Url,
    subject: &str,
) -> Result<String, String> {
    use web_push_native::jwt_simple::prelude::*;
    let claims = Claims::create(Duration::from_hours(12))
        .with_audience(endpoint.origin().ascii_serialization())
        .with_subject(subject);
    let token = key.key_pair().sign(claims).map_err(|e| e.to_string())?;
    Ok(format!("vapid t={token}, k={}", key.public_key()))
}

/// What the service worker receives (`event.data.json()`).
pub fn body(push: &Push) -> Value {
    let mut body = push.data();
    if let Push::Alert(alert) = push {
        body.insert("title".into(), alert.title.clone().into());
        body.insert("body".into(), alert.body.clone().into());
    }
    Value::Object(body)
}

/// What a push service's answer means (RFC 8030 §5, and what Mozilla's and Google's services
/// document: 404 and 410 mean the subscription is gone).
pub fn classify(
    status: u16,
    headers: &http::HeaderMap,
    body: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Outcome {
    if (200..300).contains(&status) {
        return Outcome::Sent;
    }
    let error = format!("webpush: {status}: {}", excerpt(body));
    match status {
        404 | 410 => Outcome::TokenRefused { error },
        429 | 500..=599 => Outcome::Retry {
            error,
            retry_after: retry_after(headers, now),
        },
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
        assert_eq!(classify(201, &none, "", now), Outcome::Sent);
        assert!(matches!(
            classify(410, &none, "gone", now),
            Outcome::TokenRefused { .. }
        ));
        assert!(matches!(
            classify(404, &none, "", now),
            Outcome::TokenRefused { .. }
        ));
        assert!(matches!(
            classify(413, &none, "too big", now),
            Outcome::Rejected { .. }
        ));
        assert!(matches!(
            classify(429, &none, "", now),
            Outcome::Retry { .. }
        ));
        assert!(matches!(
            classify(503, &none, "", now),
            Outcome::Retry { .. }
        ));
    }

    #[test]
    fn bad_subscriptions_are_refused_and_private_endpoints_rejected() {
        let push = crate::message::render(
            uuid::Uuid::now_v7(),
            "command_wakeup",
            &serde_json::json!({"command_id": "c"}),
            "x",
        )
        .unwrap();
        let web = WebPush::new(
            reqwest::Client::new(),
            VapidKey::generate(),
            "mailto:a@b".into(),
            false,
        );
        assert!(matches!(
            web.request(&push, "not json"),
            Err(Outcome::TokenRefused { .. })
        ));
        let private =
            r#"{"endpoint":"http://127.0.0.1:9/push","keys":{"p256dh":"BAAA","auth":"AAAA"}}"#;
        assert!(matches!(
            web.request(&push, private),
            Err(Outcome::Rejected { .. })
        ));
        let bad_keys =
            r#"{"endpoint":"https://push.example/x","keys":{"p256dh":"BAAA","auth":"AAAA"}}"#;
        assert!(matches!(
            web.request(&push, bad_keys),
            Err(Outcome::TokenRefused { .. })
        ));
    }
}
