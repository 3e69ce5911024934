-- SecureCam data model, PostgreSQL.
--
-- The tables and column names of the SecureCam seed are kept as they are; what the API
-- contract needs beyond the seed is added as extra columns or extra tables.
-- ON DELETE rules:
--   * rows that belong to a user (devices, sessions, events, ...) go with the user (CASCADE):
--     deleting an account deletes its data;
--   * history that merely *mentions* a device (events, recordings, stream sessions, audit rows,
--     commands it sent) survives the device (SET NULL), so deleting a camera does not erase
--     the evidence it recorded;
--   * rows that cannot mean anything without their device (tokens, links, commands addressed
--     to it, push deliveries to it) go with it (CASCADE).
-- Every list query is keyset-paginated on the UUIDv7 `id` (time-ordered), so "owner + time"
-- indexes are (owner, id).

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    email          varchar(320) NOT NULL,
    name           varchar(200) NOT NULL,
    -- argon2id PHC string; NULL for accounts that only sign in through an external provider.
    password_hash  varchar(255),
    email_verified boolean NOT NULL DEFAULT false,
    image          text,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
-- Emails are stored lower-cased by the application; the unique index is the source of truth.
CREATE UNIQUE INDEX users_email_key ON users (email);

-- Better Auth's linked-provider table: external identities (OAuth) of a user.
CREATE TABLE account (
    id                       uuid PRIMARY KEY,
    user_id                  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id               text NOT NULL,
    provider_id              text NOT NULL,
    access_token             text,
    refresh_token            text,
    access_token_expires_at  timestamptz,
    refresh_token_expires_at timestamptz,
    id_token                 text,
    scope                    text,
    password                 text,
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL,
    UNIQUE (provider_id, account_id)
);
CREATE INDEX account_user_id_idx ON account (user_id);

-- User sessions. `token` holds the SHA-256 (hex) of the bearer token, never the token itself.
CREATE TABLE session (
    id             uuid PRIMARY KEY,
    token          text NOT NULL UNIQUE,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at     timestamptz NOT NULL,
    ip_address     text,
    user_agent     text,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    -- Idle timeout: a session unused for longer than the configured idle time is dead.
    last_active_at timestamptz NOT NULL
);
CREATE INDEX session_user_id_idx ON session (user_id, id);
CREATE INDEX session_expires_at_idx ON session (expires_at);

