//! Retention: clips older than the owner may keep them, and an owner's oldest clips beyond
//! their storage quota, are removed (the object first, then the row, so a failure leaves a
//! row that points at something rather than an object nobody can find); objects without a
//! clip (a crash between the two, a deleted clip whose object could not be removed) and
//! uploads a crash left unfinished on local disk are cleaned up too.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path;
use securecam_storage::{Database, EventViewer, NewAuditLog, RecordingStatus};
use serde_json::json;
use uuid::Uuid;

use crate::store::ClipStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// Clips older than this go.
    pub max_age: Duration,
    /// An owner's clips beyond this many bytes go, oldest first.
    pub max_bytes_per_owner: Option<u64>,
    /// Objects and unfinished uploads with no clip are removed once this old (younger ones may
    /// belong to a clip whose row is being written).
    pub orphan_grace: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            max_age: Duration::from_secs(30 * 24 * 3600),
            max_bytes_per_owner: None,
            orphan_grace: Duration::from_secs(3600),
        }
    }
}

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub expired: usize,
    pub orphans: usize,
}

/// Most clips one sweep removes (the next sweep goes on).
const BATCH: u32 = 500;

/// One retention sweep at `now`.
pub async fn sweep(
    db: &dyn Database,
    store: &ClipStore,
    config: &RetentionConfig,
    now: DateTime<Utc>,
) -> SweepReport {
    let mut report = SweepReport::default();
    let max_age = chrono::Duration::from_std(config.max_age).unwrap_or(chrono::Duration::MAX);
    let quota = config
        .max_bytes_per_owner
        .map(|b| i64::try_from(b).unwrap_or(i64::MAX));
    match db
        .recordings_past_retention(now - max_age, quota, BATCH)
        .await
    {
        Ok(clips) => {
            for clip in clips {
                if let Err(err) = store.delete(&clip.object_key).await {
                    tracing::warn!(recording_id = %clip.id, error = %err, "retention: could not delete a clip's object");
                    continue;
                }
                let reason = if clip.created_at < now - max_age {
                    "age"
                } else {
                    "quota"
                };
                let audit = NewAuditLog::new("recording.expire")
                    .metadata(json!({"reason": reason, "size_bytes": clip.size_bytes}));
                match db
                    .delete_recording(clip.owner_user_id, clip.id, now, audit)
                    .await
                {
                    Ok(_) => report.expired += 1,
                    Err(err) => {
                        tracing::warn!(recording_id = %clip.id, error = %err, "retention: could not mark a clip deleted")
                    }
                }
            }
        }
        Err(err) => tracing::warn!(error = %err, "retention: could not list clips"),
    }
    report.orphans = sweep_orphans(db, store, config.orphan_grace).await;
    report
}

/// The owner and clip of an object key (`[prefix/]clips/<owner>/<clip>.mp4`).
fn parse_key(key: &str) -> Option<(Uuid, Uuid)> {
    let mut parts = key.rsplit('/');
    let file = parts.next()?;
    let owner = parts.next()?;
    (parts.next()? == "clips").then_some(())?;
    let clip = file.strip_suffix(".mp4")?;
    Some((Uuid::parse_str(owner).ok()?, Uuid::parse_str(clip).ok()?))
}

/// The status of a clip's row (`None`: no row, or deleted); `Err` when the database could
/// not say (then nothing is removed).
async fn row_status(
    db: &dyn Database,
    owner: Uuid,
    clip: Uuid,
) -> Result<Option<RecordingStatus>, ()> {
    let owner_view = EventViewer {
        user_id: owner,
        device_id: None,
    };
    match db.get_recording(owner_view, clip).await {
        Ok(row) => Ok(row.map(|r| r.status)),
        Err(_) => Err(()),
    }
}

/// Whether a clip row still wants the object at its key.
async fn wanted(db: &dyn Database, owner: Uuid, clip: Uuid) -> bool {
    match row_status(db, owner, clip).await {
        Ok(status) => status.is_some_and(|s| s != RecordingStatus::Failed),
        // When in doubt, keep it.
        Err(()) => true,
    }
}

/// Removes objects no clip wants, and (local disk) unfinished uploads no live clip owns.
async fn sweep_orphans(db: &dyn Database, store: &ClipStore, grace: Duration) -> usize {
    let mut removed = 0;
    let cutoff = SystemTime::now()
        .checked_sub(grace)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let prefix = store.clips_prefix();
    let listed: Result<Vec<_>, _> = store
        .objects()
        .list(Some(&Path::from(prefix.as_str())))
        .try_collect()
        .await;
    let objects = match listed {
        Ok(objects) => objects,
        Err(err) => {
            tracing::warn!(error = %err, "retention: could not list clip objects");
            return 0;
        }
    };
    for meta in objects {
        let key = meta.location.to_string();
        if SystemTime::from(meta.last_modified) > cutoff {
            continue;
        }
        let Some((owner, clip)) = parse_key(&key) else {
            continue;
        };
        if !wanted(db, owner, clip).await && store.delete(&key).await.is_ok() {
            tracing::info!(key, "retention: removed an object no clip wants");
            removed += 1;
        }
    }
    if let Some(root) = store.local_path(&prefix) {
        for (path, key) in staged_uploads(&root) {
            let old = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .is_ok_and(|at| at <= cutoff);
            let Some((owner, clip)) = parse_key(&key) else {
                continue;
            };
            // An unfinished upload of a clip still being written is its recovery's to use.
            let live = match row_status(db, owner, clip).await {
                Ok(status) => matches!(
                    status,
                    Some(RecordingStatus::Recording | RecordingStatus::Uploading)
                ),
                Err(()) => true,
            };
            if old && !live && std::fs::remove_file(&path).is_ok() {
                tracing::info!(path = %path.display(), "retention: removed an unfinished upload");
                removed += 1;
            }
        }
    }
    removed
}

/// Unfinished local uploads under `root` (`<object>#<n>`), with the key of their object.
fn staged_uploads(root: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some((object, _)) = name.split_once('#') {
                let key = path
                    .with_file_name(object)
                    .strip_prefix(root.parent().unwrap_or(root))
                    .map(|p| p.to_string_lossy().replace('\\', "/"))
                    .unwrap_or_default();
                found.push((path.clone(), key));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_owner_and_clip() {
        let (owner, clip) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(
            parse_key(&format!("clips/{owner}/{clip}.mp4")),
            Some((owner, clip))
        );
        assert_eq!(
            parse_key(&format!("house/clips/{owner}/{clip}.mp4")),
            Some((owner, clip))
        );
        assert_eq!(parse_key(&format!("clips/{owner}/{clip}.mov")), None);
        assert_eq!(parse_key(&format!("other/{owner}/{clip}.mp4")), None);
        assert_eq!(parse_key("clips/x/y.mp4"), None);
    }
}
