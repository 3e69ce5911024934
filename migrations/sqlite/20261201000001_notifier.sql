-- The notifier: which event types each webhook endpoint receives (twin of the PostgreSQL
-- migration; SQLite is one process, whose workers are woken in memory instead of by a
-- trigger).

-- One row per (endpoint, event type), beside `webhook_endpoints.events` (the list as the API
-- shows it): fanning an event, a clip or a presence change out to the owner's endpoints is an
-- index probe, with the same SQL on both databases.
CREATE TABLE webhook_subscriptions (
    owner_user_id       BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_type          TEXT NOT NULL,
    webhook_endpoint_id BLOB NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    PRIMARY KEY (owner_user_id, event_type, webhook_endpoint_id)
);
CREATE INDEX webhook_subscriptions_webhook_endpoint_id_idx ON webhook_subscriptions (webhook_endpoint_id);
