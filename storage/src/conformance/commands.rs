//! Commands: who may send, idempotency, claiming for delivery with backoff, answers,
//! cancellation, expiry, and what revoking a link does to a sharer's commands.

use chrono::Duration;
use serde_json::json;
use uuid::Uuid;

use super::{camera, new_user};
use crate::{
    new_id, now, AckOutcome, CancelOutcome, Command, CommandAck, CommandOutcome, CommandStatus,
    CommandViewer, Database, DeviceRole, DeviceStatus, NewAuditLog, NewCommand, NewDevice,
    PageRequest, Platform, RetrySchedule,
};

fn command(sender: Uuid, device: Option<Uuid>, target: Uuid, kind: &str) -> NewCommand {
    NewCommand {
        sender_user_id: sender,
        sender_device_id: device,
        target_device_id: target,
        command_type: kind.to_string(),
        payload: json!({}),
        expires_at: now() + Duration::seconds(60),
        idempotency_key: None,
        target_connected: false,
    }
}

async fn create(db: &dyn Database, new: NewCommand) -> CommandOutcome {
    db.create_command(new, now(), NewAuditLog::new("command.create"))
        .await
        .unwrap()
}

async fn created(db: &dyn Database, new: NewCommand) -> (Command, bool) {
    match create(db, new).await {
        CommandOutcome::Created {
            command,
            wake_up_queued,
        } => (command, wake_up_queued),
        other => panic!("expected a new command, got {other:?}"),
    }
}

pub(super) fn phone(owner: Uuid, name: &str) -> NewDevice {
    NewDevice {
        user_id: owner,
        name: name.to_string(),
        role: DeviceRole::Viewer,
        platform: Platform::Ios,
        app_version: None,
        push_provider: None,
        push_token: None,
    }
}

