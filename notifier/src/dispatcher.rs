//! The notifier's driver: claims due jobs with a lease, sends each on a task of its own with
//! at most `concurrency` in flight, and records the results in batches. It wakes when this
//! process queues jobs, when another process does (PostgreSQL's trigger), and otherwise
//! polls; jobs of a worker that died are rescued once their lease runs out.
//!
//! Delivery is at-least-once: a job sent but not yet recorded when the process dies is sent
//! again after its lease, under the same id (the provider's and the receiver's dedup key).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use securecam_storage::{
    now, ClaimedDelivery, Database, DeliveryReport, DeliveryResult, Subscription,
};
use tokio::sync::{mpsc, Semaphore};

use crate::config::NotifierConfig;
use crate::outcome::Outcome;
use crate::providers::Providers;
use crate::retry::RetryPolicy;
use crate::vapid::VapidKey;

/// Reports written per database round trip, at most.
const REPORT_BATCH: usize = 512;
/// How long a graceful shutdown waits for sends in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub struct Notifier {
    db: Arc<dyn Database>,
    providers: Arc<Providers>,
    config: NotifierConfig,
    worker: String,
}

/// What an attempt's outcome means for its job.
pub fn decide(
    policy: &RetryPolicy,
    job: &ClaimedDelivery,
    outcome: Outcome,
    now: DateTime<Utc>,
    jitter: f64,
) -> DeliveryResult {
    match outcome {
        Outcome::Sent => DeliveryResult::Sent,
        Outcome::Retry { error, retry_after } => {
            match policy.next_wait(job.attempts, retry_after, jitter) {
                Some(wait) => DeliveryResult::Retry {
                    error,
                    at: now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX),
                },
                None => DeliveryResult::Dead {
                    error: format!("{error} (gave up after {} attempts)", job.attempts),
                    refused_token: None,
                },
            }
        }
        Outcome::Rejected { error } => DeliveryResult::Dead {
            error,
            refused_token: None,
        },
        Outcome::TokenRefused { error } => DeliveryResult::Dead {
            error,
            refused_token: job.push_token.clone(),
        },
    }
}

impl Notifier {
    pub fn new(
        db: Arc<dyn Database>,
        config: NotifierConfig,
        vapid: VapidKey,
    ) -> Result<Self, String> {
        let providers = Arc::new(Providers::new(&config, vapid)?);
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "notifier".into());
        let worker = format!(
            "{host}:{}:{:04x}",
            std::process::id(),
            rand::random::<u16>()
        );
        Ok(Notifier {
            db,
            providers,
            config,
            worker,
        })
    }

    /// This notifier's name on the jobs it leases.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// Works the queue until `shutdown` resolves, then lets sends in flight finish (for a
    /// while) and records them.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Notifier {
            db,
            providers,
            config,
            worker,
        } = self;
        let policy = config.retry_policy();
        let lease = chrono::Duration::from_std(config.lease()).unwrap_or(chrono::Duration::MAX);
        let rescue_every =
            (config.lease() / 2).clamp(Duration::from_secs(1), Duration::from_secs(30));
        let concurrency = config.concurrency.max(1);
        let slots = Arc::new(Semaphore::new(concurrency));
        let (reports, reports_rx) = mpsc::channel::<DeliveryReport>(concurrency * 2);
        let recorder = tokio::spawn(record(db.clone(), worker.clone(), reports_rx));
        let local = db.deliveries_queued();
        let mut remote = match db.subscribe_deliveries().await {
            Ok(subscription) => subscription,
            Err(err) => {
                tracing::warn!(error = %err, "cannot hear other processes queue jobs; polling instead");
                None
            }
        };
        tracing::debug!(%worker, concurrency, "notifier working the delivery queue");
        let mut last_rescue: Option<Instant> = None;
        let bite = (concurrency / 8).clamp(1, config.batch.max(1) as usize) as u32;
        let mut backlog = false;
        tokio::pin!(shutdown);
        loop {
            if last_rescue.is_none_or(|at| at.elapsed() >= rescue_every) {
                last_rescue = Some(Instant::now());
                match db.rescue_deliveries(now(), policy.max_attempts).await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(
                        rescued = n,
                        "jobs left behind by a stopped worker are due again"
                    ),
                    Err(err) => tracing::warn!(error = %err, "could not rescue abandoned jobs"),
                }
            }
            if backlog {
                // More are due: let a bite of slots free up first, so the queue is claimed in
                // a few large batches rather than a job at a time as each send finishes.
                tokio::select! {
                    room = slots.acquire_many(bite) => drop(room),
                    _ = &mut shutdown => break,
                }
            }
            // A free slot first: what is claimed is sent at once, never held back.
            let first = tokio::select! {
                permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                _ = &mut shutdown => break,
            };
            let want = (1 + slots.available_permits()).min(config.batch.max(1) as usize);
            let at = now();
            let claimed = match db
                .claim_deliveries(&worker, at, at + lease, want as u32)
                .await
            {
                Ok(claimed) => claimed,
                Err(err) => {
                    drop(first);
                    tracing::warn!(error = %err, "could not claim delivery jobs");
                    tokio::select! {
                        _ = tokio::time::sleep(config.poll_interval()) => continue,
                        _ = &mut shutdown => break,
                    }
                }
            };
            let got = claimed.len();
            backlog = got == want;
            let mut permit = Some(first);
            for job in claimed {
                // Only this loop takes slots, so the ones counted above are still free.
                let slot = permit
                    .take()
                    .or_else(|| slots.clone().try_acquire_owned().ok())
                    .expect("a slot per claimed job");
                let providers = providers.clone();
                let reports = reports.clone();
                tokio::spawn(async move {
                    let (provider, outcome) = providers.send(&job).await;
                    let at = now();
                    metrics::counter!("securecam_notifier_attempts_total",
                        "provider" => provider, "outcome" => outcome.label())
                    .increment(1);
                    if outcome == Outcome::Sent {
                        let waited = (at - job.created_at).to_std().unwrap_or_default();
                        metrics::histogram!("securecam_notifier_queued_to_sent_seconds",
                            "provider" => provider)
                        .record(waited.as_secs_f64());
                    } else {
                        tracing::debug!(delivery = %job.id, provider, ?outcome, "attempt not delivered");
                    }
                    let result = decide(&policy, &job, outcome, at, rand::random::<f64>());
                    let _ = reports.send(DeliveryReport { id: job.id, result }).await;
                    drop(slot);
                });
            }
            if backlog {
                // Perhaps more are due: claim again as soon as there is room.
                continue;
            }
            drop(permit);
            tokio::select! {
                _ = local.notified() => {}
                _ = next_remote(&mut remote) => {}
                _ = tokio::time::sleep(config.poll_interval()) => {}
                _ = &mut shutdown => break,
            }
        }
        // Sends in flight hold their slots until their reports are queued.
        if tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(concurrency as u32))
            .await
            .is_err()
        {
            tracing::warn!("sends still in flight at shutdown; their leases will run out and they are sent again");
        }
        drop(reports);
        let _ = recorder.await;
        tracing::debug!("notifier stopped");
    }
}

