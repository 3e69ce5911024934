//! The storage test suite, written once against the trait and run unchanged by every backend
//! (`storage-sqlite/tests`, `storage-postgres/tests`). Each call gets a fresh, empty database.

mod commands;
mod notifications;
mod recordings;
mod relays;
mod streams;

use chrono::Duration;
use serde_json::json;
use uuid::Uuid;

use crate::{
    new_id, now, ClaimOutcome, Database, DevicePatch, DeviceRole, DeviceStatus, NewAuditLog,
    NewDevice, NewPairingCode, NewSession, NewUser, PageRequest, Platform, PollOutcome,
    PushProvider, StorageError,
};

pub use commands::commands;
pub use notifications::notifications;
pub use recordings::recordings;
pub use relays::relays;
pub use streams::streams;

/// One test per story for a backend: `open` is an async fn returning a fresh, empty
/// database and whatever must outlive it (a temporary directory, a throwaway database).
/// Each story runs on its own database, so one failure names its story and hides no other.
#[macro_export]
macro_rules! conformance_tests {
    ($open:path) => {
        $crate::conformance_tests!(@each $open;
            migrations users sessions verifications devices audit_logs audit_is_atomic
            presence_and_ws_tickets pairing commands streams relays recordings notifications);
    };
    (@each $open:path; $($story:ident)*) => {
        $(
            #[tokio::test]
            async fn $story() {
                let (db, _keep) = $open().await;
                $crate::Database::migrate(&db).await.expect("migrations apply");
                $crate::conformance::$story(&db).await;
                $crate::Database::close(&db).await;
            }
        )*
    };
}

/// Migrations apply once and are idempotent; the database is ready after them.
pub async fn migrations(db: &dyn Database) {
    db.migrate().await.expect("migrations are idempotent");
    assert!(db.ready().await.unwrap(), "ready after migrating");
}

async fn new_user(db: &dyn Database, email: &str) -> Uuid {
    db.create_user(
        NewUser {
            email: email.to_string(),
            name: "Test".to_string(),
            password_hash: "$argon2id$fake".to_string(),
        },
        NewAuditLog::new("test.user_create"),
    )
    .await
    .unwrap()
    .id
}

fn camera(owner: Uuid, name: &str) -> NewDevice {
    NewDevice {
        user_id: owner,
        name: name.to_string(),
        role: DeviceRole::Camera,
        platform: Platform::Android,
        app_version: Some("1.0".into()),
        push_provider: Some(PushProvider::Fcm),
        push_token: Some("fcm-token".into()),
    }
}

