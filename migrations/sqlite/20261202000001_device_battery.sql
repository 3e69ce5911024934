-- A camera phone's battery, as its page or app last reported it with a heartbeat: the owner
-- sees a camera about to die before it goes offline. NULL when never reported (the browser
-- or platform does not tell).
ALTER TABLE devices ADD COLUMN battery_level INTEGER CHECK (battery_level BETWEEN 0 AND 100);
ALTER TABLE devices ADD COLUMN battery_charging INTEGER;
ALTER TABLE devices ADD COLUMN battery_reported_at TEXT;
