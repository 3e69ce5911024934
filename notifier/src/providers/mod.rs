//! One sender per push service, and the router that picks one for a job.

pub mod apns;
pub mod fcm;
pub mod webhook;
pub mod webpush;

use std::time::Duration;

use securecam_storage::ClaimedDelivery;

use crate::config::NotifierConfig;
use crate::message;
use crate::outcome::Outcome;
use crate::vapid::VapidKey;

const USER_AGENT: &str = concat!("SecureCam/", env!("CARGO_PKG_VERSION"));

pub struct Providers {
    fcm: Option<fcm::Fcm>,
    apns: Option<apns::Apns>,
    webpush: webpush::WebPush,
    webhooks: webhook::Webhooks,
    public_url: String,
}

impl Providers {
    /// Every sender the configuration enables; an error names a provider whose settings are
    /// unusable (a missing key file, say), so a misconfiguration stops the start-up.
    pub fn new(config: &NotifierConfig, vapid: VapidKey) -> Result<Self, String> {
        let push_timeout = Duration::from_secs(config.push_timeout_secs.max(1));
        // FCM and APNs: HTTP/2 (APNs speaks nothing else), many requests on one connection.
        let h2 = reqwest::Client::builder()
            .http2_prior_knowledge()
            .timeout(push_timeout)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| format!("HTTP/2 client: {e}"))?;
        let fcm = config
            .fcm
            .as_ref()
            .map(|c| fcm::Fcm::new(c, h2.clone()))
            .transpose()
            .map_err(|e| format!("notifier.fcm: {e}"))?;
        let apns = config
            .apns
            .as_ref()
            .map(|c| apns::Apns::new(c, h2.clone()))
            .transpose()
            .map_err(|e| format!("notifier.apns: {e}"))?;
        let targets = crate::guard::client(config.allow_private_targets, USER_AGENT);
        let subject = config.webpush.subject.clone().unwrap_or_else(|| {
            if config.public_url.starts_with("https://") {
                config.public_url.clone()
            } else {
                "mailto:securecam@localhost".into()
            }
        });
        Ok(Providers {
            fcm,
            apns,
            webpush: webpush::WebPush::new(
                targets.clone(),
                vapid,
                subject,
                config.allow_private_targets,
            ),
            webhooks: webhook::Webhooks::new(
                targets,
                config.allow_private_targets,
                Duration::from_secs(config.webhook_timeout_secs.max(1)),
            ),
            public_url: config.public_url.clone(),
        })
    }

    /// Sends one job; the provider's name (for metrics) and how it went.
    pub async fn send(&self, job: &ClaimedDelivery) -> (&'static str, Outcome) {
        if job.kind == "webhook" {
            let outcome = match (&job.webhook_url, &job.webhook_secret) {
                (Some(url), Some(secret)) => {
                    self.webhooks.send(job.id, url, secret, &job.payload).await
                }
                _ => Outcome::rejected("webhook: the endpoint no longer exists"),
            };
            return ("webhook", outcome);
        }
        let push = match message::render(job.id, &job.kind, &job.payload, &self.public_url) {
            Ok(push) => push,
            Err(why) => return ("none", Outcome::rejected(why)),
        };
        let (Some(provider), Some(token)) =
            (job.push_provider.as_deref(), job.push_token.as_deref())
        else {
            return (
                "none",
                Outcome::rejected("the device has no push token any more"),
            );
        };
        let not_configured = |name: &str| {
            Outcome::retry(format!(
                "{name} is not configured on this server (see SECURECAM_NOTIFIER__{}__*)",
                name.to_ascii_uppercase()
            ))
        };
        match provider {
            "fcm" => match &self.fcm {
                Some(fcm) => ("fcm", fcm.send(&push, token).await),
                None => ("fcm", not_configured("fcm")),
            },
            "apns" => match &self.apns {
                Some(apns) => ("apns", apns.send(&push, token).await),
                None => ("apns", not_configured("apns")),
            },
            "webpush" => ("webpush", self.webpush.send(&push, token).await),
            other => (
                "none",
                Outcome::rejected(format!("unknown push provider {other:?}")),
            ),
        }
    }
}
