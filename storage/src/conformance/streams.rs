//! Stream sessions: who may open and see them, how a camera's sessions share its one publish
//! and move together, the publish timeout, idle cameras, and views a revoked link allowed.

use chrono::Duration;
use uuid::Uuid;

use super::commands::phone;
use super::{camera, new_user};
use crate::{
    now, AcceptOutcome, Database, EventViewer, NewAuditLog, NewStreamSession, StreamOutcome,
    StreamReason, StreamSession, StreamStatus,
};

pub(super) fn session(user: Uuid, camera: Uuid, requester: Uuid) -> NewStreamSession {
    NewStreamSession {
        user_id: user,
        camera_device_id: camera,
        requester_device_id: Some(requester),
        reason: StreamReason::LiveView,
        media_provider: "securecam-relay".into(),
        media_session_id: format!("cam-{}", camera.simple()),
        publish_endpoint: "http://relay.test/media/whip/x".into(),
        subscribe_endpoint: "http://relay.test/media/whep/x".into(),
        relay_node_id: None,
    }
}

async fn open(db: &dyn Database, new: NewStreamSession) -> StreamOutcome {
    db.create_stream_session(new, now(), NewAuditLog::new("stream.start"))
        .await
        .unwrap()
}

pub(super) async fn opened(db: &dyn Database, new: NewStreamSession) -> (StreamSession, bool) {
    match open(db, new).await {
        StreamOutcome::Created {
            session,
            start_camera,
        } => (*session, start_camera),
        other => panic!("expected a new session, got {other:?}"),
    }
}

fn user(user_id: Uuid) -> EventViewer {
    EventViewer {
        user_id,
        device_id: None,
    }
}

fn device(user_id: Uuid, device_id: Uuid) -> EventViewer {
    EventViewer {
        user_id,
        device_id: Some(device_id),
    }
}

