//! The recorder as a running service: the thin async driver around
//! [`CameraRecorder`](crate::camera::CameraRecorder).
//!
//! - One task per camera owns its WHEP subscription and its camera core (`camera_task`), feeds
//!   frames in, sends keyframe requests out, and hands each clip's bytes to that clip's task.
//! - One task per clip (`clip_task`) keeps its row (`recording` → `uploading` → `available` | `failed`) and
//!   uploads its bytes as they come (multipart: never the whole clip in memory). Its queue is
//!   bounded: a clip whose storage cannot keep up fails instead of growing without end.
//! - The service task takes [`RecorderInput`]s (from signal, in this process or through the
//!   bus) and reports finished clips as [`RecorderReport`]s.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use securecam_storage::{now, Database, Recording, RecordingSource};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::camera::ClipKind;
use crate::store::ClipStore;

mod camera_task;
mod clip_task;
mod messages;

use camera_task::{camera_task, CameraMsg};
use clip_task::{clip_task, finish};
pub use messages::*;

const INPUT_QUEUE: usize = 1024;
const CAMERA_QUEUE: usize = 256;
/// Pieces of a clip waiting for storage (a fragment is about a second of video).
const CLIP_QUEUE: usize = 64;
/// How often a camera task looks at its clips when no packet wakes it.
const TICK: Duration = Duration::from_millis(250);
/// How often clips abandoned by a crashed recorder are looked for (and once at start).
const RECOVERY_INTERVAL: Duration = Duration::from_secs(60);
/// A device's upload not completed this long after it was asked for is settled (its URL
/// lives 15 minutes).
const DEVICE_UPLOAD_GIVE_UP: chrono::Duration = chrono::Duration::minutes(20);
/// How long shutdown waits for clips to reach storage.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The recorder's task, to be run with [`RecorderTask::run`].
pub struct RecorderTask {
    service: Service,
    inputs: mpsc::Receiver<RecorderInput>,
}

/// Everything clip and camera tasks share.
#[derive(Clone)]
struct Shared {
    db: Arc<dyn Database>,
    store: ClipStore,
    config: RecorderConfig,
    http: reqwest::Client,
    /// Bounded ([`REPORT_QUEUE`]): a clip task waits for room (a report is one per clip,
    /// and must not be lost).
    reports: mpsc::Sender<RecorderReport>,
}

pub fn start(
    db: Arc<dyn Database>,
    store: ClipStore,
    config: RecorderConfig,
    reports: mpsc::Sender<RecorderReport>,
) -> (RecorderHandle, RecorderTask) {
    let (tx, rx) = mpsc::channel(INPUT_QUEUE);
    let shared = Shared {
        db,
        store,
        config,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a plain HTTP client builds"),
        reports,
    };
    let service = Service {
        shared,
        cameras: HashMap::new(),
        clips: HashMap::new(),
        tasks: JoinSet::new(),
    };
    (
        RecorderHandle { inputs: tx },
        RecorderTask {
            service,
            inputs: rx,
        },
    )
}

impl RecorderTask {
    /// Runs until `shutdown` resolves; then closes every clip (started ones become
    /// `available` with what they have) and waits a while for their uploads.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut recovery = tokio::time::interval(RECOVERY_INTERVAL);
        recovery.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut retention = tokio::time::interval(self.service.shared.config.retention_interval);
        retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut housekeeping = Housekeeping::default();
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                // Both run beside the inputs, never in their way (one of each at a time).
                _ = recovery.tick(), if housekeeping.recovery.as_ref().is_none_or(|t| t.is_finished()) => {
                    let shared = self.service.shared.clone();
                    let live: HashSet<Uuid> = self.service.clips.keys().copied().collect();
                    housekeeping.recovery = Some(tokio::spawn(async move {
                        recover_abandoned(&shared, &live).await;
                    }));
                }
                _ = retention.tick(), if housekeeping.retention.as_ref().is_none_or(|t| t.is_finished()) => {
                    let shared = self.service.shared.clone();
                    housekeeping.retention = Some(tokio::spawn(async move {
                        let report = crate::retention::sweep(
                            shared.db.as_ref(),
                            &shared.store,
                            &shared.config.retention,
                            now(),
                        )
                        .await;
                        if report != Default::default() {
                            tracing::info!(?report, "retention sweep");
                        }
                    }));
                }
                input = self.inputs.recv() => match input {
                    Some(input) => self.service.handle(input).await,
                    None => break,
                },
                // A clip task returns its recording's id when it is done.
                Some(joined) = self.service.tasks.join_next() => {
                    if let Ok(Some(done)) = joined {
                        self.service.clips.remove(&done);
                    }
                }
            }
        }
        for task in [housekeeping.recovery, housekeeping.retention]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
        self.service.cameras.clear();
        let drain = async { while self.service.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
            tracing::warn!("recorder: clips still uploading at shutdown were cut off");
        }
    }
}

/// The sweeps running beside the service loop.
#[derive(Default)]
struct Housekeeping {
    recovery: Option<tokio::task::JoinHandle<()>>,
    retention: Option<tokio::task::JoinHandle<()>>,
}

