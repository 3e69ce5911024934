//! [`crate::StreamStore`], on either backend.

use super::access;
use super::prelude::*;

pub const STREAM_COLUMNS: &str = "id, owner_user_id, camera_device_id, requester_device_id, status, \
     reason, media_provider, media_session_id, subscribe_endpoint, started_at, ended_at, end_reason, \
     created_at, updated_at";

/// Open sessions: waiting for the camera, or watching it.
pub const OPEN: &str = "status IN ('requested', 'starting', 'live')";
/// Sessions still waiting for the camera to publish.
pub const WAITING: &str = "status IN ('requested', 'starting')";

/// An `UPDATE` that closes the sessions matching `filter` as `status` (`ended` or `failed`):
/// `ended_at = $1`, `end_reason` = `reason` (a bind such as `$2`, or a quoted literal),
/// returning them.
pub fn close_sessions_sql(status: &str, reason: &str, filter: &str) -> String {
    format!(
        "UPDATE stream_sessions SET status = '{status}', ended_at = $1, updated_at = $1, \
         end_reason = {reason} WHERE {filter} RETURNING {STREAM_COLUMNS}"
    )
}

/// Sessions a viewer may see and end: a user those of their cameras and of their devices'
/// requests; a device those it requested or, for a camera, its own.
pub fn visible_to(user: &str, device: &str) -> String {
    format!(
        "(({device} IS NULL AND (owner_user_id = {user} OR requester_device_id IN \
            (SELECT id FROM devices WHERE user_id = {user}))) \
          OR requester_device_id = {device} OR camera_device_id = {device})"
    )
}

/// The camera (`$1`), when the requester (`$2`, a device of user `$3`) may watch it, or with
/// no requester (the recorder's sessions) when it is user `$3`'s: returns the camera's owner
/// and whether it is a camera.
pub static WATCHABLE_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT d.user_id, d.is_camera FROM devices d \
         WHERE d.id = $1 AND (($2 IS NULL AND d.user_id = $3) \
         OR (EXISTS (SELECT 1 FROM devices r WHERE r.id = $2 AND r.user_id = $3) \
         AND (d.user_id = $3 OR {})))",
        access::linked_to_device("d.id", "$2")
    )
});

/// An open session whose requester is gone, or is neither the camera's owner's device nor
/// linked to the camera. Sessions with no requester (the recorder's) are left alone unless
/// their camera is gone.
pub static UNWATCHABLE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "(camera_device_id IS NULL OR (requester_device_id IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM devices r WHERE r.id = requester_device_id AND r.user_id = owner_user_id) \
         AND NOT {}))",
        access::linked_to_device(
            "stream_sessions.camera_device_id",
            "stream_sessions.requester_device_id"
        )
    )
});