/// The next wake-up from another process; never, without a subscription.
async fn next_remote(remote: &mut Option<Box<dyn Subscription>>) {
    match remote {
        Some(subscription) => {
            if let Err(err) = subscription.next().await {
                tracing::warn!(error = %err, "lost the delivery wake-ups; listening again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        None => std::future::pending().await,
    }
}

/// Writes reports as they come, in batches of whatever queued during the last write. A
/// write that keeps failing is given up: those jobs stay `sending` until their lease runs
/// out, and are sent again.
async fn record(
    db: Arc<dyn Database>,
    worker: String,
    mut reports: mpsc::Receiver<DeliveryReport>,
) {
    let mut batch = Vec::with_capacity(REPORT_BATCH);
    while reports.recv_many(&mut batch, REPORT_BATCH).await > 0 {
        for attempt in 1..=5 {
            match db.finish_deliveries(&worker, &batch, now()).await {
                Ok(()) => break,
                Err(err) if attempt < 5 => {
                    tracing::warn!(error = %err, "could not record deliveries; trying again");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(err) => {
                    tracing::error!(error = %err, jobs = batch.len(), "could not record deliveries; they will be sent again");
                }
            }
        }
        batch.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(attempts: i32) -> ClaimedDelivery {
        ClaimedDelivery {
            id: uuid::Uuid::now_v7(),
            owner_user_id: uuid::Uuid::now_v7(),
            kind: "event".into(),
            payload: serde_json::json!({}),
            attempts,
            created_at: now(),
            notification_id: None,
            recipient_device_id: Some(uuid::Uuid::now_v7()),
            push_provider: Some("fcm".into()),
            push_token: Some("tok".into()),
            webhook_endpoint_id: None,
            webhook_url: None,
            webhook_secret: None,
        }
    }

    #[test]
    fn outcomes_become_results() {
        let policy = RetryPolicy::default();
        let at = now();
        assert_eq!(
            decide(&policy, &job(1), Outcome::Sent, at, 0.5),
            DeliveryResult::Sent
        );
        assert_eq!(
            decide(&policy, &job(3), Outcome::retry("503"), at, 0.0),
            DeliveryResult::Retry {
                error: "503".into(),
                at: at + chrono::Duration::seconds(2)
            }
        );
        let quota = Outcome::Retry {
            error: "429".into(),
            retry_after: Some(Duration::from_secs(60)),
        };
        assert_eq!(
            decide(&policy, &job(1), quota, at, 0.9),
            DeliveryResult::Retry {
                error: "429".into(),
                at: at + chrono::Duration::seconds(60)
            }
        );
        assert_eq!(
            decide(&policy, &job(12), Outcome::retry("503"), at, 0.0),
            DeliveryResult::Dead {
                error: "503 (gave up after 12 attempts)".into(),
                refused_token: None
            }
        );
        assert_eq!(
            decide(
                &policy,
                &job(1),
                Outcome::TokenRefused {
                    error: "gone".into()
                },
                at,
                0.0
            ),
            DeliveryResult::Dead {
                error: "gone".into(),
                refused_token: Some("tok".into())
            }
        );
        assert_eq!(
            decide(&policy, &job(1), Outcome::rejected("too big"), at, 0.0),
            DeliveryResult::Dead {
                error: "too big".into(),
                refused_token: None
            }
        );
    }
}
