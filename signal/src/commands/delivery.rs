//! Getting commands to devices: what a connection claims when its device connects or is
//! told that commands are waiting, and the per-node sweeper that retries unacknowledged
//! dispatches and expires what ran out of time.
//!
//! Delivery is at least once: a command is `dispatched` when it is handed to the socket and
//! is sent again with backoff until the device acknowledges it, so a device may see a
//! command twice and must treat its id as the key.

use std::future::Future;
use std::time::Duration;

use securecam_storage::{now, Command};
use uuid::Uuid;

use super::service::announce_update;
use crate::state::AppState;

/// Most commands handed to one connection per claim; a device that reconnects to a long
/// backlog gets it in batches of this size, oldest first.
pub const CLAIM_BATCH: u32 = 100;
/// Most rows one sweep expires or nudges; the next sweep takes the rest.
const SWEEP_BATCH: u32 = 1000;

/// Claims the device's commands to send now: after a (re)connect everything pending (a
/// dispatch to the previous connection may never have arrived), otherwise what is due.
pub async fn claim(state: &AppState, device: Uuid, after_connect: bool) -> Vec<Command> {
    let schedule = state.config().command_retry_schedule();
    match state
        .db()
        .claim_commands(device, now(), schedule, after_connect, CLAIM_BATCH)
        .await
    {
        Ok(commands) => commands,
        Err(err) => {
            tracing::warn!(device_id = %device, error = %err, "could not claim commands");
            Vec::new()
        }
    }
}

/// Runs until `shutdown` resolves: every `interval`, expires what ran out of time (telling
/// the senders), wakes the connections here whose commands are due for another try, and
/// sweeps stream sessions (see `crate::streams::sweep_once`).
pub async fn sweep(state: AppState, interval: Duration, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticker.tick() => {
                sweep_once(&state).await;
                crate::streams::sweep_once(&state).await;
            }
        }
    }
}

async fn sweep_once(state: &AppState) {
    let at = now();
    match state.db().expire_commands(at, SWEEP_BATCH).await {
        Ok(expired) => {
            for command in &expired {
                announce_update(state, command);
            }
        }
        Err(err) => tracing::warn!(error = %err, "command expiry sweep failed"),
    }
    match state.db().devices_with_due_commands(at, SWEEP_BATCH).await {
        Ok(devices) => {
            for device in devices {
                // Only the node holding the device's connection can deliver; others skip it.
                state.hub().nudge(device);
            }
        }
        Err(err) => tracing::warn!(error = %err, "command retry sweep failed"),
    }
}