pub async fn commands(db: &dyn Database) {
    let audit = || NewAuditLog::new("device.create");
    let ada = new_user(db, "ada@commands.test").await;
    let bob = new_user(db, "bob@commands.test").await;
    let eve = new_user(db, "eve@commands.test").await;
    let cam = db
        .create_device(camera(ada, "Door"), "cmd-cam", audit())
        .await
        .unwrap();
    let ada_phone = db
        .create_device(phone(ada, "Ada's"), "cmd-ada", audit())
        .await
        .unwrap();
    let bob_phone = db
        .create_device(phone(bob, "Bob's"), "cmd-bob", audit())
        .await
        .unwrap();

    // The owner commands an offline camera with a push token: one wake-up push, not two.
    let (first, woken) = created(db, command(ada, None, cam.id, "take_snapshot")).await;
    assert!(
        woken,
        "offline camera with a push token gets a wake-up push"
    );
    assert_eq!(first.status, CommandStatus::Queued);
    assert_eq!(first.owner_user_id, ada);
    assert_eq!(first.source_user_id, Some(ada));
    let (second, woken) = created(db, command(ada, Some(ada_phone.id), cam.id, "ping")).await;
    assert!(!woken, "a wake-up push is already pending");
    assert_eq!(second.source_device_id, Some(ada_phone.id));
    // The owner's phone has no push token: nothing to wake it with.
    let (_, woken) = created(db, command(ada, None, ada_phone.id, "ping")).await;
    assert!(!woken);
    // A target the caller knows to be connected needs no wake-up, whatever its stored status.
    let yard = db
        .create_device(camera(ada, "Yard"), "cmd-yard", audit())
        .await
        .unwrap();
    let connected = NewCommand {
        target_connected: true,
        ..command(ada, None, yard.id, "ping")
    };
    let (_, woken) = created(db, connected).await;
    assert!(!woken);
    let (_, woken) = created(db, command(ada, None, yard.id, "ping")).await;
    assert!(woken, "the first wake-up for the yard camera");

    // Strangers, and strangers naming someone else's device as their source, find nothing.
    for new in [
        command(bob, None, cam.id, "ping"),
        command(bob, Some(bob_phone.id), cam.id, "ping"),
        command(eve, Some(ada_phone.id), cam.id, "ping"),
        command(ada, Some(bob_phone.id), cam.id, "ping"),
        command(ada, None, new_id(), "ping"),
    ] {
        assert_eq!(create(db, new).await, CommandOutcome::NotFound);
    }

    // Shared with Bob's phone, Bob may command the camera; the command is Ada's to see.
    let code = "cmd-invite";
    db.create_link_invite(ada, cam.id, code, now() + Duration::hours(1), audit())
        .await
        .unwrap();
    let link = match db
        .accept_link_invite(code, bob, bob_phone.id, now(), audit())
        .await
        .unwrap()
    {
        crate::AcceptOutcome::Linked(link) => link,
        other => panic!("{other:?}"),
    };
    let (bobs, _) = created(db, command(bob, Some(bob_phone.id), cam.id, "set_torch")).await;
    assert_eq!(bobs.owner_user_id, ada);
    assert_eq!(bobs.source_user_id, Some(bob));
    assert_eq!(
        create(db, command(bob, None, cam.id, "ping")).await,
        CommandOutcome::NotFound,
        "a link lets the linked device send, not every device of its owner"
    );

    // Idempotency keys belong to the sender.
    let keyed = |sender, device| NewCommand {
        idempotency_key: Some("key-1".into()),
        ..command(sender, device, cam.id, "play_siren")
    };
    let (original, _) = created(db, keyed(ada, None)).await;
    assert_eq!(
        create(db, keyed(ada, None)).await,
        CommandOutcome::Replayed(original.clone())
    );
    let (bobs_keyed, _) = created(db, keyed(bob, Some(bob_phone.id))).await;
    assert_ne!(bobs_keyed.id, original.id, "Bob's key is not Ada's");

    // Who sees what.
    let as_ada = CommandViewer::User(ada);
    let as_bob = CommandViewer::User(bob);
    let as_cam = CommandViewer::Device {
        id: cam.id,
        owner: ada,
    };
    let as_eve = CommandViewer::User(eve);
    assert_eq!(
        db.get_command(as_ada, bobs.id).await.unwrap(),
        Some(bobs.clone())
    );
    assert_eq!(
        db.get_command(as_bob, bobs.id).await.unwrap(),
        Some(bobs.clone())
    );
    assert_eq!(
        db.get_command(as_cam, bobs.id).await.unwrap(),
        Some(bobs.clone())
    );
    assert_eq!(db.get_command(as_bob, first.id).await.unwrap(), None);
    assert_eq!(db.get_command(as_eve, first.id).await.unwrap(), None);
    let listed =
        |viewer, status| db.list_device_commands(viewer, cam.id, status, PageRequest::first(50));
    let all = listed(as_ada, None).await.unwrap().unwrap();
    assert_eq!(all.items.len(), 5);
    assert!(
        all.items.windows(2).all(|w| w[0].id > w[1].id),
        "newest first"
    );
    let bob_sees = listed(as_bob, None).await.unwrap().unwrap();
    let bob_ids: Vec<Uuid> = bob_sees.items.iter().map(|c| c.id).collect();
    assert_eq!(bob_ids, vec![bobs_keyed.id, bobs.id]);
    assert!(
        listed(as_eve, None).await.unwrap().is_none(),
        "not Eve's device"
    );
    assert!(listed(as_ada, Some(CommandStatus::Acknowledged))
        .await
        .unwrap()
        .unwrap()
        .items
        .is_empty());

    // Claiming: everything due, oldest first, marked dispatched; then nothing until the backoff.
    let schedule = RetrySchedule {
        first: std::time::Duration::from_secs(2),
        max: std::time::Duration::from_secs(5),
    };
    let t0 = now();
    let claimed = db
        .claim_commands(cam.id, t0, schedule, false, 100)
        .await
        .unwrap();
    let ids: Vec<Uuid> = claimed.iter().map(|c| c.id).collect();
    let mut oldest_first: Vec<Uuid> = all.items.iter().map(|c| c.id).collect();
    oldest_first.reverse();
    assert_eq!(ids, oldest_first);
    assert!(claimed.iter().all(|c| c.status == CommandStatus::Dispatched
        && c.retry_count == 0
        && c.last_dispatched_at == Some(t0)));
    assert!(db
        .claim_commands(cam.id, t0, schedule, false, 100)
        .await
        .unwrap()
        .is_empty());
    let limited = db
        .claim_commands(cam.id, t0 + Duration::seconds(3), schedule, false, 2)
        .await
        .unwrap();
    assert_eq!(limited.len(), 2, "the limit holds");
    assert_eq!(limited[0].id, oldest_first[0]);
    assert_eq!(limited[0].retry_count, 1);
    // A reconnect takes everything pending, due or not.
    let again = db
        .claim_commands(cam.id, t0 + Duration::seconds(3), schedule, true, 100)
        .await
        .unwrap();
    assert_eq!(again.len(), 5);
    assert_eq!(again[0].retry_count, 2);
    // Backoff after the third dispatch of the oldest is capped at 5 s: due at t0 + 8 s.
    assert!(db
        .claim_commands(cam.id, t0 + Duration::seconds(7), schedule, false, 100)
        .await
        .unwrap()
        .iter()
        .all(|c| c.id != oldest_first[0]));
    assert!(db
        .claim_commands(cam.id, t0 + Duration::seconds(9), schedule, false, 100)
        .await
        .unwrap()
        .iter()
        .any(|c| c.id == oldest_first[0]));

    // Answers: recorded once, only from the target.
    let ack = CommandAck {
        status: CommandStatus::Acknowledged,
        error: None,
        result: Some(json!({"snapshot": "ok"})),
    };
    let recorded = match db
        .acknowledge_command(cam.id, first.id, ack.clone(), now())
        .await
        .unwrap()
    {
        AckOutcome::Recorded(command) => command,
        other => panic!("{other:?}"),
    };
    assert_eq!(recorded.status, CommandStatus::Acknowledged);
    assert_eq!(recorded.result, Some(json!({"snapshot": "ok"})));
    assert!(recorded.acknowledged_at.is_some());
    assert!(matches!(
        db.acknowledge_command(cam.id, first.id, ack.clone(), now()).await.unwrap(),
        AckOutcome::AlreadyFinished(c) if c.status == CommandStatus::Acknowledged
    ));
    assert_eq!(
        db.acknowledge_command(ada_phone.id, second.id, ack.clone(), now())
            .await
            .unwrap(),
        AckOutcome::NotFound,
        "only the target answers"
    );
    let failed = CommandAck {
        status: CommandStatus::Failed,
        error: Some("no torch".into()),
        result: None,
    };
    match db
        .acknowledge_command(cam.id, second.id, failed, now())
        .await
        .unwrap()
    {
        AckOutcome::Recorded(c) => {
            assert_eq!(c.status, CommandStatus::Failed);
            assert_eq!(c.error.as_deref(), Some("no torch"));
        }
        other => panic!("{other:?}"),
    }

    // Cancelling: Bob cancels his own, not Ada's; a device cancels only what it sent.
    let cancel =
        |viewer, id| db.cancel_command(viewer, id, now(), NewAuditLog::new("command.cancel"));
    assert_eq!(
        cancel(as_bob, original.id).await.unwrap(),
        CancelOutcome::NotFound
    );
    assert_eq!(
        cancel(as_cam, original.id).await.unwrap(),
        CancelOutcome::NotFound
    );
    assert!(
        matches!(cancel(as_bob, bobs_keyed.id).await.unwrap(), CancelOutcome::Cancelled(c) if c.status == CommandStatus::Cancelled)
    );
    assert!(matches!(
        cancel(as_bob, bobs_keyed.id).await.unwrap(),
        CancelOutcome::AlreadyFinished(_)
    ));
    assert!(matches!(
        cancel(as_ada, first.id).await.unwrap(),
        CancelOutcome::AlreadyFinished(_)
    ));

    // Revoking the link stops Bob's pending commands and his right to send more.
    db.revoke_device_link(ada, link.id, NewAuditLog::new("device_link.revoke"))
        .await
        .unwrap()
        .unwrap();
    let stopped = db.get_command(as_ada, bobs.id).await.unwrap().unwrap();
    assert_eq!(stopped.status, CommandStatus::Cancelled);
    assert_eq!(stopped.error.as_deref(), Some("link revoked"));
    assert_eq!(
        create(db, command(bob, Some(bob_phone.id), cam.id, "ping")).await,
        CommandOutcome::NotFound
    );
    assert_eq!(
        db.get_command(as_ada, original.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        CommandStatus::Dispatched,
        "Ada's own commands stay"
    );

    // Expiry: only pending commands whose time is up.
    let short = NewCommand {
        expires_at: now() + Duration::seconds(1),
        ..command(ada, None, cam.id, "ping")
    };
    let (short, _) = created(db, short).await;
    let expired = db
        .expire_commands(now() + Duration::seconds(2), 100)
        .await
        .unwrap();
    // Everything else pending lives for its 60 s.
    assert_eq!(
        expired.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![short.id]
    );
    assert_eq!(expired[0].status, CommandStatus::Expired);
    assert!(db
        .claim_commands(cam.id, now() + Duration::seconds(2), schedule, true, 100)
        .await
        .unwrap()
        .iter()
        .all(|c| c.id != short.id));

    // Due work is reported only for online devices.
    let later = now() + Duration::seconds(40);
    assert!(!db
        .devices_with_due_commands(later, 100)
        .await
        .unwrap()
        .contains(&cam.id));
    db.set_device_presence(cam.id, DeviceStatus::Online, now())
        .await
        .unwrap();
    assert!(db
        .devices_with_due_commands(later, 100)
        .await
        .unwrap()
        .contains(&cam.id));

    // Every command created and cancelled is on the owner's audit trail.
    let trail = db
        .list_audit_logs(ada, PageRequest::first(200))
        .await
        .unwrap();
    let creates = trail
        .items
        .iter()
        .filter(|a| a.action == "command.create")
        .count();
    assert_eq!(
        creates, 9,
        "six to the door camera by Ada and Bob, one to Ada's phone, two to the yard camera"
    );
    assert!(trail
        .items
        .iter()
        .any(|a| a.action == "command.cancel" && a.target_id == Some(bobs_keyed.id.to_string())));
}
