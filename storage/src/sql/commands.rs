//! [`crate::CommandStore`]: durable commands to devices. Writes that read first take the
//! backend's write transaction (`BEGIN IMMEDIATE` on SQLite, so a read-then-write
//! transaction never fails its upgrade under concurrency).

use super::access;
use super::prelude::*;

/// The columns a [`crate::Command`] decodes from.
pub const COMMAND_COLUMNS: &str =
    "id, owner_user_id, source_device_id, target_device_id, command_type, \
     payload, status, retry_count, last_dispatched_at, acknowledged_at, error, result, expires_at, \
     created_at, updated_at, source_user_id";

/// Commands a viewer may see; `$u` is the viewing user, `$d` the viewing device (one is NULL).
pub fn visible_to(user: &str, device: &str) -> String {
    format!(
        "(({user} IS NOT NULL AND (owner_user_id = {user} OR source_user_id = {user})) \
         OR ({device} IS NOT NULL AND (target_device_id = {device} OR source_device_id = {device})))"
    )
}

/// Commands a viewer may cancel: a user what they own or sent, a device only what it sent.
pub fn may_cancel(user: &str, device: &str) -> String {
    format!(
        "(({user} IS NOT NULL AND (owner_user_id = {user} OR source_user_id = {user})) \
         OR ({device} IS NOT NULL AND source_device_id = {device}))"
    )
}

/// Whether `sender_user` (with `sender_device`, which may be NULL) may command device `d`
/// whose id is `target`: its owner may, or a device of the sender with an active link to it.
pub fn may_command(target: &str, sender_device: &str, sender_user: &str) -> String {
    format!(
        "d.id = {target} \
         AND ({sender_device} IS NULL OR EXISTS (SELECT 1 FROM devices s \
              WHERE s.id = {sender_device} AND s.user_id = {sender_user})) \
         AND (d.user_id = {sender_user} OR ({sender_device} IS NOT NULL AND {}))",
        access::linked_to_device("d.id", sender_device)
    )
}

/// [`may_command`] as a query: `$1` target, `$2` sender device, `$3` sender user; returns
/// the target's owner.
pub static COMMAND_TARGET_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT d.user_id FROM devices d WHERE {}",
        may_command("$1", "$2", "$3")
    )
});

/// Whether a user may see a device's commands at all: theirs, or linked to one of theirs.
pub static DEVICE_VISIBLE_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT 1 FROM devices d WHERE d.id = $1 AND {}",
        access::visible_device("d.id", "d.user_id", "$2")
    )
});

/// One data-only wake-up push per offline device with a push token, unless one is still on
/// its way (pending, being sent, or waiting to be retried).
/// Parameters: `$1` delivery id, `$2` device, `$3` payload, `$4` now, `$5` command.
pub const WAKE_UP_SQL: &str = "INSERT INTO notification_deliveries (id, owner_user_id, \
     recipient_device_id, type, payload, status, attempts, next_attempt_at, created_at, updated_at, \
     command_id) \
     SELECT $1, d.user_id, d.id, 'command_wakeup', $3, 'pending', 0, $4, $4, $4, $5 FROM devices d \
     WHERE d.id = $2 AND d.status = 'offline' AND d.push_token IS NOT NULL \
     AND NOT EXISTS (SELECT 1 FROM notification_deliveries n WHERE n.recipient_device_id = d.id \
                     AND n.type = 'command_wakeup' AND n.status IN ('pending', 'sending', 'failed'))";