#[async_trait]
impl<B: Backend> crate::StreamStore for SqlDatabase<B> {
    async fn create_stream_session(
        &self,
        new: crate::NewStreamSession,
        now: DateTime<Utc>,
        audit: crate::NewAuditLog,
    ) -> crate::StorageResult<crate::StreamOutcome> {
        let mut tx = self.begin_write().await?;
        let camera: Option<(Uuid, bool)> = query(&WATCHABLE_SQL)
            .bind(new.camera_device_id)
            .bind(new.requester_device_id)
            .bind(new.user_id)
            .fetch_optional(&mut tx)
            .await?;
        let Some((owner, is_camera)) = camera else {
            return Ok(crate::StreamOutcome::NotFound);
        };
        if !is_camera {
            return Ok(crate::StreamOutcome::NotACamera);
        }
        // The camera's publish is shared: a new session joins it where it stands, on
        // the relay that carries it (whatever relay the caller picked).
        let open: Vec<(String, String, String, String, Option<Uuid>)> = query(
            "SELECT status, media_session_id, publish_endpoint, subscribe_endpoint, relay_node_id \
             FROM stream_sessions WHERE camera_device_id = $1 \
             AND status IN ('requested', 'starting', 'live')",
        )
        .bind(new.camera_device_id)
        .fetch_all(&mut tx)
        .await?;
        let status = if open.iter().any(|s| s.0 == "live") {
            "live"
        } else if open.iter().any(|s| s.0 == "starting") {
            "starting"
        } else {
            "requested"
        };
        let mut new = new;
        if let Some((_, media_session_id, publish, subscribe, relay)) = open.first() {
            new.media_session_id = media_session_id.clone();
            new.publish_endpoint = publish.clone();
            new.subscribe_endpoint = subscribe.clone();
            new.relay_node_id = *relay;
        }
        let id = crate::new_id();
        let sql = format!(
            "INSERT INTO stream_sessions (id, owner_user_id, camera_device_id, requester_device_id, \
             status, reason, media_provider, media_session_id, publish_endpoint, subscribe_endpoint, \
             stream_key, started_at, metadata, created_at, updated_at, relay_node_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15) \
             RETURNING {STREAM_COLUMNS}"
        );
        let session: crate::StreamSession = query(&sql)
            .bind(id)
            .bind(owner)
            .bind(new.camera_device_id)
            .bind(new.requester_device_id)
            .bind(status)
            .bind(new.reason.as_str())
            .bind(&new.media_provider)
            .bind(&new.media_session_id)
            .bind(&new.publish_endpoint)
            .bind(&new.subscribe_endpoint)
            .bind(id.simple().to_string())
            .bind((status == "live").then_some(now))
            .bind(sqlx::types::Json(serde_json::json!({})))
            .bind(now)
            .bind(new.relay_node_id)
            .fetch_one(&mut tx)
            .await?;
        write_audit(
            &mut tx,
            audit.or_target(owner, "stream_session", session.id),
        )
        .await?;
        tx.commit().await?;
        Ok(crate::StreamOutcome::Created {
            session: Box::new(session),
            start_camera: open.is_empty(),
        })
    }

    async fn get_stream_session(
        &self,
        viewer: crate::EventViewer,
        id: Uuid,
    ) -> crate::StorageResult<Option<crate::StreamSession>> {
        let sql = format!(
            "SELECT {STREAM_COLUMNS} FROM stream_sessions WHERE id = $1 AND {}",
            visible_to("$2", "$3")
        );
        Ok(query(&sql)
            .bind(id)
            .bind(viewer.user_id)
            .bind(viewer.device_id)
            .fetch_optional(self.pool())
            .await?)
    }

    async fn end_stream_session(
        &self,
        viewer: crate::EventViewer,
        id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
        audit: crate::NewAuditLog,
    ) -> crate::StorageResult<Option<crate::StreamSession>> {
        let mut tx = self.begin_write().await?;
        let sql = close_sessions_sql(
            "ended",
            "$2",
            &format!("id = $3 AND {OPEN} AND {}", visible_to("$4", "$5")),
        );
        let ended: Option<crate::StreamSession> = query(&sql)
            .bind(now)
            .bind(reason)
            .bind(id)
            .bind(viewer.user_id)
            .bind(viewer.device_id)
            .fetch_optional(&mut tx)
            .await?;
        if let Some(session) = &ended {
            write_audit(
                &mut tx,
                audit.or_target(session.owner_user_id, "stream_session", session.id),
            )
            .await?;
            tx.commit().await?;
            return Ok(ended);
        }
        drop(tx);
        self.get_stream_session(viewer, id).await
    }

