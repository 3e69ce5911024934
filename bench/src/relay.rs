//! `relay`: the media relay under load. Cameras publish synthetic H.264 (30 fps at the given
//! bitrate) + Opus over WHIP; viewers watch each camera over WHEP; all of them are str0m
//! peers in this process. Reported: the relay process's CPU seconds per second and resident
//! memory per viewer leg (from /proc, with `--server-pid`), forwarded packets per second (and
//! per core used), the relay's own forwarding delay p50/p99 (datagram read → each copy sent,
//! from its `/metrics` histogram), and the one-way delay camera → viewer measured here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::future::try_join_all;
use securecam_media_relay::client::{self, Peer, PublishOptions};
use securecam_media_relay::delay::DelayHistogram;
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::ws::{histogram, rss_kib};

#[derive(clap::Args)]
pub struct RelayArgs {
    /// Cameras publishing at once.
    #[arg(long, default_value_t = 1)]
    publishers: usize,
    /// Viewers of each camera.
    #[arg(long, default_value_t = 100)]
    viewers: usize,
    /// Video bitrate of each camera, bits per second.
    #[arg(long, default_value_t = 2_500_000)]
    bitrate: u32,
    /// Length of the measured window, after everyone connected.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The server process, for its CPU time and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Viewers connecting at once while ramping up.
    #[arg(long, default_value_t = 16)]
    ramp: usize,
}

pub(crate) struct Api {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
}

impl Api {
    pub(crate) async fn post(&self, path: &str, token: &str, body: Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            bail!("POST {path}: {status} {body}");
        }
        Ok(body)
    }

    async fn device(&self, user: &str, name: &str, role: &str) -> anyhow::Result<(String, String)> {
        let body = self
            .post(
                "/api/v1/devices",
                user,
                json!({"name": name, "role": role, "platform": "android", "app_version": "bench"}),
            )
            .await?;
        Ok((
            body["device"]["id"]
                .as_str()
                .context("device id")?
                .to_string(),
            body["device_token"]
                .as_str()
                .context("device token")?
                .to_string(),
        ))
    }
}

/// A camera publishing, and what its viewers need.
pub(crate) struct Stream {
    /// Publishes for as long as the stream is kept.
    _camera: Peer,
    viewer_device: String,
    viewer_token: String,
    camera_id: String,
    /// The camera's device token (it reports events).
    pub(crate) camera_token: String,
}

/// Opens a live-view session: its WHEP endpoint and token (tokens are short-lived, so each
/// ramp-up batch takes a fresh session).
async fn subscribe(api: &Api, stream: &Stream) -> anyhow::Result<(String, String)> {
    let session = api
        .post(
            "/api/v1/stream-sessions",
            &stream.viewer_token,
            json!({"camera_device_id": stream.camera_id, "requester_device_id": stream.viewer_device, "reason": "live_view"}),
        )
        .await?;
    Ok((
        session["subscribe_endpoint"]
            .as_str()
            .context("endpoint")?
            .to_string(),
        session["subscribe_token"]
            .as_str()
            .context("token")?
            .to_string(),
    ))
}

