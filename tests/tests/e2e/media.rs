//! The media relay end to end, with real WebRTC peers over real UDP: a camera publishes
//! H.264 + Opus over WHIP, viewers watch over WHEP, and the relay's reports move the stream
//! sessions signal keeps.

use std::time::Duration;

use securecam_media_relay::token::Direction;
use securecam_tests::media::media_token;
use serde_json::Value;
use uuid::Uuid;

use reqwest::StatusCode;
use securecam::{Component, Settings};
use securecam_media_relay::client;
use securecam_tests::media::{
    household, open_session, session_status, wait_for_status, MEDIA_TIMEOUT,
};
use securecam_tests::{both_backends, spawn_components, ws_next_of_type, Backend, TestApp};

/// Signal and the relay, without the recorder: it watches every camera that publishes with a
/// viewer leg of its own, and these tests count the relay's legs and viewers exactly.
async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_components(backend, &[Component::Signal, Component::Relay], configure).await
}

both_backends!(
    two_viewers_watch_one_camera_until_it_leaves,
    every_whip_and_whep_error,
    garbage_at_the_media_port_disturbs_no_one,
);

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
            view.wait_for(MEDIA_TIMEOUT, |s| s.video_packets > 30
                && s.audio_packets > 10)
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
    assert!(
        camera.stats().keyframe_requests >= 1,
        "PLI reached the camera"
    );
    // Nothing is lost on the way: the camera sends 50 Opus packets a second (loopback drops
    // none), and the viewer gets them all, give or take the edges of the window.
    let before = tablet_view.stats().audio_packets;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let audio = tablet_view.stats().audio_packets - before;
    assert!((90..=110).contains(&audio), "{audio} audio packets in 2 s");

    // The phone leaves (WHEP DELETE): its session ends; the tablet keeps receiving.
    let deleted = app
        .client
        .delete(&phone_view.location)
        .send()
        .await
        .unwrap();
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
    let again = app
        .client
        .delete(&phone_view.location)
        .send()
        .await
        .unwrap();
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
    assert!(
        tablet_view
            .wait_for(MEDIA_TIMEOUT, |s| s.disconnected)
            .await
    );
    let stop = ws_next_of_type(&mut home.camera.ws, "command").await["command"].clone();
    assert_eq!(stop["command_type"], "stop_stream");
}

/// A minimal offer: one audio and one video section with the given video codec line.
fn offer(direction: &str, rtpmap: &str, fmtp: &str) -> String {
    format!(
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
         a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n\
         m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=ice-ufrag:abcd\r\n\
         a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=setup:actpass\r\na=rtcp-mux\r\na={direction}\r\n\
         a=rtpmap:96 {rtpmap}\r\na=fmtp:96 {fmtp}\r\n"
    )
}

const H264: &str = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";

