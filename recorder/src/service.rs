//! The recorder as a running service: the thin async driver around [`CameraRecorder`].
//!
//! - One task per camera owns its WHEP [`Subscription`] and its [`CameraRecorder`], feeds
//!   frames in, sends keyframe requests out, and hands each clip's bytes to that clip's task.
//! - One task per clip keeps its row (`recording` → `uploading` → `available` | `failed`) and
//!   uploads its bytes as they come (multipart: never the whole clip in memory). Its queue is
//!   bounded: a clip whose storage cannot keep up fails instead of growing without end.
//! - The service task takes [`RecorderInput`]s (from signal, in this process or through the
//!   bus) and reports finished clips as [`RecorderReport`]s.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use securecam_storage::{now, Database, NewRecording, Recording, RecordingResult, RecordingSource};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::camera::{CameraConfig, CameraRecorder, ClipKind, Output};
use crate::clip::ClipEnd;
use crate::retention::RetentionConfig;
use crate::store::{ClipStore, ClipUpload, CLIP_CONTENT_TYPE};
use crate::subscriber::Subscription;

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

#[derive(Debug, Clone, Copy)]
pub struct RecorderConfig {
    pub camera: CameraConfig,
    pub retention: RetentionConfig,
    /// How often retention sweeps (and once at start).
    pub retention_interval: Duration,
    /// How often a clip being written refreshes its row (crash recovery's sign of life).
    pub progress_interval: Duration,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        RecorderConfig {
            camera: CameraConfig::default(),
            retention: RetentionConfig::default(),
            retention_interval: Duration::from_secs(600),
            progress_interval: Duration::from_secs(5),
        }
    }
}

/// A clip to record. Its row is stored (status `recording`) by whoever asks, before asking,
/// so the clip shows at once and a clip the recorder never gets is recovered as failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipRequest {
    pub recording_id: Uuid,
    pub object_key: String,
    pub camera: Uuid,
    pub owner: Uuid,
    pub event: bool,
    pub event_id: Option<Uuid>,
    /// The stream session that keeps the camera publishing for this clip.
    pub session_id: Option<Uuid>,
    pub requester_device_id: Option<Uuid>,
}

impl ClipRequest {
    /// A request for a new clip of `camera`, its object named by `store`.
    pub fn new(store: &ClipStore, camera: Uuid, owner: Uuid) -> Self {
        let recording_id = securecam_storage::new_id();
        ClipRequest {
            recording_id,
            object_key: store.object_key(owner, recording_id),
            camera,
            owner,
            event: false,
            event_id: None,
            session_id: None,
            requester_device_id: None,
        }
    }

    /// The clip's row.
    pub fn new_recording(&self, store: &ClipStore) -> NewRecording {
        NewRecording {
            id: self.recording_id,
            owner_user_id: self.owner,
            stream_session_id: self.session_id,
            camera_device_id: Some(self.camera),
            requester_device_id: self.requester_device_id,
            event_id: self.event_id,
            object_key: self.object_key.clone(),
            bucket: store.bucket().to_string(),
            content_type: CLIP_CONTENT_TYPE.to_string(),
            source: RecordingSource::Recorder,
            size_bytes: None,
            duration_seconds: None,
        }
    }
}

/// What the recorder is told.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum RecorderInput {
    /// The camera publishes: watch it (for the pre-roll, and for clips waiting for it).
    CameraLive {
        camera: Uuid,
        endpoint: String,
        token: String,
    },
    /// The camera's stream is closed.
    CameraGone {
        camera: Uuid,
    },
    StartClip(ClipRequest),
    /// An event ended: its clip stops a post-roll later.
    EndEvent {
        event: Uuid,
    },
    /// The stream session of an on-demand recording ended: its clip stops now.
    StopSession {
        session: Uuid,
    },
    /// The clip was deleted while it was recorded: it stops now (its object is removed).
    StopClip {
        recording: Uuid,
    },
}

