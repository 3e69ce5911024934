//! Signalling load: many device WebSockets from this one process.
//!
//! The fleet is made of households, as real deployments are: one user each, with one viewer
//! phone (the "controller") and some cameras. Presence fans out per owner, so a household is
//! the unit whose size matters, not the total.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Args;
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::http::{call, RequestSpec, Target};

#[derive(Args)]
pub struct FleetArgs {
    /// Households: one user each, with one viewer phone.
    #[arg(long, default_value_t = 1000)]
    households: usize,
    /// Cameras per household.
    #[arg(long, default_value_t = 9)]
    cameras: usize,
    /// Commands queued for each camera while it is offline; each must arrive after connect.
    #[arg(long, default_value_t = 1)]
    pending: usize,
    /// The server's process id, to read its resident memory from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// How long every connection stays open after the storm (heartbeats keep running).
    #[arg(long, default_value_t = 10)]
    hold_seconds: u64,
    /// HTTP connections used to set the fleet up.
    #[arg(long, default_value_t = 16)]
    setup_connections: usize,
}

#[derive(Args)]
pub struct CommandArgs {
    #[arg(long, default_value_t = 100)]
    households: usize,
    #[arg(long, default_value_t = 9)]
    cameras: usize,
    /// Commands created per second in total (open loop).
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// HTTP connections creating commands.
    #[arg(long, default_value_t = 32)]
    connections: usize,
}

#[derive(Clone)]
struct Device {
    id: String,
    token: String,
}

struct Household {
    user_token: String,
    controller: Device,
    cameras: Vec<Device>,
}

/// A new histogram of microseconds up to a minute.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("bounds")
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

fn print_latencies(what: &str, h: &Histogram<u64>) {
    println!(
        "  {what} ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  (n = {})",
        ms(h, 0.5),
        ms(h, 0.9),
        ms(h, 0.99),
        ms(h, 0.999),
        h.max() as f64 / 1000.0,
        h.len()
    );
}

/// Resident memory of a process in KiB.
pub(crate) fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("VmRSS value")?
        .parse()?)
}

