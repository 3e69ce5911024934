//! Notifications and the delivery queue: who is told of an event and who gets a push, what
//! preferences hold back, webhook fan-out, and the queue's claims, leases, retries, deaths
//! (a refused push token is forgotten and audited) and rescues.

use chrono::Duration;
use futures::FutureExt;
use uuid::Uuid;

use super::commands::phone;
use super::{camera, new_user};
use crate::{
    new_id, now, ClaimedDelivery, Database, DeliveryReport, DeliveryResult, DeliveryStatus,
    NewAuditLog, NewDevice, NewEvent, NewWebhookEndpoint, NotificationPreferences,
    NotificationStatus, PageRequest, PushProvider, QuietHours, SuppressedReason, Trigger,
    WebhookEventType,
};

fn with_token(mut device: NewDevice, provider: PushProvider, token: &str) -> NewDevice {
    device.push_provider = Some(provider);
    device.push_token = Some(token.to_string());
    device
}

fn motion(owner: Uuid, camera: Uuid) -> NewEvent {
    NewEvent {
        camera_device_id: camera,
        owner_user_id: owner,
        title: "Motion".into(),
        triggered_by: Trigger::Motion,
        started_at: now(),
    }
}

async fn deliveries(db: &dyn Database, owner: Uuid) -> Vec<crate::NotificationDelivery> {
    db.list_notification_deliveries(owner, None, PageRequest::first(200))
        .await
        .unwrap()
        .items
}

/// Claims everything due for `worker`, with a lease of a minute.
async fn claim_all(db: &dyn Database, worker: &str) -> Vec<ClaimedDelivery> {
    let t = now();
    db.claim_deliveries(worker, t, t + Duration::seconds(60), 500)
        .await
        .unwrap()
}

fn report(id: Uuid, result: DeliveryResult) -> DeliveryReport {
    DeliveryReport { id, result }
}

/// Sends whatever earlier stories left due, so a story counts only its own jobs.
async fn drain(db: &dyn Database) {
    let leftover = claim_all(db, "drain").await;
    let sent: Vec<_> = leftover
        .iter()
        .map(|c| report(c.id, DeliveryResult::Sent))
        .collect();
    db.finish_deliveries("drain", &sent, now()).await.unwrap();
}

