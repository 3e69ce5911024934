//! How one attempt ended, as a provider's answer says.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The provider accepted it.
    Sent,
    /// Worth trying again: after the usual backoff, and not before `retry_after` when the
    /// provider said so (`Retry-After`, or FCM's one-minute floor on 429).
    Retry {
        error: String,
        retry_after: Option<Duration>,
    },
    /// It can never succeed as it is (a payload the provider refuses, a target that is gone).
    Rejected { error: String },
    /// The device's push token is no good any more: the job is dead and the token forgotten.
    TokenRefused { error: String },
}

impl Outcome {
    pub fn retry(error: impl Into<String>) -> Self {
        Outcome::Retry {
            error: error.into(),
            retry_after: None,
        }
    }

    pub fn rejected(error: impl Into<String>) -> Self {
        Outcome::Rejected {
            error: error.into(),
        }
    }

    /// For metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Retry { .. } => "retry",
            Outcome::Rejected { .. } => "rejected",
            Outcome::TokenRefused { .. } => "token_refused",
        }
    }
}

/// A `Retry-After` header: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn retry_after(
    headers: &http::HeaderMap,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&chrono::Utc) - now).to_std().ok()
}

/// Every provider's `classify`: its documented answers, as status, headers and body.
pub type Classify = fn(u16, &http::HeaderMap, &str, chrono::DateTime<chrono::Utc>) -> Outcome;

/// Reads a provider's answer whole and classifies it.
pub async fn judge(response: reqwest::Response, classify: Classify) -> Outcome {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    classify(status, &headers, &body, chrono::Utc::now())
}

/// A transport failure (connect, timeout, reset): always worth another try.
pub fn transport_error(provider: &str, err: &reqwest::Error) -> Outcome {
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    // reqwest's Display of a chain can name the URL; a push URL may carry a token, so only
    // the kind of failure and its innermost cause are kept.
    let mut cause: &dyn std::error::Error = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    Outcome::retry(format!("{provider}: {what}: {cause}"))
}

/// Error bodies can be long; the first few hundred characters tell what happened.
pub fn excerpt(text: &str) -> String {
    const MAX: usize = 300;
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mut headers = http::HeaderMap::new();
        assert_eq!(retry_after(&headers, now), None);
        headers.insert(http::header::RETRY_AFTER, "120".parse().unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(120)));
        headers.insert(
            http::header::RETRY_AFTER,
            "Tue, 01 Dec 2026 10:01:30 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(90)));
        headers.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn excerpts_are_short() {
        assert_eq!(excerpt("  short  "), "short");
        let long = "é".repeat(1000);
        assert_eq!(excerpt(&long).chars().count(), 301);
    }
}