impl std::fmt::Debug for RecorderInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecorderInput::CameraLive {
                camera, endpoint, ..
            } => f
                .debug_struct("CameraLive")
                .field("camera", camera)
                .field("endpoint", endpoint)
                .field("token", &"[REDACTED]")
                .finish(),
            RecorderInput::CameraGone { camera } => f
                .debug_struct("CameraGone")
                .field("camera", camera)
                .finish(),
            RecorderInput::StartClip(request) => f.debug_tuple("StartClip").field(request).finish(),
            RecorderInput::EndEvent { event } => {
                f.debug_struct("EndEvent").field("event", event).finish()
            }
            RecorderInput::StopSession { session } => f
                .debug_struct("StopSession")
                .field("session", session)
                .finish(),
            RecorderInput::StopClip { recording } => f
                .debug_struct("StopClip")
                .field("recording", recording)
                .finish(),
        }
    }
}

/// What the recorder tells signal.
#[derive(Debug, Clone, PartialEq)]
pub enum RecorderReport {
    /// A clip ended: `available` or `failed`. Its stream session, if any, is no longer needed.
    Finished { recording: Box<Recording> },
    /// A clip that was deleted while it was recorded ended: its session is no longer needed.
    SessionDone { session: Uuid },
}

/// How the rest of the process talks to the recorder.
#[derive(Clone)]
pub struct RecorderHandle {
    inputs: mpsc::Sender<RecorderInput>,
}

impl RecorderHandle {
    /// Queues an input; a full queue drops it with a warning (requests never wait on it).
    pub fn send(&self, input: RecorderInput) {
        if let Err(err) = self.inputs.try_send(input) {
            tracing::warn!(error = %err, "recorder queue full or closed: input dropped");
        }
    }
}

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

/// Reports waiting for signal; clip tasks wait when it is full.
pub const REPORT_QUEUE: usize = 256;

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

enum CameraMsg {
    Subscribe {
        endpoint: String,
        token: String,
    },
    StreamGone,
    Start {
        clip: Uuid,
        kind: ClipKind,
        sink: mpsc::Sender<ClipMsg>,
    },
    EndEvent {
        clip: Uuid,
    },
    Stop {
        clip: Uuid,
    },
}

enum ClipMsg {
    Bytes(Bytes),
    Ended { end: ClipEnd, duration: Duration },
    NeverStarted,
    Failed(String),
}

