//! After a crash: clips left `recording` or `uploading` are finalized if what reached storage
//! plays, else marked `failed`, so nothing stays stuck.
//!
//! A fragmented MP4 plays up to its last whole fragment, so what a crash leaves is cut there:
//! - the object exists (the upload completed, the row was not updated): it is the clip;
//! - local disk keeps an unfinished upload as a staged file next to the object
//!   (`<object>#<n>`, `object_store`'s local multipart upload, written part by part): its
//!   longest playable prefix becomes the object;
//! - a bucket's multipart upload is completed with the parts its row lists as stored (each part
//!   ends at a fragment, so the object plays), or aborted when none were.
//!
//! A device's own upload that was never completed is settled once its URL has expired.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mp4_atom::{Decode, Moof};
use securecam_storage::{Recording, RecordingResult};

use crate::fmp4::{VIDEO_TIMESCALE, VIDEO_TRACK};
use crate::store::ClipStore;

/// The longest prefix of `bytes` that plays: `ftyp`, `moov`, then whole `moof`+`mdat` pairs
/// (and a closing `mfra`, if it is whole). Returns its length and the video it holds; `None`
/// when not even one fragment is whole.
pub fn playable_prefix(bytes: &[u8]) -> Option<(usize, Duration)> {
    let mut at = 0;
    let mut expect_init = ["ftyp", "moov"].into_iter();
    let mut playable = None;
    let mut video_end = 0u64;
    let mut pending_moof_end: Option<u64> = None;
    while let Some((kind, size)) = box_header(&bytes[at..]) {
        if at + size > bytes.len() {
            break;
        }
        let body = &bytes[at..at + size];
        match expect_init.next() {
            Some(init) if init != kind => return None,
            Some(_) => {}
            None => match kind.as_str() {
                "moof" => pending_moof_end = Some(moof_video_end(body)?),
                "mdat" => {
                    let end = pending_moof_end.take()?;
                    video_end = video_end.max(end);
                    playable = Some(at + size);
                }
                "mfra" if playable == Some(at) => playable = Some(at + size),
                _ => break,
            },
        }
        at += size;
    }
    playable.map(|len| {
        let nanos = video_end as u128 * 1_000_000_000 / VIDEO_TIMESCALE as u128;
        (len, Duration::from_nanos(nanos as u64))
    })
}

/// Type and total size of the box at the start of `bytes`.
fn box_header(bytes: &[u8]) -> Option<(String, usize)> {
    if bytes.len() < 8 {
        return None;
    }
    let size = u32::from_be_bytes(bytes[0..4].try_into().ok()?) as usize;
    let kind = String::from_utf8_lossy(&bytes[4..8]).into_owned();
    let size = match size {
        // A box "to the end of the file" is never one we wrote whole.
        0 => return None,
        1 => {
            let large = u64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?);
            usize::try_from(large).ok()?
        }
        n if n < 8 => return None,
        n => n,
    };
    Some((kind, size))
}

/// Where the video of a fragment ends, in video ticks.
fn moof_video_end(moof: &[u8]) -> Option<u64> {
    let moof = Moof::decode(&mut &moof[..]).ok()?;
    let traf = moof.traf.iter().find(|t| t.tfhd.track_id == VIDEO_TRACK)?;
    let start = traf.tfdt.as_ref()?.base_media_decode_time;
    let mut duration = 0u64;
    for trun in &traf.trun {
        for entry in trun.samples.iter() {
            duration += entry.duration.unwrap_or(0) as u64;
        }
    }
    Some(start + duration)
}

/// Finalizes or fails a clip whose writer is gone.
pub async fn recover(store: &ClipStore, recording: &Recording) -> RecordingResult {
    let key = &recording.object_key;
    match store.size(key).await {
        Ok(Some(_)) => return settle_completed(store, key).await,
        Ok(None) => {}
        Err(err) => {
            return RecordingResult::Failed {
                error: format!("checking the stored clip failed: {err}"),
            }
        }
    }
    if let (Some(upload_id), Some(parts)) = (&recording.upload_id, &recording.upload_parts) {
        let etags: Vec<String> = serde_json::from_str(parts).unwrap_or_default();
        match store.complete_abandoned(key, upload_id, &etags).await {
            Ok(true) => return settle_completed(store, key).await,
            Ok(false) => {}
            Err(err) => tracing::warn!(error = %err, "completing an abandoned upload failed"),
        }
    }
    if let Some(dest) = store.local_path(key) {
        match tokio::task::spawn_blocking(move || salvage_staged(&dest)).await {
            Ok(Some((size, duration))) => {
                return RecordingResult::Available {
                    duration_seconds: duration.as_secs_f64(),
                    size_bytes: size as i64,
                }
            }
            Ok(None) => {}
            Err(err) => tracing::warn!(error = %err, "salvaging a clip panicked"),
        }
    }
    RecordingResult::Failed {
        error: "the recorder stopped before the clip was stored".into(),
    }
}

/// A clip whose object exists: available with the duration it holds, if it plays.
async fn settle_completed(store: &ClipStore, key: &str) -> RecordingResult {
    match store.read(key).await {
        Ok(Some(bytes)) => match playable_prefix(&bytes) {
            Some((_, duration)) => RecordingResult::Available {
                duration_seconds: duration.as_secs_f64(),
                size_bytes: bytes.len() as i64,
            },
            None => RecordingResult::Failed {
                error: "the stored clip does not play".into(),
            },
        },
        Ok(None) => RecordingResult::Failed {
            error: "the stored clip vanished".into(),
        },
        Err(err) => RecordingResult::Failed {
            error: format!("reading the stored clip failed: {err}"),
        },
    }
}

/// A device's upload whose URL expired without `complete`: available if the object is there
/// with the size the device declared, else failed.
pub async fn settle_device_upload(store: &ClipStore, recording: &Recording) -> RecordingResult {
    let declared = recording.size_bytes.unwrap_or(-1);
    match store.size(&recording.object_key).await {
        Ok(Some(size)) if size as i64 == declared => RecordingResult::Available {
            duration_seconds: recording.duration_seconds.unwrap_or(0.0),
            size_bytes: declared,
        },
        Ok(_) => RecordingResult::Failed {
            error: "the device never completed its upload".into(),
        },
        Err(err) => RecordingResult::Failed {
            error: format!("checking the uploaded clip failed: {err}"),
        },
    }
}

/// The staged uploads of `dest` (`<dest>#<n>`).
fn staged_files(dest: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (dest.parent(), dest.file_name()) else {
        return Vec::new();
    };
    let prefix = format!("{}#", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

/// Turns the largest staged upload of `dest` into the object, cut to what plays; removes the
/// others. Returns the object's size and duration.
fn salvage_staged(dest: &Path) -> Option<(u64, Duration)> {
    let mut staged = staged_files(dest);
    staged.sort_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
    let best = staged.pop();
    for other in staged {
        let _ = std::fs::remove_file(other);
    }
    let best = best?;
    let bytes = std::fs::read(&best).ok()?;
    let Some((len, duration)) = playable_prefix(&bytes) else {
        let _ = std::fs::remove_file(&best);
        return None;
    };
    let file = std::fs::OpenOptions::new().write(true).open(&best).ok()?;
    file.set_len(len as u64).ok()?;
    file.sync_all().ok()?;
    std::fs::rename(&best, dest).ok()?;
    Some((len as u64, duration))
}
