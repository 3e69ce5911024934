//! Crash recovery with real clips: a clip whose recorder died mid-upload is cut to what plays
//! and becomes the object (ffprobe reads it, ffmpeg decodes it); a clip with no whole fragment
//! on disk, or an S3-style upload that was never completed, is failed; a completed object
//! whose row was not updated is the clip.

use std::sync::Arc;

use crate::common::{assert_decodes_cleanly, ffprobe_json, record, x264_access_units_keyed};
use bytes::Bytes;
use securecam_recorder::recovery::recover;
use securecam_recorder::store::ClipStore;
use securecam_storage::{now, Recording, RecordingResult, RecordingSource, RecordingStatus};
use uuid::Uuid;

fn row(store: &ClipStore, id: Uuid, owner: Uuid) -> Recording {
    Recording {
        id,
        owner_user_id: owner,
        stream_session_id: None,
        camera_device_id: None,
        requester_device_id: None,
        event_id: None,
        object_key: store.object_key(owner, id),
        bucket: store.bucket().to_string(),
        duration_seconds: None,
        size_bytes: None,
        content_type: "video/mp4".into(),
        status: RecordingStatus::Recording,
        available_at: None,
        error: None,
        created_at: now(),
        updated_at: now(),
        source: RecordingSource::Recorder,
        upload_id: None,
        upload_parts: None,
    }
}

#[tokio::test]
async fn a_clip_cut_off_by_a_crash_keeps_what_plays() {
    let dir = tempfile::tempdir().unwrap();
    let store = ClipStore::local(dir.path().join("objects")).unwrap();
    // A camera's 2.5 Mbit/s (a noisy picture, as a real one is), a keyframe a second: many
    // parts reach the disk.
    let keys = ["-g", "30", "-b:v", "2500k", "-vf", "noise=alls=40:allf=t"];
    let units = x264_access_units_keyed(dir.path(), 12, &keys);
    let owner = Uuid::now_v7();

    // Ten seconds reach the disk, then the process dies (no completion, no clean-up).
    let clip = row(&store, Uuid::now_v7(), owner);
    let mut upload = store.begin(&clip.object_key).await.unwrap();
    record(&units, 10, &mut upload).await;
    assert!(
        upload.written() > 4 * securecam_recorder::store::LOCAL_PART_SIZE as u64,
        "{} bytes written",
        upload.written()
    );
    std::mem::forget(upload);
    let RecordingResult::Available {
        duration_seconds,
        size_bytes,
    } = recover(&store, &clip).await
    else {
        panic!("the salvaged clip plays");
    };
    // Whole fragments only: at most what was written, and most of it.
    assert!(
        (5.0..=10.0).contains(&duration_seconds),
        "{duration_seconds}"
    );
    let path = store.local_path(&clip.object_key).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), size_bytes as u64);
    let probe = ffprobe_json(&path, &["-show_streams", "-show_format"]);
    assert_eq!(probe["streams"][0]["codec_name"], "h264");
    let probed: f64 = probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((probed - duration_seconds).abs() < 0.1, "{probed}");
    assert_decodes_cleanly(&path);
    let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
    assert_eq!(leftovers, 1, "no staged upload is left behind");

    // Recovering again (another recorder, a second sweep) finds the object: the same clip.
    assert_eq!(
        recover(&store, &clip).await,
        RecordingResult::Available {
            duration_seconds,
            size_bytes
        }
    );
}

#[tokio::test]
async fn a_clip_with_nothing_playable_stored_fails() {
    let dir = tempfile::tempdir().unwrap();
    let store = ClipStore::local(dir.path().join("objects")).unwrap();
    let owner = Uuid::now_v7();

    // Only the start of the init segment reached the disk.
    let clip = row(&store, Uuid::now_v7(), owner);
    let mut upload = store.begin(&clip.object_key).await.unwrap();
    upload
        .write(Bytes::from_static(b"\0\0\0\x18ftypiso6"))
        .await
        .unwrap();
    upload.settle().await.unwrap();
    std::mem::forget(upload);
    assert!(matches!(
        recover(&store, &clip).await,
        RecordingResult::Failed { .. }
    ));
    let path = store.local_path(&clip.object_key).unwrap();
    assert!(!path.exists());

    // Nothing at all, as an S3 multipart upload that was never completed leaves it.
    let bucket = ClipStore::with_objects(Arc::new(object_store::memory::InMemory::new()), "mem");
    let clip = row(&bucket, Uuid::now_v7(), owner);
    let mut upload = bucket.begin(&clip.object_key).await.unwrap();
    let units = x264_access_units_keyed(dir.path(), 3, &["-g", "30"]);
    record(&units, 3, &mut upload).await;
    std::mem::forget(upload);
    let RecordingResult::Failed { error } = recover(&bucket, &clip).await else {
        panic!("nothing was stored");
    };
    assert!(error.contains("before the clip was stored"), "{error}");
}