/// One camera: its subscription, its recorder core, its clips' queues. Lives until the
/// service drops its queue (shutdown).
async fn camera_task(shared: Shared, camera: Uuid, mut inbox: mpsc::Receiver<CameraMsg>) {
    let mut core = CameraRecorder::new(shared.config.camera);
    let mut sub: Option<Subscription> = None;
    let mut sinks: HashMap<Uuid, mpsc::Sender<ClipMsg>> = HashMap::new();
    let mut buf = vec![0u8; 2000];
    let mut next_timeout: Option<Instant> = None;
    loop {
        let wake = next_timeout
            .map_or(Instant::now() + TICK, |t| t.min(Instant::now() + TICK))
            .max(Instant::now());
        let receiving = sub.is_some();
        tokio::select! {
            msg = inbox.recv() => match msg {
                None => break,
                Some(CameraMsg::Subscribe { endpoint, token }) => {
                    if sub.as_ref().is_some_and(|s| !s.is_dead()) {
                        // Already watching (a reconnecting camera keeps its viewer legs).
                        continue;
                    }
                    match Subscription::connect(&shared.http, &endpoint, &token).await {
                        Ok(new) => sub = Some(new),
                        Err(err) => tracing::warn!(camera_id = %camera, error = %err, "recorder could not watch the camera"),
                    }
                }
                Some(CameraMsg::StreamGone) => {
                    if let Some(old) = sub.take() {
                        old.close(&shared.http).await;
                    }
                    core.stream_ended();
                }
                Some(CameraMsg::Start { clip, kind, sink }) => {
                    sinks.insert(clip, sink);
                    core.start_clip(clip, kind, Instant::now());
                }
                Some(CameraMsg::EndEvent { clip }) => core.end_event(clip, Instant::now()),
                Some(CameraMsg::Stop { clip }) => core.stop_clip(clip, Instant::now()),
            },
            received = recv(sub.as_ref(), &mut buf), if receiving => {
                if let (Ok((n, from)), Some(s)) = (received, sub.as_mut()) {
                    s.datagram(&buf[..n], from, Instant::now());
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => {
                if let Some(s) = sub.as_mut() {
                    s.timeout(Instant::now());
                }
            }
        }
        next_timeout = None;
        if let Some(s) = sub.as_mut() {
            next_timeout = s.drain(|media| core.push(media));
            if s.is_dead() {
                tracing::debug!(camera_id = %camera, "recorder's view of the camera ended");
                sub = None;
                core.stream_ended();
            } else if core.wants_keyframe() {
                s.request_keyframe();
                next_timeout = s.drain(|media| core.push(media));
            }
        }
        core.tick(Instant::now());
        dispatch(&mut core, &mut sinks, camera);
    }
    core.close_all();
    dispatch(&mut core, &mut sinks, camera);
    if let Some(s) = sub.take() {
        s.close(&shared.http).await;
    }
}

async fn recv(
    sub: Option<&Subscription>,
    buf: &mut [u8],
) -> std::io::Result<(usize, std::net::SocketAddr)> {
    match sub {
        Some(sub) => sub.recv(buf).await,
        None => std::future::pending().await,
    }
}

/// Hands the core's outputs to the clips' tasks. A clip whose queue is full is cut off (its
/// task sees the queue close and fails it): storage that cannot keep up must not make the
/// recorder hold the stream in memory.
fn dispatch(
    core: &mut CameraRecorder,
    sinks: &mut HashMap<Uuid, mpsc::Sender<ClipMsg>>,
    camera: Uuid,
) {
    while let Some(output) = core.poll_output() {
        let (clip, msg, last) = match output {
            Output::Bytes { clip, bytes } => (clip, ClipMsg::Bytes(bytes), false),
            Output::Ended {
                clip,
                end,
                duration,
            } => (clip, ClipMsg::Ended { end, duration }, true),
            Output::NeverStarted { clip } => (clip, ClipMsg::NeverStarted, true),
            Output::Failed { clip, error } => (clip, ClipMsg::Failed(error), true),
        };
        let Some(sink) = sinks.get(&clip) else {
            continue;
        };
        if sink.try_send(msg).is_err() {
            tracing::warn!(camera_id = %camera, clip_id = %clip, "clip storage fell behind: clip cut off");
            sinks.remove(&clip);
            continue;
        }
        if last {
            sinks.remove(&clip);
        }
    }
}

/// One clip: uploads its bytes as they come and keeps its row (fresh every
/// `progress_interval`, even while it waits for the camera: crash recovery leaves it alone).
async fn clip_task(
    shared: Shared,
    id: Uuid,
    key: String,
    session: Option<Uuid>,
    mut inbox: mpsc::Receiver<ClipMsg>,
) {
    let mut upload: Option<ClipUpload> = None;
    let mut bucket_state: Option<String> = None;
    let mut heartbeat = tokio::time::interval(shared.config.progress_interval);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await;
    let result = loop {
        let msg = tokio::select! {
            msg = inbox.recv() => msg,
            _ = heartbeat.tick() => {
                let written = upload.as_ref().map_or(0, |u| u.written()) as i64;
                if let Err(err) = shared.db.recording_progress(id, written, now()).await {
                    tracing::warn!(recording_id = %id, error = %err, "could not record clip progress");
                }
                // A bucket upload's parts: what recovery completes should this process die.
                if let Some((upload_id, parts)) = upload.as_ref().and_then(|u| u.bucket_state()) {
                    if bucket_state.as_ref() != Some(&parts) {
                        match shared.db.recording_upload(id, &upload_id, &parts, now()).await {
                            Ok(_) => bucket_state = Some(parts),
                            Err(err) => tracing::warn!(recording_id = %id, error = %err, "could not record the clip's upload"),
                        }
                    }
                }
                continue;
            }
        };
        let Some(msg) = msg else {
            break Err("the recording was interrupted".to_string());
        };
        match msg {
            ClipMsg::Bytes(bytes) => {
                if upload.is_none() {
                    match shared.store.begin(&key).await {
                        Ok(new) => upload = Some(new),
                        Err(err) => break Err(format!("storage refused the clip: {err}")),
                    }
                }
                let writer = upload.as_mut().expect("begun above");
                if let Err(err) = writer.write(bytes).await {
                    break Err(format!("uploading the clip failed: {err}"));
                }
            }
            ClipMsg::Ended { end, duration } => {
                tracing::debug!(recording_id = %id, ?end, ?duration, "clip closed");
                break Ok(duration);
            }
            ClipMsg::NeverStarted => break Err("the camera sent no video".to_string()),
            ClipMsg::Failed(error) => break Err(error),
        }
    };
    let result = match (result, upload) {
        (Ok(duration), Some(upload)) => {
            if let Err(err) = shared.db.recording_uploading(id, now()).await {
                tracing::warn!(recording_id = %id, error = %err, "could not mark a clip uploading");
            }
            complete(&shared, &key, upload, duration).await
        }
        (Ok(_), None) => RecordingResult::Failed {
            error: "the camera sent no video".to_string(),
        },
        (Err(error), upload) => {
            if let Some(upload) = upload {
                if let Err(err) = upload.abort().await {
                    tracing::warn!(recording_id = %id, error = %err, "could not abort a clip's upload");
                }
            }
            RecordingResult::Failed { error }
        }
    };
    finish(&shared, id, Some((&key, session)), result).await;
}

/// Writes a clip's outcome and reports it. A clip whose row had already ended (deleted
/// while it was recorded) has its object removed; its session is released either way.
async fn finish(
    shared: &Shared,
    id: Uuid,
    clip: Option<(&str, Option<Uuid>)>,
    result: RecordingResult,
) {
    let released = clip.and_then(|(_, session)| session);
    match shared.db.finish_recording(id, result, now()).await {
        Ok(Some(recording)) => {
            let _ = shared
                .reports
                .send(RecorderReport::Finished {
                    recording: Box::new(recording),
                })
                .await;
            return;
        }
        Ok(None) => {
            if let Some((key, _)) = clip {
                if let Err(err) = shared.store.delete(key).await {
                    tracing::warn!(recording_id = %id, error = %err, "could not remove the object of a deleted clip");
                }
            }
        }
        Err(err) => {
            tracing::warn!(recording_id = %id, error = %err, "could not finish a clip's row")
        }
    }
    if let Some(session) = released {
        let _ = shared
            .reports
            .send(RecorderReport::SessionDone { session })
            .await;
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

/// Sends the last part and checks what storage holds before calling the clip available.
async fn complete(
    shared: &Shared,
    key: &str,
    upload: ClipUpload,
    duration: Duration,
) -> RecordingResult {
    let size = match upload.finish().await {
        Ok(size) => size,
        Err(err) => {
            return RecordingResult::Failed {
                error: format!("completing the upload failed: {err}"),
            }
        }
    };
    match shared.store.size(key).await {
        Ok(Some(stored)) if stored == size => RecordingResult::Available {
            duration_seconds: duration.as_secs_f64(),
            size_bytes: size as i64,
        },
        Ok(stored) => RecordingResult::Failed {
            error: format!("storage holds {stored:?} bytes of the {size} written"),
        },
        Err(err) => RecordingResult::Failed {
            error: format!("checking the stored clip failed: {err}"),
        },
    }
}
