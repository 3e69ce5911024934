//! The web app in a real browser: Debian's Chromium with a fake camera and microphone, driven by
//! Playwright (`tests/browser/story.mjs`), against a whole server. One story: sign up, pair a
//! second page as a camera, see it online, watch it live (frames decoded), trigger motion and
//! play the event's clip. On SQLite the story runs over HTTPS by a LAN name, with Chromium
//! trusting the server's local CA; on PostgreSQL over plain HTTP on localhost. Screenshots of every step are kept under
//! `target/browser-artifacts/<backend>/`. The clip the browser's camera made is then read back
//! with ffprobe and decoded with ffmpeg, as every clip is.
//!
//! Needs `node`, the story's `node_modules` (`npm ci` in `tests/browser`) and Chromium
//! (`SECURECAM_TEST_CHROMIUM`, default `/usr/bin/chromium`); `./scripts/test` installs them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use securecam_tests::probe::{assert_decodes_cleanly, ffprobe_json};
use securecam_tests::{both_backends, spawn_app_with, Backend, LAN_NAME};

both_backends!(a_camera_and_a_viewer_in_chromium);

/// The story itself is bounded by its own waits; this is only a backstop.
const STORY_TIMEOUT: Duration = Duration::from_secs(300);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

async fn a_camera_and_a_viewer_in_chromium(backend: Backend) {
    let app = spawn_app_with(backend, |settings| {
        // The clip is ready a post-roll after the event ends; keep the story short.
        settings.recorder.post_roll_secs = 2;
    })
    .await;
    let root = workspace();
    let story_dir = root.join("tests/browser");
    assert!(
        story_dir.join("node_modules/playwright-core").is_dir(),
        "tests/browser/node_modules is missing: run `npm ci` in tests/browser (./scripts/test does)"
    );
    let chromium =
        std::env::var("SECURECAM_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "no Chromium at {chromium}: install Debian's `chromium` (./scripts/test does) or set SECURECAM_TEST_CHROMIUM"
    );
    let artifacts = root
        .join("target/browser-artifacts")
        .join(format!("{backend:?}").to_lowercase());
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();

    let mut story = tokio::process::Command::new("node");
    story
        .arg(story_dir.join("story.mjs"))
        .current_dir(&story_dir)
        .env("ARTIFACTS_DIR", &artifacts)
        .env("CHROMIUM", &chromium)
        .kill_on_drop(true);
    match backend {
        // As a phone on the home network: over HTTPS by a LAN name, trusting the server's
        // local CA (the story gives Chromium an NSS database of its own), with no exception
        // for certificate errors.
        Backend::Sqlite => {
            let https = app.https_address.expect("HTTPS is on");
            std::fs::write(artifacts.join("ca.pem"), app.ca_pem()).unwrap();
            story
                .env("BASE_URL", app.https_url(""))
                .env("CA_PEM", artifacts.join("ca.pem"))
                .env(
                    "HOST_RESOLVER_RULES",
                    format!("MAP {LAN_NAME} 127.0.0.1, MAP wrong.home.arpa 127.0.0.1"),
                )
                .env(
                    "WRONG_NAME_URL",
                    format!("https://wrong.home.arpa:{}/camera", https.port()),
                );
        }
        // As on the server's own machine: plain HTTP on localhost.
        Backend::Postgres => {
            story.env("BASE_URL", app.settings_public_url());
        }
    }
    let output = tokio::time::timeout(STORY_TIMEOUT, story.output())
        .await
        .expect("the browser story finished within its time")
        .expect("node runs (install Node.js)");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::write(artifacts.join("story.log"), &log).unwrap();
    assert!(
        output.status.success(),
        "the browser story failed (screenshots in {}):\n{log}",
        artifacts.display()
    );

    // What the story reports it did, checked against the server.
    let result: serde_json::Value = serde_json::from_slice(
        &std::fs::read(artifacts.join("result.json")).expect("the story writes result.json"),
    )
    .unwrap();
    let token = result["user_token"].as_str().expect("user_token");
    let event_id = result["event_id"].as_str().expect("event_id");
    let event = app
        .get(&format!("/api/v1/events/{event_id}"), Some(token))
        .await;
    assert_eq!(event.status(), StatusCode::OK);
    let event: serde_json::Value = event.json().await.unwrap();
    let recording = event["recordings"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["status"] == "available"))
        .unwrap_or_else(|| panic!("the event has an available clip: {event}"));
    let media = app
        .get(
            &format!(
                "/api/v1/recordings/{}/media",
                recording["id"].as_str().unwrap()
            ),
            Some(token),
        )
        .await;
    assert_eq!(media.status(), StatusCode::OK);
    let clip = artifacts.join("clip.mp4");
    std::fs::write(&clip, media.bytes().await.unwrap()).unwrap();
    let probe = ffprobe_json(&clip, &["-show_streams", "-show_format"]);
    let streams = probe["streams"].as_array().unwrap();
    assert!(
        streams
            .iter()
            .any(|s| s["codec_type"] == "video" && s["codec_name"] == "h264"),
        "the browser's clip has H.264 video: {probe}"
    );
    let duration: f64 = probe["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .unwrap_or_default();
    assert!(duration > 1.0, "the clip lasts: {probe}");
    assert_decodes_cleanly(&clip);
}
