//! [`crate::DeliveryStore`] and [`crate::WebhookStore`]: the delivery queue and webhook
//! endpoints. Claims lock with `B::SKIP_LOCKED` (PostgreSQL's `FOR UPDATE SKIP LOCKED`;
//! nothing on SQLite, whose write transactions take turns anyway); every commit that queued
//! jobs notifies `deliveries`.

use super::prelude::*;

pub const DELIVERY_COLUMNS: &str = "id, recipient_device_id, webhook_endpoint_id, type, status, \
     attempts, last_error, sent_at, next_attempt_at, notification_id, command_id, created_at, updated_at";

pub const WEBHOOK_COLUMNS: &str = "id, owner_user_id, url, events, enabled, created_at, updated_at";

/// The due jobs, oldest due first, taken by `$1` until `$2` at `$3`, at most `$4`. The due
/// ids are materialised first so PostgreSQL evaluates the locking subquery exactly once.
pub fn claim_sql(skip_locked: &str) -> String {
    format!(
        "WITH due AS MATERIALIZED (SELECT id FROM notification_deliveries \
           WHERE status IN ('pending', 'failed') AND next_attempt_at <= $3 \
           ORDER BY next_attempt_at LIMIT $4 {skip_locked}) \
         UPDATE notification_deliveries SET status = 'sending', attempts = attempts + 1, \
           locked_by = $1, locked_until = $2, updated_at = $3 \
         WHERE id IN (SELECT id FROM due) RETURNING id"
    )
}

/// `$1`, `$2`, ... after `first - 1` other parameters, for an `IN (...)` list of `n` ids
/// padded as [`padded`] pads them.
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + list_len(n))
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How many ids an `IN (...)` list of `n` is written with: the next power of two. Each list
/// length is a statement of its own to prepare and to keep in a connection's statement cache;
/// a batch of every size from 1 to 512 made hundreds of them, evicting each other (a prepare
/// per batch) and holding memory on every connection.
pub fn list_len(n: usize) -> usize {
    n.max(1).next_power_of_two()
}

/// `ids`, then its last id again up to [`list_len`]; `IN` does not mind the repeats.
pub fn padded<T>(ids: &[T]) -> impl Iterator<Item = &T> {
    let pad = list_len(ids.len()) - ids.len();
    ids.iter().chain(ids.last().into_iter().cycle().take(pad))
}

/// A claimed job with its target's credentials, for ids bound from `$1`.
pub fn claimed_sql(n: usize) -> String {
    format!(
        "SELECT n.id, n.owner_user_id, n.type, n.payload, n.attempts, n.created_at, \
           n.notification_id, n.recipient_device_id, d.push_provider, d.push_token, \
           n.webhook_endpoint_id, w.url AS webhook_url, w.secret AS webhook_secret \
         FROM notification_deliveries n \
         LEFT JOIN devices d ON d.id = n.recipient_device_id \
         LEFT JOIN webhook_endpoints w ON w.id = n.webhook_endpoint_id \
         WHERE n.id IN ({}) ORDER BY n.id",
        placeholders(1, n)
    )
}

/// Jobs sent: `$1` now, `$2` worker, ids from `$3`.
pub fn sent_sql(n: usize) -> String {
    format!(
        "UPDATE notification_deliveries SET status = 'sent', sent_at = $1, updated_at = $1, \
           last_error = NULL, next_attempt_at = NULL, locked_by = NULL, locked_until = NULL \
         WHERE locked_by = $2 AND status = 'sending' AND id IN ({}) RETURNING notification_id",
        placeholders(3, n)
    )
}

/// Notifications whose first push went out: `$1` now, ids from `$2`.
pub fn notifications_sent_sql(n: usize) -> String {
    format!(
        "UPDATE notifications SET status = 'sent', sent_at = $1 \
         WHERE id IN ({}) AND status <> 'sent'",
        placeholders(2, n)
    )
}

/// `$1` error, `$2` next attempt, `$3` now, `$4` job, `$5` worker.
pub const RETRY_SQL: &str =
    "UPDATE notification_deliveries SET status = 'failed', last_error = $1, \
     next_attempt_at = $2, locked_by = NULL, locked_until = NULL, updated_at = $3 \
     WHERE id = $4 AND locked_by = $5 AND status = 'sending'";

