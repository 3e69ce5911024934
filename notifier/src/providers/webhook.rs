//! Webhooks signed per Standard Webhooks: `webhook-id` (the job's id, stable across retries,
//! for the receiver to deduplicate on), `webhook-timestamp` (this attempt) and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.

use serde_json::Value;

use crate::guard;
use crate::outcome::{excerpt, judge, retry_after, transport_error, Outcome};

pub struct Webhooks {
    client: reqwest::Client,
    allow_private: bool,
    timeout: std::time::Duration,
}

/// The signature headers for one attempt.
pub fn signature_headers(
    id: &str,
    secret: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<[(&'static str, String); 3], String> {
    let signer = standardwebhooks::Webhook::new(secret)
        .map_err(|e| format!("the endpoint's secret is unusable: {e}"))?;
    let signature = signer
        .sign(id, timestamp, body)
        .map_err(|e| format!("could not sign: {e}"))?;
    Ok([
        (standardwebhooks::HEADER_WEBHOOK_ID, id.to_string()),
        (
            standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
            timestamp.to_string(),
        ),
        (standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature),
    ])
}

impl Webhooks {
    pub fn new(client: reqwest::Client, allow_private: bool, timeout: std::time::Duration) -> Self {
        Webhooks {
            client,
            allow_private,
            timeout,
        }
    }

    pub async fn send(&self, id: uuid::Uuid, url: &str, secret: &str, body: &Value) -> Outcome {
        let url: reqwest::Url = match url.parse() {
            Ok(url) => url,
            Err(e) => return Outcome::rejected(format!("webhook: the URL is not valid: {e}")),
        };
        if let Err(why) = guard::check_url(&url, self.allow_private) {
            return Outcome::rejected(format!("webhook: the URL is refused: {why}"));
        }
        let bytes = serde_json::to_vec(body).expect("JSON values serialise");
        let headers = match signature_headers(
            &id.to_string(),
            secret,
            chrono::Utc::now().timestamp(),
            &bytes,
        ) {
            Ok(headers) => headers,
            Err(why) => return Outcome::rejected(format!("webhook: {why}")),
        };
        let mut request = self
            .client
            .post(url)
            .timeout(self.timeout)
            .header(http::header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = match request.body(bytes).send().await {
            Ok(response) => response,
            Err(err) => return transport_error("webhook", &err),
        };
        judge(response, classify).await
    }
}

/// Any 2xx is delivered; anything else is tried again (honouring `Retry-After`): an endpoint
/// that is down or misconfigured for a while still gets the event once it is fixed, until
/// the attempts run out. A redirect is not followed (it could point anywhere).
pub fn classify(
    status: u16,
    headers: &http::HeaderMap,
    body: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Outcome {
    if (200..300).contains(&status) {
        return Outcome::Sent;
    }
    let what = if (300..400).contains(&status) {
        "redirects are not followed".to_string()
    } else {
        excerpt(body)
    };
    Outcome::Retry {
        error: format!("webhook: the endpoint answered {status}: {what}"),
        retry_after: retry_after(headers, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_with_the_standard_webhooks_reference() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let headers =
            signature_headers("msg_p5jXN8AQM9LWM0D4loKWxJek", secret, 1614265330, body).unwrap();
        // The example of the Standard Webhooks specification.
        assert_eq!(
            headers[2].1,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(signature_headers("id", "whsec_not base64!", 1, body).is_err());
    }

    #[test]
    fn only_2xx_is_delivered() {
        let none = http::HeaderMap::new();
        let now = chrono::Utc::now();
        assert_eq!(classify(204, &none, "", now), Outcome::Sent);
        assert!(
            matches!(classify(302, &none, "", now), Outcome::Retry { error, .. } if error.contains("redirect"))
        );
        assert!(matches!(
            classify(500, &none, "oops", now),
            Outcome::Retry { .. }
        ));
        assert!(matches!(
            classify(400, &none, "bad", now),
            Outcome::Retry { .. }
        ));
    }
}
