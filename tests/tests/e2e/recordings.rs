//! Recording end to end. aiortc (libx264 + Opus, an encoder that makes keyframes only when
//! asked) publishes over WHIP; an event makes a clip with pre-roll and post-roll that becomes
//! `available`, is announced, and plays: ffprobe reads H.264 + Opus starting at a keyframe
//! and lasting pre-roll + event + post-roll (up to 2 s more), ffmpeg decodes it cleanly.
//! Playback: HTTP Range, playback URLs (another clip's, tampered, expired, another owner's:
//! 404), owner-only delete; retention by age and quota, objects first, orphans too; a
//! camera's own clip uploaded and completed; clips cut off by a crash finished at restart. The same story runs with clips on local disk (served with Range
//! by the server) and in an S3-compatible bucket (moto's server, started by `./scripts/test`;
//! served by redirect to a presigned URL).

use std::time::Duration;

use reqwest::header::{CONTENT_RANGE, CONTENT_TYPE, RANGE};
use reqwest::StatusCode;
use securecam_recorder::retention::{self, RetentionConfig, SweepReport};
use securecam_tests::aiortc::{aiortc_peer, report};
use securecam_tests::media::{household, playback_token, wait_for_status};
use securecam_tests::probe::{assert_decodes_cleanly, ffprobe_json};
use securecam_tests::{
    both_backends, expect_json, spawn_app_with, ws_next_of_type, Backend, TestApp,
};
use serde_json::{json, Value};
use uuid::Uuid;

const PREROLL: f64 = 5.0;
const EVENT: f64 = 2.0;
const POST_ROLL: u64 = 3;