/// `$1` error, `$2` now, `$3` job, `$4` worker.
pub const DEAD_SQL: &str = "UPDATE notification_deliveries SET status = 'dead', last_error = $1, \
     next_attempt_at = NULL, locked_by = NULL, locked_until = NULL, updated_at = $2 \
     WHERE id = $3 AND locked_by = $4 AND status = 'sending' \
     RETURNING owner_user_id, recipient_device_id, notification_id";

/// A notification whose every push gave up has failed: `$1` notification.
pub const NOTIFICATION_FAILED_SQL: &str = "UPDATE notifications SET status = 'failed' \
     WHERE id = $1 AND status = 'pending' AND NOT EXISTS (SELECT 1 FROM notification_deliveries \
       WHERE notification_id = $1 AND status <> 'dead')";

/// Forgets a push token the provider refused, unless the device registered another since:
/// `$1` now, `$2` device, `$3` the refused token.
pub const CLEAR_TOKEN_SQL: &str = "UPDATE devices SET push_token = NULL, push_provider = NULL, \
     updated_at = $1 WHERE id = $2 AND push_token = $3";

/// `$1` now, `$2` attempts after which a job is dead.
pub const RESCUE_SQL: &str = "UPDATE notification_deliveries SET \
       status = CASE WHEN attempts >= $2 THEN 'dead' ELSE 'failed' END, \
       next_attempt_at = CASE WHEN attempts >= $2 THEN NULL ELSE $1 END, \
       last_error = 'the worker sending it stopped before it finished (its lease expired)', \
       locked_by = NULL, locked_until = NULL, updated_at = $1 \
     WHERE status = 'sending' AND locked_until < $1";

/// The owner's enabled endpoints subscribed to an event type: `$1` owner, `$2` type.
pub const SUBSCRIBED_ENDPOINTS_SQL: &str =
    "SELECT s.webhook_endpoint_id FROM webhook_subscriptions s \
     JOIN webhook_endpoints w ON w.id = s.webhook_endpoint_id \
     WHERE s.owner_user_id = $1 AND s.event_type = $2 AND w.enabled";

/// `$1` id, `$2` owner, `$3` endpoint, `$4` body, `$5` now.
pub const WEBHOOK_DELIVERY_SQL: &str = "INSERT INTO notification_deliveries (id, owner_user_id, \
     webhook_endpoint_id, type, payload, status, attempts, next_attempt_at, created_at, updated_at) \
     VALUES ($1, $2, $3, 'webhook', $4, 'pending', 0, $5, $5, $5)";

/// What a webhook endpoint receives: `{type, timestamp, data}`.
pub fn webhook_body(
    event_type: crate::WebhookEventType,
    at: DateTime<Utc>,
    data: &impl serde::Serialize,
) -> serde_json::Value {
    serde_json::json!({ "type": event_type.as_str(), "timestamp": at, "data": data })
}