pub async fn streams(db: &dyn Database) {
    let audit = || NewAuditLog::new("device.create");
    let ada = new_user(db, "ada@streams.test").await;
    let bob = new_user(db, "bob@streams.test").await;
    let cam = db
        .create_device(camera(ada, "Door"), "st-cam", audit())
        .await
        .unwrap();
    let yard = db
        .create_device(camera(ada, "Yard"), "st-yard", audit())
        .await
        .unwrap();
    let ada_phone = db
        .create_device(phone(ada, "Ada's"), "st-ada", audit())
        .await
        .unwrap();
    let ada_tablet = db
        .create_device(phone(ada, "Ada's tablet"), "st-tab", audit())
        .await
        .unwrap();
    let bob_phone = db
        .create_device(phone(bob, "Bob's"), "st-bob", audit())
        .await
        .unwrap();

    // Strangers, and requesters that are not the caller's, find nothing; a phone is no camera.
    for new in [
        session(bob, cam.id, bob_phone.id),
        session(bob, cam.id, ada_phone.id),
        session(ada, cam.id, bob_phone.id),
        session(ada, crate::new_id(), ada_phone.id),
    ] {
        assert_eq!(open(db, new).await, StreamOutcome::NotFound);
    }
    assert_eq!(
        open(db, session(ada, ada_tablet.id, ada_phone.id)).await,
        StreamOutcome::NotACamera
    );
    // The recorder's sessions have no requester: only the camera's owner gets one.
    let recorder = |user: Uuid| NewStreamSession {
        requester_device_id: None,
        reason: StreamReason::Recording,
        ..session(user, yard.id, ada_phone.id)
    };
    assert_eq!(open(db, recorder(bob)).await, StreamOutcome::NotFound);
    let (recording, start) = opened(db, recorder(ada)).await;
    assert!(start);
    assert_eq!(recording.requester_device_id, None);
    assert_eq!(recording.reason, StreamReason::Recording);
    assert!(db
        .close_stream_session(recording.id, "recording_finished", now())
        .await
        .unwrap()
        .is_some());

    // The first session asks the camera to publish; the second joins it.
    let (first, start) = opened(db, session(ada, cam.id, ada_phone.id)).await;
    assert!(start);
    assert_eq!(first.status, StreamStatus::Requested);
    assert_eq!(first.owner_user_id, ada);
    assert_eq!(first.reason, StreamReason::LiveView);
    assert_eq!(first.media_provider.as_deref(), Some("securecam-relay"));
    let (second, start) = opened(db, session(ada, cam.id, ada_tablet.id)).await;
    assert!(!start, "the camera is already asked to publish");
    assert_eq!(second.status, StreamStatus::Requested);

    // The camera acknowledges: every waiting session of it starts; later ones join as starting.
    let starting = db.camera_starting(cam.id, now()).await.unwrap();
    let mut ids: Vec<Uuid> = starting.iter().map(|s| s.id).collect();
    ids.sort();
    assert_eq!(ids, vec![first.id, second.id]);
    assert!(starting.iter().all(|s| s.status == StreamStatus::Starting));
    let (third, start) = opened(db, session(ada, cam.id, ada_phone.id)).await;
    assert!(!start);
    assert_eq!(third.status, StreamStatus::Starting);

    // Who sees a session: the owner, the requesting device, the camera; nobody else.
    for viewer in [user(ada), device(ada, ada_phone.id), device(ada, cam.id)] {
        let seen = db.get_stream_session(viewer, first.id).await.unwrap();
        assert_eq!(seen.map(|s| s.id), Some(first.id), "{viewer:?}");
    }
    for viewer in [
        user(bob),
        device(bob, bob_phone.id),
        device(ada, ada_tablet.id),
        device(ada, yard.id),
    ] {
        assert_eq!(
            db.get_stream_session(viewer, first.id).await.unwrap(),
            None,
            "{viewer:?}"
        );
    }

    // Ending: a stranger cannot; the requester can, once; a second end returns it unchanged.
    let end = |viewer, id| async move {
        db.end_stream_session(
            viewer,
            id,
            "ended_by_viewer",
            now(),
            NewAuditLog::new("stream.end"),
        )
        .await
        .unwrap()
    };
    assert_eq!(end(user(bob), first.id).await, None);
    let ended = end(device(ada, ada_phone.id), first.id).await.unwrap();
    assert_eq!(ended.status, StreamStatus::Ended);
    assert_eq!(ended.end_reason.as_deref(), Some("ended_by_viewer"));
    assert!(ended.ended_at.is_some());
    let again = end(user(ada), first.id).await.unwrap();
    assert_eq!(again, ended);

    // A camera that refuses fails its waiting sessions, and only its own.
    let (yard_session, start) = opened(db, session(ada, yard.id, ada_phone.id)).await;
    assert!(start);
    let failed = db
        .camera_failed_to_start(yard.id, "camera_refused", now())
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].id, yard_session.id);
    assert_eq!(failed[0].status, StreamStatus::Failed);
    assert_eq!(failed[0].end_reason.as_deref(), Some("camera_refused"));

    // The publish timeout fails what still waits, and nothing newer than the cut-off.
    let none = db
        .fail_unpublished_sessions(now() - Duration::hours(1), now())
        .await
        .unwrap();
    assert!(none.is_empty());
    let timed_out = db
        .fail_unpublished_sessions(now() + Duration::seconds(1), now())
        .await
        .unwrap();
    let mut ids: Vec<Uuid> = timed_out.iter().map(|s| s.id).collect();
    ids.sort();
    assert_eq!(ids, vec![second.id, third.id]);
    assert!(timed_out
        .iter()
        .all(|s| s.end_reason.as_deref() == Some("publish_timeout")));

    // Idle cameras: each once, named with its latest session, only after the idle period.
    let later = now() + Duration::seconds(60);
    assert!(db
        .release_idle_cameras(now() - Duration::hours(1), now())
        .await
        .unwrap()
        .is_empty());
    let mut idle = db.release_idle_cameras(later, now()).await.unwrap();
    idle.sort_by_key(|c| c.camera_device_id);
    let mut expected = vec![(cam.id, third.id), (yard.id, yard_session.id)];
    expected.sort();
    assert_eq!(
        idle.iter()
            .map(|c| (c.camera_device_id, c.stream_session_id))
            .collect::<Vec<_>>(),
        expected
    );
    assert!(idle.iter().all(|c| c.owner_user_id == ada));
    assert!(db
        .release_idle_cameras(later, now())
        .await
        .unwrap()
        .is_empty());

    // A camera still needed by an open session is not idle, however old its ended ones.
    let (fourth, start) = opened(db, session(ada, cam.id, ada_phone.id)).await;
    assert!(start, "nothing was open: the camera must be asked again");
    let (fifth, _) = opened(db, session(ada, cam.id, ada_tablet.id)).await;
    end(user(ada), fifth.id).await.unwrap();
    assert!(db
        .release_idle_cameras(later, now())
        .await
        .unwrap()
        .is_empty());

    // Shared with Bob's phone: Bob may watch; revoking the link makes his view unwatchable,
    // and only his.
    db.create_link_invite(
        ada,
        cam.id,
        "st-invite",
        now() + Duration::hours(1),
        audit(),
    )
    .await
    .unwrap();
    let link = match db
        .accept_link_invite("st-invite", bob, bob_phone.id, now(), audit())
        .await
        .unwrap()
    {
        AcceptOutcome::Linked(link) => link,
        other => panic!("{other:?}"),
    };
    let (bobs, start) = opened(db, session(bob, cam.id, bob_phone.id)).await;
    assert!(!start);
    assert_eq!(bobs.owner_user_id, ada);
    assert!(db
        .end_unwatchable_sessions("access_revoked", now())
        .await
        .unwrap()
        .is_empty());
    db.revoke_device_link(ada, link.id, audit()).await.unwrap();
    let cut = db
        .end_unwatchable_sessions("access_revoked", now())
        .await
        .unwrap();
    assert_eq!(cut.len(), 1);
    assert_eq!(cut[0].id, bobs.id);
    assert_eq!(cut[0].status, StreamStatus::Ended);
    assert_eq!(cut[0].end_reason.as_deref(), Some("access_revoked"));
    let still = db
        .get_stream_session(user(ada), fourth.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.status, StreamStatus::Requested);

    // The relay reports the camera publishing: its waiting sessions go live, the yard's stay.
    let (sixth, _) = opened(db, session(ada, cam.id, ada_tablet.id)).await;
    let live = db.camera_live(cam.id, now()).await.unwrap();
    let mut ids: Vec<Uuid> = live.iter().map(|s| s.id).collect();
    ids.sort();
    assert_eq!(ids, vec![fourth.id, sixth.id]);
    assert!(live
        .iter()
        .all(|s| s.status == StreamStatus::Live && s.started_at.is_some()));
    let (joined, start) = opened(db, session(ada, cam.id, ada_phone.id)).await;
    assert!(!start);
    assert_eq!(joined.status, StreamStatus::Live);
    // A viewer left the relay: its session ends, once.
    let left = db
        .close_stream_session(sixth.id, "viewer_left", now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(left.status, StreamStatus::Ended);
    assert_eq!(left.end_reason.as_deref(), Some("viewer_left"));
    assert_eq!(
        db.close_stream_session(sixth.id, "viewer_left", now())
            .await
            .unwrap(),
        None
    );
    // The camera's stream closed: every open session of it ends, and only of it.
    let (yard_again, _) = opened(db, session(ada, yard.id, ada_phone.id)).await;
    let closed = db
        .end_camera_sessions(cam.id, "camera_disconnected", now())
        .await
        .unwrap();
    let mut ids: Vec<Uuid> = closed.iter().map(|s| s.id).collect();
    ids.sort();
    assert_eq!(ids, vec![fourth.id, joined.id]);
    assert!(closed
        .iter()
        .all(|s| s.end_reason.as_deref() == Some("camera_disconnected")));
    let yard_open = db
        .get_stream_session(user(ada), yard_again.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(yard_open.status, StreamStatus::Requested);
}
