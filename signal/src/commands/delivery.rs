//! Getting commands to devices: what a connection claims when its device connects or is
//! told that commands are waiting, and the sweep (run by `crate::jobs` on every node) that
//! retries unacknowledged dispatches and expires what ran out of time.
//!
//! Delivery is at least once: a command is `dispatched` when it is handed to the socket and
//! is sent again with backoff until the device acknowledges it, so a device may see a
//! command twice and must treat its id as the key.

use securecam_storage::{now, Command};
use uuid::Uuid;

use crate::state::Core;

/// Most commands handed to one connection per claim; a device that reconnects to a long
/// backlog gets it in batches of this size, oldest first.
pub const CLAIM_BATCH: u32 = 100;
/// Most rows one sweep expires or nudges; the next sweep takes the rest.
const SWEEP_BATCH: u32 = 1000;

/// Claims the device's commands to send now: after a (re)connect everything pending (a
/// dispatch to the previous connection may never have arrived), otherwise what is due.
pub async fn claim(core: &Core, device: Uuid, after_connect: bool) -> Vec<Command> {
    let schedule = core.config().command_retry_schedule();
    match core
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

/// One round of the command sweeper: expires what ran out of time (telling the senders) and
/// wakes the connections here whose commands are due for another try.
pub async fn sweep_once(core: &Core) {
    let at = now();
    match core.db().expire_commands(at, SWEEP_BATCH).await {
        Ok(expired) => {
            for command in &expired {
                core.outbox().command_updated(command);
            }
        }
        Err(err) => tracing::warn!(error = %err, "command expiry sweep failed"),
    }
    match core.db().devices_with_due_commands(at, SWEEP_BATCH).await {
        Ok(devices) => {
            for device in devices {
                core.outbox().retry_here(device);
            }
        }
        Err(err) => tracing::warn!(error = %err, "command retry sweep failed"),
    }
}
