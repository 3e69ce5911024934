//! How the nodes of a deployment reach each other, so several processes on one PostgreSQL
//! behave as one: this module only carries [`BusMessage`]s (see `crate::types::bus` for what
//! they say; `crate::outbox` decides what to send, `crate::inbound` applies what arrives).
//! Delivery is best effort; everything that must not be lost is in the database first (a
//! command missed here is found by the retry sweeper).
//!
//! Publishing never blocks a request: messages go through a bounded queue to one task that
//! publishes them in order, in batches of what queued meanwhile; when the queue is full the
//! message is dropped, with a warning and `securecam_bus_dropped_total`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use securecam_storage::{PubSub, MAX_PUBSUB_PAYLOAD};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::types::bus::{BusMessage, Envelope};

const QUEUE: usize = 10_000;
/// Most messages sent to the other nodes in one database round trip.
const BATCH: usize = 256;

/// This node's end of the bus.
pub struct Bus {
    node: Uuid,
    outbound: Option<mpsc::Sender<String>>,
    pubsub: Option<Arc<dyn PubSub>>,
}

impl Bus {
    /// A bus over `pubsub`, or one that goes nowhere (a single-process deployment). The
    /// publishing task ends when the bus is dropped.
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
            metrics::counter!("securecam_bus_dropped_total").increment(1);
            tracing::warn!("bus queue full; message to other nodes dropped");
        }
    }

    /// Hands each message other nodes publish to `handle`, in order, until `shutdown`
    /// resolves; reconnects when the subscription is lost. Returns at once on a
    /// single-process deployment.
    pub async fn receive<F, Fut>(&self, shutdown: impl Future<Output = ()>, mut handle: F)
    where
        F: FnMut(BusMessage) -> Fut,
        Fut: Future<Output = ()>,
    {
        let Some(pubsub) = self.pubsub.clone() else {
            return;
        };
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
                        Ok(envelope) if envelope.node == self.node => {}
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
}
