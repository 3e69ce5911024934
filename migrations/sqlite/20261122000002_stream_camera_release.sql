-- When the camera was told to stop publishing for this session (or found still needed by
-- another), so the idle sweeper handles each ended session once.
ALTER TABLE stream_sessions ADD COLUMN camera_released_at TEXT;
CREATE INDEX stream_sessions_unreleased_idx ON stream_sessions (ended_at)
    WHERE camera_released_at IS NULL AND status IN ('ended', 'failed');