pub async fn notifications(db: &dyn Database) {
    drain(db).await;
    let audit = || NewAuditLog::new("test");
    let ada = new_user(db, "ada@notify.test").await;
    let bob = new_user(db, "bob@notify.test").await;
    let eve = new_user(db, "eve@notify.test").await;
    // The camera has a push token (for command wake-ups) but gets no alerts.
    let cam = db
        .create_device(camera(ada, "porch"), "n-porch", audit())
        .await
        .unwrap();
    let ada_phone = db
        .create_device(
            with_token(phone(ada, "ada's phone"), PushProvider::Fcm, "fcm-ada"),
            "n-ada-phone",
            audit(),
        )
        .await
        .unwrap();
    let _ada_tablet = db
        .create_device(
            phone(ada, "ada's tablet, no token"),
            "n-ada-tablet",
            audit(),
        )
        .await
        .unwrap();
    let bob_phone = db
        .create_device(
            with_token(phone(bob, "bob's phone"), PushProvider::Apns, "apns-bob"),
            "n-bob-phone",
            audit(),
        )
        .await
        .unwrap();
    let eve_cam = db
        .create_device(camera(eve, "eve's camera"), "n-eve-cam", audit())
        .await
        .unwrap();
    let eve_phone = db
        .create_device(
            with_token(phone(eve, "eve's phone"), PushProvider::Fcm, "fcm-eve"),
            "n-eve-phone",
            audit(),
        )
        .await
        .unwrap();
    db.create_link_invite(ada, cam.id, "n-invite", now() + Duration::hours(1), audit())
        .await
        .unwrap();
    db.accept_link_invite("n-invite", bob, bob_phone.id, now(), audit())
        .await
        .unwrap();
    // Webhooks: Ada's for new events and clips, Eve's for everything (never Ada's business).
    let hook = db
        .create_webhook(
            NewWebhookEndpoint {
                owner_user_id: ada,
                url: "https://hooks.example/ada".into(),
                events: vec![
                    WebhookEventType::EventCreated,
                    WebhookEventType::RecordingAvailable,
                    WebhookEventType::EventCreated,
                ],
                secret: "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=".into(),
            },
            now(),
            NewAuditLog::new("webhook.create"),
        )
        .await
        .unwrap();
    assert_eq!(hook.owner_user_id, ada);
    assert!(hook.enabled);
    let eves_hook = db
        .create_webhook(
            NewWebhookEndpoint {
                owner_user_id: eve,
                url: "https://hooks.example/eve".into(),
                events: WebhookEventType::ALL.to_vec(),
                secret: "whsec_ZXZlLWV2ZS1ldmUtZXZlLWV2ZQ==".into(),
            },
            now(),
            NewAuditLog::new("webhook.create"),
        )
        .await
        .unwrap();
    assert_eq!(
        db.get_webhook(ada, hook.id).await.unwrap(),
        Some(hook.clone())
    );
    assert_eq!(db.get_webhook(ada, eves_hook.id).await.unwrap(), None);
    assert_eq!(
        db.list_webhooks(ada, PageRequest::first(10))
            .await
            .unwrap()
            .items,
        vec![hook.clone()]
    );
    // Whatever woke the notifier so far is spent.
    let queued = db.deliveries_queued();
    let _ = queued.notified().now_or_never();

    // An event: a notification for Ada and for Bob (linked); pushes to Ada's phone and Bob's
    // phone only (the camera and the tablet without a token get none); Ada's webhook. The
    // notifier in this process is woken.
    let first = db.create_event(motion(ada, cam.id), now()).await.unwrap();
    assert!(
        queued.notified().now_or_never().is_some(),
        "queued jobs wake the notifier"
    );
    let adas = db
        .list_notifications(ada, false, PageRequest::first(10))
        .await
        .unwrap()
        .items;
    assert_eq!(adas.len(), 1);
    assert_eq!(adas[0].event_id, first.id);
    assert_eq!(adas[0].status, NotificationStatus::Pending);
    assert_eq!(adas[0].camera_device_id, Some(cam.id));
    assert_eq!(adas[0].title, "Motion");
    assert!(!adas[0].is_read);
    let bobs = db
        .list_notifications(bob, false, PageRequest::first(10))
        .await
        .unwrap()
        .items;
    assert_eq!(bobs.len(), 1);
    assert!(db
        .list_notifications(eve, false, PageRequest::first(10))
        .await
        .unwrap()
        .items
        .is_empty());
    let ada_jobs = deliveries(db, ada).await;
    let pushes: Vec<_> = ada_jobs.iter().filter(|d| d.kind == "event").collect();
    assert_eq!(pushes.len(), 1, "{ada_jobs:?}");
    assert_eq!(pushes[0].recipient_device_id, Some(ada_phone.id));
    assert_eq!(pushes[0].notification_id, Some(adas[0].id));
    assert_eq!(pushes[0].status, DeliveryStatus::Pending);
    assert_eq!(pushes[0].attempts, 0);
    let hooks: Vec<_> = ada_jobs.iter().filter(|d| d.kind == "webhook").collect();
    assert_eq!(
        hooks.len(),
        1,
        "one job per endpoint, however often a type is listed"
    );
    assert_eq!(hooks[0].webhook_endpoint_id, Some(hook.id));
    assert_eq!(deliveries(db, bob).await.len(), 1);
    assert!(
        deliveries(db, eve).await.is_empty(),
        "Eve's webhook hears nothing of Ada"
    );

    // Read: once, by its user only.
    assert_eq!(
        db.mark_notification_read(eve, adas[0].id).await.unwrap(),
        None
    );
    let read = db
        .mark_notification_read(ada, adas[0].id)
        .await
        .unwrap()
        .unwrap();
    assert!(read.is_read);
    assert!(db
        .list_notifications(ada, true, PageRequest::first(10))
        .await
        .unwrap()
        .items
        .is_empty());

    // The worker takes every due job with what it needs to send it; a second worker finds none.
    let claimed = claim_all(db, "worker-a").await;
    assert_eq!(claimed.len(), 3, "{claimed:?}");
    assert!(claim_all(db, "worker-b").await.is_empty());
    let ada_push = claimed
        .iter()
        .find(|c| c.recipient_device_id == Some(ada_phone.id))
        .unwrap();
    assert_eq!(ada_push.kind, "event");
    assert_eq!(ada_push.attempts, 1);
    assert_eq!(ada_push.push_provider.as_deref(), Some("fcm"));
    assert_eq!(ada_push.push_token.as_deref(), Some("fcm-ada"));
    assert_eq!(ada_push.payload["event_id"], first.id.to_string());
    assert_eq!(ada_push.payload["camera_name"], "porch");
    let bob_push = claimed
        .iter()
        .find(|c| c.recipient_device_id == Some(bob_phone.id))
        .unwrap();
    assert_eq!(bob_push.push_provider.as_deref(), Some("apns"));
    let hook_job = claimed.iter().find(|c| c.kind == "webhook").unwrap();
    assert_eq!(
        hook_job.webhook_url.as_deref(),
        Some("https://hooks.example/ada")
    );
    assert!(hook_job
        .webhook_secret
        .as_deref()
        .unwrap()
        .starts_with("whsec_"));
    assert_eq!(hook_job.payload["type"], "event.created");
    assert_eq!(hook_job.payload["data"]["id"], first.id.to_string());
    assert!(hook_job.payload["timestamp"].is_string());
    let sending = deliveries(db, ada).await;
    assert!(sending.iter().all(|d| d.status == DeliveryStatus::Sending));

    // A report from a worker that does not hold the lease changes nothing.
    db.finish_deliveries(
        "worker-b",
        &[report(ada_push.id, DeliveryResult::Sent)],
        now(),
    )
    .await
    .unwrap();
    assert!(deliveries(db, ada)
        .await
        .iter()
        .all(|d| d.status == DeliveryStatus::Sending));

    // Ada's push is sent (her notification with it), Bob's fails for now, the webhook dies.
    let retry_at = now() + Duration::seconds(30);
    let finished_at = now();
    db.finish_deliveries(
        "worker-a",
        &[
            report(ada_push.id, DeliveryResult::Sent),
            report(
                bob_push.id,
                DeliveryResult::Retry {
                    error: "apns: 503 ServiceUnavailable".into(),
                    at: retry_at,
                },
            ),
            report(
                hook_job.id,
                DeliveryResult::Dead {
                    error: "webhook: gave up".into(),
                    refused_token: None,
                },
            ),
        ],
        finished_at,
    )
    .await
    .unwrap();
    let jobs = deliveries(db, ada).await;
    let push = jobs.iter().find(|d| d.id == ada_push.id).unwrap();
    assert_eq!(push.status, DeliveryStatus::Sent);
    assert_eq!(push.sent_at, Some(finished_at));
    assert_eq!(push.next_attempt_at, None);
    assert_eq!(push.attempts, 1);
    let dead = jobs.iter().find(|d| d.id == hook_job.id).unwrap();
    assert_eq!(dead.status, DeliveryStatus::Dead);
    assert_eq!(dead.last_error.as_deref(), Some("webhook: gave up"));
    assert_eq!(dead.next_attempt_at, None);
    let notification = &db
        .list_notifications(ada, false, PageRequest::first(10))
        .await
        .unwrap()
        .items[0];
    assert_eq!(notification.status, NotificationStatus::Sent);
    assert_eq!(notification.sent_at, Some(finished_at));
    let bob_job = &deliveries(db, bob).await[0];
    assert_eq!(bob_job.status, DeliveryStatus::Failed);
    assert_eq!(bob_job.next_attempt_at, Some(retry_at));
    assert_eq!(
        bob_job.last_error.as_deref(),
        Some("apns: 503 ServiceUnavailable")
    );
    // Not due before its time; due after.
    assert!(claim_all(db, "worker-a").await.is_empty());
    let later = retry_at + Duration::seconds(1);
    let again = db
        .claim_deliveries("worker-b", later, later + Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, bob_push.id);
    assert_eq!(again[0].attempts, 2);

    // APNs says Bob's token is gone: the job is dead, the token forgotten, the notification
    // failed, and the owner's audit trail says so.
    db.finish_deliveries(
        "worker-b",
        &[report(
            bob_push.id,
            DeliveryResult::Dead {
                error: "apns: 410 Unregistered".into(),
                refused_token: Some("apns-bob".into()),
            },
        )],
        later,
    )
    .await
    .unwrap();
    let device = db.get_device(bob, bob_phone.id).await.unwrap().unwrap();
    assert_eq!(device.push_provider, None, "a refused token is forgotten");
    assert_eq!(
        db.list_notifications(bob, false, PageRequest::first(10))
            .await
            .unwrap()
            .items[0]
            .status,
        NotificationStatus::Failed
    );
    let trail = db
        .list_audit_logs(bob, PageRequest::first(50))
        .await
        .unwrap();
    let invalid = trail
        .items
        .iter()
        .find(|row| row.action == "device.push_token_invalid")
        .expect("the refused token is audited");
    assert_eq!(invalid.target_id, Some(bob_phone.id.to_string()));
    assert_eq!(invalid.metadata["delivery_id"], bob_push.id.to_string());

    // A refusal of a token the device has since replaced leaves the new one alone.
    db.create_event(motion(eve, eve_cam.id), now())
        .await
        .unwrap();
    let eve_jobs = claim_all(db, "worker-a").await;
    assert_eq!(
        eve_jobs.len(),
        2,
        "Eve's phone and Eve's webhook: {eve_jobs:?}"
    );
    let eve_hook_job = eve_jobs.iter().find(|c| c.kind == "webhook").unwrap();
    assert_eq!(eve_hook_job.webhook_endpoint_id, Some(eves_hook.id));
    db.update_device(
        eve,
        eve_phone.id,
        crate::DevicePatch {
            push_provider: Some(Some(PushProvider::Fcm)),
            push_token: Some(Some("fcm-eve-new".into())),
            ..Default::default()
        },
        audit(),
    )
    .await
    .unwrap();
    let eve_reports: Vec<DeliveryReport> = eve_jobs
        .iter()
        .map(|c| {
            report(
                c.id,
                DeliveryResult::Dead {
                    error: "fcm: 404 UNREGISTERED".into(),
                    refused_token: Some("fcm-eve".into()),
                },
            )
        })
        .collect();
    db.finish_deliveries("worker-a", &eve_reports, now())
        .await
        .unwrap();
    let eve_device = db.get_device(eve, eve_phone.id).await.unwrap().unwrap();
    assert_eq!(eve_device.push_provider, Some(PushProvider::Fcm));

    preferences(db, ada, bob, cam.id).await;
    leases(db, ada, cam.id).await;
    webhook_lifecycle(db, ada, eve, hook.id, cam.id).await;
}

