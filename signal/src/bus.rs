//! What one signal node tells the others, so several processes on one PostgreSQL behave as
//! one: frames for devices connected elsewhere, "commands wait for this device", a device
//! that connected to another node (close the old connection here), and revoked credentials
//! (forget them here too). Delivery is best effort; everything that must not be lost is in
//! the database first (a command missed here is found by the retry sweeper).
//!
//! Publishing never blocks a request: messages go through a bounded queue to one task that
//! publishes them in order, in batches of what queued meanwhile; a full queue drops the
//! message with a warning.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use securecam_media_relay::core::RelayEvent;
use securecam_media_relay::driver::RelayHandle;
use securecam_storage::{CommandViewer, PubSub, MAX_PUBSUB_PAYLOAD};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::state::AppState;
use crate::ws::hub::close;
use crate::ws::protocol::ServerMessage;

const QUEUE: usize = 10_000;
/// Most messages sent to the other nodes in one database round trip.
const BATCH: usize = 256;

/// A credential that stopped working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum Revocation {
    Session { id: Uuid },
    UserSessions { user: Uuid },
    Device { id: Uuid },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BusMessage {
    /// A frame for the owner's devices but `camera`, and for `clients` not owned by `owner`.
    Audience {
        owner: Uuid,
        camera: Uuid,
        clients: Vec<Uuid>,
        frame: String,
    },
    /// A frame for one device.
    ToDevice {
        device: Uuid,
        frame: String,
    },
    /// Commands wait for this device.
    CommandsPending {
        device: Uuid,
    },
    /// A command `device` sent changed; the node holding `device` reads and forwards it.
    CommandUpdated {
        device: Uuid,
        command: Uuid,
    },
    /// The device connected to the publishing node; any older connection elsewhere goes.
    Connected {
        device: Uuid,
    },
    Revoked(Revocation),
    /// The device was deleted: close its connection.
    DeviceRemoved {
        device: Uuid,
    },
    /// What a relay in a process without signal saw (every signal node applies it; the
    /// database changes are conditional, so only one node's change takes and is announced).
    Relay(RelayEvent),
    /// A stream session ended: a relay that carries its viewer leg cuts it.
    MediaSessionEnded {
        session: Uuid,
    },
    /// For the recorder, when it runs in a process of its own.
    Recorder(securecam_recorder::service::RecorderInput),
}

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    node: Uuid,
    #[serde(flatten)]
    message: BusMessage,
}

/// This node's end of the bus.
pub struct Bus {
    node: Uuid,
    outbound: Option<mpsc::Sender<String>>,
    pubsub: Option<Arc<dyn PubSub>>,
}

impl Bus {
    /// A bus over `pubsub`, or one that goes nowhere (a single-process deployment).
    pub fn new(pubsub: Option<Arc<dyn PubSub>>) -> Self {
        let node = Uuid::now_v7();
        let outbound = pubsub.clone().map(|pubsub| {
            let (tx, mut rx) = mpsc::channel::<String>(QUEUE);
            tokio::spawn(async move {
                let mut batch = Vec::with_capacity(BATCH);
                // Whatever queued while the last batch was on its way goes in the next one.
                while rx.recv_many(&mut batch, BATCH).await > 0 {
                    if let Err(err) = pubsub.publish(&batch).await {
                        tracing::warn!(error = %err, count = batch.len(), "could not publish to the other nodes");
                    }
                    batch.clear();
                }
            });
            tx
        });
        Bus {
            node,
            outbound,
            pubsub,
        }
    }

    pub fn is_multi_node(&self) -> bool {
        self.outbound.is_some()
    }

    /// Queues a message for the other nodes.
    pub fn publish(&self, message: BusMessage) {
        let Some(outbound) = &self.outbound else {
            return;
        };
        let payload = serde_json::to_string(&Envelope {
            node: self.node,
            message,
        })
        .expect("bus messages serialise");
        if payload.len() > MAX_PUBSUB_PAYLOAD {
            tracing::warn!(
                bytes = payload.len(),
                "bus message too large for NOTIFY; not sent"
            );
            return;
        }
        if outbound.try_send(payload).is_err() {
            tracing::warn!("bus queue full; message to other nodes dropped");
        }
    }
}