-- One-time secrets (password reset, email verification). `value` is the SHA-256 (hex) of
-- the secret; `identifier` says what it is for, e.g. `password-reset:<user id>`.
CREATE TABLE verification (
    id         uuid PRIMARY KEY,
    identifier text NOT NULL,
    value      text NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX verification_identifier_idx ON verification (identifier);
CREATE INDEX verification_expires_at_idx ON verification (expires_at);

CREATE TABLE devices (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          varchar(200) NOT NULL,
    role          varchar(16) NOT NULL CHECK (role IN ('camera', 'viewer')),
    platform      varchar(16) NOT NULL CHECK (platform IN ('ios', 'android', 'web')),
    app_version   varchar(64),
    push_token    text,
    status        varchar(16) NOT NULL DEFAULT 'offline' CHECK (status IN ('online', 'offline')),
    is_camera     boolean NOT NULL,
    last_seen_at  timestamptz,
    updated_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL,
    push_provider varchar(16) CHECK (push_provider IN ('fcm', 'apns', 'webpush')),
    CHECK (is_camera = (role = 'camera'))
);
CREATE INDEX devices_user_id_idx ON devices (user_id, id);

-- Bearer tokens of devices (SHA-256 hex). Deleting a device deletes, i.e. revokes, its tokens.
CREATE TABLE device_tokens (
    id           uuid PRIMARY KEY,
    device_id    uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    token_hash   text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz
);
CREATE INDEX device_tokens_device_id_idx ON device_tokens (device_id);

CREATE TABLE device_links (
    id               uuid PRIMARY KEY,
    owner_user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    camera_device_id uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    client_device_id uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    status           varchar(16) NOT NULL CHECK (status IN ('active', 'revoked')),
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX device_links_owner_user_id_idx ON device_links (owner_user_id, id);
CREATE INDEX device_links_camera_device_id_idx ON device_links (camera_device_id);
CREATE INDEX device_links_client_device_id_idx ON device_links (client_device_id);
-- At most one live link between a camera and a client.
CREATE UNIQUE INDEX device_links_active_pair_key ON device_links (camera_device_id, client_device_id)
    WHERE status = 'active';

-- Pairing a phone as a camera without a password (API: pairing codes).
CREATE TABLE pairing_codes (
    id                 uuid PRIMARY KEY,
    code_hash          text NOT NULL UNIQUE,
    poll_token_hash    text NOT NULL UNIQUE,
    name               varchar(200) NOT NULL,
    platform           varchar(16) NOT NULL CHECK (platform IN ('ios', 'android', 'web')),
    status             varchar(16) NOT NULL CHECK (status IN ('pending', 'claimed', 'delivered')),
    claimed_by_user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    device_id          uuid REFERENCES devices (id) ON DELETE CASCADE,
    viewer_device_id   uuid REFERENCES devices (id) ON DELETE SET NULL,
    expires_at         timestamptz NOT NULL,
    claimed_at         timestamptz,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX pairing_codes_claimed_by_user_id_idx ON pairing_codes (claimed_by_user_id);
CREATE INDEX pairing_codes_device_id_idx ON pairing_codes (device_id);
CREATE INDEX pairing_codes_viewer_device_id_idx ON pairing_codes (viewer_device_id);
CREATE INDEX pairing_codes_expires_at_idx ON pairing_codes (expires_at);

-- Invites to share a camera with another person.
CREATE TABLE device_link_invites (
    id                  uuid PRIMARY KEY,
    owner_user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    camera_device_id    uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    code_hash           text NOT NULL UNIQUE,
    expires_at          timestamptz NOT NULL,
    accepted_at         timestamptz,
    accepted_by_user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    device_link_id      uuid REFERENCES device_links (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL
);
CREATE INDEX device_link_invites_owner_user_id_idx ON device_link_invites (owner_user_id, id);
CREATE INDEX device_link_invites_camera_device_id_idx ON device_link_invites (camera_device_id);
CREATE INDEX device_link_invites_accepted_by_user_id_idx ON device_link_invites (accepted_by_user_id);
CREATE INDEX device_link_invites_device_link_id_idx ON device_link_invites (device_link_id);

-- Single-use 30-second tickets that let a browser open the WebSocket.
CREATE TABLE ws_tickets (
    id          uuid PRIMARY KEY,
    device_id   uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    ticket_hash text NOT NULL UNIQUE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL
);
CREATE INDEX ws_tickets_device_id_idx ON ws_tickets (device_id);
CREATE INDEX ws_tickets_expires_at_idx ON ws_tickets (expires_at);

CREATE TABLE commands (
    id                 uuid PRIMARY KEY,
    owner_user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    source_device_id   uuid REFERENCES devices (id) ON DELETE SET NULL,
    target_device_id   uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    command_type       varchar(32) NOT NULL,
    payload            jsonb NOT NULL DEFAULT '{}'::jsonb,
    status             varchar(16) NOT NULL CHECK (status IN
                           ('queued', 'dispatched', 'acknowledged', 'failed', 'expired', 'cancelled')),
    retry_count        integer NOT NULL DEFAULT 0,
    last_dispatched_at timestamptz,
    acknowledged_at    timestamptz,
    error              text,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    -- When an unacknowledged dispatch is due for another try.
    next_attempt_at    timestamptz,
    -- Who sent it (user token) when no source device did.
    source_user_id     uuid REFERENCES users (id) ON DELETE SET NULL,
    idempotency_key    varchar(255),
    result             jsonb
);
CREATE INDEX commands_owner_user_id_idx ON commands (owner_user_id, id);
CREATE INDEX commands_source_device_id_idx ON commands (source_device_id);
CREATE INDEX commands_source_user_id_idx ON commands (source_user_id);
CREATE INDEX commands_target_device_id_idx ON commands (target_device_id, id);
-- Pending work: what to deliver on reconnect, what to retry, what to expire.
CREATE INDEX commands_pending_idx ON commands (target_device_id, created_at)
    WHERE status IN ('queued', 'dispatched');
CREATE INDEX commands_due_idx ON commands (next_attempt_at) WHERE status IN ('queued', 'dispatched');
CREATE INDEX commands_expires_at_idx ON commands (expires_at) WHERE status IN ('queued', 'dispatched');
CREATE UNIQUE INDEX commands_idempotency_key ON commands (owner_user_id, target_device_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- Media relays that registered themselves; signal assigns new streams to the least loaded.
CREATE TABLE relay_nodes (
    id                uuid PRIMARY KEY,
    name              varchar(200) NOT NULL,
    public_url        text NOT NULL,
    udp_endpoint      text,
    status            varchar(16) NOT NULL CHECK (status IN ('live', 'draining', 'gone')),
    streams           integer NOT NULL DEFAULT 0,
    viewers           integer NOT NULL DEFAULT 0,
    last_heartbeat_at timestamptz NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX relay_nodes_status_idx ON relay_nodes (status, last_heartbeat_at);

CREATE TABLE stream_sessions (
    id                  uuid PRIMARY KEY,
    owner_user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    camera_device_id    uuid REFERENCES devices (id) ON DELETE SET NULL,
    requester_device_id uuid REFERENCES devices (id) ON DELETE SET NULL,
    status              varchar(16) NOT NULL CHECK (status IN
                            ('requested', 'starting', 'live', 'ended', 'failed')),
    reason              varchar(16) NOT NULL CHECK (reason IN ('live_view', 'recording')),
    media_provider      varchar(64),
    media_session_id    varchar(255),
    publish_endpoint    text,
    subscribe_endpoint  text,
    stream_key          varchar(128) NOT NULL UNIQUE,
    started_at          timestamptz,
    ended_at            timestamptz,
    metadata            jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    -- Why it ended (`reason` is why it was started).
    end_reason          varchar(64),
    relay_node_id       uuid REFERENCES relay_nodes (id) ON DELETE SET NULL
);
CREATE INDEX stream_sessions_owner_user_id_idx ON stream_sessions (owner_user_id, id);
CREATE INDEX stream_sessions_camera_device_id_idx ON stream_sessions (camera_device_id, id);
CREATE INDEX stream_sessions_requester_device_id_idx ON stream_sessions (requester_device_id);
CREATE INDEX stream_sessions_relay_node_id_idx ON stream_sessions (relay_node_id);
CREATE INDEX stream_sessions_open_idx ON stream_sessions (status) WHERE status IN ('requested', 'starting', 'live');

CREATE TABLE events (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_id    uuid REFERENCES devices (id) ON DELETE SET NULL,
    title        varchar(200) NOT NULL,
    triggered_by varchar(16) NOT NULL CHECK (triggered_by IN ('motion', 'sound', 'person', 'manual')),
    status       varchar(16) NOT NULL CHECK (status IN ('active', 'ended', 'acknowledged')),
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    notified_at  timestamptz,
    video_url    varchar(2048) UNIQUE,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    acknowledged_at timestamptz
);
CREATE INDEX events_user_id_idx ON events (user_id, id);
CREATE INDEX events_device_id_idx ON events (device_id, id);
CREATE INDEX events_user_started_at_idx ON events (user_id, started_at);

CREATE TABLE recordings (
    id                  uuid PRIMARY KEY,
    owner_user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stream_session_id   uuid REFERENCES stream_sessions (id) ON DELETE SET NULL,
    camera_device_id    uuid REFERENCES devices (id) ON DELETE SET NULL,
    requester_device_id uuid REFERENCES devices (id) ON DELETE SET NULL,
    event_id            uuid REFERENCES events (id) ON DELETE SET NULL,
    object_key          varchar(1024) NOT NULL,
    bucket              varchar(255) NOT NULL,
    duration_seconds    double precision,
    size_bytes          bigint,
    status              varchar(16) NOT NULL CHECK (status IN
                            ('recording', 'uploading', 'available', 'failed', 'deleted')),
    available_at        timestamptz,
    error               text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    content_type        varchar(128) NOT NULL DEFAULT 'video/mp4',
    -- Who wrote the object: the recorder, or a device uploading its own clip.
    source              varchar(16) NOT NULL DEFAULT 'recorder' CHECK (source IN ('recorder', 'device')),
    UNIQUE (bucket, object_key)
);
CREATE INDEX recordings_owner_user_id_idx ON recordings (owner_user_id, id);
CREATE INDEX recordings_stream_session_id_idx ON recordings (stream_session_id);
CREATE INDEX recordings_camera_device_id_idx ON recordings (camera_device_id, id);
CREATE INDEX recordings_requester_device_id_idx ON recordings (requester_device_id);
CREATE INDEX recordings_event_id_idx ON recordings (event_id);
CREATE INDEX recordings_unfinished_idx ON recordings (status) WHERE status IN ('recording', 'uploading');

CREATE TABLE notifications (
    id         uuid PRIMARY KEY,
    event_id   uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sent_at    timestamptz,
    channel    varchar(16) NOT NULL,
    status     varchar(16) NOT NULL,
    is_read    boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    -- Why no push was sent (quiet hours, muted camera, cooldown), when one was not.
    suppressed_reason varchar(32)
);
CREATE INDEX notifications_user_id_idx ON notifications (user_id, id);
CREATE INDEX notifications_user_unread_idx ON notifications (user_id, id) WHERE NOT is_read;
CREATE INDEX notifications_event_id_idx ON notifications (event_id);

CREATE TABLE webhook_endpoints (
    id            uuid PRIMARY KEY,
    owner_user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url           text NOT NULL,
    -- JSON array of subscribed event types, e.g. ["event.created"].
    events        jsonb NOT NULL,
    -- Standard Webhooks signing secret (`whsec_...`); needed in clear to sign.
    secret        text NOT NULL,
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_owner_user_id_idx ON webhook_endpoints (owner_user_id, id);

-- Push delivery jobs (FCM, APNs, Web Push, webhooks): a durable queue.
CREATE TABLE notification_deliveries (
    id                  uuid PRIMARY KEY,
    owner_user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    recipient_device_id uuid REFERENCES devices (id) ON DELETE CASCADE,
    type                varchar(32) NOT NULL,
    payload             jsonb NOT NULL,
    status              varchar(16) NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dead')),
    attempts            integer NOT NULL DEFAULT 0,
    last_error          text,
    sent_at             timestamptz,
    next_attempt_at     timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    notification_id     uuid REFERENCES notifications (id) ON DELETE CASCADE,
    webhook_endpoint_id uuid REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    command_id          uuid REFERENCES commands (id) ON DELETE CASCADE,
    -- Lease of the worker that is sending it; an expired lease means the worker died.
    locked_until        timestamptz,
    locked_by           varchar(128),
    CHECK (recipient_device_id IS NOT NULL OR webhook_endpoint_id IS NOT NULL)
);
CREATE INDEX notification_deliveries_owner_user_id_idx ON notification_deliveries (owner_user_id, id);
CREATE INDEX notification_deliveries_recipient_device_id_idx ON notification_deliveries (recipient_device_id);
CREATE INDEX notification_deliveries_notification_id_idx ON notification_deliveries (notification_id);
CREATE INDEX notification_deliveries_webhook_endpoint_id_idx ON notification_deliveries (webhook_endpoint_id);
CREATE INDEX notification_deliveries_command_id_idx ON notification_deliveries (command_id);
CREATE INDEX notification_deliveries_due_idx ON notification_deliveries (next_attempt_at)
    WHERE status IN ('pending', 'failed');
CREATE INDEX notification_deliveries_leased_idx ON notification_deliveries (locked_until)
    WHERE status = 'sending';

CREATE TABLE notification_preferences (
    user_id              uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- Quiet hours as local wall-clock times 'HH:MM' in an IANA time zone; all NULL = none.
    quiet_hours_start    varchar(5),
    quiet_hours_end      varchar(5),
    quiet_hours_timezone varchar(64),
    muted_camera_ids     jsonb NOT NULL DEFAULT '[]'::jsonb,
    cooldown_seconds     integer NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);

CREATE TABLE audit_logs (
    id              uuid PRIMARY KEY,
    -- NULL when the actor is unknown (e.g. a failed sign-in for an email nobody has).
    owner_user_id   uuid REFERENCES users (id) ON DELETE CASCADE,
    actor_device_id uuid REFERENCES devices (id) ON DELETE SET NULL,
    action          text NOT NULL,
    target_type     text,
    target_id       text,
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    ip_address      text,
    created_at      timestamptz NOT NULL
);
CREATE INDEX audit_logs_owner_user_id_idx ON audit_logs (owner_user_id, id);
CREATE INDEX audit_logs_actor_device_id_idx ON audit_logs (actor_device_id);