/// Muted cameras, quiet hours and the cooldown hold pushes back; the notification stays.
async fn preferences(db: &dyn Database, ada: Uuid, bob: Uuid, cam: Uuid) {
    let audit = || NewAuditLog::new("notification_preferences.update");
    assert_eq!(
        db.notification_preferences(ada).await.unwrap(),
        NotificationPreferences::default()
    );
    let muted = NotificationPreferences {
        quiet_hours: None,
        muted_camera_ids: vec![cam],
        cooldown_seconds: 0,
    };
    assert_eq!(
        db.set_notification_preferences(ada, &muted, now(), audit())
            .await
            .unwrap(),
        muted
    );
    assert_eq!(db.notification_preferences(ada).await.unwrap(), muted);
    assert_eq!(
        db.notification_preferences(bob).await.unwrap(),
        NotificationPreferences::default(),
        "one user's preferences are theirs only"
    );
    let pushes =
        |jobs: Vec<crate::NotificationDelivery>| jobs.iter().filter(|d| d.kind == "event").count();
    let before = pushes(deliveries(db, ada).await);
    let event = db.create_event(motion(ada, cam), now()).await.unwrap();
    let latest = &db
        .list_notifications(ada, false, PageRequest::first(1))
        .await
        .unwrap()
        .items[0];
    assert_eq!(latest.event_id, event.id);
    assert_eq!(latest.status, NotificationStatus::Suppressed);
    assert_eq!(
        latest.suppressed_reason,
        Some(SuppressedReason::MutedCamera)
    );
    assert_eq!(pushes(deliveries(db, ada).await), before, "no push to Ada");

    // Quiet all day long (in UTC, from a minute ago to a minute before that).
    let t = now();
    let quiet = NotificationPreferences {
        quiet_hours: Some(QuietHours {
            start: (t - Duration::minutes(1)).format("%H:%M").to_string(),
            end: (t - Duration::minutes(2)).format("%H:%M").to_string(),
            timezone: "UTC".into(),
        }),
        muted_camera_ids: vec![],
        cooldown_seconds: 0,
    };
    db.set_notification_preferences(ada, &quiet, now(), audit())
        .await
        .unwrap();
    db.create_event(motion(ada, cam), now()).await.unwrap();
    let latest = &db
        .list_notifications(ada, false, PageRequest::first(1))
        .await
        .unwrap()
        .items[0];
    assert_eq!(latest.suppressed_reason, Some(SuppressedReason::QuietHours));

    // A cooldown of ten minutes: the first event alerts, the next one does not.
    let cooldown = NotificationPreferences {
        cooldown_seconds: 600,
        ..Default::default()
    };
    db.set_notification_preferences(ada, &cooldown, now(), audit())
        .await
        .unwrap();
    // The porch camera alerted minutes ago; a garden camera never did. The cooldown is
    // per camera.
    let garden = db
        .create_device(camera(ada, "garden"), "n-garden", NewAuditLog::new("test"))
        .await
        .unwrap();
    let pushes_before = pushes(deliveries(db, ada).await);
    db.create_event(motion(ada, garden.id), now())
        .await
        .unwrap();
    db.create_event(motion(ada, garden.id), now())
        .await
        .unwrap();
    db.create_event(motion(ada, cam), now()).await.unwrap();
    let three = db
        .list_notifications(ada, false, PageRequest::first(3))
        .await
        .unwrap()
        .items;
    assert_eq!(three[0].camera_device_id, Some(cam));
    assert_eq!(three[0].suppressed_reason, Some(SuppressedReason::Cooldown));
    assert_eq!(three[1].suppressed_reason, Some(SuppressedReason::Cooldown));
    assert_eq!(three[2].suppressed_reason, None);
    assert_eq!(three[2].status, NotificationStatus::Pending);
    assert_eq!(
        pushes(deliveries(db, ada).await),
        pushes_before + 1,
        "a burst is one alert"
    );
    let trail = db
        .list_audit_logs(ada, PageRequest::first(200))
        .await
        .unwrap();
    assert!(trail
        .items
        .iter()
        .any(|row| row.action == "notification_preferences.update"));
    db.set_notification_preferences(ada, &NotificationPreferences::default(), now(), audit())
        .await
        .unwrap();

    // Which cameras a user may name: their own and linked ones.
    let stranger = new_id();
    let mut visible = db.visible_cameras(bob, &[cam, stranger]).await.unwrap();
    visible.sort();
    assert_eq!(visible, vec![cam]);
    assert!(db.visible_cameras(bob, &[]).await.unwrap().is_empty());
}

