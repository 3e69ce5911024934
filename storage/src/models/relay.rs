use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

crate::text_enum! {
    /// `live` while it heartbeats; `gone` when it said goodbye or stopped heartbeating.
    /// (`draining`, in the schema, is for a relay that takes no new streams; unused yet.)
    RelayStatus { Live => "live", Draining => "draining", Gone => "gone" }
}

/// A media relay that registered itself (table `relay_nodes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
pub struct RelayNode {
    pub id: Uuid,
    pub name: String,
    /// Where clients reach its HTTP side: WHIP and WHEP endpoints are under it.
    pub public_url: String,
    /// Its UDP media address, for operators.
    pub udp_endpoint: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: RelayStatus,
    /// Streams and viewer legs it reported with its last heartbeat.
    pub streams: i32,
    pub viewers: i32,
    pub last_heartbeat_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewRelayNode {
    pub id: Uuid,
    pub name: String,
    pub public_url: String,
    pub udp_endpoint: Option<String>,
}

/// What a relay carries right now, as its heartbeat reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayLoad {
    pub streams: u32,
    pub viewers: u32,
}
