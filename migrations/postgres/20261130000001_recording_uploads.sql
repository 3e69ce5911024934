-- A clip's multipart upload to an S3-compatible bucket, as far as it got: crash recovery
-- completes it with the parts stored (each ends at a fragment, so the object plays) or
-- aborts it when there are none.
ALTER TABLE recordings ADD COLUMN upload_id TEXT;
-- JSON array of the stored parts' ETags, in order.
ALTER TABLE recordings ADD COLUMN upload_parts TEXT;