/// A worker that dies leaves its jobs `sending`; once the lease runs out they are due again,
/// and a job out of attempts is dead. Two workers claiming at once never share a job.
async fn leases(db: &dyn Database, ada: Uuid, cam: Uuid) {
    drain(db).await;

    for _ in 0..6 {
        db.create_event(motion(ada, cam), now()).await.unwrap();
    }
    let t = now();
    let (a, b) = futures::join!(
        db.claim_deliveries("racer-a", t, t + Duration::seconds(60), 8),
        db.claim_deliveries("racer-b", t, t + Duration::seconds(60), 8),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut ids: Vec<Uuid> = a.iter().chain(&b).map(|c| c.id).collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total, "no job is claimed twice");
    assert_eq!(total, 12, "six events, a push and a webhook each");
    // Both "die": their leases end in the past.
    let racers = [("racer-a", &a), ("racer-b", &b)];
    assert_eq!(
        db.rescue_deliveries(now(), 12).await.unwrap(),
        0,
        "leases still held"
    );
    let expired = now() + Duration::seconds(61);
    assert_eq!(db.rescue_deliveries(expired, 12).await.unwrap(), 12);
    let rescued = deliveries(db, ada).await;
    for id in &ids {
        let job = rescued.iter().find(|d| d.id == *id).unwrap();
        assert_eq!(job.status, DeliveryStatus::Failed);
        assert_eq!(job.attempts, 1, "the interrupted attempt counts");
        assert!(job.last_error.as_deref().unwrap().contains("lease"));
        assert_eq!(job.next_attempt_at, Some(expired));
    }
    // The dead workers' late reports are ignored.
    for (worker, claimed) in racers {
        let late: Vec<_> = claimed
            .iter()
            .map(|c| report(c.id, DeliveryResult::Sent))
            .collect();
        db.finish_deliveries(worker, &late, expired).await.unwrap();
    }
    assert!(deliveries(db, ada)
        .await
        .iter()
        .filter(|d| ids.contains(&d.id))
        .all(|d| d.status == DeliveryStatus::Failed));
    // Claimed again and lost again with one attempt left: dead.
    let retaken = db
        .claim_deliveries("racer-c", expired, expired, 100)
        .await
        .unwrap();
    assert_eq!(retaken.len(), 12);
    assert!(retaken.iter().all(|c| c.attempts == 2));
    let much_later = expired + Duration::seconds(1);
    assert_eq!(db.rescue_deliveries(much_later, 2).await.unwrap(), 12);
    assert!(deliveries(db, ada)
        .await
        .iter()
        .filter(|d| ids.contains(&d.id))
        .all(|d| d.status == DeliveryStatus::Dead && d.next_attempt_at.is_none()));
}