    async fn camera_starting(
        &self,
        camera: Uuid,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<Vec<crate::StreamSession>> {
        let sql = format!(
            "UPDATE stream_sessions SET status = 'starting', updated_at = $1 \
             WHERE camera_device_id = $2 AND status = 'requested' RETURNING {STREAM_COLUMNS}"
        );
        Ok(query(&sql)
            .bind(now)
            .bind(camera)
            .fetch_all(self.pool())
            .await?)
    }

    async fn camera_failed_to_start(
        &self,
        camera: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<Vec<crate::StreamSession>> {
        let sql = close_sessions_sql(
            "failed",
            "$2",
            &format!("camera_device_id = $3 AND {WAITING}"),
        );
        Ok(query(&sql)
            .bind(now)
            .bind(reason)
            .bind(camera)
            .fetch_all(self.pool())
            .await?)
    }

    async fn camera_live(
        &self,
        camera: Uuid,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<Vec<crate::StreamSession>> {
        let sql = format!(
            "UPDATE stream_sessions SET status = 'live', started_at = COALESCE(started_at, $1), \
             updated_at = $1 WHERE camera_device_id = $2 AND status IN ('requested', 'starting') \
             RETURNING {STREAM_COLUMNS}"
        );
        Ok(query(&sql)
            .bind(now)
            .bind(camera)
            .fetch_all(self.pool())
            .await?)
    }

    async fn end_camera_sessions(
        &self,
        camera: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<Vec<crate::StreamSession>> {
        let sql = close_sessions_sql("ended", "$2", &format!("camera_device_id = $3 AND {OPEN}"));
        Ok(query(&sql)
            .bind(now)
            .bind(reason)
            .bind(camera)
            .fetch_all(self.pool())
            .await?)
    }

    async fn close_stream_session(
        &self,
        id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<Option<crate::StreamSession>> {
        let sql = close_sessions_sql("ended", "$2", &format!("id = $3 AND {OPEN}"));
        Ok(query(&sql)
            .bind(now)
            .bind(reason)
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    async fn fail_unpublished_sessions(
        &self,
        created_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<Vec<crate::StreamSession>> {
        let sql = close_sessions_sql(
            "failed",
            "'publish_timeout'",
            &format!("{WAITING} AND created_at < $2"),
        );
        Ok(query(&sql)
            .bind(now)
            .bind(created_before)
            .fetch_all(self.pool())
            .await?)
    }

    async fn end_unwatchable_sessions(
        &self,
        reason: &str,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<Vec<crate::StreamSession>> {
        let sql = close_sessions_sql("ended", "$2", &format!("{OPEN} AND {}", *UNWATCHABLE));
        Ok(query(&sql)
            .bind(now)
            .bind(reason)
            .fetch_all(self.pool())
            .await?)
    }

    async fn release_idle_cameras(
        &self,
        ended_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<Vec<crate::IdleCamera>> {
        let mut tx = self.begin_write().await?;
        // Newest first, so the first row per camera names its latest session.
        let closed: Vec<crate::IdleCamera> = query(
            "SELECT camera_device_id, owner_user_id, id AS stream_session_id FROM stream_sessions \
             WHERE camera_released_at IS NULL AND status IN ('ended', 'failed') \
             AND ended_at <= $1 AND camera_device_id IS NOT NULL ORDER BY id DESC",
        )
        .bind(ended_before)
        .fetch_all(&mut tx)
        .await?;
        let mut idle: Vec<crate::IdleCamera> = Vec::new();
        for candidate in closed {
            if idle
                .iter()
                .any(|c| c.camera_device_id == candidate.camera_device_id)
            {
                continue;
            }
            let still_needed: Option<i32> = query_scalar(
                "SELECT 1 FROM stream_sessions WHERE camera_device_id = $1 \
                 AND status IN ('requested', 'starting', 'live') LIMIT 1",
            )
            .bind(candidate.camera_device_id)
            .fetch_optional(&mut tx)
            .await?;
            let released = query(
                "UPDATE stream_sessions SET camera_released_at = $1 WHERE camera_device_id = $2 \
                 AND camera_released_at IS NULL AND status IN ('ended', 'failed') AND ended_at <= $3",
            )
            .bind(now)
            .bind(candidate.camera_device_id)
            .bind(ended_before)
            .execute(&mut tx)
            .await?;
            // Another node's sweep may have released them first: it tells the camera.
            if still_needed.is_none() && released > 0 {
                idle.push(candidate);
            }
        }
        tx.commit().await?;
        Ok(idle)
    }
}
