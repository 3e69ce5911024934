//! Signal's periodic work, in one place: every `interval`, the command sweep (expiry and
//! retries, `crate::commands::delivery`) and the stream sweep (`crate::streams::sweep_once`);
//! hourly, stale sessions and expired one-time secrets. Each node runs them; every change is
//! conditional in the database, so nodes sweeping at once do the work once.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use securecam_storage::Database;

use crate::state::Core;

/// How often stale sessions and expired secrets are swept out.
const CREDENTIAL_SWEEP_INTERVAL: Duration = Duration::from_secs(3600);

/// Runs the sweeps every `interval` until `shutdown` resolves.
pub async fn sweep(core: Core, interval: Duration, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticker.tick() => {
                crate::commands::delivery::sweep_once(&core).await;
                crate::streams::sweep_once(&core).await;
            }
        }
    }
}

/// Hourly until `shutdown` resolves: deletes sessions past their absolute lifetime or idle
/// timeout, and one-time secrets past their expiry.
pub async fn sweep_credentials(
    db: Arc<dyn Database>,
    idle_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let idle = chrono::Duration::from_std(idle_timeout).unwrap_or(chrono::Duration::MAX);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(CREDENTIAL_SWEEP_INTERVAL) => {}
            _ = &mut shutdown => return,
        }
        let now = securecam_storage::now();
        match db.delete_stale_sessions(now, now - idle).await {
            Ok(n) if n > 0 => tracing::info!(removed = n, "swept stale sessions"),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "session sweep failed"),
        }
        if let Err(err) = db.delete_expired_verifications(now).await {
            tracing::warn!(error = %err, "verification sweep failed");
        }
    }
}
