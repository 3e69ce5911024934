//! [`crate::RecordingStore`], on either backend.

use super::access;
use super::prelude::*;

pub const RECORDING_COLUMNS: &str = "id, owner_user_id, stream_session_id, camera_device_id, \
     requester_device_id, event_id, object_key, bucket, duration_seconds, size_bytes, content_type, \
     status, available_at, error, created_at, updated_at, source, upload_id, upload_parts";

/// Clips a viewer may see: the owner's (for the owner or any of the owner's devices), and
/// those of a camera linked to the viewer — to any device of the viewing user, or with a
/// device token to that device — made since the link was. Never a deleted one.
pub fn visible_to(user: &str, device: &str) -> String {
    format!(
        "status <> 'deleted' AND (owner_user_id = {user} OR {})",
        access::linked_to_viewer(
            "recordings.camera_device_id",
            user,
            device,
            "recordings.created_at"
        )
    )
}

#[async_trait]
impl<B: Backend> crate::RecordingStore for SqlDatabase<B> {
    async fn create_recording(
        &self,
        new: crate::NewRecording,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<crate::Recording> {
        let sql = format!(
            "INSERT INTO recordings (id, owner_user_id, stream_session_id, camera_device_id, \
             requester_device_id, event_id, object_key, bucket, content_type, source, status, \
             created_at, updated_at, size_bytes, duration_seconds) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14) \
             RETURNING {RECORDING_COLUMNS}"
        );
        // The recorder writes its clips; a device uploads one it wrote.
        let status = match new.source {
            crate::RecordingSource::Recorder => "recording",
            crate::RecordingSource::Device => "uploading",
        };
        Ok(query(&sql)
            .bind(new.id)
            .bind(new.owner_user_id)
            .bind(new.stream_session_id)
            .bind(new.camera_device_id)
            .bind(new.requester_device_id)
            .bind(new.event_id)
            .bind(&new.object_key)
            .bind(&new.bucket)
            .bind(&new.content_type)
            .bind(new.source.as_str())
            .bind(status)
            .bind(now)
            .bind(new.size_bytes)
            .bind(new.duration_seconds)
            .fetch_one(self.pool())
            .await?)
    }

    async fn recording_progress(
        &self,
        id: Uuid,
        size_bytes: i64,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<bool> {
        let done = query(
            "UPDATE recordings SET size_bytes = $1, updated_at = $2 \
             WHERE id = $3 AND status = 'recording'",
        )
        .bind(size_bytes)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done == 1)
    }

    async fn recording_upload(
        &self,
        id: Uuid,
        upload_id: &str,
        parts: &str,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<bool> {
        let done = query(
            "UPDATE recordings SET upload_id = $1, upload_parts = $2, updated_at = $3 \
             WHERE id = $4 AND status IN ('recording', 'uploading')",
        )
        .bind(upload_id)
        .bind(parts)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done == 1)
    }

    async fn recording_uploading(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<bool> {
        let done = query(
            "UPDATE recordings SET status = 'uploading', updated_at = $1 \
             WHERE id = $2 AND status = 'recording'",
        )
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done == 1)
    }

    async fn finish_recording(
        &self,
        id: Uuid,
        result: crate::RecordingResult,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<Option<crate::Recording>> {
        let mut tx = self.begin_write().await?;
        let finished: Option<crate::Recording> = match &result {
            crate::RecordingResult::Available {
                duration_seconds,
                size_bytes,
            } => {
                let sql = format!(
                    "UPDATE recordings SET status = 'available', duration_seconds = $1, \
                     size_bytes = $2, available_at = $3, error = NULL, updated_at = $3 \
                     WHERE id = $4 AND status IN ('recording', 'uploading') \
                     RETURNING {RECORDING_COLUMNS}"
                );
                query(&sql)
                    .bind(duration_seconds)
                    .bind(size_bytes)
                    .bind(now)
                    .bind(id)
                    .fetch_optional(&mut tx)
                    .await?
            }
            crate::RecordingResult::Failed { error } => {
                let sql = format!(
                    "UPDATE recordings SET status = 'failed', error = $1, updated_at = $2 \
                     WHERE id = $3 AND status IN ('recording', 'uploading') \
                     RETURNING {RECORDING_COLUMNS}"
                );
                query(&sql)
                    .bind(error)
                    .bind(now)
                    .bind(id)
                    .fetch_optional(&mut tx)
                    .await?
            }
        };
        if let Some(recording) = &finished {
            if let (Some(event), crate::RecordingStatus::Available) =
                (recording.event_id, recording.status)
            {
                // The event's first clip to become available is the one it shows.
                query(
                    "UPDATE events SET video_url = $1, updated_at = $2 \
                     WHERE id = $3 AND video_url IS NULL",
                )
                .bind(crate::Recording::media_path(recording.id))
                .bind(now)
                .bind(event)
                .execute(&mut tx)
                .await?;
            }
        }
        let mut queued = 0;
        if let Some(recording) = finished
            .as_ref()
            .filter(|r| r.status == crate::RecordingStatus::Available)
        {
            queued = super::deliveries::enqueue_webhooks(
                &mut tx,
                recording.owner_user_id,
                crate::WebhookEventType::RecordingAvailable,
                recording,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        if queued > 0 {
            self.deliveries.notify_one();
        }
        Ok(finished)
    }

    async fn get_recording(
        &self,
        viewer: crate::EventViewer,
        id: Uuid,
    ) -> crate::StorageResult<Option<crate::Recording>> {
        let sql = format!(
            "SELECT {RECORDING_COLUMNS} FROM recordings WHERE id = $1 AND {}",
            visible_to("$2", "$3")
        );
        Ok(query(&sql)
            .bind(id)
            .bind(viewer.user_id)
            .bind(viewer.device_id)
            .fetch_optional(self.pool())
            .await?)
    }

    async fn list_recordings(
        &self,
        viewer: crate::EventViewer,
        filter: crate::RecordingFilter,
        page: crate::PageRequest,
    ) -> crate::StorageResult<crate::Page<crate::Recording>> {
        let page_sql = keyset("id", 7);
        let sql = format!(
            "SELECT {RECORDING_COLUMNS} FROM recordings WHERE {} \
             AND ($3 IS NULL OR camera_device_id = $3) AND ($4 IS NULL OR event_id = $4) \
             AND ($5 IS NULL OR created_at >= $5) AND ($6 IS NULL OR created_at < $6) \
             AND {page_sql}",
            visible_to("$1", "$2")
        );
        let rows: crate::Page<crate::Recording> = query(&sql)
            .bind(viewer.user_id)
            .bind(viewer.device_id)
            .bind(filter.camera_device_id)
            .bind(filter.event_id)
            .bind(filter.since)
            .bind(filter.until)
            .fetch_page(page, self.pool(), |r: &crate::Recording| r.id)
            .await?;
        Ok(rows)
    }

    async fn delete_recording(
        &self,
        owner: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
        audit: crate::NewAuditLog,
    ) -> crate::StorageResult<Option<crate::Recording>> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT {RECORDING_COLUMNS} FROM recordings \
             WHERE id = $1 AND owner_user_id = $2 AND status <> 'deleted'"
        );
        let found: Option<crate::Recording> = query(&sql)
            .bind(id)
            .bind(owner)
            .fetch_optional(&mut tx)
            .await?;
        let Some(found) = found else {
            return Ok(None);
        };
        query("UPDATE recordings SET status = 'deleted', updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut tx)
            .await?;
        // An event no longer shows a deleted clip.
        query("UPDATE events SET video_url = NULL, updated_at = $1 WHERE video_url = $2")
            .bind(now)
            .bind(crate::Recording::media_path(id))
            .execute(&mut tx)
            .await?;
        write_audit(&mut tx, audit.or_target(owner, "recording", id)).await?;
        tx.commit().await?;
        Ok(Some(found))
    }

    async fn recordings_past_retention(
        &self,
        created_before: DateTime<Utc>,
        max_bytes_per_owner: Option<i64>,
        limit: u32,
    ) -> crate::StorageResult<Vec<crate::Recording>> {
        // Per owner, newest first, the bytes of the clips kept so far: a clip whose
        // running total passes the quota goes (and so do all older ones).
        let sql = format!(
            "SELECT {RECORDING_COLUMNS} FROM recordings WHERE id IN ( \
               SELECT id FROM recordings \
               WHERE status IN ('available', 'failed') AND created_at < $1 \
               UNION \
               SELECT id FROM ( \
                 SELECT id, SUM(COALESCE(size_bytes, 0)) OVER ( \
                   PARTITION BY owner_user_id ORDER BY created_at DESC, id DESC) AS kept \
                 FROM recordings WHERE status = 'available' \
               ) AS running WHERE $2 IS NOT NULL AND kept > $2) \
             ORDER BY created_at, id LIMIT $3"
        );
        Ok(query(&sql)
            .bind(created_before)
            .bind(max_bytes_per_owner)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?)
    }

    async fn abandoned_recordings(
        &self,
        stale_before: DateTime<Utc>,
        source: crate::RecordingSource,
        limit: u32,
    ) -> crate::StorageResult<Vec<crate::Recording>> {
        let sql = format!(
            "SELECT {RECORDING_COLUMNS} FROM recordings \
             WHERE status IN ('recording', 'uploading') AND updated_at < $1 AND source = $2 \
             ORDER BY updated_at, id LIMIT $3"
        );
        Ok(query(&sql)
            .bind(stale_before)
            .bind(source.as_str())
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?)
    }
}