pub async fn users(db: &dyn Database) {
    let user = db
        .create_user(
            NewUser {
                email: "ada@example.com".into(),
                name: "Ada".into(),
                password_hash: "$argon2id$v=19$hash".into(),
            },
            NewAuditLog::new("test.user_create"),
        )
        .await
        .unwrap();
    assert_eq!(user.email, "ada@example.com");
    assert!(!user.email_verified);
    assert_eq!(db.get_user(user.id).await.unwrap(), Some(user.clone()));
    assert_eq!(db.get_user(new_id()).await.unwrap(), None);

    let again = db
        .create_user(
            NewUser {
                email: "ada@example.com".into(),
                name: "Other".into(),
                password_hash: "x".into(),
            },
            NewAuditLog::new("test.user_create"),
        )
        .await;
    assert!(
        matches!(again, Err(StorageError::Conflict(_))),
        "duplicate email is a conflict: {again:?}"
    );

    let creds = db
        .get_user_credentials("ada@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(creds.user, user);
    assert_eq!(creds.password_hash.as_deref(), Some("$argon2id$v=19$hash"));
    assert!(db
        .get_user_credentials("nobody@example.com")
        .await
        .unwrap()
        .is_none());

    // A new password ends every session.
    db.create_session(
        NewSession {
            user_id: user.id,
            token_hash: "pw-session".into(),
            expires_at: now() + Duration::days(1),
            ip_address: None,
            user_agent: None,
        },
        None,
    )
    .await
    .unwrap();
    // A viewer device made with a (maybe stolen) session, and a camera paired by code.
    let viewer = db
        .create_device(
            NewDevice {
                user_id: user.id,
                name: "Made by a thief".into(),
                role: DeviceRole::Viewer,
                platform: Platform::Web,
                app_version: None,
                push_provider: None,
                push_token: None,
            },
            "pw-viewer-token",
            NewAuditLog::new("device.create"),
        )
        .await
        .unwrap();
    db.create_device(
        camera(user.id, "Porch"),
        "pw-camera-token",
        NewAuditLog::new("device.create"),
    )
    .await
    .unwrap();
    let signed_out = db
        .set_password_and_revoke_sessions(user.id, "$argon2id$new", NewAuditLog::new("test.reset"))
        .await
        .unwrap();
    assert_eq!(
        signed_out,
        vec![viewer.id],
        "viewer devices lose their tokens"
    );
    assert!(db
        .get_device_by_token_hash("pw-viewer-token")
        .await
        .unwrap()
        .is_none());
    assert!(
        db.get_device_by_token_hash("pw-camera-token")
            .await
            .unwrap()
            .is_some(),
        "camera phones keep theirs"
    );
    let creds = db
        .get_user_credentials("ada@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(creds.password_hash.as_deref(), Some("$argon2id$new"));
    assert!(db
        .get_session_by_token_hash("pw-session")
        .await
        .unwrap()
        .is_none());
}

pub async fn sessions(db: &dyn Database) {
    let alice = new_user(db, "alice@sessions.test").await;
    let bob = new_user(db, "bob@sessions.test").await;
    let expires = now() + Duration::days(30);
    let mut ids = Vec::new();
    for i in 0..5 {
        let s = db
            .create_session(
                NewSession {
                    user_id: alice,
                    token_hash: format!("alice-{i}"),
                    expires_at: expires,
                    ip_address: Some("192.0.2.1".into()),
                    user_agent: Some("tests".into()),
                },
                None,
            )
            .await
            .unwrap();
        assert_eq!(s.user_id, alice);
        assert_eq!(s.expires_at, expires);
        assert_eq!(s.last_active_at, s.created_at);
        ids.push(s.id);
    }
    let found = db
        .get_session_by_token_hash("alice-3")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, ids[3]);
    assert_eq!(found.ip_address.as_deref(), Some("192.0.2.1"));
    assert!(db
        .get_session_by_token_hash("nope")
        .await
        .unwrap()
        .is_none());

    // Duplicate token hash is refused.
    let dup = db
        .create_session(
            NewSession {
                user_id: bob,
                token_hash: "alice-3".into(),
                expires_at: expires,
                ip_address: None,
                user_agent: None,
            },
            None,
        )
        .await;
    assert!(matches!(dup, Err(StorageError::Conflict(_))));

    let later = now() + Duration::minutes(5);
    assert!(db.touch_session(ids[0], later).await.unwrap());
    assert_eq!(
        db.get_session_by_token_hash("alice-0")
            .await
            .unwrap()
            .unwrap()
            .last_active_at,
        later
    );

    // Keyset pagination: newest first, two pages of 3 and 2, no overlap.
    let first = db
        .list_sessions(alice, PageRequest::first(3))
        .await
        .unwrap();
    assert_eq!(
        first.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![ids[4], ids[3], ids[2]]
    );
    let cursor = crate::Cursor::decode(first.next_cursor.as_deref().unwrap()).unwrap();
    let second = db
        .list_sessions(
            alice,
            PageRequest {
                limit: 3,
                after: Some(cursor),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        second.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![ids[1], ids[0]]
    );
    assert!(second.next_cursor.is_none());
    assert!(db
        .list_sessions(bob, PageRequest::default())
        .await
        .unwrap()
        .items
        .is_empty());

    // Only the owner can delete a session.
    assert!(!db
        .delete_session(bob, ids[4], NewAuditLog::new("test.session_delete"))
        .await
        .unwrap());
    assert!(db
        .delete_session(alice, ids[4], NewAuditLog::new("test.session_delete"))
        .await
        .unwrap());
    assert!(!db
        .delete_session(alice, ids[4], NewAuditLog::new("test.session_delete"))
        .await
        .unwrap());
    assert!(db
        .get_session_by_token_hash("alice-4")
        .await
        .unwrap()
        .is_none());
    assert!(
        !db.touch_session(ids[4], now()).await.unwrap(),
        "a deleted session cannot be touched back"
    );
    let deletes = |rows: &[crate::AuditLog]| {
        rows.iter()
            .filter(|a| a.action == "test.session_delete")
            .count()
    };
    let alice_audit = db
        .list_audit_logs(alice, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        deletes(&alice_audit.items),
        1,
        "one row for the one delete that happened"
    );
    assert_eq!(alice_audit.items[0].target_id, Some(ids[4].to_string()));
    let bob_audit = db
        .list_audit_logs(bob, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        deletes(&bob_audit.items),
        0,
        "a refused delete is not recorded as done"
    );

    // Stale sessions: one expired, one idle.
    db.create_session(
        NewSession {
            user_id: bob,
            token_hash: "bob-expired".into(),
            expires_at: now() - Duration::seconds(1),
            ip_address: None,
            user_agent: None,
        },
        None,
    )
    .await
    .unwrap();
    let idle = db
        .create_session(
            NewSession {
                user_id: bob,
                token_hash: "bob-idle".into(),
                expires_at: expires,
                ip_address: None,
                user_agent: None,
            },
            None,
        )
        .await
        .unwrap();
    db.touch_session(idle.id, now() - Duration::days(10))
        .await
        .unwrap();
    let removed = db
        .delete_stale_sessions(now(), now() - Duration::days(7))
        .await
        .unwrap();
    assert_eq!(removed, 2);
    assert!(db
        .get_session_by_token_hash("bob-idle")
        .await
        .unwrap()
        .is_none());
    assert!(db
        .get_session_by_token_hash("alice-3")
        .await
        .unwrap()
        .is_some());
}

pub async fn verifications(db: &dyn Database) {
    let v = db
        .create_verification("password-reset:x", "hash-1", now() + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(v.identifier, "password-reset:x");
    let taken = db
        .take_verification("hash-1", now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.id, v.id);
    assert!(
        db.take_verification("hash-1", now())
            .await
            .unwrap()
            .is_none(),
        "single use"
    );

    db.create_verification("password-reset:y", "hash-2", now() - Duration::seconds(1))
        .await
        .unwrap();
    assert!(
        db.take_verification("hash-2", now())
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(
        db.take_verification("hash-2", now())
            .await
            .unwrap()
            .is_none(),
        "and gone"
    );

    for (value, hours) in [("old-1", 1), ("old-2", 1), ("other", 1), ("stale", -1)] {
        let identifier = if value == "other" {
            "password-reset:other"
        } else {
            "password-reset:z"
        };
        db.create_verification(identifier, value, now() + Duration::hours(hours))
            .await
            .unwrap();
    }
    assert_eq!(db.delete_expired_verifications(now()).await.unwrap(), 1);
    let owner = new_user(db, "replace@verifications.test").await;
    let newest = db
        .replace_verification(
            "password-reset:z",
            "newest",
            now() + Duration::hours(1),
            NewAuditLog::new("test.reset_request").owner(owner),
        )
        .await
        .unwrap();
    assert_eq!(newest.identifier, "password-reset:z");
    assert!(db
        .take_verification("old-1", now())
        .await
        .unwrap()
        .is_none());
    assert!(db
        .take_verification("old-2", now())
        .await
        .unwrap()
        .is_none());
    assert!(db
        .take_verification("newest", now())
        .await
        .unwrap()
        .is_some());
    assert!(
        db.take_verification("other", now())
            .await
            .unwrap()
            .is_some(),
        "other identifiers stay"
    );
    let audit = db
        .list_audit_logs(owner, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(audit.items[0].action, "test.reset_request");

    // Concurrent replacements of one identifier leave exactly one secret.
    let (a, b) = futures::future::join(
        db.replace_verification(
            "password-reset:race",
            "race-a",
            now() + Duration::hours(1),
            NewAuditLog::new("test.race"),
        ),
        db.replace_verification(
            "password-reset:race",
            "race-b",
            now() + Duration::hours(1),
            NewAuditLog::new("test.race"),
        ),
    )
    .await;
    a.unwrap();
    b.unwrap();
    let left = [
        db.take_verification("race-a", now())
            .await
            .unwrap()
            .is_some(),
        db.take_verification("race-b", now())
            .await
            .unwrap()
            .is_some(),
    ];
    assert_eq!(left.iter().filter(|x| **x).count(), 1, "{left:?}");

    // A new password also voids every outstanding reset secret of that user, and the reset
    // is recorded with it.
    let user = new_user(db, "reset@verifications.test").await;
    db.create_verification(
        &format!("password-reset:{user}"),
        "pending-reset",
        now() + Duration::hours(1),
    )
    .await
    .unwrap();
    db.set_password_and_revoke_sessions(user, "$argon2id$x", NewAuditLog::new("test.reset"))
        .await
        .unwrap();
    assert!(db
        .take_verification("pending-reset", now())
        .await
        .unwrap()
        .is_none());
    let audit = db
        .list_audit_logs(user, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(audit.items[0].action, "test.reset");
    assert_eq!(audit.items[0].target_id, Some(user.to_string()));
}

pub async fn devices(db: &dyn Database) {
    let owner = new_user(db, "owner@devices.test").await;
    let other = new_user(db, "other@devices.test").await;

    let cam = db
        .create_device(
            camera(owner, "Porch"),
            "token-porch",
            NewAuditLog::new("device.create"),
        )
        .await
        .unwrap();
    assert_eq!(cam.user_id, owner);
    assert_eq!(cam.role, DeviceRole::Camera);
    assert!(cam.is_camera);
    assert_eq!(cam.status, DeviceStatus::Offline);
    assert_eq!(cam.push_provider, Some(PushProvider::Fcm));
    assert!(cam.last_seen_at.is_none());

    let viewer = db
        .create_device(
            NewDevice {
                user_id: owner,
                name: "Phone".into(),
                role: DeviceRole::Viewer,
                platform: Platform::Ios,
                app_version: None,
                push_provider: None,
                push_token: None,
            },
            "token-phone",
            NewAuditLog::new("device.create"),
        )
        .await
        .unwrap();
    assert!(!viewer.is_camera);
    assert_eq!(viewer.push_provider, None);

    assert_eq!(
        db.get_device(owner, cam.id).await.unwrap(),
        Some(cam.clone())
    );
    assert_eq!(
        db.get_device(other, cam.id).await.unwrap(),
        None,
        "another owner's id is unknown"
    );
    assert_eq!(
        db.get_device_by_token_hash("token-porch").await.unwrap(),
        Some(cam.clone())
    );
    assert!(db
        .get_device_by_token_hash("token-none")
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        db.create_device(
            camera(other, "Dup token"),
            "token-porch",
            NewAuditLog::new("device.create")
        )
        .await,
        Err(StorageError::Conflict(_))
    ));
    assert!(
        db.list_devices(other, PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty(),
        "failed create left nothing"
    );

    let page = db.list_devices(owner, PageRequest::first(1)).await.unwrap();
    assert_eq!(page.items[0].id, viewer.id);
    let rest = db
        .list_devices(
            owner,
            PageRequest {
                limit: 1,
                after: Some(crate::Cursor::decode(page.next_cursor.as_deref().unwrap()).unwrap()),
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items[0].id, cam.id);
    assert!(rest.next_cursor.is_none());

    // Patch: only the given fields change; a nullable one can be cleared.
    let patched = db
        .update_device(
            owner,
            cam.id,
            DevicePatch {
                name: Some("Front door".into()),
                app_version: Some(None),
                ..Default::default()
            },
            NewAuditLog::new("device.update"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(patched.name, "Front door");
    assert_eq!(patched.app_version, None);
    assert_eq!(patched.push_provider, Some(PushProvider::Fcm));
    assert!(patched.updated_at >= cam.updated_at);
    let cleared = db
        .update_device(
            owner,
            cam.id,
            DevicePatch {
                push_provider: Some(None),
                push_token: Some(None),
                ..Default::default()
            },
            NewAuditLog::new("device.update"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cleared.push_provider, None);
    assert_eq!(cleared.name, "Front door");
    assert!(db
        .update_device(
            other,
            cam.id,
            DevicePatch {
                name: Some("stolen".into()),
                ..Default::default()
            },
            NewAuditLog::new("device.update"),
        )
        .await
        .unwrap()
        .is_none());

    // Delete: not by another owner; then the token stops resolving.
    assert!(!db
        .delete_device(other, cam.id, NewAuditLog::new("test.device_delete"))
        .await
        .unwrap());
    assert!(db
        .delete_device(owner, cam.id, NewAuditLog::new("test.device_delete"))
        .await
        .unwrap());
    assert!(db.get_device(owner, cam.id).await.unwrap().is_none());
    assert!(db
        .get_device_by_token_hash("token-porch")
        .await
        .unwrap()
        .is_none());
    assert!(!db
        .delete_device(owner, cam.id, NewAuditLog::new("test.device_delete"))
        .await
        .unwrap());

    // Each action wrote its audit row with it, owner and target filled in; the refused ones
    // (another owner's update and delete, the duplicate token, the repeated delete) none.
    let audit = db
        .list_audit_logs(owner, PageRequest::default())
        .await
        .unwrap();
    let rows: Vec<(&str, Option<&str>)> = audit
        .items
        .iter()
        .map(|a| (a.action.as_str(), a.target_id.as_deref()))
        .collect();
    let cam_id = cam.id.to_string();
    let viewer_id = viewer.id.to_string();
    assert_eq!(
        rows,
        vec![
            ("test.device_delete", Some(cam_id.as_str())),
            ("device.update", Some(cam_id.as_str())),
            ("device.update", Some(cam_id.as_str())),
            ("device.create", Some(viewer_id.as_str())),
            ("device.create", Some(cam_id.as_str())),
            ("test.user_create", Some(owner.to_string().as_str())),
        ]
    );
    assert!(audit
        .items
        .iter()
        .all(|a| a.target_type.is_some() && a.owner_user_id == Some(owner)));
    let other_rows = db
        .list_audit_logs(other, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        other_rows.items.len(),
        1,
        "only its own sign-up: {:?}",
        other_rows.items
    );
}

pub async fn audit_logs(db: &dyn Database) {
    let owner = new_user(db, "owner@audit.test").await;
    let other = new_user(db, "other@audit.test").await;
    for i in 0..3 {
        db.insert_audit_log(
            NewAuditLog::new("device.create")
                .owner(owner)
                .target("device", format!("d{i}"))
                .metadata(json!({"n": i}))
                .ip(Some("198.51.100.7".into())),
        )
        .await
        .unwrap();
    }
    // Unknown actor: no owner at all.
    db.insert_audit_log(
        NewAuditLog::new("auth.sign_in_failed").metadata(json!({"reason": "unknown_email"})),
    )
    .await
    .unwrap();

    let page = db
        .list_audit_logs(owner, PageRequest::first(2))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].target_id.as_deref(), Some("d2"));
    assert_eq!(page.items[0].metadata, json!({"n": 2}));
    assert_eq!(page.items[0].ip_address.as_deref(), Some("198.51.100.7"));
    assert_eq!(page.items[0].action, "device.create");
    assert!(page.next_cursor.is_some());
    let others = db
        .list_audit_logs(other, PageRequest::default())
        .await
        .unwrap();
    let actions: Vec<&str> = others.items.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, vec!["test.user_create"], "only its own rows");
}

/// An action and its audit row commit together: when the audit row cannot be written (here:
/// it names an actor device that does not exist), the action is rolled back too.
pub async fn audit_is_atomic(db: &dyn Database) {
    let broken = || NewAuditLog::new("test.broken").actor_device(Some(new_id()));
    let owner = new_user(db, "owner@atomic.test").await;

    assert!(db
        .create_user(
            NewUser {
                email: "ghost@atomic.test".into(),
                name: "Ghost".into(),
                password_hash: "x".into(),
            },
            broken(),
        )
        .await
        .is_err());
    assert!(db
        .get_user_credentials("ghost@atomic.test")
        .await
        .unwrap()
        .is_none());

    assert!(db
        .create_device(camera(owner, "Atomic"), "token-atomic", broken())
        .await
        .is_err());
    assert!(db
        .get_device_by_token_hash("token-atomic")
        .await
        .unwrap()
        .is_none());
    let device = db
        .create_device(
            camera(owner, "Kept"),
            "token-kept",
            NewAuditLog::new("device.create"),
        )
        .await
        .unwrap();
    assert!(db.delete_device(owner, device.id, broken()).await.is_err());
    assert!(
        db.get_device(owner, device.id).await.unwrap().is_some(),
        "delete rolled back"
    );
    let patch = DevicePatch {
        name: Some("Renamed".into()),
        ..Default::default()
    };
    assert!(db
        .update_device(owner, device.id, patch, broken())
        .await
        .is_err());
    assert_eq!(
        db.get_device(owner, device.id).await.unwrap().unwrap().name,
        "Kept"
    );

    let new_session = |hash: &str| NewSession {
        user_id: owner,
        token_hash: hash.into(),
        expires_at: now() + Duration::days(1),
        ip_address: None,
        user_agent: None,
    };
    assert!(db
        .create_session(new_session("atomic-1"), Some(broken()))
        .await
        .is_err());
    assert!(db
        .get_session_by_token_hash("atomic-1")
        .await
        .unwrap()
        .is_none());
    let session = db
        .create_session(
            new_session("atomic-2"),
            Some(NewAuditLog::new("auth.sign_in")),
        )
        .await
        .unwrap();
    assert!(db
        .delete_session(owner, session.id, broken())
        .await
        .is_err());
    assert!(db
        .get_session_by_token_hash("atomic-2")
        .await
        .unwrap()
        .is_some());
    assert!(db
        .set_password_and_revoke_sessions(owner, "$argon2id$changed", broken())
        .await
        .is_err());
    assert_eq!(
        db.get_user_credentials("owner@atomic.test")
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .as_deref(),
        Some("$argon2id$fake"),
        "password change rolled back"
    );

    // The sign-in row names the new session and its user.
    let audit = db
        .list_audit_logs(owner, PageRequest::default())
        .await
        .unwrap();
    let sign_in = audit
        .items
        .iter()
        .find(|a| a.action == "auth.sign_in")
        .unwrap();
    assert_eq!(sign_in.target_type.as_deref(), Some("session"));
    assert_eq!(sign_in.target_id, Some(session.id.to_string()));
    assert!(audit.items.iter().all(|a| a.action != "test.broken"));
}

pub async fn presence_and_ws_tickets(db: &dyn Database) {
    let owner = new_user(db, "owner@presence.test").await;
    let device = db
        .create_device(
            camera(owner, "Cam"),
            "token-presence",
            NewAuditLog::new("device.create"),
        )
        .await
        .unwrap();
    let at = now();
    let online = db
        .set_device_presence(device.id, DeviceStatus::Online, at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(online.status, DeviceStatus::Online);
    assert_eq!(online.last_seen_at, Some(at));
    let offline = db
        .set_device_presence(device.id, DeviceStatus::Offline, at + Duration::seconds(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(offline.status, DeviceStatus::Offline);
    assert_eq!(offline.last_seen_at, Some(at + Duration::seconds(5)));
    assert!(db
        .set_device_presence(new_id(), DeviceStatus::Online, at)
        .await
        .unwrap()
        .is_none());

    db.create_ws_ticket(device.id, "ticket-1", now() + Duration::seconds(30))
        .await
        .unwrap();
    db.create_ws_ticket(device.id, "ticket-old", now() - Duration::seconds(1))
        .await
        .unwrap();
    let (first, second) = futures::future::join(
        db.use_ws_ticket("ticket-1", now()),
        db.use_ws_ticket("ticket-1", now()),
    )
    .await;
    let used: Vec<_> = [first.unwrap(), second.unwrap()]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(used.len(), 1, "a ticket works once");
    assert_eq!(used[0].id, device.id);
    assert!(
        db.use_ws_ticket("ticket-old", now())
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(db
        .use_ws_ticket("ticket-none", now())
        .await
        .unwrap()
        .is_none());
}

pub async fn pairing(db: &dyn Database) {
    let owner = new_user(db, "owner@pairing.test").await;
    let other = new_user(db, "other@pairing.test").await;
    let viewer = db
        .create_device(
            NewDevice {
                user_id: owner,
                name: "Phone".into(),
                role: DeviceRole::Viewer,
                platform: Platform::Ios,
                app_version: None,
                push_provider: None,
                push_token: None,
            },
            "token-pairing-viewer",
            NewAuditLog::new("device.create"),
        )
        .await
        .unwrap();
    let code = |n: &str, minutes: i64| NewPairingCode {
        code_hash: format!("code-{n}"),
        poll_token_hash: format!("poll-{n}"),
        name: format!("Camera {n}"),
        platform: Platform::Android,
        expires_at: now() + Duration::minutes(minutes),
    };
    let created = db.create_pairing_code(code("a", 10)).await.unwrap();
    assert_eq!(created.status, crate::PairingStatus::Pending);
    db.create_pairing_code(code("old", -1)).await.unwrap();
    db.create_pairing_code(code("race", 10)).await.unwrap();

    assert_eq!(
        db.poll_pairing_code("poll-a", "unused", now())
            .await
            .unwrap(),
        PollOutcome::Pending
    );
    let claim = |hash: &'static str, who, viewer| {
        db.claim_pairing_code(hash, who, viewer, now(), NewAuditLog::new("pairing.claim"))
    };
    assert_eq!(
        claim("code-none", owner, None).await.unwrap(),
        ClaimOutcome::NotFound
    );
    assert_eq!(
        claim("code-old", owner, None).await.unwrap(),
        ClaimOutcome::Gone
    );
    assert_eq!(
        claim("code-a", other, Some(viewer.id)).await.unwrap(),
        ClaimOutcome::NotFound,
        "a viewer of another owner cannot be named"
    );
    let ClaimOutcome::Claimed(camera) = claim("code-a", owner, Some(viewer.id)).await.unwrap()
    else {
        panic!("claim failed")
    };
    assert_eq!(camera.user_id, owner);
    assert_eq!(camera.name, "Camera a");
    assert!(camera.is_camera);
    assert_eq!(
        claim("code-a", owner, None).await.unwrap(),
        ClaimOutcome::Gone,
        "once"
    );
    let audit = db
        .list_audit_logs(owner, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(audit.items[0].action, "pairing.claim");
    assert_eq!(audit.items[0].target_id, Some(camera.id.to_string()));

    // The camera fetches its token exactly once.
    assert!(db
        .get_device_by_token_hash("token-cam-a")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        db.poll_pairing_code("poll-a", "token-cam-a", now())
            .await
            .unwrap(),
        PollOutcome::Delivered(camera.clone())
    );
    assert_eq!(
        db.get_device_by_token_hash("token-cam-a")
            .await
            .unwrap()
            .unwrap()
            .id,
        camera.id
    );
    assert_eq!(
        db.poll_pairing_code("poll-a", "token-cam-b", now())
            .await
            .unwrap(),
        PollOutcome::Gone
    );
    assert!(db
        .get_device_by_token_hash("token-cam-b")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        db.poll_pairing_code("poll-old", "x", now()).await.unwrap(),
        PollOutcome::Gone
    );
    assert_eq!(
        db.poll_pairing_code("poll-none", "x", now()).await.unwrap(),
        PollOutcome::Gone
    );

    // Two owners racing for one code: exactly one gets the camera.
    let (first, second) = futures::future::join(
        claim("code-race", owner, None),
        claim("code-race", other, None),
    )
    .await;
    let claimed = [first.unwrap(), second.unwrap()]
        .into_iter()
        .filter(|o| matches!(o, ClaimOutcome::Claimed(_)))
        .count();
    assert_eq!(claimed, 1);
}
