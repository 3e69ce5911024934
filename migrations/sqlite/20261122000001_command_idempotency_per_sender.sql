-- An idempotency key belongs to whoever sent the command: two people commanding the same
-- shared camera must never get each other's command back by using the same key.
DROP INDEX commands_idempotency_key;
CREATE UNIQUE INDEX commands_idempotency_key ON commands (source_user_id, target_device_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