/// Ending an event and a finished clip reach the endpoints subscribed to them; a deleted
/// endpoint takes its undelivered jobs with it and is audited; nobody deletes another's.
async fn webhook_lifecycle(db: &dyn Database, ada: Uuid, eve: Uuid, hook: Uuid, cam: Uuid) {
    let event = db.create_event(motion(ada, cam), now()).await.unwrap();
    let hooks_before = deliveries(db, ada)
        .await
        .iter()
        .filter(|d| d.kind == "webhook")
        .count();
    db.end_event(cam, event.id, now(), now()).await.unwrap();
    assert_eq!(
        deliveries(db, ada)
            .await
            .iter()
            .filter(|d| d.kind == "webhook")
            .count(),
        hooks_before,
        "Ada's endpoint is not subscribed to event.ended"
    );
    let queued = db
        .enqueue_webhook_event(
            ada,
            WebhookEventType::RecordingAvailable,
            serde_json::json!({"id": "clip"}),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(queued, 1);
    assert_eq!(
        db.enqueue_webhook_event(
            ada,
            WebhookEventType::DeviceOnline,
            serde_json::json!({}),
            now()
        )
        .await
        .unwrap(),
        0
    );
    assert!(!db
        .delete_webhook(eve, hook, NewAuditLog::new("webhook.delete"))
        .await
        .unwrap());
    assert!(db
        .delete_webhook(ada, hook, NewAuditLog::new("webhook.delete"))
        .await
        .unwrap());
    assert!(deliveries(db, ada)
        .await
        .iter()
        .all(|d| d.webhook_endpoint_id != Some(hook)));
    assert_eq!(db.get_webhook(ada, hook).await.unwrap(), None);
    let trail = db
        .list_audit_logs(ada, PageRequest::first(200))
        .await
        .unwrap();
    assert!(trail
        .items
        .iter()
        .any(|row| row.action == "webhook.delete" && row.target_id == Some(hook.to_string())));
    assert!(trail.items.iter().any(|row| row.action == "webhook.create"));
}
