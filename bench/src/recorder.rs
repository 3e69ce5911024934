//! `recorder`: event clips of many cameras at once. Cameras publish synthetic H.264 (30 fps at
//! the given bitrate, real parameter sets, filler slices: the recorder remuxes, it never
//! decodes) + Opus over WHIP; the recorder in the server watches each one for its pre-roll.
//! Reported, with `--server-pid`: the server's CPU (cores) and resident memory while the
//! cameras only publish (pre-roll kept) and while every camera's event is being recorded, and
//! for each clip the time from its event's end to `available` (the goal is the post-roll plus
//! 2 s). Run once against a server without the recorder (`--components signal,relay`,
//! `--no-events`) for the baseline the recorder's share is the difference to.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::relay::{cpu_seconds, sign_up, start_camera, Api};
use crate::ws::rss_kib;

#[derive(clap::Args)]
pub struct RecorderArgs {
    /// Cameras publishing (and recorded) at once.
    #[arg(long, default_value_t = 20)]
    streams: usize,
    /// Video bitrate of each camera, bits per second.
    #[arg(long, default_value_t = 2_500_000)]
    bitrate: u32,
    /// Seconds each event lasts.
    #[arg(long, default_value_t = 10)]
    event_seconds: u64,
    /// Seconds of each measured window.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The server process, for its CPU time and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Only publish (a server without the recorder: the baseline).
    #[arg(long)]
    no_events: bool,
}

/// CPU cores the server used over a window, and its resident memory at the end.
async fn window(pid: Option<u32>, seconds: u64) -> anyhow::Result<(Option<f64>, Option<u64>)> {
    let before = pid.map(cpu_seconds).transpose()?;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let after = pid.map(cpu_seconds).transpose()?;
    let cores = before.zip(after).map(|(b, a)| (a - b) / elapsed);
    Ok((cores, pid.map(rss_kib).transpose()?))
}

fn show(label: &str, (cores, rss): (Option<f64>, Option<u64>)) {
    match (cores, rss) {
        (Some(cores), Some(rss)) => println!(
            "  {label}: server CPU {cores:.3} cores, RSS {:.1} MiB",
            rss as f64 / 1024.0
        ),
        _ => println!("  {label}: (no --server-pid: CPU and memory not measured)"),
    }
}

pub async fn run(base: &str, args: RecorderArgs) -> anyhow::Result<()> {
    let api = Api {
        http: reqwest::Client::new(),
        base: base.trim_end_matches('/').to_string(),
    };
    let user = sign_up(&api).await?;
    let rss_idle = args.server_pid.map(rss_kib).transpose()?;
    let mut cameras = Vec::new();
    for i in 0..args.streams {
        cameras.push(start_camera(&api, &user, i, args.bitrate).await?);
    }
    println!(
        "{} cameras at {:.1} Mbit/s + Opus publishing",
        cameras.len(),
        args.bitrate as f64 / 1e6
    );
    if let Some(rss) = rss_idle {
        println!("  server RSS before: {:.1} MiB", rss as f64 / 1024.0);
    }
    // Pre-roll fills (5 s, up to 2 s more).
    tokio::time::sleep(Duration::from_secs(8)).await;
    let publishing = window(args.server_pid, args.seconds).await?;
    show("publishing (pre-roll kept)", publishing);
    if args.no_events {
        return Ok(());
    }

    // Every camera reports an event; the recording window is the event's.
    let mut events = Vec::new();
    for camera in &cameras {
        let event = api
            .post(
                "/api/v1/events",
                &camera.camera_token,
                json!({"triggered_by": "motion"}),
            )
            .await?;
        events.push(
            event["event"]["id"]
                .as_str()
                .context("event id")?
                .to_string(),
        );
    }
    let recording = window(args.server_pid, args.event_seconds).await?;
    show("recording every camera's event", recording);
    if let (Some(rss), Some(base_rss)) = (recording.1, publishing.1) {
        println!(
            "  memory per recording: {:.0} KiB",
            (rss as f64 - base_rss as f64) / args.streams as f64
        );
    }
    let mut ended = Vec::new();
    for (camera, event) in cameras.iter().zip(&events) {
        api.post(
            &format!("/api/v1/events/{event}/end"),
            &camera.camera_token,
            json!({}),
        )
        .await?;
        ended.push(Instant::now());
    }

    // Event end → `available`, as a viewer polling the API sees it (every 100 ms).
    let mut latencies = vec![None; events.len()];
    let deadline = Instant::now() + Duration::from_secs(120);
    while latencies.iter().any(Option::is_none) {
        if Instant::now() > deadline {
            bail!("clips not available after 2 minutes: {latencies:?}");
        }
        for (i, event) in events.iter().enumerate() {
            if latencies[i].is_some() {
                continue;
            }
            let page: Value = api
                .http
                .get(format!("{}/api/v1/recordings?event_id={event}", api.base))
                .bearer_auth(&user)
                .send()
                .await?
                .json()
                .await?;
            match page["items"][0]["status"].as_str() {
                Some("available") => latencies[i] = Some(ended[i].elapsed().as_secs_f64()),
                Some("failed") => bail!("a clip failed: {}", page["items"][0]),
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut latencies: Vec<f64> = latencies.into_iter().flatten().collect();
    latencies.sort_by(f64::total_cmp);
    println!(
        "  event end -> available: min {:.2} s, median {:.2} s, max {:.2} s ({} clips)",
        latencies[0],
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1],
        latencies.len()
    );
    Ok(())
}
