//! Interop with a WebRTC stack this project did not write: aiortc (PyPI) publishes real H.264
//! (libx264) and Opus over WHIP as the camera; a str0m viewer and an aiortc viewer watch over
//! WHEP, and aiortc decodes the pictures the relay forwarded.

use std::time::Duration;

use securecam_tests::aiortc::{aiortc_peer, report};
use securecam_tests::media::{household, open_session, wait_for_status, MEDIA_TIMEOUT};
use securecam_tests::{spawn_app, Backend};

#[tokio::test]
async fn aiortc_publishes_and_watches_through_the_relay() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut home = household(&app, "owner@example.com").await;

    // aiortc is the camera.
    let camera = aiortc_peer(
        "publish",
        &home.camera.publish_endpoint,
        &home.camera.publish_token,
        14,
    );
    let live = wait_for_status(&mut home.phone_ws, "live").await;
    assert_eq!(live["id"], home.session["id"]);

    // A str0m viewer gets its H.264 from a keyframe on.
    let str0m_view = home.watch(&app).await;
    assert!(
        str0m_view
            .wait_for(MEDIA_TIMEOUT, |s| s.video_packets > 30
                && s.audio_packets > 10)
            .await,
        "{:?}",
        str0m_view.stats()
    );
    assert_eq!(str0m_view.stats().first_video_was_keyframe, Some(true));

    // An aiortc viewer decodes the pictures.
    let tablet = app
        .create_device(&home.owner.token, "Tablet", "viewer")
        .await;
    let session = open_session(&app, &tablet.token, &home.camera.device.id, &tablet.id).await;
    let viewer = aiortc_peer(
        "watch",
        session["subscribe_endpoint"].as_str().unwrap(),
        session["subscribe_token"].as_str().unwrap(),
        6,
    );
    let watched = report(viewer).await;
    assert_eq!(watched["status"], 201, "{watched}");
    assert_eq!(watched["connected"], true, "{watched}");
    assert!(
        watched["video_frames"].as_u64().unwrap() >= 30,
        "decoded frames: {watched}"
    );
    assert_eq!(watched["width"], 320);
    assert_eq!(watched["height"], 240);
    // aiortc's own Opus sender emits far fewer than 50 packets a second (the str0m viewer
    // counts the same rate, so it is the sender); what arrives is decoded.
    assert!(watched["audio_frames"].as_u64().unwrap() >= 20, "{watched}");
    assert_eq!(watched["delete_status"], 200);

    let published = report(camera).await;
    assert_eq!(published["status"], 201, "{published}");
    assert_eq!(published["connected"], true);
    assert_eq!(published["delete_status"], 200);
    // The camera's DELETE ended its leg: the str0m viewer stops receiving.
    let stats = str0m_view.stats();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(str0m_view.stats().video_packets <= stats.video_packets + 5);
}
