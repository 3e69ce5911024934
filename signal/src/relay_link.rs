//! How a media relay and signal keep in touch, in one process or across processes.
//!
//! A relay registers itself in `relay_nodes` (its public URL, its UDP endpoint), heartbeats
//! its load, and says goodbye at shutdown; signal puts each new stream on the least loaded
//! live relay and ends the sessions of a relay it stops hearing from. What the relay sees
//! (a camera went live, a viewer left, a stream closed) goes straight to signal when signal
//! runs in the same process, else through the bus every signal node listens to; the bus also
//! carries ended sessions back to the relay so their viewer legs are cut at once.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use securecam_media_relay::core::RelayEvent;
use securecam_media_relay::driver::RelayHandle;
use securecam_storage::{now, Database, NewRelayNode, RelayLoad};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::bus::Bus;
use crate::state::Core;
use crate::types::bus::BusMessage;

/// Who a relay is, as it registers.
#[derive(Debug, Clone)]
pub struct RelayIdentity {
    /// New at every start: a restarted relay has lost its legs, and the sessions of its
    /// previous life end when that one goes stale.
    pub id: Uuid,
    pub name: String,
    /// Where clients reach the relay's HTTP side (WHIP and WHEP).
    pub public_url: String,
    pub udp_endpoint: Option<String>,
    pub heartbeat: Duration,
}

/// Registers the relay. Done before the server starts, so a signal in the same process
/// finds it for the very first stream.
pub async fn register(db: &dyn Database, identity: &RelayIdentity) -> anyhow::Result<()> {
    db.register_relay(new_node(identity), now()).await?;
    Ok(())
}

fn new_node(identity: &RelayIdentity) -> NewRelayNode {
    NewRelayNode {
        id: identity.id,
        name: identity.name.clone(),
        public_url: identity.public_url.clone(),
        udp_endpoint: identity.udp_endpoint.clone(),
    }
}

/// Where the relay's reports go.
pub enum ReportTo {
    /// Signal runs in this process.
    Signal(Core),
    /// Signal runs elsewhere: through this bus.
    Bus(Arc<Bus>),
}

/// Heartbeats, forwards the relay's events and (alone in its process) applies ended
/// sessions from the bus, until `shutdown` resolves; then retires the relay.
pub async fn run(
    db: Arc<dyn Database>,
    relay: RelayHandle,
    identity: RelayIdentity,
    mut events: mpsc::Receiver<RelayEvent>,
    report_to: ReportTo,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    // Never completes: it ends with this function.
    let listener = async {
        // With signal in the process, signal's own bus listener hands ended sessions to the
        // relay; without a bus (SQLite) there is nothing to listen to.
        if let ReportTo::Bus(bus) = &report_to {
            crate::inbound::listen_as_relay(bus, relay.clone(), std::future::pending()).await;
        }
        std::future::pending::<()>().await
    };
    tokio::pin!(listener);
    let mut ticker = tokio::time::interval(identity.heartbeat);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = &mut listener => {}
            _ = ticker.tick() => heartbeat(db.as_ref(), &relay, &identity).await,
            event = events.recv() => match event {
                Some(event) => match &report_to {
                    ReportTo::Signal(core) => crate::reactions::relay::on_event(core, event).await,
                    ReportTo::Bus(bus) => bus.publish(BusMessage::Relay(event)),
                },
                // The relay task stopped.
                None => break,
            },
        }
    }
    if let Err(err) = db.retire_relay(identity.id, now()).await {
        tracing::warn!(error = %err, "could not retire the relay");
    }
}

async fn heartbeat(db: &dyn Database, relay: &RelayHandle, identity: &RelayIdentity) {
    let Ok(snapshot) = relay.snapshot().await else {
        return;
    };
    let load = RelayLoad {
        streams: snapshot.streams.len() as u32,
        viewers: snapshot.streams.iter().map(|s| s.viewers as u32).sum(),
    };
    match db.relay_heartbeat(identity.id, load, now()).await {
        Ok(true) => {}
        // Declared gone while this process was unreachable (its sessions were ended):
        // register again to take new streams.
        Ok(false) => {
            tracing::warn!("the relay was declared gone; registering again");
            if let Err(err) = db.register_relay(new_node(identity), now()).await {
                tracing::warn!(error = %err, "could not register the relay again");
            }
        }
        Err(err) => tracing::warn!(error = %err, "relay heartbeat failed"),
    }
}