/// Applies what other nodes publish to this node, until `shutdown` resolves. Returns at once
/// on a single-process deployment.
pub async fn listen(state: AppState, shutdown: impl Future<Output = ()>) {
    let Some(pubsub) = state.bus().pubsub.clone() else {
        return;
    };
    let node = state.bus().node;
    receive(pubsub, node, shutdown, |message| apply(&state, message)).await;
}

/// What a relay in a process without signal needs from the bus: sessions that ended.
pub async fn listen_as_relay(bus: &Bus, relay: RelayHandle, shutdown: impl Future<Output = ()>) {
    let Some(pubsub) = bus.pubsub.clone() else {
        return;
    };
    receive(pubsub, bus.node, shutdown, |message| {
        if let BusMessage::MediaSessionEnded { session } = message {
            relay.end_session(session);
        }
        std::future::ready(())
    })
    .await;
}

/// Hands each message other nodes publish to `handle`, in order, until `shutdown` resolves;
/// reconnects when the subscription is lost.
async fn receive<F, Fut>(
    pubsub: Arc<dyn PubSub>,
    node: Uuid,
    shutdown: impl Future<Output = ()>,
    mut handle: F,
) where
    F: FnMut(BusMessage) -> Fut,
    Fut: Future<Output = ()>,
{
    tokio::pin!(shutdown);
    loop {
        let mut subscription = tokio::select! {
            _ = &mut shutdown => return,
            subscribed = pubsub.subscribe() => match subscribed {
                Ok(subscription) => subscription,
                Err(err) => {
                    tracing::warn!(error = %err, "could not listen to the other nodes; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        loop {
            let payload = tokio::select! {
                _ = &mut shutdown => return,
                next = subscription.next() => next,
            };
            match payload {
                Ok(payload) => match serde_json::from_str::<Envelope>(&payload) {
                    Ok(envelope) if envelope.node == node => {}
                    Ok(envelope) => handle(envelope.message).await,
                    Err(err) => tracing::warn!(error = %err, "unreadable bus message"),
                },
                Err(err) => {
                    tracing::warn!(error = %err, "lost the other nodes; listening again");
                    break;
                }
            }
        }
    }
}

async fn apply(state: &AppState, message: BusMessage) {
    let hub = state.hub();
    match message {
        BusMessage::Audience {
            owner,
            camera,
            clients,
            frame,
        } => {
            hub.send_frame_to_owner(owner, &frame, Some(camera));
            for client in clients {
                hub.send_frame_unless_owned_by(client, owner, frame.clone());
            }
        }
        BusMessage::ToDevice { device, frame } => {
            hub.send_frame(device, frame);
        }
        BusMessage::CommandsPending { device } => {
            hub.nudge(device);
        }
        BusMessage::CommandUpdated { device, command } => {
            if !hub.is_online(device) {
                return;
            }
            let viewer = CommandViewer::Device {
                id: device,
                owner: Uuid::nil(),
            };
            match state.db().get_command(viewer, command).await {
                Ok(Some(command)) => {
                    hub.send(device, &ServerMessage::CommandUpdated { command });
                }
                Ok(None) => {}
                Err(err) => tracing::warn!(error = %err, "could not read an updated command"),
            }
        }
        BusMessage::Connected { device } => {
            hub.evict(device);
        }
        BusMessage::Revoked(revocation) => state.forget_locally(revocation),
        BusMessage::DeviceRemoved { device } => {
            hub.close_device(device, close::DEVICE_REMOVED, "device deleted");
        }
        BusMessage::Relay(event) => crate::streams::on_relay_event(state, event).await,
        BusMessage::MediaSessionEnded { session } => {
            if let Some(relay) = &state.media().relay {
                relay.end_session(session);
            }
        }
        BusMessage::Recorder(input) => {
            if let Some(recorder) = &state.media().recorder {
                recorder.send(input);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_with_the_node() {
        let message = BusMessage::Revoked(Revocation::Session { id: Uuid::nil() });
        let json = serde_json::to_string(&Envelope {
            node: Uuid::nil(),
            message: message.clone(),
        })
        .unwrap();
        let back: Envelope = serde_json::from_str(&json).unwrap();
        assert_eq!(back.message, message);
        assert_eq!(back.node, Uuid::nil());
    }
}
