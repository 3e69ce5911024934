//! Recordings: a clip's life (`recording` → `uploading` → `available`, or `failed`), the
//! event it shows up on, who may see and delete it, and what crash recovery finds.

use chrono::Duration;
use uuid::Uuid;

use super::commands::phone;
use super::{camera, new_user};
use crate::{
    new_id, now, Database, EventViewer, NewAuditLog, NewEvent, NewRecording, PageRequest,
    RecordingFilter, RecordingResult, RecordingSource, RecordingStatus, Trigger,
};

fn clip(owner: Uuid, camera: Uuid, event: Option<Uuid>) -> NewRecording {
    let id = new_id();
    NewRecording {
        id,
        owner_user_id: owner,
        stream_session_id: None,
        camera_device_id: Some(camera),
        requester_device_id: None,
        event_id: event,
        object_key: format!("clips/{owner}/{id}.mp4"),
        bucket: "clips".into(),
        content_type: "video/mp4".into(),
        source: RecordingSource::Recorder,
        size_bytes: None,
        duration_seconds: None,
    }
}

fn user(id: Uuid) -> EventViewer {
    EventViewer {
        user_id: id,
        device_id: None,
    }
}

pub async fn recordings(db: &dyn Database) {
    let audit = || NewAuditLog::new("test");
    let ada = new_user(db, "ada@recordings.test").await;
    let bob = new_user(db, "bob@recordings.test").await;
    let cam = db
        .create_device(camera(ada, "porch"), "rec-porch", audit())
        .await
        .unwrap();
    let bob_phone = db
        .create_device(phone(bob, "bob's phone"), "rec-bob-phone", audit())
        .await
        .unwrap();
    let t0 = now();
    let event = db
        .create_event(
            NewEvent {
                camera_device_id: cam.id,
                owner_user_id: ada,
                title: "Motion".into(),
                triggered_by: Trigger::Motion,
                started_at: t0,
            },
            t0,
        )
        .await
        .unwrap();

    // A clip starts: `recording`, visible to its owner only.
    let first = db
        .create_recording(clip(ada, cam.id, Some(event.id)), t0)
        .await
        .unwrap();
    assert_eq!(first.status, RecordingStatus::Recording);
    assert_eq!(first.source, RecordingSource::Recorder);
    assert_eq!(first.size_bytes, None);
    assert_eq!(
        db.get_recording(user(ada), first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(db.get_recording(user(bob), first.id).await.unwrap(), None);
    assert_eq!(db.get_recording(user(ada), new_id()).await.unwrap(), None);

    // Progress keeps it fresh; crash recovery finds only clips whose row stopped moving.
    let t1 = t0 + Duration::seconds(2);
    assert!(db.recording_progress(first.id, 65_536, t1).await.unwrap());
    let stale = |at| db.abandoned_recordings(at, RecordingSource::Recorder, 10);
    assert!(stale(t1).await.unwrap().is_empty(), "fresh at t1");
    let found = stale(t1 + Duration::seconds(1)).await.unwrap();
    assert_eq!(
        found.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![first.id]
    );
    assert_eq!(found[0].size_bytes, Some(65_536));
    assert_eq!(found[0].upload_id, None);
    // A bucket upload's state rides on the row, for recovery to complete.
    assert!(db
        .recording_upload(first.id, "upload-1", r#"["etag-a"]"#, t1)
        .await
        .unwrap());
    let found = stale(t1 + Duration::seconds(1)).await.unwrap();
    assert_eq!(found[0].upload_id.as_deref(), Some("upload-1"));
    assert_eq!(found[0].upload_parts.as_deref(), Some(r#"["etag-a"]"#));

    // Closed, then available: the event now shows it.
    assert!(db.recording_uploading(first.id, t1).await.unwrap());
    assert!(
        !db.recording_uploading(first.id, t1).await.unwrap(),
        "only from recording"
    );
    assert!(
        !db.recording_progress(first.id, 1, t1).await.unwrap(),
        "no progress once closed"
    );
    let available = RecordingResult::Available {
        duration_seconds: 17.5,
        size_bytes: 2_000_000,
    };
    let done = db
        .finish_recording(first.id, available.clone(), t1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, RecordingStatus::Available);
    assert_eq!(done.duration_seconds, Some(17.5));
    assert_eq!(done.size_bytes, Some(2_000_000));
    assert_eq!(done.available_at, Some(t1));
    assert_eq!(
        db.finish_recording(first.id, available.clone(), t1)
            .await
            .unwrap(),
        None,
        "a clip ends once"
    );
    let media = crate::Recording::media_path(first.id);
    let shown = db.get_event(user(ada), event.id).await.unwrap().unwrap();
    assert_eq!(shown.video_url.as_deref(), Some(media.as_str()));
    assert!(stale(t1 + Duration::hours(1)).await.unwrap().is_empty());

    // A second clip of the event fails: the event keeps showing the first.
    let second = db
        .create_recording(clip(ada, cam.id, Some(event.id)), t1)
        .await
        .unwrap();
    let failed = db
        .finish_recording(
            second.id,
            RecordingResult::Failed {
                error: "upload refused".into(),
            },
            t1,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.status, RecordingStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("upload refused"));
    let both = db.event_recordings(event.id, 10).await.unwrap();
    assert_eq!(both.len(), 2);
    assert!(both[0].id < both[1].id, "oldest first");
    // Bounded: the newest only.
    let newest = db.event_recordings(event.id, 1).await.unwrap();
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].id, both[1].id);
    let shown = db.get_event(user(ada), event.id).await.unwrap().unwrap();
    assert_eq!(shown.video_url.as_deref(), Some(media.as_str()));

    // Listing: newest first, filtered, paginated; strangers see nothing.
    let other = db
        .create_recording(clip(ada, cam.id, None), t1)
        .await
        .unwrap();
    let all = db
        .list_recordings(
            user(ada),
            RecordingFilter::default(),
            PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(
        all.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![other.id, second.id, first.id]
    );
    let of_event = RecordingFilter {
        event_id: Some(event.id),
        ..Default::default()
    };
    let listed = db
        .list_recordings(user(ada), of_event, PageRequest::first(1))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].id, second.id);
    let rest = db
        .list_recordings(
            user(ada),
            RecordingFilter {
                event_id: Some(event.id),
                ..Default::default()
            },
            PageRequest {
                limit: 10,
                after: Some(
                    crate::Cursor::decode(listed.next_cursor.as_deref().expect("a next page"))
                        .unwrap(),
                ),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        rest.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![first.id]
    );
    let since_later = RecordingFilter {
        since: Some(t1 + Duration::seconds(1)),
        ..Default::default()
    };
    assert!(db
        .list_recordings(user(ada), since_later, PageRequest::first(10))
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(db
        .list_recordings(
            user(bob),
            RecordingFilter::default(),
            PageRequest::first(10)
        )
        .await
        .unwrap()
        .items
        .is_empty());

    // Linked to the camera, Bob's phone sees clips made since the link, not before.
    db.create_link_invite(ada, cam.id, "rec-invite", t1 + Duration::hours(1), audit())
        .await
        .unwrap();
    let linked_at = now();
    db.accept_link_invite("rec-invite", bob, bob_phone.id, linked_at, audit())
        .await
        .unwrap();
    let later = db
        .create_recording(clip(ada, cam.id, None), linked_at + Duration::seconds(1))
        .await
        .unwrap();
    let bobs_phone = EventViewer {
        user_id: bob,
        device_id: Some(bob_phone.id),
    };
    assert!(db
        .get_recording(bobs_phone, later.id)
        .await
        .unwrap()
        .is_some());
    assert!(db
        .get_recording(user(bob), later.id)
        .await
        .unwrap()
        .is_some());
    assert_eq!(db.get_recording(bobs_phone, first.id).await.unwrap(), None);

    // Only the owner deletes; a deleted clip is gone everywhere, the event forgets it, and
    // the deletion is audited.
    assert_eq!(
        db.delete_recording(bob, later.id, t1, audit())
            .await
            .unwrap(),
        None
    );
    let deleted = db
        .delete_recording(ada, first.id, t1, NewAuditLog::new("recording.delete"))
        .await
        .unwrap()
        .expect("Ada's clip");
    assert_eq!(deleted.object_key, first.object_key);
    assert_eq!(db.get_recording(user(ada), first.id).await.unwrap(), None);
    assert_eq!(
        db.delete_recording(ada, first.id, t1, audit())
            .await
            .unwrap(),
        None,
        "deleted once"
    );
    let shown = db.get_event(user(ada), event.id).await.unwrap().unwrap();
    assert_eq!(shown.video_url, None);
    let audited = db
        .list_audit_logs(ada, PageRequest::first(50))
        .await
        .unwrap();
    assert!(audited.items.iter().any(|a| a.action == "recording.delete"
        && a.target_id.as_deref() == Some(first.id.to_string().as_str())));
    assert_eq!(
        db.finish_recording(first.id, available, t1).await.unwrap(),
        None,
        "a deleted clip never comes back"
    );

    // Retention: finished clips past their age go, and an owner's oldest clips beyond the
    // size quota; clips still being written never do.
    let cy = new_user(db, "cy@recordings.test").await;
    let cy_cam = db
        .create_device(camera(cy, "yard"), "rec-cy-cam", audit())
        .await
        .unwrap();
    let mut kept = Vec::new();
    for (n, size) in [100, 200, 300].into_iter().enumerate() {
        let made = t0 + Duration::seconds(n as i64 * 10);
        let row = db
            .create_recording(clip(cy, cy_cam.id, None), made)
            .await
            .unwrap();
        let result = RecordingResult::Available {
            duration_seconds: 10.0,
            size_bytes: size,
        };
        db.finish_recording(row.id, result, made).await.unwrap();
        kept.push(row.id);
    }
    let broken = db
        .create_recording(clip(cy, cy_cam.id, None), t0)
        .await
        .unwrap();
    let failure = RecordingResult::Failed {
        error: "camera sent no video".into(),
    };
    db.finish_recording(broken.id, failure, t0).await.unwrap();
    let writing = db
        .create_recording(clip(cy, cy_cam.id, None), t0)
        .await
        .unwrap();
    let past = |before, quota| async move {
        let rows = db
            .recordings_past_retention(before, quota, 100)
            .await
            .unwrap();
        let mut ids: Vec<Uuid> = rows
            .into_iter()
            .filter(|r| r.owner_user_id == cy)
            .map(|r| r.id)
            .collect();
        ids.sort();
        ids
    };
    let long_ago = t0 - Duration::days(1);
    assert!(past(long_ago, None).await.is_empty());
    assert_eq!(past(long_ago, Some(600)).await, Vec::<Uuid>::new());
    assert_eq!(past(long_ago, Some(599)).await, vec![kept[0]]);
    assert_eq!(past(long_ago, Some(300)).await, vec![kept[0], kept[1]]);
    let mut aged = vec![kept[0], kept[1], broken.id];
    aged.sort();
    assert_eq!(past(t0 + Duration::seconds(15), None).await, aged);
    assert!(!past(t0 + Duration::days(1), Some(0))
        .await
        .contains(&writing.id));

    // A device's own clip starts `uploading` with what it declared; recovery looks at device
    // uploads and the recorder's clips separately.
    let declared = NewRecording {
        source: RecordingSource::Device,
        size_bytes: Some(1234),
        duration_seconds: Some(9.5),
        ..clip(cy, cy_cam.id, None)
    };
    let upload = db.create_recording(declared, t0).await.unwrap();
    assert_eq!(upload.status, RecordingStatus::Uploading);
    assert_eq!(upload.source, RecordingSource::Device);
    assert_eq!(
        (upload.size_bytes, upload.duration_seconds),
        (Some(1234), Some(9.5))
    );
    let later = t0 + Duration::hours(2);
    let devices = db
        .abandoned_recordings(later, RecordingSource::Device, 10)
        .await
        .unwrap();
    assert_eq!(
        devices.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![upload.id]
    );
    let recorders = db
        .abandoned_recordings(later, RecordingSource::Recorder, 100)
        .await
        .unwrap();
    assert!(recorders
        .iter()
        .all(|r| r.source == RecordingSource::Recorder));
    assert!(recorders.iter().any(|r| r.id == writing.id));
}
