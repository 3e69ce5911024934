use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// One sensitive action (table `audit_logs`).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, ToSchema)]
pub struct AuditLog {
    pub id: Uuid,
    pub owner_user_id: Option<Uuid>,
    pub actor_device_id: Option<Uuid>,
    /// Dotted verb, e.g. `auth.sign_in`, `auth.sign_in_failed`, `device.create`.
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    #[sqlx(json)]
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub ip_address: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct NewAuditLog {
    pub owner_user_id: Option<Uuid>,
    pub actor_device_id: Option<Uuid>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub metadata: Value,
    pub ip_address: Option<String>,
}

impl NewAuditLog {
    pub fn new(action: &str) -> Self {
        NewAuditLog {
            action: action.to_string(),
            metadata: Value::Object(Default::default()),
            ..Default::default()
        }
    }

    pub fn owner(mut self, user_id: Uuid) -> Self {
        self.owner_user_id = Some(user_id);
        self
    }

    pub fn actor_device(mut self, device_id: Option<Uuid>) -> Self {
        self.actor_device_id = device_id;
        self
    }

    pub fn target(mut self, target_type: &str, target_id: impl ToString) -> Self {
        self.target_type = Some(target_type.to_string());
        self.target_id = Some(target_id.to_string());
        self
    }

    /// Sets owner and target where the caller left them out (ids the database assigns).
    pub fn or_target(mut self, owner: Uuid, target_type: &str, target_id: impl ToString) -> Self {
        self.owner_user_id.get_or_insert(owner);
        if self.target_type.is_none() {
            self.target_type = Some(target_type.to_string());
            self.target_id = Some(target_id.to_string());
        }
        self
    }

    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = metadata;
        self
    }

    /// Adds one field to the metadata object (made one if it is null).
    pub fn metadata_field(mut self, key: &str, value: Value) -> Self {
        if !self.metadata.is_object() {
            self.metadata = Value::Object(Default::default());
        }
        if let Value::Object(fields) = &mut self.metadata {
            fields.insert(key.to_string(), value);
        }
        self
    }

    pub fn ip(mut self, ip: Option<String>) -> Self {
        self.ip_address = ip;
        self
    }
}
