//! [`crate::EventStore`], on either backend.

use super::access;
use super::prelude::*;

pub const EVENT_COLUMNS: &str = "id, user_id, device_id, title, triggered_by, status, started_at, \
     ended_at, notified_at, video_url, acknowledged_at, created_at, updated_at";

/// Events a viewer may see: the camera owner's (for the owner or any of the owner's devices),
/// and those of a camera linked to the viewer — to any device of the viewing user, or with a
/// device token to that device — that happened since the link was made.
pub fn visible_to(user: &str, device: &str) -> String {
    format!(
        "(user_id = {user} OR {})",
        access::linked_to_viewer("events.device_id", user, device, "events.created_at")
    )
}

/// Users to notify of an event of camera `$1` owned by `$2`: the owner and every user with a
/// device actively linked to the camera.
pub static RECIPIENT_USERS_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("SELECT $2 AS user_id UNION {}", access::linked_users("$1"))
});

/// Devices to push an event of camera `$1` owned by `$2` to: the owner's viewers and the
/// devices linked to the camera, when they have a push token. Cameras get no alerts (their
/// pushes are wake-ups for commands).
pub static PUSH_DEVICES_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT d.id, d.user_id FROM devices d WHERE d.push_token IS NOT NULL AND d.id <> $1 \
         AND NOT d.is_camera AND (d.user_id = $2 OR d.id IN ({}))",
        access::linked_clients("$1")
    )
});

/// When user `$1` was last alerted (a push queued) about camera `$2`, looking no further
/// back than notification id `$3` (the cooldown's start as a UUIDv7 floor, so the
/// `(user_id, id)` index bounds the scan).
pub const LAST_ALERT_SQL: &str = "SELECT max(n.created_at) FROM notifications n \
     JOIN events e ON e.id = n.event_id \
     WHERE n.user_id = $1 AND e.device_id = $2 AND n.id >= $3 \
       AND n.status IN ('pending', 'sent', 'failed')";

