//! `securecam-bench`: load from a separate process against a running SecureCam server.
//!
//! * `devices`  — authenticated `GET /api/v1/devices` as fast as N connections go
//!   (closed loop), or at a fixed rate (`--rate`, open loop: latency is measured from when
//!   each request was *due*, so a stalled server cannot hide its queueing delay).
//! * `sign-in`  — `POST /api/v1/auth/sign-in` throughput (bounded by argon2 by design).
//! * `ws-fleet` — N device WebSockets: server memory per connection, and a reconnect storm
//!   in which every device must get `hello` and the commands queued while it was away.
//! * `ws-commands` — command round trips (REST create → WebSocket delivery → ack →
//!   acknowledged in the database, seen by the sender) at a fixed rate.
//! * `notifier` — the delivery queue drained to a local webhook endpoint: deliveries/s,
//!   memory while draining, queued-to-delivered latency on an idle queue.
//! * `relay` — cameras publishing over WHIP to many WHEP viewers: relay CPU, memory per
//!   viewer leg, forwarded packets/s and forwarding delay.
//!
//! Each HTTP connection is one HTTP/1.1 keep-alive connection driven by hyper directly, to
//! keep the load tool's own CPU use low on a machine it shares with the server.

mod http;
mod notifier;
mod recorder;
mod relay;
mod ws;

use std::sync::Arc;
use std::time::Duration;

use ::http::Method;
use anyhow::Context;
use bytes::Bytes;
use clap::{Parser, Subcommand};
use serde_json::json;

use crate::http::{call, run_load, RequestSpec, Target};

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
    /// Many device WebSockets at once (households of one viewer and some cameras).
    WsFleet(ws::FleetArgs),
    /// Command round trips at a fixed rate.
    WsCommands(ws::CommandArgs),
    /// The media relay: publishers over WHIP, viewers over WHEP, all str0m peers here.
    Relay(relay::RelayArgs),
    /// Event clips of many cameras at once (the recorder).
    Recorder(recorder::RecorderArgs),
    /// The notifier draining a queue to a local webhook endpoint (runs the notifier itself).
    Notifier(notifier::NotifierArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let target = Target::parse(&cli.url)?;
    match cli.command {
        Command::WsFleet(args) => return ws::fleet(&target, args).await,
        Command::WsCommands(args) => return ws::commands(&target, args).await,
        Command::Relay(args) => return relay::run(&cli.url, args).await,
        Command::Recorder(args) => return recorder::run(&cli.url, args).await,
        Command::Notifier(args) => return notifier::run(args).await,
        _ => {}
    }
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
        Command::WsFleet(_)
        | Command::WsCommands(_)
        | Command::Relay(_)
        | Command::Recorder(_)
        | Command::Notifier(_) => {
            unreachable!("handled above")
        }
    }
    Ok(())
}
