//! `securecam-bench`: load from a separate process against a running SecureCam server.
//!
//! * `devices`  — authenticated `GET /api/v1/devices` as fast as N connections go
//!   (closed loop), or at a fixed rate (`--rate`, open loop: latency is measured from when
//!   each request was *due*, so a stalled server cannot hide its queueing delay).
//! * `sign-in`  — `POST /api/v1/auth/sign-in` throughput (bounded by argon2 by design).
//!
//! Each connection is one HTTP/1.1 keep-alive connection driven by hyper directly, to keep
//! the load tool's own CPU use low on a machine it shares with the server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;

#[derive(Parser)]
#[command(
    name = "securecam-bench",
    about = "Load tools for SecureCam benchmarks"
)]
struct Cli {
    /// The server, e.g. http://127.0.0.1:8080
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Authenticated GET /api/v1/devices.
    Devices {
        #[arg(long, default_value_t = 64)]
        connections: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Requests per second in total (open loop); unset = as fast as possible.
        #[arg(long)]
        rate: Option<f64>,
        /// Devices the user owns (the size of each response).
        #[arg(long, default_value_t = 10)]
        devices: usize,
    },
    /// POST /api/v1/auth/sign-in with the right password.
    SignIn {
        #[arg(long, default_value_t = 8)]
        connections: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let target = Target::parse(&cli.url)?;
    let email = format!("bench-{}@bench.invalid", uuid::Uuid::now_v7().simple());
    let password = "benchmark password";
    let mut setup = target.connect().await?;
    let signed_up = call(
        &mut setup,
        &target,
        Method::POST,
        "/api/v1/auth/sign-up",
        None,
        Some(json!({"email": email, "password": password, "name": "Bench"})),
    )
    .await?;
    let token = signed_up["session"]["token"]
        .as_str()
        .context("sign-up returned no token")?
        .to_string();

    match cli.command {
        Command::Devices {
            connections,
            seconds,
            rate,
            devices,
        } => {
            for i in 0..devices {
                let body =
                    json!({"name": format!("camera {i}"), "role": "camera", "platform": "android"});
                call(
                    &mut setup,
                    &target,
                    Method::POST,
                    "/api/v1/devices",
                    Some(&token),
                    Some(body),
                )
                .await?;
            }
            let request = Arc::new(RequestSpec {
                method: Method::GET,
                path: "/api/v1/devices".to_string(),
                token: Some(token),
                body: None,
            });
            let report = run_load(
                &target,
                request,
                connections,
                Duration::from_secs(seconds),
                rate,
            )
            .await?;
            report.print(&format!(
                "GET /api/v1/devices ({devices} devices), {connections} connections, {}",
                rate.map_or("closed loop".to_string(), |r| format!(
                    "open loop at {r} req/s"
                ))
            ));
        }
        Command::SignIn {
            connections,
            seconds,
        } => {
            let request = Arc::new(RequestSpec {
                method: Method::POST,
                path: "/api/v1/auth/sign-in".to_string(),
                token: None,
                body: Some(Bytes::from(
                    json!({"email": email, "password": password}).to_string(),
                )),
            });
            let report = run_load(
                &target,
                request,
                connections,
                Duration::from_secs(seconds),
                None,
            )
            .await?;
            report.print(&format!(
                "POST /api/v1/auth/sign-in, {connections} connections, closed loop"
            ));
        }
    }
    Ok(())
}

struct Target {
    authority: String,
}

impl Target {
    fn parse(url: &str) -> anyhow::Result<Target> {
        let Some(rest) = url.strip_prefix("http://") else {
            bail!("only http:// URLs are supported");
        };
        Ok(Target {
            authority: rest.trim_end_matches('/').to_string(),
        })
    }

    async fn connect(&self) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        let stream = TcpStream::connect(&self.authority)
            .await
            .with_context(|| format!("connecting to {}", self.authority))?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(sender)
    }
}

struct RequestSpec {
    method: Method,
    path: String,
    token: Option<String>,
    body: Option<Bytes>,
}

