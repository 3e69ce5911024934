//! The media relay end to end, with real WebRTC peers over real UDP: a camera publishes
//! H.264 + Opus over WHIP, viewers watch over WHEP, and the relay's reports move the stream
//! sessions signal keeps.

use std::time::Duration;

use reqwest::StatusCode;
use securecam_tests::media::{
    household, open_session, session_status, wait_for_status, MEDIA_TIMEOUT,
};
use securecam_tests::{both_backends, spawn_app_with, ws_next_of_type, Backend};
use securecam_media_relay::client;

both_backends!(two_viewers_watch_one_camera_until_it_leaves,);

async fn two_viewers_watch_one_camera_until_it_leaves(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.relay.publisher_grace_secs = 1;
        s.signal.stream_idle_stop_secs = 1;
    })
    .await;
    let mut home = household(&app, "owner@example.com").await;
    let camera = home.publish(&app).await;
    assert!(
        camera.wait_for(MEDIA_TIMEOUT, |s| s.connected).await,
        "the camera connects to the relay"
    );
    // The relay has the publisher: the session is live and the requester hears so.
    let live = wait_for_status(&mut home.phone_ws, "live").await;
    assert_eq!(live["id"], home.session["id"]);
    assert!(live["started_at"].is_string());

    // Two viewers: the phone, and a tablet with its own session (live at once).
    let tablet = app
        .create_device(&home.owner.token, "Tablet", "viewer")
        .await;
    let tablet_session =
        open_session(&app, &tablet.token, &home.camera.device.id, &tablet.id).await;
    assert_eq!(tablet_session["status"], "live");
    let phone_view = home.watch(&app).await;
    let tablet_view = client::watch(
        &app.client,
        tablet_session["subscribe_endpoint"].as_str().unwrap(),
        tablet_session["subscribe_token"].as_str().unwrap(),
        false,
    )
    .await
    .expect("WHEP");
    for view in [&phone_view, &tablet_view] {
        assert!(
            view.wait_for(MEDIA_TIMEOUT, |s| s.video_packets > 30 && s.audio_packets > 10)
                .await,
            "video and audio reach the viewer: {:?}",
            view.stats()
        );
        let stats = view.stats();
        // A viewer starts at a keyframe, which the relay asked the camera for.
        assert_eq!(stats.first_video_was_keyframe, Some(true));
        assert!(stats.keyframes >= 1);
        assert_eq!(stats.video_ssrcs.len(), 1);
    }
    assert!(camera.stats().keyframe_requests >= 1, "PLI reached the camera");

    // The phone leaves (WHEP DELETE): its session ends; the tablet keeps receiving.
    let deleted = app.client.delete(&phone_view.location).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    let ended = wait_for_status(&mut home.phone_ws, "ended").await;
    assert_eq!(ended["end_reason"], "viewer_left");
    let before = tablet_view.stats().video_packets;
    assert!(
        tablet_view
            .wait_for(MEDIA_TIMEOUT, |s| s.video_packets > before + 30)
            .await
    );
    // Deleting twice: the session URL is gone.
    let again = app.client.delete(&phone_view.location).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);

    // The camera reconnects (a new WHIP from the same device): it replaces its old leg and the
    // tablet goes on, on the same SSRC, from a fresh keyframe.
    let keyframes = tablet_view.stats().keyframes;
    let camera_again = home.publish(&app).await;
    assert!(camera_again.wait_for(MEDIA_TIMEOUT, |s| s.connected).await);
    let before = tablet_view.stats().video_packets;
    assert!(
        tablet_view
            .wait_for(MEDIA_TIMEOUT, |s| s.video_packets > before + 60
                && s.keyframes > keyframes)
            .await,
        "{:?}",
        tablet_view.stats()
    );
    assert_eq!(tablet_view.stats().video_ssrcs.len(), 1);
    assert!(
        camera.wait_for(MEDIA_TIMEOUT, |s| s.disconnected).await,
        "the old leg was closed"
    );

    // The camera leaves for good (WHIP DELETE): after the grace period the stream closes,
    // the tablet's session ends and, once idle, the camera is told to stop.
    let deleted = app
        .client
        .delete(&camera_again.location)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    let mut closed = Value::Null;
    for _ in 0..50 {
        closed = session_status(&app, &home.owner.token, &tablet_session["id"]).await;
        if closed["status"] == "ended" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(closed["status"], "ended");
    assert_eq!(closed["end_reason"], "camera_disconnected");
    assert!(tablet_view.wait_for(MEDIA_TIMEOUT, |s| s.disconnected).await);
    let stop = ws_next_of_type(&mut home.camera.ws, "command").await["command"].clone();
    assert_eq!(stop["command_type"], "stop_stream");
}

use serde_json::Value;