struct ClipEntry {
    camera: Uuid,
    event_id: Option<Uuid>,
    session_id: Option<Uuid>,
}

struct Service {
    shared: Shared,
    cameras: HashMap<Uuid, mpsc::Sender<CameraMsg>>,
    clips: HashMap<Uuid, ClipEntry>,
    /// Camera tasks (which return `None`) and clip tasks (which return their recording).
    tasks: JoinSet<Option<Uuid>>,
}

impl Service {
    async fn handle(&mut self, input: RecorderInput) {
        match input {
            RecorderInput::CameraLive {
                camera,
                endpoint,
                token,
            } => self.send_to_camera(camera, CameraMsg::Subscribe { endpoint, token }),
            RecorderInput::CameraGone { camera } => {
                if self.cameras.contains_key(&camera) {
                    self.send_to_camera(camera, CameraMsg::StreamGone);
                }
            }
            RecorderInput::StartClip(request) => self.start_clip(request),
            RecorderInput::EndEvent { event } => {
                let clips: Vec<(Uuid, Uuid)> = self
                    .clips
                    .iter()
                    .filter(|(_, c)| c.event_id == Some(event))
                    .map(|(id, c)| (*id, c.camera))
                    .collect();
                for (clip, camera) in clips {
                    self.send_to_camera(camera, CameraMsg::EndEvent { clip });
                }
            }
            RecorderInput::StopClip { recording } => {
                if let Some(camera) = self.clips.get(&recording).map(|c| c.camera) {
                    self.send_to_camera(camera, CameraMsg::Stop { clip: recording });
                }
            }
            RecorderInput::StopSession { session } => {
                let clips: Vec<(Uuid, Uuid)> = self
                    .clips
                    .iter()
                    .filter(|(_, c)| c.session_id == Some(session) && c.event_id.is_none())
                    .map(|(id, c)| (*id, c.camera))
                    .collect();
                for (clip, camera) in clips {
                    self.send_to_camera(camera, CameraMsg::Stop { clip });
                }
            }
        }
    }

    fn start_clip(&mut self, request: ClipRequest) {
        let id = request.recording_id;
        if self.clips.contains_key(&id) {
            return;
        }
        let (sink, rx) = mpsc::channel(CLIP_QUEUE);
        let shared = self.shared.clone();
        let key = request.object_key.clone();
        let session = request.session_id;
        self.tasks.spawn(async move {
            clip_task(shared, id, key, session, rx).await;
            Some(id)
        });
        self.clips.insert(
            id,
            ClipEntry {
                camera: request.camera,
                event_id: request.event_id,
                session_id: request.session_id,
            },
        );
        let kind = if request.event {
            ClipKind::Event
        } else {
            ClipKind::OnDemand
        };
        self.send_to_camera(
            request.camera,
            CameraMsg::Start {
                clip: id,
                kind,
                sink,
            },
        );
    }

    /// Sends to the camera's task, starting it if needed.
    fn send_to_camera(&mut self, camera: Uuid, msg: CameraMsg) {
        let sender = self.cameras.entry(camera).or_insert_with(|| {
            let (tx, rx) = mpsc::channel(CAMERA_QUEUE);
            let shared = self.shared.clone();
            self.tasks.spawn(async move {
                camera_task(shared, camera, rx).await;
                None
            });
            tx
        });
        if let Err(err) = sender.try_send(msg) {
            tracing::warn!(camera_id = %camera, error = %err, "camera task queue full: message dropped");
        }
    }
}

/// Clips whose writer is gone (their rows stopped moving) are finalized with what reached
/// storage, or failed.
async fn recover_abandoned(shared: &Shared, live: &HashSet<Uuid>) {
    let stale = chrono::Duration::from_std(shared.config.progress_interval * 3)
        .unwrap_or(chrono::Duration::seconds(15));
    // A clip of this recorder whose row is quiet only because storage is slow is not abandoned.
    for recording in abandoned(shared, now() - stale, RecordingSource::Recorder).await {
        if live.contains(&recording.id) {
            continue;
        }
        let result = crate::recovery::recover(&shared.store, &recording).await;
        tracing::info!(recording_id = %recording.id, ?result, "recovered an abandoned clip");
        finish(shared, recording.id, None, result).await;
    }
    // Devices' uploads whose URL expired (15 minutes) without `complete`.
    for recording in abandoned(
        shared,
        now() - DEVICE_UPLOAD_GIVE_UP,
        RecordingSource::Device,
    )
    .await
    {
        let result = crate::recovery::settle_device_upload(&shared.store, &recording).await;
        finish(shared, recording.id, None, result).await;
    }
}

/// Clips of `source` whose rows have not moved since `before` (none when the database fails).
async fn abandoned(
    shared: &Shared,
    before: chrono::DateTime<chrono::Utc>,
    source: RecordingSource,
) -> Vec<Recording> {
    match shared.db.abandoned_recordings(before, source, 100).await {
        Ok(rows) => rows,
        Err(err) => {
            tracing::warn!(error = %err, ?source, "could not look for abandoned clips");
            Vec::new()
        }
    }
}