impl RequestSpec {
    fn build(&self, target: &Target) -> Request<Full<Bytes>> {
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(&self.path)
            .header("host", &target.authority);
        if let Some(token) = &self.token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        if self.body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        builder
            .body(Full::new(self.body.clone().unwrap_or_default()))
            .expect("valid request")
    }
}

async fn call(
    sender: &mut SendRequest<Full<Bytes>>,
    target: &Target,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let spec = RequestSpec {
        method,
        path: path.to_string(),
        token: token.map(str::to_string),
        body: body.map(|b| Bytes::from(b.to_string())),
    };
    sender.ready().await?;
    let response = sender.send_request(spec.build(target)).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        bail!("{path}: {status}: {}", String::from_utf8_lossy(&bytes));
    }
    Ok(serde_json::from_slice(&bytes)?)
}

#[derive(Default)]
struct Report {
    latencies: Option<Histogram<u64>>,
    ok: u64,
    errors: u64,
    elapsed: Duration,
}

impl Report {
    fn merge(&mut self, other: Report) {
        match (&mut self.latencies, other.latencies) {
            (Some(mine), Some(theirs)) => mine.add(theirs).expect("same histogram bounds"),
            (mine @ None, theirs) => *mine = theirs,
            _ => {}
        }
        self.ok += other.ok;
        self.errors += other.errors;
        self.elapsed = self.elapsed.max(other.elapsed);
    }

    fn print(&self, what: &str) {
        let h = self.latencies.as_ref().expect("at least one connection");
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        println!("{what}");
        println!(
            "  {} ok, {} errors in {:.1} s: {:.0} req/s",
            self.ok,
            self.errors,
            self.elapsed.as_secs_f64(),
            self.ok as f64 / self.elapsed.as_secs_f64()
        );
        println!(
            "  latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
            ms(0.5),
            ms(0.9),
            ms(0.99),
            ms(0.999),
            h.max() as f64 / 1000.0
        );
    }
}

/// Drives `connections` keep-alive connections for `duration`, closed loop or at `rate`.
async fn run_load(
    target: &Target,
    request: Arc<RequestSpec>,
    connections: usize,
    duration: Duration,
    rate: Option<f64>,
) -> anyhow::Result<Report> {
    let mut senders = Vec::with_capacity(connections);
    for _ in 0..connections {
        senders.push(target.connect().await?);
    }
    let start = Instant::now() + Duration::from_millis(100);
    let end = start + duration;
    // Open loop: connection i sends at start + (i + k * connections) / rate.
    let interval = rate.map(|r| Duration::from_secs_f64(connections as f64 / r));
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(i, mut sender)| {
            let request = request.clone();
            let target_authority = target.authority.clone();
            tokio::spawn(async move {
                let target = Target {
                    authority: target_authority,
                };
                let mut histogram =
                    Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
                let mut report = Report::default();
                let offset = interval.map_or(Duration::ZERO, |iv| {
                    iv.mul_f64(i as f64 / connections as f64)
                });
                let mut due = start + offset;
                tokio::time::sleep_until(start.into()).await;
                loop {
                    let sent = match interval {
                        Some(iv) => {
                            let at = due;
                            due += iv;
                            tokio::time::sleep_until(at.into()).await;
                            at
                        }
                        None => Instant::now(),
                    };
                    if sent >= end {
                        break;
                    }
                    let result = match sender.ready().await {
                        Ok(()) => sender.send_request(request.build(&target)).await,
                        Err(e) => Err(e),
                    };
                    let ok = match result {
                        Ok(response) => {
                            let status = response.status();
                            let body = response.into_body().collect().await;
                            body.is_ok() && status == StatusCode::OK
                        }
                        Err(_) => false,
                    };
                    let micros = sent.elapsed().as_micros().max(1) as u64;
                    histogram.saturating_record(micros);
                    if ok {
                        report.ok += 1;
                    } else {
                        report.errors += 1;
                        if sender.is_closed() {
                            match target.connect().await {
                                Ok(s) => sender = s,
                                Err(_) => break,
                            }
                        }
                    }
                }
                report.latencies = Some(histogram);
                report.elapsed = start.elapsed();
                report
            })
        })
        .collect();
    let mut total = Report::default();
    for task in tasks {
        total.merge(task.await?);
    }
    Ok(total)
}