/// Sends `requests` over `connections` keep-alive connections; the JSON answers in order.
async fn run_all(
    target: &Target,
    connections: usize,
    requests: Vec<RequestSpec>,
) -> anyhow::Result<Vec<Value>> {
    let total = requests.len();
    let queue = Arc::new(Mutex::new(
        requests.into_iter().enumerate().collect::<VecDeque<_>>(),
    ));
    let results = Arc::new(Mutex::new(vec![Value::Null; total]));
    let mut workers = Vec::new();
    for _ in 0..connections.max(1).min(total.max(1)) {
        let queue = queue.clone();
        let results = results.clone();
        let target = target.clone();
        workers.push(tokio::spawn(async move {
            let mut sender = target.connect().await?;
            loop {
                let Some((index, request)) = queue.lock().unwrap().pop_front() else {
                    return anyhow::Ok(());
                };
                let body = request
                    .body
                    .map(|b| serde_json::from_slice(&b))
                    .transpose()?;
                let value = call(
                    &mut sender,
                    &target,
                    request.method,
                    &request.path,
                    request.token.as_deref(),
                    body,
                )
                .await?;
                results.lock().unwrap()[index] = value;
            }
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let results = std::mem::take(&mut *results.lock().unwrap());
    Ok(results)
}

fn post(path: String, token: Option<&str>, body: Value) -> RequestSpec {
    RequestSpec {
        method: Method::POST,
        path,
        token: token.map(str::to_string),
        body: Some(Bytes::from(body.to_string())),
    }
}

/// Signs up `households` users and creates their devices.
async fn build_fleet(
    target: &Target,
    households: usize,
    cameras: usize,
    connections: usize,
) -> anyhow::Result<Vec<Household>> {
    let started = Instant::now();
    let run = uuid::Uuid::now_v7().simple().to_string();
    let sign_ups = (0..households)
        .map(|i| {
            post(
                "/api/v1/auth/sign-up".into(),
                None,
                json!({"email": format!("bench-{run}-{i}@bench.invalid"),
                       "password": "benchmark password", "name": "Bench"}),
            )
        })
        .collect();
    let users = run_all(target, connections, sign_ups).await?;
    let tokens: Vec<String> = users
        .iter()
        .map(|u| u["session"]["token"].as_str().map(str::to_string))
        .collect::<Option<_>>()
        .context("sign-up returned no token")?;
    println!(
        "  signed up {households} users in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let mut creates = Vec::new();
    for token in &tokens {
        for i in 0..=cameras {
            let (name, role) = if i == 0 {
                ("phone".to_string(), "viewer")
            } else {
                (format!("camera {i}"), "camera")
            };
            creates.push(post(
                "/api/v1/devices".into(),
                Some(token),
                json!({"name": name, "role": role, "platform": "android"}),
            ));
        }
    }
    let devices = run_all(target, connections, creates).await?;
    let mut devices = devices.into_iter().map(|d| {
        Some(Device {
            id: d["device"]["id"].as_str()?.to_string(),
            token: d["device_token"].as_str()?.to_string(),
        })
    });
    let mut fleet = Vec::new();
    for user_token in tokens {
        let controller = devices.next().flatten().context("device")?;
        let cameras = (0..cameras)
            .map(|_| devices.next().flatten().context("device"))
            .collect::<anyhow::Result<_>>()?;
        fleet.push(Household {
            user_token,
            controller,
            cameras,
        });
    }
    println!(
        "  created {} devices in {:.1} s",
        households * (cameras + 1),
        started.elapsed().as_secs_f64()
    );
    Ok(fleet)
}

/// What the device connections saw, shared by all of them.
struct Seen {
    /// From the storm's start to `hello`.
    hello: Mutex<Histogram<u64>>,
    /// From the storm's start to the last expected command.
    commands: Mutex<Histogram<u64>>,
    connect_retries: AtomicUsize,
    ready: AtomicUsize,
    dropped: AtomicUsize,
    /// Commands acknowledged to the controllers: command id → when the update arrived.
    acknowledged: Mutex<HashMap<String, Instant>>,
}

impl Seen {
    fn new() -> Arc<Seen> {
        Arc::new(Seen {
            hello: Mutex::new(histogram()),
            commands: Mutex::new(histogram()),
            connect_retries: AtomicUsize::new(0),
            ready: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            acknowledged: Mutex::new(HashMap::new()),
        })
    }
}

/// One device's connection: connects (retrying, as a real app would), waits for `hello`,
/// acknowledges every command, counts `ready` once `hello` and `expect` commands arrived,
/// records the acknowledgements a controller hears of, and stays until `stop`.
async fn device_connection(
    url: String,
    device: Device,
    expect: usize,
    start: Instant,
    seen: Arc<Seen>,
    mut stop: watch::Receiver<bool>,
) {
    let mut request = url.into_client_request().expect("valid URL");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", device.token).parse().unwrap(),
    );
    let mut ws = loop {
        match tokio_tungstenite::connect_async(request.clone()).await {
            Ok((ws, _)) => break ws,
            Err(_) => {
                seen.connect_retries.fetch_add(1, Ordering::Relaxed);
                if start.elapsed() > Duration::from_secs(60) {
                    seen.dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                let jitter = rand_millis(&device.id, 250);
                tokio::time::sleep(Duration::from_millis(100 + jitter)).await;
            }
        }
    };
    let mut got_hello = false;
    let mut commands = 0;
    let mut counted = false;
    loop {
        let frame = tokio::select! {
            _ = stop.changed() => break,
            frame = ws.next() => frame,
        };
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => {
                seen.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let Ok(message) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        let micros = start.elapsed().as_micros() as u64;
        match message["type"].as_str() {
            Some("hello") => {
                got_hello = true;
                seen.hello.lock().unwrap().saturating_record(micros);
            }
            Some("command") => {
                commands += 1;
                let ack = json!({"type": "command.ack", "command_id": message["command"]["id"],
                                 "status": "acknowledged"});
                if ws.send(Message::text(ack.to_string())).await.is_err() {
                    seen.dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                if commands == expect {
                    seen.commands.lock().unwrap().saturating_record(micros);
                }
            }
            Some("command.updated") if message["command"]["status"] == "acknowledged" => {
                if let Some(id) = message["command"]["id"].as_str() {
                    seen.acknowledged
                        .lock()
                        .unwrap()
                        .insert(id.to_string(), Instant::now());
                }
            }
            _ => {}
        }
        if !counted && got_hello && commands >= expect {
            counted = true;
            seen.ready.fetch_add(1, Ordering::Relaxed);
        }
    }
    let _ = ws.close(None).await;
}

/// A spread of retry delays without a random number generator: from the device id.
fn rand_millis(seed: &str, max: u64) -> u64 {
    seed.bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
        % max
}

/// Starts every device's connection at once; waits until all are ready (or 60 s).
async fn storm(
    target: &Target,
    fleet: &[Household],
    pending: usize,
    seen: &Arc<Seen>,
    stop: &watch::Receiver<bool>,
) -> (Duration, Vec<tokio::task::JoinHandle<()>>) {
    let url = format!("ws://{}/api/v1/ws", target.authority);
    let start = Instant::now();
    let mut tasks = Vec::new();
    let mut total = 0;
    for household in fleet {
        let devices = std::iter::once((&household.controller, 0))
            .chain(household.cameras.iter().map(|c| (c, pending)));
        for (device, expect) in devices {
            total += 1;
            tasks.push(tokio::spawn(device_connection(
                url.clone(),
                device.clone(),
                expect,
                start,
                seen.clone(),
                stop.clone(),
            )));
        }
    }
    while seen.ready.load(Ordering::Relaxed) < total
        && start.elapsed() < Duration::from_secs(60)
        && seen.dropped.load(Ordering::Relaxed) == 0
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (start.elapsed(), tasks)
}

pub async fn fleet(target: &Target, args: FleetArgs) -> anyhow::Result<()> {
    let total = args.households * (args.cameras + 1);
    println!(
        "ws-fleet: {} households × (1 viewer + {} cameras) = {total} devices, {} pending command(s) per camera",
        args.households, args.cameras, args.pending
    );
    let fleet = build_fleet(
        target,
        args.households,
        args.cameras,
        args.setup_connections,
    )
    .await?;

    let started = Instant::now();
    let mut queued = Vec::new();
    for household in &fleet {
        for camera in &household.cameras {
            for _ in 0..args.pending {
                queued.push(post(
                    format!("/api/v1/devices/{}/commands", camera.id),
                    Some(&household.user_token),
                    json!({"command_type": "ping", "ttl_seconds": 900}),
                ));
            }
        }
    }
    let count = queued.len();
    run_all(target, args.setup_connections, queued).await?;
    println!(
        "  queued {count} commands for offline cameras in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let rss_before = args.server_pid.map(rss_kib).transpose()?;
    let seen = Seen::new();
    let (stop_tx, stop_rx) = watch::channel(false);
    let (took, tasks) = storm(target, &fleet, args.pending, &seen, &stop_rx).await;
    let ready = seen.ready.load(Ordering::Relaxed);
    println!(
        "  storm: {ready}/{total} devices got hello and their commands in {:.2} s \
         ({} connect retries, {} dropped)",
        took.as_secs_f64(),
        seen.connect_retries.load(Ordering::Relaxed),
        seen.dropped.load(Ordering::Relaxed)
    );
    print_latencies("hello after storm start", &seen.hello.lock().unwrap());
    if args.pending > 0 {
        print_latencies(
            "pending commands after storm start",
            &seen.commands.lock().unwrap(),
        );
    }

    // Memory once the storm has settled, and again after holding (heartbeats running).
    tokio::time::sleep(Duration::from_secs(3)).await;
    if let (Some(pid), Some(before)) = (args.server_pid, rss_before) {
        let after = rss_kib(pid)?;
        println!(
            "  server RSS: {before} KiB before, {after} KiB with {total} connections: {:.1} KiB per connection",
            (after as f64 - before as f64) / total as f64
        );
    }
    tokio::time::sleep(Duration::from_secs(args.hold_seconds)).await;
    if let (Some(pid), Some(before)) = (args.server_pid, rss_before) {
        let after = rss_kib(pid)?;
        println!(
            "  server RSS after holding {} s: {after} KiB: {:.1} KiB per connection",
            args.hold_seconds,
            (after as f64 - before as f64) / total as f64
        );
    }
    let dropped = seen.dropped.load(Ordering::Relaxed);
    println!("  connections dropped while holding: {dropped}");
    stop_tx.send(true)?;
    for task in tasks {
        let _ = task.await;
    }
    if ready < total || dropped > 0 {
        bail!(
            "{} devices never became ready, {dropped} dropped",
            total - ready
        );
    }
    Ok(())
}

pub async fn commands(target: &Target, args: CommandArgs) -> anyhow::Result<()> {
    println!(
        "ws-commands: {} households × (1 viewer + {} cameras), {} commands/s for {} s over {} HTTP connections",
        args.households, args.cameras, args.rate, args.seconds, args.connections
    );
    let fleet = Arc::new(build_fleet(target, args.households, args.cameras, 16).await?);
    let seen = Seen::new();
    let (stop_tx, stop_rx) = watch::channel(false);
    let (took, tasks) = storm(target, &fleet, 0, &seen, &stop_rx).await;
    println!(
        "  {} devices connected in {:.2} s",
        seen.ready.load(Ordering::Relaxed),
        took.as_secs_f64()
    );

    // Open loop: connection i creates command k·connections + i at start + that / rate, for
    // camera number (k·connections + i) round the fleet, as that camera's household phone.
    let targets: Arc<Vec<(String, String)>> = Arc::new(
        fleet
            .iter()
            .flat_map(|h| {
                h.cameras
                    .iter()
                    .map(|c| (c.id.clone(), h.controller.token.clone()))
            })
            .collect(),
    );
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let start = Instant::now() + Duration::from_millis(200);
    let end = start + Duration::from_secs(args.seconds);
    let created: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let mut drivers = Vec::new();
    for i in 0..args.connections {
        let target = target.clone();
        let targets = targets.clone();
        let created = created.clone();
        let connections = args.connections;
        drivers.push(tokio::spawn(async move {
            let mut sender = target.connect().await?;
            let mut rest = histogram();
            let mut errors = 0usize;
            let mut n = i;
            loop {
                let due = start + interval * n as u32;
                if due >= end {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                let (camera, token) = &targets[n % targets.len()];
                let request = RequestSpec {
                    method: Method::POST,
                    path: format!("/api/v1/devices/{camera}/commands"),
                    token: Some(token.clone()),
                    body: Some(Bytes::from_static(br#"{"command_type":"ping"}"#)),
                };
                sender.ready().await?;
                let response = sender.send_request(request.build(&target)).await?;
                let status = response.status();
                let body = response.into_body().collect().await?.to_bytes();
                rest.saturating_record(due.elapsed().as_micros() as u64);
                let id = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v["command"]["id"].as_str().map(str::to_string));
                match (status, id) {
                    (StatusCode::ACCEPTED, Some(id)) => created.lock().unwrap().push((id, due)),
                    _ => errors += 1,
                }
                n += connections;
            }
            anyhow::Ok((rest, errors))
        }));
    }
    let mut rest = histogram();
    let mut errors = 0;
    for driver in drivers {
        let (h, e) = driver.await??;
        rest.add(h)?;
        errors += e;
    }
    let elapsed = start.elapsed();
    let created = std::mem::take(&mut *created.lock().unwrap());
    // Acknowledgements still on their way get a few seconds.
    let wait_until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < wait_until && seen.acknowledged.lock().unwrap().len() < created.len() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut round_trip = histogram();
    let mut missing = 0;
    {
        let acknowledged = seen.acknowledged.lock().unwrap();
        for (id, due) in &created {
            match acknowledged.get(id) {
                Some(at) => {
                    round_trip.saturating_record(at.duration_since(*due).as_micros() as u64)
                }
                None => missing += 1,
            }
        }
    }
    println!(
        "  {} commands created in {:.1} s ({:.0}/s), {errors} errors; {} acknowledged, {missing} never seen acknowledged",
        created.len(),
        elapsed.as_secs_f64(),
        created.len() as f64 / elapsed.as_secs_f64(),
        created.len() - missing
    );
    print_latencies("REST create (from due time)", &rest);
    print_latencies(
        "round trip: create due → acknowledged, seen by the sender",
        &round_trip,
    );
    stop_tx.send(true)?;
    for task in tasks {
        let _ = task.await;
    }
    if errors > 0 || missing > 0 {
        bail!("{errors} errors, {missing} commands never acknowledged");
    }
    Ok(())
}