/// One camera: a device that answers `start_stream` on its WebSocket and publishes.
pub(crate) async fn start_camera(
    api: &Api,
    user: &str,
    i: usize,
    bitrate: u32,
) -> anyhow::Result<Stream> {
    let (camera_id, camera_token) = api
        .device(user, &format!("bench camera {i}"), "camera")
        .await?;
    let (viewer_device, viewer_token) = api
        .device(user, &format!("bench viewer {i}"), "viewer")
        .await?;
    let ws_url = format!("{}/api/v1/ws", api.base.replacen("http", "ws", 1));
    let mut request = ws_url.into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {camera_token}").parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
    api.post(
        "/api/v1/stream-sessions",
        &viewer_token,
        json!({"camera_device_id": camera_id, "requester_device_id": viewer_device, "reason": "live_view"}),
    )
    .await?;
    use futures::{SinkExt, StreamExt};
    let command = loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .context("no start_stream within 10 s")?
            .context("WebSocket closed")??;
        let Message::Text(text) = frame else { continue };
        let message: Value = serde_json::from_str(&text)?;
        if message["type"] == "command" && message["command"]["command_type"] == "start_stream" {
            break message["command"].clone();
        }
    };
    ws.send(Message::text(
        json!({"type": "command.ack", "command_id": command["id"], "status": "acknowledged"})
            .to_string(),
    ))
    .await?;
    let camera = client::publish(
        &api.http,
        command["payload"]["publish_endpoint"]
            .as_str()
            .context("endpoint")?,
        command["payload"]["publish_token"]
            .as_str()
            .context("token")?,
        PublishOptions {
            video_bitrate: bitrate,
            audio: true,
        },
    )
    .await?;
    if !camera
        .wait_for(Duration::from_secs(10), |s| s.connected)
        .await
    {
        bail!("camera {i} did not connect");
    }
    // The WebSocket stays open in the background: a camera that vanished would be stopped.
    tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} });
    Ok(Stream {
        _camera: camera,
        viewer_device,
        viewer_token,
        camera_id,
        camera_token,
    })
}

/// CPU seconds (user + system) the process used so far.
pub(crate) fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').context("stat format")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    // USER_HZ is 100 on every Linux this runs on.
    Ok(ticks / 100.0)
}

async fn metrics(api: &Api) -> anyhow::Result<String> {
    Ok(api
        .http
        .get(format!("{}/metrics", api.base))
        .send()
        .await?
        .text()
        .await?)
}

