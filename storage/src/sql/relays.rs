//! [`crate::RelayStore`], on either backend.

use super::prelude::*;

pub const RELAY_COLUMNS: &str = "id, name, public_url, udp_endpoint, status, streams, viewers, \
     last_heartbeat_at, created_at, updated_at";

/// Live relays heard from since `$1`, least loaded first. Load is first the open sessions
/// assigned to it, which counts streams handed out since its last heartbeat too (a burst of
/// new streams spreads instead of piling onto the relay that looked idle a moment ago).
pub fn live_relays_sql() -> String {
    format!(
        "SELECT {RELAY_COLUMNS} FROM relay_nodes r WHERE status = 'live' AND last_heartbeat_at >= $1 \
         ORDER BY (SELECT count(*) FROM stream_sessions s WHERE s.relay_node_id = r.id \
                   AND s.status IN ('requested', 'starting', 'live')), viewers, streams, id"
    )
}

#[async_trait]
impl<B: Backend> crate::RelayStore for SqlDatabase<B> {
    async fn register_relay(
        &self,
        node: crate::NewRelayNode,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<crate::RelayNode> {
        let sql = format!(
            "INSERT INTO relay_nodes (id, name, public_url, udp_endpoint, status, streams, viewers, \
             last_heartbeat_at, created_at, updated_at) VALUES ($1, $2, $3, $4, 'live', 0, 0, $5, $5, $5) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, public_url = excluded.public_url, \
             udp_endpoint = excluded.udp_endpoint, status = 'live', \
             last_heartbeat_at = excluded.last_heartbeat_at, updated_at = excluded.updated_at \
             RETURNING {RELAY_COLUMNS}"
        );
        Ok(query(&sql)
            .bind(node.id)
            .bind(&node.name)
            .bind(&node.public_url)
            .bind(&node.udp_endpoint)
            .bind(now)
            .fetch_one(self.pool())
            .await?)
    }

    async fn relay_heartbeat(
        &self,
        id: Uuid,
        load: crate::RelayLoad,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<bool> {
        let clamp = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        let done = query(
            "UPDATE relay_nodes SET streams = $1, viewers = $2, last_heartbeat_at = $3, \
             updated_at = $3 WHERE id = $4 AND status = 'live'",
        )
        .bind(clamp(load.streams))
        .bind(clamp(load.viewers))
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done == 1)
    }

    async fn retire_relay(&self, id: Uuid, now: DateTime<Utc>) -> crate::StorageResult<()> {
        query("UPDATE relay_nodes SET status = 'gone', updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn live_relays(
        &self,
        fresh_since: DateTime<Utc>,
    ) -> crate::StorageResult<Vec<crate::RelayNode>> {
        Ok(query(&super::relays::live_relays_sql())
            .bind(fresh_since)
            .fetch_all(self.pool())
            .await?)
    }

    async fn pick_relay(
        &self,
        camera: Uuid,
        fresh_since: DateTime<Utc>,
    ) -> crate::StorageResult<Option<crate::RelayNode>> {
        let sql = format!(
            "SELECT {RELAY_COLUMNS} FROM relay_nodes WHERE status = 'live' AND last_heartbeat_at >= $2 \
             AND id IN (SELECT relay_node_id FROM stream_sessions WHERE camera_device_id = $1 \
                        AND status IN ('requested', 'starting', 'live')) LIMIT 1"
        );
        let current: Option<crate::RelayNode> = query(&sql)
            .bind(camera)
            .bind(fresh_since)
            .fetch_optional(self.pool())
            .await?;
        if current.is_some() {
            return Ok(current);
        }
        Ok(query(&format!("{} LIMIT 1", live_relays_sql()))
            .bind(fresh_since)
            .fetch_optional(self.pool())
            .await?)
    }

    async fn end_sessions_on_lost_relays(
        &self,
        fresh_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> crate::StorageResult<Vec<crate::StreamSession>> {
        use super::streams::{close_sessions_sql, OPEN};
        let mut tx = self.begin_write().await?;
        query(
            "UPDATE relay_nodes SET status = 'gone', updated_at = $2 \
             WHERE status <> 'gone' AND last_heartbeat_at < $1",
        )
        .bind(fresh_since)
        .bind(now)
        .execute(&mut tx)
        .await?;
        let sql = close_sessions_sql(
            "ended",
            "'relay_lost'",
            &format!(
                "{OPEN} AND relay_node_id IN (SELECT id FROM relay_nodes WHERE status = 'gone')"
            ),
        );
        let ended = query(&sql).bind(now).fetch_all(&mut tx).await?;
        tx.commit().await?;
        Ok(ended)
    }
}