async fn post_sdp(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    ctype: &str,
    body: &str,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(format!("{}{path}", app.base_url))
        .header("content-type", ctype)
        .body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn expect_code(
    response: reqwest::Response,
    status: StatusCode,
    code: &str,
) -> reqwest::header::HeaderMap {
    assert_eq!(response.status(), status);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    headers
}

async fn every_whip_and_whep_error(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.relay.max_legs = 3).await;
    let mut home = household(&app, "owner@example.com").await;
    let stream = home.stream.clone();
    let camera_id: Uuid = home.camera.device.id.parse().unwrap();
    let whip = format!("/media/whip/{stream}");
    let whep = format!("/media/whep/{stream}");
    let publish = home.camera.publish_token.clone();
    let subscribe = home.session["subscribe_token"]
        .as_str()
        .unwrap()
        .to_string();
    let good = offer("sendonly", "H264/90000", H264);

    // CORS preflight names what may be posted.
    for path in [&whip, &whep] {
        let options = app
            .client
            .request(reqwest::Method::OPTIONS, format!("{}{path}", app.base_url))
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(options.status(), StatusCode::NO_CONTENT);
        assert_eq!(options.headers()["accept-post"], "application/sdp");
        assert_eq!(options.headers()["access-control-allow-origin"], "*");
        assert!(options.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST"));
        assert!(options.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("Authorization"));
    }

    // Wrong content type, no token, a forged or expired token.
    expect_code(
        post_sdp(&app, &whip, Some(&publish), "application/json", &good).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let headers = expect_code(
        post_sdp(&app, &whip, None, "application/sdp", &good).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(headers["www-authenticate"], "Bearer");
    expect_code(
        post_sdp(&app, &whip, Some("a.b.c"), "application/sdp", &good).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let mut forged = publish.clone();
    forged.pop();
    forged.push(if publish.ends_with('A') { 'B' } else { 'A' });
    expect_code(
        post_sdp(&app, &whip, Some(&forged), "application/sdp", &good).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    // A token of another stream, or of the other direction.
    let other_stream = format!("/media/whip/cam-{}", Uuid::now_v7().simple());
    expect_code(
        post_sdp(
            &app,
            &other_stream,
            Some(&publish),
            "application/sdp",
            &good,
        )
        .await,
        StatusCode::FORBIDDEN,
        "wrong_token_scope",
    )
    .await;
    expect_code(
        post_sdp(&app, &whip, Some(&subscribe), "application/sdp", &good).await,
        StatusCode::FORBIDDEN,
        "wrong_token_scope",
    )
    .await;
    expect_code(
        post_sdp(
            &app,
            &whep,
            Some(&publish),
            "application/sdp",
            &offer("recvonly", "H264/90000", H264),
        )
        .await,
        StatusCode::FORBIDDEN,
        "wrong_token_scope",
    )
    .await;

    // Malformed SDP; media the relay does not forward; the wrong direction.
    expect_code(
        post_sdp(&app, &whip, Some(&publish), "application/sdp", "hello").await,
        StatusCode::BAD_REQUEST,
        "malformed_sdp",
    )
    .await;
    expect_code(post_sdp(&app, &whip, Some(&publish), "application/sdp", "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendonly\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;profile-level-id=42e01f\r\n").await, StatusCode::BAD_REQUEST, "malformed_sdp").await;
    // The answer says what is wrong in the standard's words, never the parser's internals.
    let detail: Value = post_sdp(&app, &whip, Some(&publish), "application/sdp", "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendonly\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;profile-level-id=42e01f\r\n")
        .await
        .json()
        .await
        .unwrap();
    let detail = detail["detail"].as_str().unwrap();
    assert!(
        !detail.contains("0x") && !detail.contains("Pointer") && detail.contains("SDP"),
        "{detail}"
    );
    expect_code(
        post_sdp(
            &app,
            &whip,
            Some(&publish),
            "application/sdp",
            &offer("sendonly", "VP8/90000", ""),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unsupported_media",
    )
    .await;
    expect_code(
        post_sdp(
            &app,
            &whip,
            Some(&publish),
            "application/sdp",
            &offer(
                "sendonly",
                "H264/90000",
                "packetization-mode=1;profile-level-id=640032",
            ),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unsupported_media",
    )
    .await;
    expect_code(
        post_sdp(
            &app,
            &whip,
            Some(&publish),
            "application/sdp",
            &offer("recvonly", "H264/90000", H264),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unsupported_media",
    )
    .await;

    // Watching before the camera publishes: 409, try again shortly.
    let headers = expect_code(
        post_sdp(
            &app,
            &whep,
            Some(&subscribe),
            "application/sdp",
            &offer("recvonly", "H264/90000", H264),
        )
        .await,
        StatusCode::CONFLICT,
        "not_publishing",
    )
    .await;
    assert_eq!(headers["retry-after"], "2");

    // The camera publishes; another device with a valid publish token for the same stream is
    // refused, the camera itself may reconnect.
    let camera = home.publish(&app).await;
    assert!(camera.wait_for(MEDIA_TIMEOUT, |s| s.connected).await);
    assert!(camera.link_headers.is_empty(), "no ICE servers configured");
    let intruder = media_token(&app, Uuid::now_v7(), &stream, Direction::Publish);
    let err = client::publish(
        &app.client,
        &format!("{}{whip}", app.base_url),
        &intruder,
        Default::default(),
    )
    .await
    .err()
    .unwrap();
    assert!(
        matches!(err, client::ClientError::Status { status: 409, .. }),
        "{err}"
    );
    let token_for_camera = media_token(&app, camera_id, &stream, Direction::Publish);
    let replaced = client::publish(
        &app.client,
        &format!("{}{whip}", app.base_url),
        &token_for_camera,
        Default::default(),
    )
    .await
    .expect("the camera reconnects");
    assert!(replaced.wait_for(MEDIA_TIMEOUT, |s| s.connected).await);
    let _ = wait_for_status(&mut home.phone_ws, "live").await;

    // The session URL: trickle, ICE restart and its preconditions.
    let view = home.watch(&app).await;
    assert!(view.wait_for(MEDIA_TIMEOUT, |s| s.video_packets > 0).await);
    let etag = view.etag.clone().expect("an ETag");
    let patch = |ctype: &'static str, if_match: Option<String>, body: &'static str| {
        let mut request = app
            .client
            .patch(&view.location)
            .header("content-type", ctype)
            .body(body);
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        request.send()
    };
    let candidate = "a=mid:0\r\na=candidate:1 1 udp 2122260223 127.0.0.1 61764 typ host\r\n";
    expect_code(
        patch("application/sdp", None, candidate).await.unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    assert_eq!(
        patch("application/trickle-ice-sdpfrag", None, candidate)
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        patch(
            "application/trickle-ice-sdpfrag",
            Some("*".into()),
            candidate
        )
        .await
        .unwrap()
        .status(),
        StatusCode::NO_CONTENT
    );
    expect_code(
        patch(
            "application/trickle-ice-sdpfrag",
            None,
            "a=candidate:nonsense\r\n",
        )
        .await
        .unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_sdpfrag",
    )
    .await;
    let restart = "a=ice-ufrag:newu\r\na=ice-pwd:newpasswordnewpassword12\r\n";
    expect_code(
        patch("application/trickle-ice-sdpfrag", None, restart)
            .await
            .unwrap(),
        StatusCode::PRECONDITION_REQUIRED,
        "if_match_required",
    )
    .await;
    expect_code(
        patch(
            "application/trickle-ice-sdpfrag",
            Some("\"stale\"".into()),
            restart,
        )
        .await
        .unwrap(),
        StatusCode::PRECONDITION_FAILED,
        "etag_mismatch",
    )
    .await;
    let restarted = patch(
        "application/trickle-ice-sdpfrag",
        Some(etag.clone()),
        restart,
    )
    .await
    .unwrap();
    assert_eq!(restarted.status(), StatusCode::OK);
    assert_eq!(
        restarted.headers()["content-type"],
        "application/trickle-ice-sdpfrag"
    );
    let new_etag = restarted.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(new_etag, etag);
    let body = restarted.text().await.unwrap();
    assert!(
        body.contains("a=ice-ufrag:") && body.contains("a=ice-pwd:"),
        "{body}"
    );
    // The old ETag no longer matches.
    expect_code(
        patch("application/trickle-ice-sdpfrag", Some(etag), candidate)
            .await
            .unwrap(),
        StatusCode::PRECONDITION_FAILED,
        "etag_mismatch",
    )
    .await;
    let unknown = format!("{}/media/sessions/{}", app.base_url, "0".repeat(32));
    let response = app
        .client
        .patch(&unknown)
        .header("content-type", "application/trickle-ice-sdpfrag")
        .body(candidate)
        .send()
        .await
        .unwrap();
    expect_code(response, StatusCode::NOT_FOUND, "not_found").await;
    expect_code(
        app.client.delete(&unknown).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Full: publisher, viewer and one more make three legs; the next is told to come back.
    let _third = home.watch(&app).await;
    let headers = expect_code(
        post_sdp(
            &app,
            &whep,
            Some(&subscribe),
            "application/sdp",
            &offer("recvonly", "H264/90000", H264),
        )
        .await,
        StatusCode::SERVICE_UNAVAILABLE,
        "relay_overloaded",
    )
    .await;
    assert_eq!(headers["retry-after"], "5");
}

/// Datagrams that are not WebRTC, or are but belong to no one, are counted and dropped;
/// the live stream goes on.
async fn garbage_at_the_media_port_disturbs_no_one(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let home = household(&app, "owner@example.com").await;
    let camera = home.publish(&app).await;
    assert!(camera.wait_for(MEDIA_TIMEOUT, |s| s.connected).await);
    let view = home.watch(&app).await;
    assert!(view.wait_for(MEDIA_TIMEOUT, |s| s.video_packets > 10).await);
    let relay = view.relay_udp_addr().expect("a loopback candidate");

    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut stun = vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42];
    stun.extend_from_slice(&[9; 12]);
    stun.extend_from_slice(&[0x00, 0x06, 0x00, 0x04, b'n', b'o', b'p', b'e']);
    let mut rtp = vec![0x80, 96, 0, 1, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef];
    rtp.extend_from_slice(&[0u8; 100]);
    let junk: Vec<Vec<u8>> = vec![
        b"hello relay".to_vec(),
        vec![],
        vec![0xff; 1400],
        stun,
        rtp,
        vec![22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 1, 0, 3, 1, 2, 3], // a DTLS-looking record
    ];
    for _ in 0..50 {
        for datagram in &junk {
            socket.send_to(datagram, relay).await.unwrap();
        }
        // Paced, so the kernel's receive buffer does not drop what the relay should see.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let before = view.stats().video_packets;
    assert!(
        view.wait_for(MEDIA_TIMEOUT, |s| s.video_packets > before + 60)
            .await
    );
    assert!(camera.stats().connected && !camera.stats().disconnected);

    // /metrics shows the stream, its legs and what was dropped.
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    let value = |prefix: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in metrics"))
    };
    assert!(value("securecam_relay_garbage_datagrams_total") >= 100.0);
    assert!(value("securecam_relay_unrouted_datagrams_total") >= 100.0);
    assert_eq!(
        value(&format!(
            "securecam_relay_stream_viewers{{stream=\"{}\"}}",
            home.stream
        )),
        1.0
    );
    assert_eq!(
        value(&format!(
            "securecam_relay_stream_live{{stream=\"{}\"}}",
            home.stream
        )),
        1.0
    );
    assert!(
        value(&format!(
            "securecam_relay_stream_packets_out_total{{stream=\"{}\"}}",
            home.stream
        )) > 10.0
    );
    assert!(metrics.contains("securecam_relay_leg_bitrate_bps{"));
    assert!(
        !metrics.contains(view.location.rsplit('/').next().unwrap()),
        "session ids stay secret"
    );
}