#[async_trait]
impl<B: Backend> crate::EventStore for SqlDatabase<B> {
    async fn create_event(
        &self,
        event: crate::NewEvent,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<crate::Event> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "INSERT INTO events (id, user_id, device_id, title, triggered_by, status, started_at, \
             notified_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $7, $7) \
             RETURNING {EVENT_COLUMNS}"
        );
        let created: crate::Event = query(&sql)
            .bind(crate::new_id())
            .bind(event.owner_user_id)
            .bind(event.camera_device_id)
            .bind(&event.title)
            .bind(event.triggered_by.as_str())
            .bind(event.started_at)
            .bind(now)
            .fetch_one(&mut tx)
            .await?;
        let camera_name: Option<String> = query_scalar("SELECT name FROM devices WHERE id = $1")
            .bind(event.camera_device_id)
            .fetch_optional(&mut tx)
            .await?;
        let users: Vec<Uuid> = query_scalar(&RECIPIENT_USERS_SQL)
            .bind(event.camera_device_id)
            .bind(event.owner_user_id)
            .fetch_all(&mut tx)
            .await?;
        let devices: Vec<(Uuid, Uuid)> = query(&PUSH_DEVICES_SQL)
            .bind(event.camera_device_id)
            .bind(event.owner_user_id)
            .fetch_all(&mut tx)
            .await?;
        let payload = serde_json::json!({
            "kind": "event",
            "event_id": created.id,
            "camera_device_id": event.camera_device_id,
            "camera_name": camera_name,
            "title": created.title,
            "triggered_by": created.triggered_by,
            "started_at": created.started_at,
        });
        let mut queued = 0u64;
        for user in users {
            let preferences: crate::NotificationPreferences =
                query(super::notifications::PREFERENCES_SQL)
                    .bind(user)
                    .fetch_optional::<crate::PreferencesRow>(&mut tx)
                    .await?
                    .map(Into::into)
                    .unwrap_or_default();
            let last_alert: Option<DateTime<Utc>> = if preferences.cooldown_seconds > 0 {
                let since =
                    now - chrono::Duration::seconds(i64::from(preferences.cooldown_seconds));
                query_scalar(LAST_ALERT_SQL)
                    .bind(user)
                    .bind(event.camera_device_id)
                    .bind(crate::id_floor(since))
                    .fetch_one(&mut tx)
                    .await?
            } else {
                None
            };
            let suppressed = preferences.suppression(event.camera_device_id, now, last_alert);
            let targets: Vec<Uuid> = devices
                .iter()
                .filter(|(_, owner)| *owner == user)
                .map(|(device, _)| *device)
                .collect();
            let status = match (suppressed, targets.is_empty()) {
                (Some(_), _) => crate::NotificationStatus::Suppressed,
                (None, true) => crate::NotificationStatus::InApp,
                (None, false) => crate::NotificationStatus::Pending,
            };
            let notification = crate::new_id();
            query(
                "INSERT INTO notifications (id, event_id, user_id, channel, status, is_read, \
                 created_at, suppressed_reason) VALUES ($1, $2, $3, 'push', $4, $5, $6, $7)",
            )
            .bind(notification)
            .bind(created.id)
            .bind(user)
            .bind(status.as_str())
            .bind(false)
            .bind(now)
            .bind(suppressed.map(|reason| reason.as_str()))
            .execute(&mut tx)
            .await?;
            if suppressed.is_some() {
                continue;
            }
            for device in targets {
                query(
                    "INSERT INTO notification_deliveries (id, owner_user_id, recipient_device_id, type, \
                     payload, status, attempts, next_attempt_at, created_at, updated_at, notification_id) \
                     VALUES ($1, $2, $3, 'event', $4, 'pending', 0, $5, $5, $5, $6)",
                )
                .bind(crate::new_id())
                .bind(user)
                .bind(device)
                .bind(sqlx::types::Json(&payload))
                .bind(now)
                .bind(notification)
                .execute(&mut tx)
                .await?;
                queued += 1;
            }
        }
        queued += super::deliveries::enqueue_webhooks(
            &mut tx,
            event.owner_user_id,
            crate::WebhookEventType::EventCreated,
            &created,
            now,
        )
        .await?;
        tx.commit().await?;
        if queued > 0 {
            self.deliveries.notify_one();
        }
        Ok(created)
    }

    async fn end_event(
        &self,
        camera: Uuid,
        id: Uuid,
        ended_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<crate::EndOutcome> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = $1 AND device_id = $2");
        let found: Option<crate::Event> = query(&sql)
            .bind(id)
            .bind(camera)
            .fetch_optional(self.pool())
            .await?;
        let Some(found) = found else {
            return Ok(crate::EndOutcome::NotFound);
        };
        if found.ended_at.is_some() {
            return Ok(crate::EndOutcome::AlreadyEnded(found));
        }
        if ended_at < found.started_at {
            return Ok(crate::EndOutcome::EndsBeforeStart(found));
        }
        // An acknowledged event stays acknowledged; an active one ends.
        let sql = format!(
            "UPDATE events SET ended_at = $1, updated_at = $2, \
             status = CASE WHEN status = 'active' THEN 'ended' ELSE status END \
             WHERE id = $3 AND ended_at IS NULL RETURNING {EVENT_COLUMNS}"
        );
        let mut tx = self.begin_write().await?;
        let ended: Option<crate::Event> = query(&sql)
            .bind(ended_at)
            .bind(now)
            .bind(id)
            .fetch_optional(&mut tx)
            .await?;
        let mut queued = 0;
        if let Some(event) = &ended {
            queued = super::deliveries::enqueue_webhooks(
                &mut tx,
                event.user_id,
                crate::WebhookEventType::EventEnded,
                event,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        if queued > 0 {
            self.deliveries.notify_one();
        }
        Ok(match ended {
            Some(event) => crate::EndOutcome::Ended(event),
            None => crate::EndOutcome::AlreadyEnded(found),
        })
    }

    async fn acknowledge_event(
        &self,
        viewer: crate::EventViewer,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<Option<crate::Event>> {
        let sql = format!(
            "UPDATE events SET status = 'acknowledged', acknowledged_at = $1, updated_at = $1 \
             WHERE id = $2 AND status <> 'acknowledged' AND {} RETURNING {EVENT_COLUMNS}",
            visible_to("$3", "$4")
        );
        let acknowledged: Option<crate::Event> = query(&sql)
            .bind(now)
            .bind(id)
            .bind(viewer.user_id)
            .bind(viewer.device_id)
            .fetch_optional(self.pool())
            .await?;
        match acknowledged {
            Some(event) => Ok(Some(event)),
            None => self.get_event(viewer, id).await,
        }
    }

    async fn get_event(
        &self,
        viewer: crate::EventViewer,
        id: Uuid,
    ) -> crate::StorageResult<Option<crate::Event>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE id = $1 AND {}",
            visible_to("$2", "$3")
        );
        Ok(query(&sql)
            .bind(id)
            .bind(viewer.user_id)
            .bind(viewer.device_id)
            .fetch_optional(self.pool())
            .await?)
    }

    async fn list_events(
        &self,
        viewer: crate::EventViewer,
        filter: crate::EventFilter,
        page: crate::PageRequest,
    ) -> crate::StorageResult<crate::Page<crate::Event>> {
        let page_sql = keyset("id", 7);
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE {} \
             AND ($3 IS NULL OR device_id = $3) AND ($4 IS NULL OR status = $4) \
             AND ($5 IS NULL OR started_at >= $5) AND ($6 IS NULL OR started_at < $6) \
             AND {page_sql}",
            visible_to("$1", "$2")
        );
        let rows: crate::Page<crate::Event> = query(&sql)
            .bind(viewer.user_id)
            .bind(viewer.device_id)
            .bind(filter.camera_device_id)
            .bind(filter.status.map(|s| s.as_str()))
            .bind(filter.since)
            .bind(filter.until)
            .fetch_page(page, self.pool(), |e: &crate::Event| e.id)
            .await?;
        Ok(rows)
    }

    async fn event_recordings(
        &self,
        event: Uuid,
        limit: u32,
    ) -> crate::StorageResult<Vec<crate::Recording>> {
        use super::recordings::RECORDING_COLUMNS;
        let sql = format!(
            "SELECT {RECORDING_COLUMNS} FROM recordings WHERE event_id = $1 AND status <> 'deleted' \
             ORDER BY id DESC LIMIT $2"
        );
        let mut newest: Vec<crate::Recording> = query(&sql)
            .bind(event)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
        newest.reverse();
        Ok(newest)
    }
}
