//! `notifier`: the delivery queue drained to a local webhook endpoint. Fills the queue with
//! `--jobs` webhook jobs through the storage API, then runs the notifier (in this process, as
//! `securecam serve` runs it) until the endpoint has every one: deliveries per second, this
//! process's memory while draining, then the latency from queueing one job to its arrival when
//! the queue is idle. The endpoint runs on a thread of its own and answers 200 at once.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use http_body_util::Full;
use securecam_notifier::{Notifier, NotifierConfig, VapidKey};
use securecam_storage::{
    now, Database, DeliveryStatus, NewAuditLog, NewUser, NewWebhookEndpoint, PageRequest,
    WebhookEventType,
};

use crate::ws::rss_kib;

#[derive(Args)]
pub struct NotifierArgs {
    /// `sqlite` (a fresh file in a temporary directory) or a `postgres://` URL of an empty
    /// database.
    #[arg(long, default_value = "sqlite")]
    database: String,
    /// Jobs in the queue before the notifier starts.
    #[arg(long, default_value_t = 100_000)]
    jobs: usize,
    /// Sends in flight (the notifier's `concurrency`).
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Jobs queued one at a time, on an idle queue, for the latency figures.
    #[arg(long, default_value_t = 500)]
    idle_samples: usize,
}

/// The endpoint: counts deliveries and tells a waiter when the count moves.
struct Endpoint {
    url: String,
    received: Arc<AtomicU64>,
    arrived: Arc<tokio::sync::Notify>,
}

fn start_endpoint() -> anyhow::Result<Endpoint> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let received = Arc::new(AtomicU64::new(0));
    let arrived = Arc::new(tokio::sync::Notify::new());
    let (count, wake) = (received.clone(), arrived.clone());
    std::thread::Builder::new()
        .name("endpoint".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("endpoint runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let (count, wake) = (count.clone(), wake.clone());
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |_request| {
                            count.fetch_add(1, Ordering::Relaxed);
                            wake.notify_waiters();
                            async {
                                Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::new())))
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            })
        })?;
    Ok(Endpoint {
        url,
        received,
        arrived,
    })
}

async fn open(database: &str, dir: &std::path::Path) -> anyhow::Result<Arc<dyn Database>> {
    let db: Arc<dyn Database> = if database == "sqlite" {
        let url = format!("sqlite://{}/bench.db", dir.display());
        Arc::new(securecam_storage_sqlite::SqliteDatabase::connect(&url).await?)
    } else {
        Arc::new(securecam_storage_postgres::PostgresDatabase::connect(database).await?)
    };
    db.migrate().await?;
    Ok(db)
}