/// Implements [`crate::CommandStore`] for a backend type with a `pool` field, given its
/// connection type. See the module documentation for what the expanding crate provides.
#[async_trait]
impl<B: Backend> crate::CommandStore for SqlDatabase<B> {
    async fn create_command(
        &self,
        command: crate::NewCommand,
        now: DateTime<Utc>,
        audit: crate::NewAuditLog,
    ) -> crate::StorageResult<crate::CommandOutcome> {
        let mut tx = self.begin_write().await?;
        // One statement checks the sender's right and inserts; only when it inserts
        // nothing is it worth asking why (no right, or a replayed idempotency key).
        let insert = format!(
            "INSERT INTO commands (id, owner_user_id, source_device_id, target_device_id, \
             command_type, payload, status, retry_count, created_at, updated_at, expires_at, \
             next_attempt_at, source_user_id, idempotency_key) \
             SELECT $1, d.user_id, $2, d.id, $4, $5, 'queued', 0, $6, $6, $7, $6, $3, $8 \
             FROM devices d WHERE {} \
             ON CONFLICT (source_user_id, target_device_id, idempotency_key) \
             WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING {COMMAND_COLUMNS}",
            may_command("$9", "$2", "$3")
        );
        let created: Option<crate::Command> = query(&insert)
            .bind(crate::new_id())
            .bind(command.sender_device_id)
            .bind(command.sender_user_id)
            .bind(&command.command_type)
            .bind(sqlx::types::Json(&command.payload))
            .bind(now)
            .bind(command.expires_at)
            .bind(&command.idempotency_key)
            .bind(command.target_device_id)
            .fetch_optional(&mut tx)
            .await?;
        let Some(created) = created else {
            let allowed: Option<Uuid> = query_scalar(COMMAND_TARGET_SQL.as_str())
                .bind(command.target_device_id)
                .bind(command.sender_device_id)
                .bind(command.sender_user_id)
                .fetch_optional(&mut tx)
                .await?;
            let (Some(_), Some(key)) = (allowed, &command.idempotency_key) else {
                return Ok(crate::CommandOutcome::NotFound);
            };
            // The key was used before (perhaps by a concurrent request that committed
            // first): the first command stands.
            let existing: crate::Command = query(&format!(
                "SELECT {COMMAND_COLUMNS} FROM commands WHERE source_user_id = $1 \
                 AND target_device_id = $2 AND idempotency_key = $3"
            ))
            .bind(command.sender_user_id)
            .bind(command.target_device_id)
            .bind(key)
            .fetch_one(&mut tx)
            .await?;
            return Ok(crate::CommandOutcome::Replayed(existing));
        };
        let owner = created.owner_user_id;
        let wake_up = serde_json::json!({
            "kind": "command",
            "command_id": created.id,
            "command_type": created.command_type,
        });
        // A target connected to the caller's node is online: no wake-up, no query.
        let woken = if command.target_connected {
            false
        } else {
            query(WAKE_UP_SQL)
                .bind(crate::new_id())
                .bind(created.target_device_id)
                .bind(sqlx::types::Json(&wake_up))
                .bind(now)
                .bind(created.id)
                .execute(&mut tx)
                .await?
                > 0
        };
        write_audit(&mut tx, audit.or_target(owner, "command", created.id)).await?;
        tx.commit().await?;
        if woken {
            self.deliveries.notify_one();
        }
        Ok(crate::CommandOutcome::Created {
            command: created,
            wake_up_queued: woken,
        })
    }

    async fn get_command(
        &self,
        viewer: crate::CommandViewer,
        id: Uuid,
    ) -> crate::StorageResult<Option<crate::Command>> {
        let (user, device) = viewer.split();
        let sql = format!(
            "SELECT {COMMAND_COLUMNS} FROM commands WHERE id = $1 AND {}",
            visible_to("$2", "$3")
        );
        Ok(query(&sql)
            .bind(id)
            .bind(user)
            .bind(device)
            .fetch_optional(self.pool())
            .await?)
    }

    async fn list_device_commands(
        &self,
        viewer: crate::CommandViewer,
        device: Uuid,
        status: Option<crate::CommandStatus>,
        page: crate::PageRequest,
    ) -> crate::StorageResult<Option<crate::Page<crate::Command>>> {
        let visible: Option<i32> = query_scalar(&DEVICE_VISIBLE_SQL)
            .bind(device)
            .bind(viewer.user_id())
            .fetch_optional(self.pool())
            .await?;
        if visible.is_none() {
            return Ok(None);
        }
        let (user, viewing_device) = viewer.split();
        let page_sql = keyset("id", 5);
        let sql = format!(
            "SELECT {COMMAND_COLUMNS} FROM commands WHERE target_device_id = $1 AND {} \
             AND ($4 IS NULL OR status = $4) AND {page_sql}",
            visible_to("$2", "$3")
        );
        let rows: crate::Page<crate::Command> = query(&sql)
            .bind(device)
            .bind(user)
            .bind(viewing_device)
            .bind(status.map(|s| s.as_str()))
            .fetch_page(page, self.pool(), |c: &crate::Command| c.id)
            .await?;
        Ok(Some(rows))
    }

    async fn claim_commands(
        &self,
        device: Uuid,
        now: DateTime<Utc>,
        schedule: crate::RetrySchedule,
        everything_pending: bool,
        limit: u32,
    ) -> crate::StorageResult<Vec<crate::Command>> {
        // Committed without waiting for the disk where the backend can (a lost claim
        // only means the command is sent again). The retry count after this dispatch
        // decides when the next one is due; the
        // candidate conditions are repeated outside the subquery so that PostgreSQL
        // re-checks them on a row another node claimed meanwhile.
        let sql = format!(
            "UPDATE commands SET \
               retry_count = CASE WHEN status = 'dispatched' THEN retry_count + 1 ELSE retry_count END, \
               next_attempt_at = CASE (CASE WHEN status = 'dispatched' THEN retry_count + 1 ELSE retry_count END) \
                 WHEN 0 THEN $3 WHEN 1 THEN $4 WHEN 2 THEN $5 WHEN 3 THEN $6 WHEN 4 THEN $7 ELSE $8 END, \
               status = 'dispatched', last_dispatched_at = $2, updated_at = $2 \
             WHERE id IN (SELECT id FROM commands WHERE target_device_id = $1 \
                 AND status IN ('queued', 'dispatched') AND expires_at > $2 \
                 AND ($9 OR next_attempt_at <= $2) ORDER BY created_at, id LIMIT $10) \
               AND status IN ('queued', 'dispatched') AND ($9 OR next_attempt_at <= $2) \
             RETURNING {COMMAND_COLUMNS}"
        );
        let due = schedule.due_times(now);
        let mut q = query(&sql).bind(device).bind(now);
        for at in due {
            q = q.bind(at);
        }
        let mut claimed: Vec<crate::Command> = q
            .bind(everything_pending)
            .bind(i64::from(limit))
            .fetch_all(self.relaxed_pool())
            .await?;
        claimed.sort_by_key(|c| (c.created_at, c.id));
        Ok(claimed)
    }

