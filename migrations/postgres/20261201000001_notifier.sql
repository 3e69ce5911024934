-- The notifier: which event types each webhook endpoint receives, and a wake-up for the
-- delivery workers of every process.

-- One row per (endpoint, event type), beside `webhook_endpoints.events` (the list as the API
-- shows it): fanning an event, a clip or a presence change out to the owner's endpoints is an
-- index probe, with the same SQL on both databases.
CREATE TABLE webhook_subscriptions (
    owner_user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_type          varchar(32) NOT NULL,
    webhook_endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    PRIMARY KEY (owner_user_id, event_type, webhook_endpoint_id)
);
CREATE INDEX webhook_subscriptions_webhook_endpoint_id_idx ON webhook_subscriptions (webhook_endpoint_id);

-- Workers listening on `securecam_deliveries` claim new jobs as soon as the transaction that
-- queued them commits (a rolled-back one notifies nobody); polling is only the fallback.
-- One notification per statement, and PostgreSQL folds repeats within a transaction.
CREATE FUNCTION securecam_deliveries_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('securecam_deliveries', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER notification_deliveries_queued AFTER INSERT ON notification_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION securecam_deliveries_queued();