/// The sum of a relay counter over all its series.
fn counter_sum(page: &str, name: &str) -> u64 {
    page.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Signs up a fresh user; their token.
pub(crate) async fn sign_up(api: &Api) -> anyhow::Result<String> {
    let email = format!("bench-{}@bench.invalid", uuid::Uuid::now_v7().simple());
    let signed_up = api
        .http
        .post(format!("{}/api/v1/auth/sign-up", api.base))
        .json(&json!({"email": email, "password": "benchmark password", "name": "Bench"}))
        .send()
        .await?
        .json::<Value>()
        .await?;
    Ok(signed_up["session"]["token"]
        .as_str()
        .context("sign-up returned no token")?
        .to_string())
}

pub async fn run(base: &str, args: RelayArgs) -> anyhow::Result<()> {
    let api = Arc::new(Api {
        http: reqwest::Client::new(),
        base: base.trim_end_matches('/').to_string(),
    });
    let user = sign_up(&api).await?;

    let rss_idle = args.server_pid.map(rss_kib).transpose()?;
    let mut streams = Vec::new();
    for i in 0..args.publishers {
        streams.push(start_camera(&api, &user, i, args.bitrate).await?);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_published = args.server_pid.map(rss_kib).transpose()?;

    // Viewers, `ramp` at a time, each batch on a fresh session (its token lives 2 minutes).
    let ramp_started = Instant::now();
    let gate = Arc::new(Semaphore::new(args.ramp.max(1)));
    let mut viewers: Vec<Peer> = Vec::new();
    for stream in &streams {
        for chunk in (0..args.viewers)
            .collect::<Vec<_>>()
            .chunks(args.ramp.max(1))
        {
            let (endpoint, token) = subscribe(&api, stream).await?;
            let batch = chunk.iter().map(|_| {
                let (api, endpoint, token, gate) =
                    (api.clone(), endpoint.clone(), token.clone(), gate.clone());
                async move {
                    let _permit = gate.acquire().await?;
                    let peer = client::watch(&api.http, &endpoint, &token, true).await?;
                    if !peer
                        .wait_for(Duration::from_secs(15), |s| s.video_packets > 0)
                        .await
                    {
                        bail!("a viewer got no video within 15 s: {:?}", peer.stats());
                    }
                    anyhow::Ok(peer)
                }
            });
            viewers.extend(try_join_all(batch).await?);
            eprint!("\r{} viewers connected", viewers.len());
        }
    }
    let legs = viewers.len();
    eprintln!();
    println!(
        "{} publisher(s) at {:.1} Mbit/s + Opus, {legs} viewer legs connected in {:.1} s",
        streams.len(),
        args.bitrate as f64 / 1e6,
        ramp_started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The measured window.
    for viewer in &viewers {
        viewer.stats.lock().unwrap().latencies_us.clear();
    }
    let received_before: u64 = viewers
        .iter()
        .map(|v| v.stats().video_packets + v.stats().audio_packets)
        .sum();
    let page = metrics(&api).await?;
    let out_before = counter_sum(&page, "securecam_relay_stream_packets_out_total");
    let in_before = counter_sum(&page, "securecam_relay_stream_packets_in_total");
    let delay_before = DelayHistogram::from_metrics(&page).context("no delay histogram")?;
    let cpu_before = args.server_pid.map(cpu_seconds).transpose()?;
    let own_before = cpu_seconds(std::process::id())?;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = args.server_pid.map(cpu_seconds).transpose()?;
    let own = (cpu_seconds(std::process::id())? - own_before) / elapsed;
    let page = metrics(&api).await?;
    let out = counter_sum(&page, "securecam_relay_stream_packets_out_total") - out_before;
    let inbound = counter_sum(&page, "securecam_relay_stream_packets_in_total") - in_before;
    let delay = DelayHistogram::from_metrics(&page)
        .context("no delay histogram")?
        .since(&delay_before);
    let received: u64 = viewers
        .iter()
        .map(|v| v.stats().video_packets + v.stats().audio_packets)
        .sum::<u64>()
        - received_before;
    let rss_full = args.server_pid.map(rss_kib).transpose()?;

    let mut one_way = histogram();
    for viewer in &viewers {
        for &us in &viewer.stats.lock().unwrap().latencies_us {
            one_way.record(us.max(1))?;
        }
    }
    let starved = viewers.iter().filter(|v| v.stats().disconnected).count();

    println!("measured over {elapsed:.1} s:");
    println!(
        "  relay in: {:.0} pkt/s; forwarded: {:.0} pkt/s; received by viewers: {:.0} pkt/s ({:.2}% of forwarded)",
        inbound as f64 / elapsed,
        out as f64 / elapsed,
        received as f64 / elapsed,
        100.0 * received as f64 / out.max(1) as f64
    );
    if let (Some(before), Some(after)) = (cpu_before, cpu_after) {
        let cores = (after - before) / elapsed;
        println!(
            "  relay CPU: {cores:.3} s/s; forwarded per core: {:.0} pkt/s (load tool: {own:.3} s/s)",
            out as f64 / elapsed / cores.max(1e-9)
        );
    }
    if let (Some(idle), Some(published), Some(full)) = (rss_idle, rss_published, rss_full) {
        println!(
            "  relay RSS: {idle} KiB idle, {published} KiB with the publisher(s), {full} KiB with {legs} viewers: {:.1} KiB per viewer leg",
            (full as f64 - published as f64) / legs.max(1) as f64
        );
    }
    let q = |p: f64| delay.quantile_us(p).unwrap_or(f64::NAN) / 1000.0;
    println!(
        "  relay forwarding delay (read → copy sent), ms: p50 {:.3}  p99 {:.3}  p99.9 {:.3}  mean {:.3}  (n = {})",
        q(0.5),
        q(0.99),
        q(0.999),
        delay.sum_us as f64 / delay.count().max(1) as f64 / 1000.0,
        delay.count()
    );
    println!(
        "  camera → viewer one-way (both in this process), ms: p50 {:.2}  p99 {:.2}  max {:.2}  (n = {})",
        one_way.value_at_quantile(0.5) as f64 / 1000.0,
        one_way.value_at_quantile(0.99) as f64 / 1000.0,
        one_way.max() as f64 / 1000.0,
        one_way.len()
    );
    println!("  viewers disconnected during the run: {starved}");
    Ok(())
}