/// Queues a webhook job for each of `owner`'s endpoints subscribed to `event_type`, in `tx`;
/// how many were queued.
pub(crate) async fn enqueue_webhooks<DB: Dialect>(
    tx: &mut WriteTx<DB>,
    owner: Uuid,
    event_type: crate::WebhookEventType,
    data: &impl serde::Serialize,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let endpoints: Vec<Uuid> = query_scalar(SUBSCRIBED_ENDPOINTS_SQL)
        .bind(owner)
        .bind(event_type.as_str())
        .fetch_all(&mut *tx)
        .await?;
    if !endpoints.is_empty() {
        let body = webhook_body(event_type, now, data);
        for endpoint in &endpoints {
            query(WEBHOOK_DELIVERY_SQL)
                .bind(crate::new_id())
                .bind(owner)
                .bind(endpoint)
                .bind(sqlx::types::Json(&body))
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(endpoints.len() as u64)
}

#[async_trait]
impl<B: Backend> crate::DeliveryStore for SqlDatabase<B> {
    async fn list_notification_deliveries(
        &self,
        owner: Uuid,
        status: Option<crate::DeliveryStatus>,
        page: crate::PageRequest,
    ) -> crate::StorageResult<crate::Page<crate::NotificationDelivery>> {
        use super::deliveries::DELIVERY_COLUMNS;
        let page_sql = keyset("id", 3);
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM notification_deliveries WHERE owner_user_id = $1 \
             AND ($2 IS NULL OR status = $2) AND {page_sql}"
        );
        let rows: crate::Page<crate::NotificationDelivery> = query(&sql)
            .bind(owner)
            .bind(status.map(|s| s.as_str()))
            .fetch_page(page, self.pool(), |d: &crate::NotificationDelivery| d.id)
            .await?;
        Ok(rows)
    }

    async fn claim_deliveries(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> crate::StorageResult<Vec<crate::ClaimedDelivery>> {
        let claim = claim_sql(B::SKIP_LOCKED);
        let mut tx = self.begin_write().await?;
        let ids: Vec<Uuid> = query_scalar(&claim)
            .bind(worker)
            .bind(lease_until)
            .bind(now)
            .bind(i64::from(limit.max(1)))
            .fetch_all(&mut tx)
            .await?;
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let sql = claimed_sql(ids.len());
        let mut q = query(&sql);
        for id in padded(&ids) {
            q = q.bind(id);
        }
        let claimed: Vec<crate::ClaimedDelivery> = q.fetch_all(&mut tx).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    async fn finish_deliveries(
        &self,
        worker: &str,
        reports: &[crate::DeliveryReport],
        now: DateTime<Utc>,
    ) -> crate::StorageResult<()> {
        if reports.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        let sent: Vec<Uuid> = reports
            .iter()
            .filter(|r| r.result == crate::DeliveryResult::Sent)
            .map(|r| r.id)
            .collect();
        if !sent.is_empty() {
            let sql = sent_sql(sent.len());
            let mut q = query_scalar(&sql).bind(now).bind(worker);
            for id in padded(&sent) {
                q = q.bind(id);
            }
            let mut notified: Vec<Option<Uuid>> = q.fetch_all(&mut tx).await?;
            notified.sort();
            notified.dedup();
            let notified: Vec<Uuid> = notified.into_iter().flatten().collect();
            if !notified.is_empty() {
                let sql = notifications_sent_sql(notified.len());
                let mut q = query(&sql).bind(now);
                for id in padded(&notified) {
                    q = q.bind(id);
                }
                q.execute(&mut tx).await?;
            }
        }
        for report in reports {
            match &report.result {
                crate::DeliveryResult::Sent => {}
                crate::DeliveryResult::Retry { error, at } => {
                    query(RETRY_SQL)
                        .bind(error)
                        .bind(at)
                        .bind(now)
                        .bind(report.id)
                        .bind(worker)
                        .execute(&mut tx)
                        .await?;
                }
                crate::DeliveryResult::Dead {
                    error,
                    refused_token,
                } => {
                    let dead: Option<(Uuid, Option<Uuid>, Option<Uuid>)> = query(DEAD_SQL)
                        .bind(error)
                        .bind(now)
                        .bind(report.id)
                        .bind(worker)
                        .fetch_optional(&mut tx)
                        .await?;
                    let Some((owner, device, notification)) = dead else {
                        continue;
                    };
                    if let Some(notification) = notification {
                        query(NOTIFICATION_FAILED_SQL)
                            .bind(notification)
                            .execute(&mut tx)
                            .await?;
                    }
                    if let (Some(device), Some(token)) = (device, refused_token) {
                        let cleared = query(CLEAR_TOKEN_SQL)
                            .bind(now)
                            .bind(device)
                            .bind(token)
                            .execute(&mut tx)
                            .await?;
                        if cleared > 0 {
                            write_audit(
                                &mut tx,
                                crate::NewAuditLog::new("device.push_token_invalid")
                                    .owner(owner)
                                    .target("device", device)
                                    .metadata(serde_json::json!({
                                        "delivery_id": report.id,
                                        "error": error,
                                    })),
                            )
                            .await?;
                        }
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn rescue_deliveries(
        &self,
        now: DateTime<Utc>,
        max_attempts: i32,
    ) -> crate::StorageResult<u64> {
        use super::deliveries::RESCUE_SQL;
        let mut tx = self.begin_write().await?;
        let rescued = query(RESCUE_SQL)
            .bind(now)
            .bind(max_attempts)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(rescued)
    }
}

#[async_trait]
impl<B: Backend> crate::WebhookStore for SqlDatabase<B> {
    async fn create_webhook(
        &self,
        new: crate::NewWebhookEndpoint,
        now: DateTime<Utc>,
        audit: crate::NewAuditLog,
    ) -> crate::StorageResult<crate::WebhookEndpoint> {
        use super::deliveries::WEBHOOK_COLUMNS;
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "INSERT INTO webhook_endpoints (id, owner_user_id, url, events, secret, enabled, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             RETURNING {WEBHOOK_COLUMNS}"
        );
        let created: crate::WebhookEndpoint = query(&sql)
            .bind(crate::new_id())
            .bind(new.owner_user_id)
            .bind(&new.url)
            .bind(sqlx::types::Json(&new.events))
            .bind(&new.secret)
            .bind(true)
            .bind(now)
            .fetch_one(&mut tx)
            .await?;
        let mut types = new.events.clone();
        types.sort_by_key(|t| t.as_str());
        types.dedup();
        for event_type in types {
            query(
                "INSERT INTO webhook_subscriptions (owner_user_id, event_type, webhook_endpoint_id) \
                 VALUES ($1, $2, $3)",
            )
            .bind(new.owner_user_id)
            .bind(event_type.as_str())
            .bind(created.id)
            .execute(&mut tx)
            .await?;
        }
        write_audit(
            &mut tx,
            audit.or_target(new.owner_user_id, "webhook", created.id),
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn list_webhooks(
        &self,
        owner: Uuid,
        page: crate::PageRequest,
    ) -> crate::StorageResult<crate::Page<crate::WebhookEndpoint>> {
        use super::deliveries::WEBHOOK_COLUMNS;
        let page_sql = keyset("id", 2);
        let sql = format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhook_endpoints WHERE owner_user_id = $1 \
             AND {page_sql}"
        );
        let rows: crate::Page<crate::WebhookEndpoint> = query(&sql)
            .bind(owner)
            .fetch_page(page, self.pool(), |w: &crate::WebhookEndpoint| w.id)
            .await?;
        Ok(rows)
    }

    async fn get_webhook(
        &self,
        owner: Uuid,
        id: Uuid,
    ) -> crate::StorageResult<Option<crate::WebhookEndpoint>> {
        use super::deliveries::WEBHOOK_COLUMNS;
        let sql = format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND owner_user_id = $2"
        );
        Ok(query(&sql)
            .bind(id)
            .bind(owner)
            .fetch_optional(self.pool())
            .await?)
    }

    async fn delete_webhook(
        &self,
        owner: Uuid,
        id: Uuid,
        audit: crate::NewAuditLog,
    ) -> crate::StorageResult<bool> {
        let mut tx = self.begin_write().await?;
        // Its jobs and subscriptions go with it (ON DELETE CASCADE).
        let deleted = query("DELETE FROM webhook_endpoints WHERE id = $1 AND owner_user_id = $2")
            .bind(id)
            .bind(owner)
            .execute(&mut tx)
            .await?
            > 0;
        if deleted {
            write_audit(&mut tx, audit.or_target(owner, "webhook", id)).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn enqueue_webhook_event(
        &self,
        owner: Uuid,
        event_type: crate::WebhookEventType,
        data: serde_json::Value,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<u64> {
        use super::deliveries::SUBSCRIBED_ENDPOINTS_SQL;
        // Presence changes come here by the thousand and almost never have an
        // endpoint: a read answers those without taking the write lock.
        let any: Option<Uuid> = query_scalar(SUBSCRIBED_ENDPOINTS_SQL)
            .bind(owner)
            .bind(event_type.as_str())
            .fetch_optional(self.pool())
            .await?;
        if any.is_none() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let queued =
            super::deliveries::enqueue_webhooks(&mut tx, owner, event_type, &data, now).await?;
        tx.commit().await?;
        if queued > 0 {
            self.deliveries.notify_one();
        }
        Ok(queued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lists_come_in_few_lengths() {
        assert_eq!(list_len(0), 1);
        assert_eq!(list_len(1), 1);
        assert_eq!(list_len(3), 4);
        assert_eq!(list_len(512), 512);
        let lengths: std::collections::BTreeSet<usize> = (1..=512).map(list_len).collect();
        assert_eq!(lengths.len(), 10);
        assert_eq!(placeholders(3, 3), "$3, $4, $5, $6");
        let ids = [1, 2, 3];
        assert_eq!(padded(&ids).copied().collect::<Vec<_>>(), vec![1, 2, 3, 3]);
        assert_eq!(padded::<i32>(&[]).count(), 0);
    }
}