    async fn acknowledge_command(
        &self,
        device: Uuid,
        id: Uuid,
        ack: crate::CommandAck,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<crate::AckOutcome> {
        let sql = format!(
            "UPDATE commands SET status = $1, error = $2, result = $3, acknowledged_at = $4, \
             updated_at = $4, next_attempt_at = NULL \
             WHERE id = $5 AND target_device_id = $6 AND status IN ('queued', 'dispatched') \
             RETURNING {COMMAND_COLUMNS}"
        );
        let recorded: Option<crate::Command> = query(&sql)
            .bind(ack.status.as_str())
            .bind(&ack.error)
            .bind(ack.result.as_ref().map(sqlx::types::Json))
            .bind(now)
            .bind(id)
            .bind(device)
            .fetch_optional(self.pool())
            .await?;
        if let Some(command) = recorded {
            return Ok(crate::AckOutcome::Recorded(command));
        }
        let sql = format!(
            "SELECT {COMMAND_COLUMNS} FROM commands WHERE id = $1 AND target_device_id = $2"
        );
        let found: Option<crate::Command> = query(&sql)
            .bind(id)
            .bind(device)
            .fetch_optional(self.pool())
            .await?;
        Ok(found.map_or(
            crate::AckOutcome::NotFound,
            crate::AckOutcome::AlreadyFinished,
        ))
    }

    async fn cancel_command(
        &self,
        viewer: crate::CommandViewer,
        id: Uuid,
        now: DateTime<Utc>,
        audit: crate::NewAuditLog,
    ) -> crate::StorageResult<crate::CancelOutcome> {
        let (user, device) = viewer.split();
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "UPDATE commands SET status = 'cancelled', updated_at = $1, next_attempt_at = NULL \
             WHERE id = $2 AND status IN ('queued', 'dispatched') AND {} \
             RETURNING {COMMAND_COLUMNS}",
            may_cancel("$3", "$4")
        );
        let cancelled: Option<crate::Command> = query(&sql)
            .bind(now)
            .bind(id)
            .bind(user)
            .bind(device)
            .fetch_optional(&mut tx)
            .await?;
        if let Some(command) = cancelled {
            write_audit(
                &mut tx,
                audit.or_target(command.owner_user_id, "command", command.id),
            )
            .await?;
            tx.commit().await?;
            return Ok(crate::CancelOutcome::Cancelled(command));
        }
        let sql = format!(
            "SELECT {COMMAND_COLUMNS} FROM commands WHERE id = $1 AND {}",
            may_cancel("$2", "$3")
        );
        let found: Option<crate::Command> = query(&sql)
            .bind(id)
            .bind(user)
            .bind(device)
            .fetch_optional(&mut tx)
            .await?;
        Ok(found.map_or(
            crate::CancelOutcome::NotFound,
            crate::CancelOutcome::AlreadyFinished,
        ))
    }

    async fn expire_commands(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> crate::StorageResult<Vec<crate::Command>> {
        let sql = format!(
            "UPDATE commands SET status = 'expired', updated_at = $1, next_attempt_at = NULL \
             WHERE id IN (SELECT id FROM commands WHERE status IN ('queued', 'dispatched') \
                          AND expires_at <= $1 ORDER BY expires_at LIMIT $2) \
               AND status IN ('queued', 'dispatched') RETURNING {COMMAND_COLUMNS}"
        );
        Ok(query(&sql)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?)
    }

    async fn devices_with_due_commands(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> crate::StorageResult<Vec<Uuid>> {
        Ok(query_scalar(
            "SELECT DISTINCT c.target_device_id FROM commands c \
             JOIN devices d ON d.id = c.target_device_id \
             WHERE c.status IN ('queued', 'dispatched') AND c.next_attempt_at <= $1 \
               AND c.expires_at > $1 AND d.status = 'online' LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?)
    }
}

/// Cancels what a client device sent to a camera whose owner is someone else, when
/// the link that allowed it is revoked: revoking stops its commands.
pub(crate) async fn cancel_link_commands<DB: Dialect>(
    tx: &mut WriteTx<DB>,
    camera: Uuid,
    client: Uuid,
    now: DateTime<Utc>,
) -> crate::StorageResult<u64> {
    let done = query(
        "UPDATE commands SET status = 'cancelled', error = 'link revoked', updated_at = $1, \
         next_attempt_at = NULL WHERE target_device_id = $2 AND source_device_id = $3 \
         AND status IN ('queued', 'dispatched') \
         AND owner_user_id <> (SELECT user_id FROM devices WHERE id = $3)",
    )
    .bind(now)
    .bind(camera)
    .bind(client)
    .execute(tx)
    .await?;
    Ok(done)
}