pub async fn run(args: NotifierArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = open(&args.database, dir.path()).await?;
    let endpoint = start_endpoint()?;
    let owner = db
        .create_user(
            NewUser {
                email: format!("bench-{}@bench.invalid", uuid::Uuid::now_v7().simple()),
                name: "Bench".into(),
                password_hash: "$argon2id$bench".into(),
            },
            NewAuditLog::new("bench"),
        )
        .await?
        .id;
    db.create_webhook(
        NewWebhookEndpoint {
            owner_user_id: owner,
            url: endpoint.url.clone(),
            events: vec![WebhookEventType::EventCreated],
            secret: "whsec_YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2g=".into(),
        },
        now(),
        NewAuditLog::new("bench"),
    )
    .await?;
    let data = serde_json::json!({"id": uuid::Uuid::now_v7(), "title": "Motion detected",
        "triggered_by": "motion", "status": "active"});

    // Fill the queue through the storage API, 16 writers at a time.
    let filling = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for _ in 0..16 {
        let (db, next, data) = (db.clone(), next.clone(), data.clone());
        let jobs = args.jobs as u64;
        writers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < jobs {
                db.enqueue_webhook_event(
                    owner,
                    WebhookEventType::EventCreated,
                    data.clone(),
                    now(),
                )
                .await?;
            }
            anyhow::Ok(())
        }));
    }
    for writer in writers {
        writer.await??;
    }
    println!(
        "queued {} jobs in {:.1} s ({})",
        args.jobs,
        filling.elapsed().as_secs_f64(),
        db.backend()
    );

    let config = NotifierConfig {
        concurrency: args.concurrency,
        allow_private_targets: true,
        ..NotifierConfig::default()
    };
    let notifier =
        Notifier::new(db.clone(), config, VapidKey::generate()).map_err(|e| anyhow::anyhow!(e))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let pid = std::process::id();
    let rss_start = rss_kib(pid)?;
    let rss: Arc<Mutex<Vec<u64>>> = Default::default();
    let started = Instant::now();
    let running = tokio::spawn(notifier.run(async {
        let _ = stopped.await;
    }));
    let sampler = {
        let rss = rss.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if let Ok(kib) = rss_kib(pid) {
                    rss.lock().unwrap().push(kib);
                }
            }
        })
    };
    let target = args.jobs as u64;
    let mut progress = Vec::new();
    let mut last_report = Instant::now();
    while endpoint.received.load(Ordering::Relaxed) < target {
        tokio::select! {
            _ = endpoint.arrived.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            progress.push((started.elapsed(), endpoint.received.load(Ordering::Relaxed)));
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(900),
            "the queue did not drain within 15 minutes"
        );
    }
    let drained = started.elapsed();
    sampler.abort();
    // Every job recorded as sent (the last reports may still be on their way).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let open_jobs = [
            DeliveryStatus::Pending,
            DeliveryStatus::Sending,
            DeliveryStatus::Failed,
        ];
        let mut left = 0;
        for status in open_jobs {
            left += db
                .list_notification_deliveries(owner, Some(status), PageRequest::first(1))
                .await?
                .items
                .len();
        }
        if left == 0 {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "jobs still open after the drain");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rss = rss.lock().unwrap().clone();
    println!(
        "drained {} jobs to a local endpoint in {:.2} s: {:.0} deliveries/s ({} in flight at most)",
        args.jobs,
        drained.as_secs_f64(),
        args.jobs as f64 / drained.as_secs_f64(),
        args.concurrency
    );
    for (at, count) in progress {
        println!("  at {:>5.1} s: {count} delivered", at.as_secs_f64());
    }
    if let (Some(min), Some(max)) = (rss.iter().min(), rss.iter().max()) {
        println!(
            "RSS: {} MiB before the notifier started; {} to {} MiB while draining ({} samples, first {} MiB, last {} MiB)",
            rss_start / 1024,
            min / 1024,
            max / 1024,
            rss.len(),
            rss[0] / 1024,
            rss[rss.len() - 1] / 1024
        );
    }

    // Idle: one job at a time, from the storage call that queues it to its arrival.
    let mut latency = hdrhistogram::Histogram::<u64>::new(3)?;
    for _ in 0..args.idle_samples {
        let before = endpoint.received.load(Ordering::Relaxed);
        let arrived = endpoint.arrived.notified();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        let queued = Instant::now();
        db.enqueue_webhook_event(owner, WebhookEventType::EventCreated, data.clone(), now())
            .await?;
        while endpoint.received.load(Ordering::Relaxed) == before {
            tokio::time::timeout(Duration::from_secs(10), arrived.as_mut())
                .await
                .context("an idle job did not arrive within 10 s")?;
            arrived.set(endpoint.arrived.notified());
            arrived.as_mut().enable();
        }
        latency.record(queued.elapsed().as_micros() as u64)?;
        // Let the notifier go idle again.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "idle queue, queued to delivered ({} jobs one at a time): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        args.idle_samples,
        latency.value_at_quantile(0.5) as f64 / 1000.0,
        latency.value_at_quantile(0.99) as f64 / 1000.0,
        latency.max() as f64 / 1000.0
    );
    let _ = stop.send(());
    let _ = running.await;
    db.close().await;
    Ok(())
}
