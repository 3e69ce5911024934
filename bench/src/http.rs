//! HTTP/1.1 pieces the load tools share: one keep-alive connection per task, driven by hyper
//! directly so the load tool's own CPU use stays low, and latency reports.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

#[derive(Clone)]
pub struct Target {
    pub authority: String,
}

impl Target {
    pub fn parse(url: &str) -> anyhow::Result<Target> {
        let Some(rest) = url.strip_prefix("http://") else {
            bail!("only http:// URLs are supported");
        };
        Ok(Target {
            authority: rest.trim_end_matches('/').to_string(),
        })
    }

    pub async fn connect(&self) -> anyhow::Result<SendRequest<Full<Bytes>>> {
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

pub struct RequestSpec {
    pub method: Method,
    pub path: String,
    pub token: Option<String>,
    pub body: Option<Bytes>,
}

impl RequestSpec {
    pub fn build(&self, target: &Target) -> Request<Full<Bytes>> {
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

pub async fn call(
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
pub struct Report {
    pub latencies: Option<Histogram<u64>>,
    pub ok: u64,
    pub errors: u64,
    pub elapsed: Duration,
}

impl Report {
    pub fn merge(&mut self, other: Report) {
        match (&mut self.latencies, other.latencies) {
            (Some(mine), Some(theirs)) => mine.add(theirs).expect("same histogram bounds"),
            (mine @ None, theirs) => *mine = theirs,
            _ => {}
        }
        self.ok += other.ok;
        self.errors += other.errors;
        self.elapsed = self.elapsed.max(other.elapsed);
    }

    pub fn print(&self, what: &str) {
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
pub async fn run_load(
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