/// Polls the event's clips until one is no longer being written.
async fn finished_clip(app: &TestApp, token: &str, event: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let page = expect_json(
            app.get(&format!("/api/v1/recordings?event_id={event}"), Some(token))
                .await,
            StatusCode::OK,
        )
        .await;
        if let Some(clip) = page["items"].as_array().and_then(|items| items.first()) {
            if clip["status"] != "recording" && clip["status"] != "uploading" {
                return clip.clone();
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the event's clip did not finish: {page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The camera reports motion; the event.
async fn report_event(app: &TestApp, camera_token: &str) -> Value {
    expect_json(
        app.post(
            "/api/v1/events",
            Some(camera_token),
            &json!({"triggered_by": "motion"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await["event"]
        .clone()
}

/// The camera says the event is over.
async fn end_event(app: &TestApp, camera_token: &str, event: &str) {
    expect_json(
        app.post(
            &format!("/api/v1/events/{event}/end"),
            Some(camera_token),
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
}

/// A clip row as the recorder stores it, for `camera` of `owner`, its object in `store`.
fn recorder_clip(
    store: &securecam_recorder::store::ClipStore,
    owner: Uuid,
    camera: Uuid,
    id: Uuid,
) -> securecam_storage::NewRecording {
    securecam_storage::NewRecording {
        id,
        owner_user_id: owner,
        stream_session_id: None,
        camera_device_id: Some(camera),
        requester_device_id: None,
        event_id: None,
        object_key: store.object_key(owner, id),
        bucket: store.bucket().to_string(),
        content_type: "video/mp4".into(),
        source: securecam_storage::RecordingSource::Recorder,
        size_bytes: None,
        duration_seconds: None,
    }
}

/// Polls clips left `recording` by a crash until recovery has settled every one of them.
async fn recovered<const N: usize>(app: &TestApp, token: &str, ids: [Uuid; N]) -> [Value; N] {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut rows = Vec::with_capacity(N);
        for id in ids {
            rows.push(
                expect_json(
                    app.get(&format!("/api/v1/recordings/{id}"), Some(token))
                        .await,
                    StatusCode::OK,
                )
                .await,
            );
        }
        if rows.iter().all(|r| r["status"] != "recording") {
            return rows.try_into().expect("one row per id");
        }
        assert!(tokio::time::Instant::now() < deadline, "{rows:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn probe_f64(value: &Value) -> f64 {
    value.as_str().and_then(|s| s.parse().ok()).unwrap_or(-1.0)
}

/// Where the clips go.
#[derive(Clone, Copy, PartialEq)]
enum Storage {
    LocalDisk,
    S3,
}

/// The S3-compatible server's endpoint (`./scripts/test` starts one and sets it).
fn s3_endpoint() -> String {
    std::env::var("SECURECAM_TEST_S3_ENDPOINT").expect(
        "SECURECAM_TEST_S3_ENDPOINT names an S3-compatible server: run ./scripts/test, which starts one",
    )
}

#[tokio::test]
async fn an_event_clip_on_local_disk() {
    event_clip_story(Storage::LocalDisk).await;
}

#[tokio::test]
async fn an_event_clip_in_an_s3_bucket() {
    event_clip_story(Storage::S3).await;
}

/// `GET` with a bearer token or none, following the one redirect of an S3 store's clip.
async fn fetch(
    app: &TestApp,
    url: &str,
    token: Option<&str>,
    range: Option<&str>,
) -> reqwest::Response {
    let mut request = app.client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(range) = range {
        request = request.header(RANGE, range);
    }
    let response = request.send().await.unwrap();
    if response.status() != StatusCode::TEMPORARY_REDIRECT {
        return response;
    }
    let location = response.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        location.starts_with(&s3_endpoint()),
        "redirected to the bucket: {location}"
    );
    // Parts uploaded one by one carry no type: the URL asks the bucket to serve an MP4 (S3,
    // MinIO and R2 honour `response-content-type`; moto ignores it, so the type of moto's
    // answer is not checked).
    assert!(
        location.contains("response-content-type=video%2Fmp4"),
        "{location}"
    );
    let mut request = reqwest::Client::new().get(location);
    if let Some(range) = range {
        request = request.header(RANGE, range);
    }
    request.send().await.unwrap()
}

/// A server whose clips go to `storage` (a fresh bucket for S3); returns it and the bucket.
async fn spawn_with_storage(
    storage: Storage,
    backend: Backend,
    configure: impl FnOnce(&mut securecam::Settings),
) -> (TestApp, String) {
    let bucket = format!("clips-{}", Uuid::now_v7().simple());
    if storage == Storage::S3 {
        let created = reqwest::Client::new()
            .put(format!("{}/{bucket}", s3_endpoint()))
            .send()
            .await
            .unwrap();
        assert!(created.status().is_success(), "creating bucket {bucket}");
    }
    let app = spawn_app_with(backend, |s| {
        if storage == Storage::S3 {
            s.storage_url = Some(format!("s3://{bucket}/household"));
            s.storage.s3_endpoint = Some(s3_endpoint());
            s.storage.s3_region = Some("us-east-1".into());
            s.storage.s3_access_key_id = Some("testing".into());
            s.storage.s3_secret_access_key = Some("testing".to_string().into());
        }
        configure(s);
    })
    .await;
    (app, bucket)
}

async fn event_clip_story(storage: Storage) {
    let (app, bucket) = spawn_with_storage(storage, Backend::Sqlite, |s| {
        s.recorder.post_roll_secs = POST_ROLL;
    })
    .await;
    let mut home = household(&app, "owner@example.com").await;
    let camera = aiortc_peer(
        "publish-on-request",
        &home.camera.publish_endpoint,
        &home.camera.publish_token,
        30,
    );
    wait_for_status(&mut home.phone_ws, "live").await;
    // Long enough for a full pre-roll (the recorder asks for keyframes to keep it aligned).
    tokio::time::sleep(Duration::from_secs_f64(PREROLL + 2.5)).await;

    let event = report_event(&app, &home.camera.device.token).await;
    let event_id = event["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_secs_f64(EVENT)).await;
    end_event(&app, &home.camera.device.token, &event_id).await;

    let clip = finished_clip(&app, &home.owner.token, &event_id).await;
    assert_eq!(clip["status"], "available", "{clip}");
    assert_eq!(clip["content_type"], "video/mp4");
    let expected_bucket = match storage {
        Storage::LocalDisk => "local".to_string(),
        Storage::S3 => bucket.clone(),
    };
    assert_eq!(clip["bucket"], json!(expected_bucket));
    assert_eq!(clip["event_id"], event["id"]);
    assert_eq!(clip["camera_device_id"], json!(home.camera.device.id));
    let id = clip["id"].as_str().unwrap().to_string();
    let size = clip["size_bytes"].as_u64().unwrap();
    let expected = PREROLL + EVENT + POST_ROLL as f64;
    let duration = clip["duration_seconds"].as_f64().unwrap();
    assert!(
        (expected - 0.3..=expected + 2.0).contains(&duration),
        "clip lasts {duration} s, expected {expected} to {} s",
        expected + 2.0
    );

    // The owner's phone was told, with a URL to play it.
    let announced = ws_next_of_type(&mut home.phone_ws, "recording.available").await;
    assert_eq!(announced["recording"]["id"], clip["id"]);
    // It goes to linked viewers too: no URL signed for one viewer rides along.
    assert_eq!(announced["recording"]["playback_url"], Value::Null);
    // The event points at its clip.
    let with_clips = expect_json(
        app.get(
            &format!("/api/v1/events/{event_id}"),
            Some(&home.owner.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        with_clips["video_url"],
        json!(format!("/api/v1/recordings/{id}/media"))
    );
    assert_eq!(with_clips["recordings"][0]["id"], clip["id"]);

    // The playback URL needs no bearer token and serves the whole MP4.
    let playback_url = clip["playback_url"].as_str().unwrap().to_string();
    let response = fetch(&app, &playback_url, None, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    if storage == Storage::LocalDisk {
        assert_eq!(response.headers()[CONTENT_TYPE], "video/mp4");
    }
    let mp4 = response.bytes().await.unwrap();
    assert_eq!(mp4.len() as u64, size);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mp4");
    std::fs::write(&path, &mp4).unwrap();

    // ffprobe: H.264 and Opus, the pre-roll + event + post-roll, from a keyframe.
    let probe = ffprobe_json(&path, &["-show_streams", "-show_format"]);
    let codecs: Vec<&str> = probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_name"].as_str().unwrap())
        .collect();
    assert!(codecs.contains(&"h264"), "{probe}");
    assert!(codecs.contains(&"opus"), "{probe}");
    let video = probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_name"] == "h264")
        .unwrap();
    assert_eq!(video["width"], 320);
    assert_eq!(video["height"], 240);
    let probed = probe_f64(&probe["format"]["duration"]);
    assert!(
        (expected - 0.3..=expected + 2.0).contains(&probed),
        "ffprobe says {probed} s, expected {expected} to {} s",
        expected + 2.0
    );
    let frames = ffprobe_json(
        &path,
        &["-select_streams", "v:0", "-show_entries", "frame=key_frame"],
    );
    let frames = frames["frames"].as_array().unwrap();
    assert_eq!(frames[0]["key_frame"], 1, "the clip starts at a keyframe");
    let keyframes = frames.iter().filter(|f| f["key_frame"] == 1).count();
    assert_decodes_cleanly(&path);

    // HTTP Range, as players ask.
    let media = format!("/api/v1/recordings/{id}/media");
    let owner = Some(home.owner.token.as_str());
    let ranged = fetch(&app, &app.url(&media), owner, Some("bytes=0-99")).await;
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        ranged.headers()[CONTENT_RANGE].to_str().unwrap(),
        format!("bytes 0-99/{size}")
    );
    assert_eq!(&ranged.bytes().await.unwrap()[..], &mp4[..100]);
    let tail = fetch(&app, &app.url(&media), owner, Some("bytes=100-")).await;
    assert_eq!(tail.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&tail.bytes().await.unwrap()[..], &mp4[100..]);

    // Playback URLs open one clip, for one viewer, for a while; anything else is 404.
    let (_, token) = playback_url.split_once("token=").unwrap();
    let status = |url: String| {
        let app = &app;
        async move { fetch(app, &url, None, None).await.status() }
    };
    let other_clip = app.url(&format!(
        "/api/v1/recordings/{}/media?token={token}",
        Uuid::now_v7()
    ));
    assert_eq!(status(other_clip).await, StatusCode::NOT_FOUND);
    let tampered = playback_url.replacen("token=", "token=x", 1);
    assert_eq!(status(tampered).await, StatusCode::NOT_FOUND);
    let owner_id = Uuid::parse_str(&home.owner.id).unwrap();
    let clip_id = Uuid::parse_str(&id).unwrap();
    let expired = playback_token(&app, clip_id, owner_id, chrono::Duration::minutes(-16));
    assert_eq!(
        status(app.url(&format!("{media}?token={expired}"))).await,
        StatusCode::NOT_FOUND
    );
    let fresh = playback_token(&app, clip_id, owner_id, chrono::Duration::zero());
    assert_eq!(
        status(app.url(&format!("{media}?token={fresh}"))).await,
        StatusCode::OK
    );
    // Another owner: not their clip, however they ask.
    let stranger = app.sign_up("stranger@example.com").await;
    let stranger_id = Uuid::parse_str(&stranger.id).unwrap();
    let theirs = playback_token(&app, clip_id, stranger_id, chrono::Duration::zero());
    assert_eq!(
        status(app.url(&format!("{media}?token={theirs}"))).await,
        StatusCode::NOT_FOUND
    );
    for response in [
        app.get(&format!("/api/v1/recordings/{id}"), Some(&stranger.token))
            .await,
        app.get(&media, Some(&stranger.token)).await,
        app.delete(&format!("/api/v1/recordings/{id}"), Some(&stranger.token))
            .await,
    ] {
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let listed = expect_json(
        app.get("/api/v1/recordings", Some(&stranger.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["items"], json!([]));

    // Viewing is audited; the owner deletes, and the clip is gone everywhere.
    let actions = app.audit_actions(&home.owner.token).await;
    assert!(actions.iter().any(|a| a == "recording.view"), "{actions:?}");
    let deleted = app
        .delete(&format!("/api/v1/recordings/{id}"), Some(&home.owner.token))
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(status(playback_url.clone()).await, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&format!("/api/v1/recordings/{id}"), Some(&home.owner.token))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let actions = app.audit_actions(&home.owner.token).await;
    assert!(
        actions.iter().any(|a| a == "recording.delete"),
        "{actions:?}"
    );

    // The camera made keyframes only when asked: every one in the clip was a request's.
    let published = report(camera).await;
    assert_eq!(published["connected"], true, "{published}");
    let asked = published["keyframes_asked"].as_u64().unwrap();
    assert!(
        keyframes as u64 <= asked,
        "the clip has {keyframes} keyframes, the camera was asked for {asked}"
    );
}

both_backends!(retention_removes_old_clips_then_clips_over_quota_and_orphans);

async fn retention_removes_old_clips_then_clips_over_quota_and_orphans(backend: Backend) {
    let app = securecam_tests::spawn_app(backend).await;
    let store = app.clip_store();
    let owner = app.sign_up("keeper@example.com").await;
    let camera = app.create_device(&owner.token, "Porch", "camera").await;
    let owner_id = Uuid::parse_str(&owner.id).unwrap();
    let camera_id = Uuid::parse_str(&camera.id).unwrap();
    let now = securecam_storage::now();

    // Clips of 40, 2 and 1 days ago, each with its object.
    let mut clips = Vec::new();
    for (days, size) in [(40, 1000), (2, 3000), (1, 2000)] {
        let id = securecam_storage::new_id();
        let key = store.object_key(owner_id, id);
        let mut upload = store.begin(&key).await.unwrap();
        upload.write(vec![7u8; size].into()).await.unwrap();
        upload.finish().await.unwrap();
        let made = now - chrono::Duration::days(days);
        app.db
            .create_recording(recorder_clip(&store, owner_id, camera_id, id), made)
            .await
            .unwrap();
        let available = securecam_storage::RecordingResult::Available {
            duration_seconds: 10.0,
            size_bytes: size as i64,
        };
        app.db.finish_recording(id, available, made).await.unwrap();
        clips.push((id, key));
    }
    // An object no clip wants.
    let orphan = store.object_key(owner_id, securecam_storage::new_id());
    let mut upload = store.begin(&orphan).await.unwrap();
    upload.write(vec![1u8; 10].into()).await.unwrap();
    upload.finish().await.unwrap();

    let config = RetentionConfig {
        max_age: Duration::from_secs(30 * 24 * 3600),
        max_bytes_per_owner: Some(4000),
        orphan_grace: Duration::ZERO,
    };
    let report = retention::sweep(app.db.as_ref(), &store, &config, now).await;
    // The 40-day clip is past its age; of the rest, the newest 2000 bytes fit the quota and
    // the 3000 before them do not.
    assert_eq!(
        report,
        SweepReport {
            expired: 2,
            orphans: 1
        }
    );
    for (id, key) in &clips[..2] {
        assert_eq!(store.size(key).await.unwrap(), None, "object removed");
        assert_eq!(
            app.get(&format!("/api/v1/recordings/{id}"), Some(&owner.token))
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(store.size(&clips[2].1).await.unwrap(), Some(2000));
    assert_eq!(store.size(&orphan).await.unwrap(), None);
    let listed = expect_json(
        app.get("/api/v1/recordings", Some(&owner.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["id"], json!(clips[2].0.to_string()));
    let actions = app.audit_actions(&owner.token).await;
    assert_eq!(
        actions.iter().filter(|a| *a == "recording.expire").count(),
        2,
        "{actions:?}"
    );
    // Nothing more to do.
    let again = retention::sweep(app.db.as_ref(), &store, &config, now).await;
    assert_eq!(again, SweepReport::default());
}

/// A short MP4 as a phone would record it (x264 through ffmpeg, `moov` first).
fn phone_clip(dir: &std::path::Path) -> Vec<u8> {
    let path = dir.join("phone.mp4");
    securecam_tests::probe::run(std::process::Command::new("ffmpeg").args([
        "-v",
        "error",
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=30",
        "-t",
        "3",
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        "libx264",
        "-movflags",
        "+faststart",
        path.to_str().unwrap(),
    ]));
    std::fs::read(&path).unwrap()
}

/// `PUT`s `body` to an upload URL.
async fn put(url: &str, body: Vec<u8>) -> StatusCode {
    reqwest::Client::new()
        .put(url)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_camera_uploads_its_own_clip_to_local_disk() {
    device_upload_story(Storage::LocalDisk).await;
}

#[tokio::test]
async fn a_camera_uploads_its_own_clip_to_an_s3_bucket() {
    device_upload_story(Storage::S3).await;
}

async fn device_upload_story(storage: Storage) {
    let (app, _) = spawn_with_storage(storage, Backend::Sqlite, |_| {}).await;
    let owner = app.sign_up("uploader@example.com").await;
    let camera = app.create_device(&owner.token, "Porch", "camera").await;
    let phone = app.create_device(&owner.token, "Phone", "viewer").await;
    let mut phone_ws = app.connect_device(&phone.token).await;
    let event = report_event(&app, &camera.token).await["id"].clone();
    let dir = tempfile::tempdir().unwrap();
    let mp4 = phone_clip(dir.path());
    let ask = |body: Value, token: String| {
        let app = &app;
        async move {
            app.post("/api/v1/recordings/uploads", Some(&token), &body)
                .await
        }
    };
    let good = json!({"event_id": event, "content_type": "video/mp4",
                      "size_bytes": mp4.len(), "duration_seconds": 3.0});

    // Only cameras upload; bad declarations are refused; another camera's event is 404.
    let refused = ask(good.clone(), owner.token.clone()).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    for (body, code) in [
        (
            json!({"content_type": "video/webm", "size_bytes": 10, "duration_seconds": 1.0}),
            "unsupported_content_type",
        ),
        (
            json!({"content_type": "video/mp4", "size_bytes": 0, "duration_seconds": 1.0}),
            "validation_failed",
        ),
        (
            json!({"content_type": "video/mp4", "size_bytes": 10, "duration_seconds": -1.0}),
            "validation_failed",
        ),
    ] {
        securecam_tests::expect_problem(
            ask(body, camera.token.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
        )
        .await;
    }
    let other = app.sign_up("other@example.com").await;
    let other_camera = app.create_device(&other.token, "Gate", "camera").await;
    securecam_tests::expect_problem(
        ask(good.clone(), other_camera.token.clone()).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let ticket = expect_json(ask(good, camera.token.clone()).await, StatusCode::CREATED).await;
    assert_eq!(ticket["upload_method"], "PUT");
    assert_eq!(ticket["recording"]["status"], "uploading");
    assert_eq!(ticket["recording"]["event_id"], event);
    let id = ticket["recording"]["id"].as_str().unwrap().to_string();
    let url = ticket["upload_url"].as_str().unwrap().to_string();
    let expires: chrono::DateTime<chrono::Utc> =
        ticket["expires_at"].as_str().unwrap().parse().unwrap();
    let left = expires - chrono::Utc::now();
    assert!(left <= chrono::Duration::minutes(15) && left > chrono::Duration::minutes(14));
    let complete = format!("/api/v1/recordings/{id}/complete");

    // Nothing uploaded yet, then the wrong size: not available, and the camera may go on.
    securecam_tests::expect_problem(
        app.post(&complete, Some(&camera.token), &json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "upload_missing",
    )
    .await;
    if storage == Storage::LocalDisk {
        // This server's upload URL takes no more than was declared.
        let mut bigger = mp4.clone();
        bigger.push(0);
        assert_eq!(put(&url, bigger).await, StatusCode::PAYLOAD_TOO_LARGE);
        let forged = url.replacen("token=", "token=x", 1);
        assert_eq!(put(&forged, mp4.clone()).await, StatusCode::NOT_FOUND);
    }
    assert!(put(&url, mp4[..mp4.len() - 1].to_vec()).await.is_success());
    securecam_tests::expect_problem(
        app.post(&complete, Some(&camera.token), &json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "upload_size_mismatch",
    )
    .await;

    // The whole file: available, announced, and it plays.
    assert!(put(&url, mp4.clone()).await.is_success());
    securecam_tests::expect_problem(
        app.post(&complete, Some(&other_camera.token), &json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let done = expect_json(
        app.post(&complete, Some(&camera.token), &json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["status"], "available");
    assert_eq!(done["size_bytes"], json!(mp4.len()));
    assert_eq!(done["duration_seconds"], 3.0);
    let again = expect_json(
        app.post(&complete, Some(&camera.token), &json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["available_at"], done["available_at"]);
    let announced = ws_next_of_type(&mut phone_ws, "recording.available").await;
    assert_eq!(announced["recording"]["id"], json!(id));
    let played = fetch(&app, done["playback_url"].as_str().unwrap(), None, None).await;
    assert_eq!(played.status(), StatusCode::OK);
    let body = played.bytes().await.unwrap();
    assert!(
        body[..] == mp4[..],
        "the clip is the file the camera uploaded"
    );
    let path = dir.path().join("played.mp4");
    std::fs::write(&path, &body).unwrap();
    let probe = ffprobe_json(&path, &["-show_streams"]);
    assert_eq!(probe["streams"][0]["codec_name"], "h264");
    let actions = app.audit_actions(&owner.token).await;
    assert!(
        actions.iter().any(|a| a == "recording.upload"),
        "{actions:?}"
    );
}

// The recorder's own helpers: x264 access units, and recording them into an upload.
#[path = "../../../recorder/tests/clips/common/mod.rs"]
mod recorder_media;

#[tokio::test]
async fn after_a_crash_clips_are_finished_from_what_reached_storage() {
    let mut app = securecam_tests::spawn_app(Backend::Sqlite).await;
    let store = app.clip_store();
    let owner = app.sign_up("crash@example.com").await;
    let camera = app.create_device(&owner.token, "Porch", "camera").await;
    let owner_id = Uuid::parse_str(&owner.id).unwrap();
    let camera_id = Uuid::parse_str(&camera.id).unwrap();
    let an_hour_ago = securecam_storage::now() - chrono::Duration::hours(1);
    let new_clip = |id: Uuid| recorder_clip(&store, owner_id, camera_id, id);

    // A clip whose recorder died with eight seconds on disk, and one that had stored nothing.
    let salvaged = securecam_storage::new_id();
    app.db
        .create_recording(new_clip(salvaged), an_hour_ago)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keys = ["-g", "30", "-b:v", "2500k", "-vf", "noise=alls=40:allf=t"];
    let units = recorder_media::x264_access_units_keyed(dir.path(), 10, &keys);
    let mut upload = store
        .begin(&store.object_key(owner_id, salvaged))
        .await
        .unwrap();
    recorder_media::record(&units, 8, &mut upload).await;
    std::mem::forget(upload);
    let lost = securecam_storage::new_id();
    app.db
        .create_recording(new_clip(lost), an_hour_ago)
        .await
        .unwrap();

    // The server starts again: its recorder finds both at once.
    app.restart().await;
    let [kept, failed] = recovered(&app, &owner.token, [salvaged, lost]).await;
    assert_eq!(kept["status"], "available", "{kept}");
    let duration = kept["duration_seconds"].as_f64().unwrap();
    assert!((5.0..=8.0).contains(&duration), "{duration}");
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"]
        .as_str()
        .unwrap()
        .contains("before the clip was stored"));
    let played = fetch(&app, kept["playback_url"].as_str().unwrap(), None, None).await;
    let path = dir.path().join("salvaged.mp4");
    std::fs::write(&path, played.bytes().await.unwrap()).unwrap();
    assert_decodes_cleanly(&path);
}

/// Polls the camera's clips started by hand until `n` of them are finished.
async fn finished_by_hand(app: &TestApp, token: &str, camera: &str, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let page = expect_json(
            app.get(
                &format!("/api/v1/recordings?camera_device_id={camera}"),
                Some(token),
            )
            .await,
            StatusCode::OK,
        )
        .await;
        let clips: Vec<Value> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["event_id"].is_null())
            .cloned()
            .collect();
        let done = clips
            .iter()
            .filter(|c| c["status"] != "recording" && c["status"] != "uploading")
            .count();
        if clips.len() == n && done == n {
            return clips;
        }
        assert!(tokio::time::Instant::now() < deadline, "{page}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn recordings_by_hand_run_from_start_to_stop() {
    let app = securecam_tests::spawn_app(Backend::Sqlite).await;
    let mut home = household(&app, "hand@example.com").await;
    let _camera = home.publish(&app).await;
    wait_for_status(&mut home.phone_ws, "live").await;

    // A stream session with reason `recording` is recorded until it is ended.
    let session = expect_json(
        app.post(
            "/api/v1/stream-sessions",
            Some(&home.owner.token),
            &json!({"camera_device_id": home.camera.device.id,
                    "requester_device_id": home.phone.id, "reason": "recording"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ended = app
        .delete(
            &format!(
                "/api/v1/stream-sessions/{}",
                session["id"].as_str().unwrap()
            ),
            Some(&home.owner.token),
        )
        .await;
    assert!(ended.status().is_success());
    let clips = finished_by_hand(&app, &home.owner.token, &home.camera.device.id, 1).await;
    assert_eq!(clips[0]["status"], "available", "{}", clips[0]);
    assert_eq!(clips[0]["stream_session_id"], session["id"]);
    assert_eq!(clips[0]["requester_device_id"], json!(home.phone.id));
    let duration = clips[0]["duration_seconds"].as_f64().unwrap();
    assert!((2.0..=3.5).contains(&duration), "{duration}");

    // `start_recording` and `stop_recording` sent to the camera do the same (and reach it).
    let command = |kind: &str| {
        let app = &app;
        let (token, camera) = (home.owner.token.clone(), home.camera.device.id.clone());
        let kind = kind.to_string();
        async move {
            expect_json(
                app.post(
                    &format!("/api/v1/devices/{camera}/commands"),
                    Some(&token),
                    &json!({"command_type": kind}),
                )
                .await,
                StatusCode::ACCEPTED,
            )
            .await
        }
    };
    command("start_recording").await;
    let delivered = ws_next_of_type(&mut home.camera.ws, "command").await;
    assert_eq!(delivered["command"]["command_type"], "start_recording");
    tokio::time::sleep(Duration::from_secs(3)).await;
    command("stop_recording").await;
    let clips = finished_by_hand(&app, &home.owner.token, &home.camera.device.id, 2).await;
    let newest = &clips[0];
    assert_eq!(newest["status"], "available", "{newest}");
    let duration = newest["duration_seconds"].as_f64().unwrap();
    assert!((2.0..=3.5).contains(&duration), "{duration}");
    // Its session ended with it: the camera is needed by no one but the phone's live view.
    let sid = newest["stream_session_id"].as_str().unwrap();
    let session = expect_json(
        app.get(
            &format!("/api/v1/stream-sessions/{sid}"),
            Some(&home.owner.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(session["status"], "ended", "{session}");
}

#[tokio::test]
async fn a_recorder_in_a_process_of_its_own_records_over_the_bus() {
    // Signal and the relay in one process, told the recorder is elsewhere; the recorder alone
    // in another, on the same PostgreSQL.
    let app = securecam_tests::spawn_components(
        Backend::Postgres,
        &[securecam::Component::Signal, securecam::Component::Relay],
        |s| {
            s.signal.remote_recorder = true;
            s.recorder.post_roll_secs = 2;
        },
    )
    .await;
    let recorder = app.spawn_node(&[securecam::Component::Recorder]).await;
    let mut home = household(&app, "split@example.com").await;
    let _camera = home.publish(&app).await;
    wait_for_status(&mut home.phone_ws, "live").await;
    tokio::time::sleep(Duration::from_secs_f64(PREROLL + 2.5)).await;

    let event = report_event(&app, &home.camera.device.token).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::time::sleep(Duration::from_secs_f64(EVENT)).await;
    end_event(&app, &home.camera.device.token, &event).await;
    let clip = finished_clip(&app, &home.owner.token, &event).await;
    assert_eq!(clip["status"], "available", "{clip}");
    let expected = PREROLL + EVENT + 2.0;
    let duration = clip["duration_seconds"].as_f64().unwrap();
    assert!(
        (expected - 0.3..=expected + 2.0).contains(&duration),
        "clip lasts {duration} s, expected {expected} to {} s",
        expected + 2.0
    );
    // Announced through the bus to the phone, connected to the signal process.
    let announced = ws_next_of_type(&mut home.phone_ws, "recording.available").await;
    assert_eq!(announced["recording"]["id"], clip["id"]);
    // The session that kept the camera publishing for the clip ended with it.
    let session = expect_json(
        app.get(
            &format!(
                "/api/v1/stream-sessions/{}",
                clip["stream_session_id"].as_str().unwrap()
            ),
            Some(&home.owner.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(session["status"], "ended", "{session}");
    recorder.stop().await;
}

#[tokio::test]
async fn after_a_crash_a_clip_in_a_bucket_keeps_the_parts_it_stored() {
    let (mut app, _) = spawn_with_storage(Storage::S3, Backend::Sqlite, |_| {}).await;
    let store = app.clip_store();
    let owner = app.sign_up("bucket-crash@example.com").await;
    let camera = app.create_device(&owner.token, "Porch", "camera").await;
    let owner_id = Uuid::parse_str(&owner.id).unwrap();
    let camera_id = Uuid::parse_str(&camera.id).unwrap();
    let an_hour_ago = securecam_storage::now() - chrono::Duration::hours(1);
    let new_clip = |id: Uuid| recorder_clip(&store, owner_id, camera_id, id);

    // 24 s at 2.5 Mbit/s: one 5 MiB part stored, the rest still buffered when the recorder
    // dies; its row knows the upload and the part, as the clip's heartbeat left them.
    let kept = securecam_storage::new_id();
    app.db
        .create_recording(new_clip(kept), an_hour_ago)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keys = ["-g", "30", "-b:v", "2500k", "-vf", "noise=alls=40:allf=t"];
    let units = recorder_media::x264_access_units_keyed(dir.path(), 24, &keys);
    let mut upload = store
        .begin(&store.object_key(owner_id, kept))
        .await
        .unwrap();
    recorder_media::record(&units, 24, &mut upload).await;
    let (upload_id, parts) = upload.bucket_state().expect("a bucket upload");
    let etags: Vec<String> = serde_json::from_str(&parts).unwrap();
    assert_eq!(etags.len(), 1, "{} bytes written", upload.written());
    app.db
        .recording_upload(kept, &upload_id, &parts, an_hour_ago)
        .await
        .unwrap();
    std::mem::forget(upload);
    // One that died before its first part was stored: the upload is aborted.
    let lost = securecam_storage::new_id();
    app.db
        .create_recording(new_clip(lost), an_hour_ago)
        .await
        .unwrap();
    let mut upload = store
        .begin(&store.object_key(owner_id, lost))
        .await
        .unwrap();
    upload.write(vec![0u8; 1000].into()).await.unwrap();
    let (upload_id, parts) = upload.bucket_state().unwrap();
    assert_eq!(parts, "[]");
    app.db
        .recording_upload(lost, &upload_id, &parts, an_hour_ago)
        .await
        .unwrap();
    std::mem::forget(upload);

    app.restart().await;
    let [clip, failed] = recovered(&app, &owner.token, [kept, lost]).await;
    assert_eq!(clip["status"], "available", "{clip}");
    let duration = clip["duration_seconds"].as_f64().unwrap();
    assert!((10.0..24.0).contains(&duration), "{duration}");
    assert_eq!(failed["status"], "failed", "{failed}");
    let played = fetch(&app, clip["playback_url"].as_str().unwrap(), None, None).await;
    assert_eq!(played.status(), StatusCode::OK);
    let body = played.bytes().await.unwrap();
    assert_eq!(body.len() as u64, clip["size_bytes"].as_u64().unwrap());
    let path = dir.path().join("completed.mp4");
    std::fs::write(&path, &body).unwrap();
    assert_decodes_cleanly(&path);
}
