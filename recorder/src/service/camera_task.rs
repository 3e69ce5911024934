//! One camera's task: its WHEP subscription and its [`CameraRecorder`] core, frames in,
//! keyframe requests out, and each clip's bytes handed to that clip's task.

use std::collections::HashMap;
use std::time::Instant;

use tokio::sync::mpsc;
use uuid::Uuid;

use super::clip_task::ClipMsg;
use super::{Shared, TICK};
use crate::camera::{CameraRecorder, ClipKind, Output};
use crate::subscriber::Subscription;

pub(super) enum CameraMsg {
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

/// One camera: its subscription, its recorder core, its clips' queues. Lives until the
/// service drops its queue (shutdown).
pub(super) async fn camera_task(
    shared: Shared,
    camera: Uuid,
    mut inbox: mpsc::Receiver<CameraMsg>,
) {
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
