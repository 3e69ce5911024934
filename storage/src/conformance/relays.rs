//! Relay nodes: registration and heartbeats, which relay a new stream goes to (the camera's
//! current one, else the least loaded live one), and what happens to sessions of a relay
//! that stopped heartbeating.

use chrono::Duration;
use uuid::Uuid;

use super::commands::phone;
use super::streams::{opened, session};
use super::{camera, new_user};
use crate::{
    new_id, now, Database, NewAuditLog, NewRelayNode, RelayLoad, RelayStatus, StreamStatus,
};

fn node(name: &str) -> NewRelayNode {
    NewRelayNode {
        id: new_id(),
        name: name.to_string(),
        public_url: format!("http://{name}.test"),
        udp_endpoint: Some("203.0.113.7:8189".into()),
    }
}

pub async fn relays(db: &dyn Database) {
    let audit = || NewAuditLog::new("device.create");
    let t0 = now();
    let fresh = |at: chrono::DateTime<chrono::Utc>| at - Duration::seconds(15);

    // Nothing registered: nothing to pick.
    let ada = new_user(db, "ada@relays.test").await;
    let cam1 = db
        .create_device(camera(ada, "porch"), "rl-porch", audit())
        .await
        .unwrap()
        .id;
    let cam2 = db
        .create_device(camera(ada, "yard"), "rl-yard", audit())
        .await
        .unwrap()
        .id;
    let cam3 = db
        .create_device(camera(ada, "gate"), "rl-gate", audit())
        .await
        .unwrap()
        .id;
    let phone = db
        .create_device(phone(ada, "phone"), "rl-phone", audit())
        .await
        .unwrap()
        .id;
    assert_eq!(db.pick_relay(cam1, fresh(t0)).await.unwrap(), None);

    let a = db.register_relay(node("relay-a"), t0).await.unwrap();
    assert_eq!(a.status, RelayStatus::Live);
    assert_eq!(a.public_url, "http://relay-a.test");
    assert_eq!((a.streams, a.viewers), (0, 0));
    let b = db.register_relay(node("relay-b"), t0).await.unwrap();
    assert!(db
        .relay_heartbeat(
            a.id,
            RelayLoad {
                streams: 1,
                viewers: 9
            },
            t0
        )
        .await
        .unwrap());
    assert!(!db
        .relay_heartbeat(Uuid::nil(), RelayLoad::default(), t0)
        .await
        .unwrap());
    let live = db.live_relays(fresh(t0)).await.unwrap();
    assert_eq!(
        live.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![b.id, a.id],
        "fewer reported viewers first"
    );
    assert_eq!((live[1].streams, live[1].viewers), (1, 9));

    // The first stream goes to the idle relay; a second session of the same camera joins the
    // relay its stream is on, whatever relay the caller picked.
    let picked = db.pick_relay(cam1, fresh(t0)).await.unwrap().unwrap();
    assert_eq!(picked.id, b.id);
    let mut new = session(ada, cam1, phone);
    new.relay_node_id = Some(b.id);
    new.subscribe_endpoint = "http://relay-b.test/media/whep/cam1".into();
    let (s1, start) = opened(db, new).await;
    assert!(start);
    assert_eq!(
        s1.subscribe_endpoint.as_deref(),
        Some("http://relay-b.test/media/whep/cam1")
    );
    let mut new = session(ada, cam1, phone);
    new.relay_node_id = Some(a.id);
    new.subscribe_endpoint = "http://relay-a.test/media/whep/cam1".into();
    let (s2, start) = opened(db, new).await;
    assert!(!start);
    assert_eq!(
        s2.subscribe_endpoint.as_deref(),
        Some("http://relay-b.test/media/whep/cam1"),
        "joins the camera's stream where it is"
    );
    assert_eq!(
        db.pick_relay(cam1, fresh(t0)).await.unwrap().unwrap().id,
        b.id
    );
    // b now carries two open sessions, a none: the next camera goes to a, even though a's
    // last heartbeat reported more viewers.
    assert_eq!(
        db.pick_relay(cam2, fresh(t0)).await.unwrap().unwrap().id,
        a.id
    );
    let mut new = session(ada, cam2, phone);
    new.relay_node_id = Some(a.id);
    let (s3, _) = opened(db, new).await;

    // a retires: it is not picked any more, and its sessions end at the next sweep.
    db.retire_relay(a.id, t0).await.unwrap();
    assert_eq!(
        db.pick_relay(cam3, fresh(t0)).await.unwrap().unwrap().id,
        b.id
    );
    assert!(
        !db.relay_heartbeat(a.id, RelayLoad::default(), t0)
            .await
            .unwrap(),
        "a retired relay must register again"
    );
    let ended = db.end_sessions_on_lost_relays(fresh(t0), t0).await.unwrap();
    assert_eq!(ended.iter().map(|s| s.id).collect::<Vec<_>>(), vec![s3.id]);
    assert_eq!(ended[0].status, StreamStatus::Ended);
    assert_eq!(ended[0].end_reason.as_deref(), Some("relay_lost"));

    // b stops heartbeating: once it is stale it is not picked and its sessions end.
    let later = t0 + Duration::seconds(20);
    assert_eq!(db.pick_relay(cam1, fresh(later)).await.unwrap(), None);
    let ended = db
        .end_sessions_on_lost_relays(fresh(later), later)
        .await
        .unwrap();
    let mut ids: Vec<Uuid> = ended.iter().map(|s| s.id).collect();
    ids.sort();
    let mut want = vec![s1.id, s2.id];
    want.sort();
    assert_eq!(ids, want);
    assert!(db.live_relays(fresh(later)).await.unwrap().is_empty());
    assert!(db
        .end_sessions_on_lost_relays(fresh(later), later)
        .await
        .unwrap()
        .is_empty());

    // A relay declared gone comes back by registering again with its id.
    let again = db
        .register_relay(
            NewRelayNode {
                id: b.id,
                ..node("relay-b")
            },
            later,
        )
        .await
        .unwrap();
    assert_eq!(again.status, RelayStatus::Live);
    assert_eq!(again.created_at, b.created_at);
    assert_eq!(
        db.pick_relay(cam3, fresh(later)).await.unwrap().unwrap().id,
        b.id
    );
}
