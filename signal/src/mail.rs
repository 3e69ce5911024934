//! Outgoing mail (password reset). Through SMTP when configured; otherwise the message is
//! written to the log, which is what a single-household install without a mail server needs.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    async fn send(&self, mail: Mail) -> anyhow::Result<()>;
}

/// SMTP settings (`[smtp]` in the config file, `SECURECAM_SMTP__*` in the environment).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    pub username: Option<String>,
    /// Redacted in Debug output and logs.
    #[serde(serialize_with = "serialize_redacted", default)]
    pub password: Option<SecretString>,
    pub from: String,
    /// `starttls` (default), `tls` or `none` (a local relay).
    #[serde(default = "default_security")]
    pub security: String,
}

fn default_smtp_port() -> u16 {
    587
}

fn default_security() -> String {
    "starttls".to_string()
}

fn serialize_redacted<S: serde::Serializer>(
    value: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(_) => s.serialize_str("[REDACTED]"),
        None => s.serialize_none(),
    }
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    pub fn new(config: &SmtpConfig) -> anyhow::Result<Self> {
        let mut builder = match config.security.as_str() {
            "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)?,
            "none" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host),
            _ => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)?,
        }
        .port(config.port);
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_string(),
            ));
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            from: config.from.parse()?,
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(mail.to.parse()?)
            .subject(mail.subject)
            .body(mail.body)?;
        self.transport.send(message).await?;
        Ok(())
    }
}

/// No mail server: the message goes to the log for the operator to pass on.
pub struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        tracing::info!(to = %mail.to, subject = %mail.subject, "no SMTP configured; mail follows:\n{}", mail.body);
        Ok(())
    }
}

/// Keeps what it is given; for tests that need to read a mail.
#[derive(Default, Clone)]
pub struct MemoryMailer {
    pub outbox: Arc<Mutex<Vec<Mail>>>,
}

impl MemoryMailer {
    pub fn sent(&self) -> Vec<Mail> {
        self.outbox.lock().expect("outbox lock").clone()
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        self.outbox.lock().expect("outbox lock").push(mail);
        Ok(())
    }
}
