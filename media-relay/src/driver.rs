//! The thin async part: one task owns the UDP socket and the [`Relay`], feeds it datagrams,
//! commands from the HTTP handlers and the clock, and sends what it queues. Everything else is
//! in the sans-IO core.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use str0m::IceCreds;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::core::{
    AddError, CoreConfig, LegIce, LegSnapshot, Relay, RelayEvent, RelayStats, StreamSnapshot,
    TrickleError,
};
use crate::delay::DelayHistogram;
use crate::factory::{candidate_addrs, NewPeer, RtcFactory};
use crate::LegRole;

/// How many commands may wait for the relay task; HTTP handlers wait for room (backpressure).
const COMMAND_QUEUE: usize = 256;
/// Datagrams read in one go before the task looks at commands and timers again.
const RECV_BATCH: usize = 64;
/// Datagrams already waiting that are handled before their copies are sent (about one video
/// frame of a camera): fewer str0m calls per copy, at most this many datagrams of delay.
const SEND_GROUP: usize = 8;
/// Bytes asked for the UDP socket's receive and send buffers (the kernel caps them at
/// `net.core.rmem_max` / `wmem_max`; raise those for big relays).
const SOCKET_BUFFER: usize = 8 * 1024 * 1024;

pub enum Command {
    Add {
        id: String,
        role: LegRole,
        stream: String,
        device: Uuid,
        session: Uuid,
        peer: Box<NewPeer>,
        reply: oneshot::Sender<Result<(), AddError>>,
    },
    Remove {
        id: String,
        reply: oneshot::Sender<bool>,
    },
    Trickle {
        id: String,
        candidates: Vec<String>,
        restart: Option<IceCreds>,
        reply: oneshot::Sender<Result<Option<IceCreds>, TrickleError>>,
    },
    Ufrag {
        id: String,
        reply: oneshot::Sender<Option<LegIce>>,
    },
    EndSession {
        session: Uuid,
    },
    Snapshot {
        reply: oneshot::Sender<Snapshot>,
    },
}

/// The relay's state as `/metrics` shows it.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub streams: Vec<StreamSnapshot>,
    pub legs: Vec<LegSnapshot>,
    pub stats: RelayStats,
    /// Since the relay started.
    pub forward_delay: DelayHistogram,
}

/// The handle HTTP handlers and signal use; cheap to clone.
#[derive(Clone)]
pub struct RelayHandle {
    commands: mpsc::Sender<Command>,
    factory: RtcFactory,
    udp_addr: SocketAddr,
}

#[derive(Debug, thiserror::Error)]
#[error("the relay task has stopped")]
pub struct Stopped;

impl RelayHandle {
    pub fn factory(&self) -> &RtcFactory {
        &self.factory
    }

    /// The local address of the UDP socket.
    pub fn udp_addr(&self) -> SocketAddr {
        self.udp_addr
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, Stopped> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(make(reply)).await.map_err(|_| Stopped)?;
        answer.await.map_err(|_| Stopped)
    }

    pub async fn add(
        &self,
        id: String,
        role: LegRole,
        stream: String,
        device: Uuid,
        session: Uuid,
        peer: NewPeer,
    ) -> Result<Result<(), AddError>, Stopped> {
        self.ask(|reply| Command::Add {
            id,
            role,
            stream,
            device,
            session,
            peer: Box::new(peer),
            reply,
        })
        .await
    }

    pub async fn remove(&self, id: String) -> Result<bool, Stopped> {
        self.ask(|reply| Command::Remove { id, reply }).await
    }

    pub async fn trickle(
        &self,
        id: String,
        candidates: Vec<String>,
        restart: Option<IceCreds>,
    ) -> Result<Result<Option<IceCreds>, TrickleError>, Stopped> {
        self.ask(|reply| Command::Trickle {
            id,
            candidates,
            restart,
            reply,
        })
        .await
    }

    pub async fn ufrag(&self, id: String) -> Result<Option<LegIce>, Stopped> {
        self.ask(|reply| Command::Ufrag { id, reply }).await
    }

    /// Signal ended a stream session: drop its viewer legs. Fire and forget.
    pub fn end_session(&self, session: Uuid) {
        let _ = self.commands.try_send(Command::EndSession { session });
    }

    pub async fn snapshot(&self) -> Result<Snapshot, Stopped> {
        self.ask(|reply| Command::Snapshot { reply }).await
    }
}

/// The relay's task, to be run (spawned) until shutdown.
pub struct RelayTask {
    socket: std::net::UdpSocket,
    relay: Relay,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<RelayEvent>,
}

impl RelayTask {
    /// Runs until `shutdown` resolves or every handle is dropped, on the caller's runtime.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let socket = match UdpSocket::from_std(self.socket) {
            Ok(socket) => socket,
            Err(err) => {
                tracing::error!(error = %err, "the relay's UDP socket is unusable");
                return;
            }
        };
        run(socket, self.relay, self.commands, self.events, shutdown).await
    }

    /// Runs on a thread of its own (with its own single-threaded runtime) until `shutdown`
    /// resolves: forwarding is one loop that must never wait for a runtime worker busy with
    /// HTTP or the database, nor be moved between workers; the returned future resolves when
    /// the thread has finished.
    pub fn spawn_thread(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
        let (done, finished) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("media-relay".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(runtime) => runtime.block_on(self.run(shutdown)),
                    Err(err) => {
                        tracing::error!(error = %err, "could not start the relay's runtime")
                    }
                }
                let _ = done.send(());
            })?;
        Ok(async move {
            let _ = finished.await;
        })
    }
}

/// Events waiting for signal (a few per session and camera change, so far above a burst);
/// when it is full the relay drops the event rather than wait (see `run`).
pub const EVENT_QUEUE: usize = 4096;

/// Binds the UDP port (port 0 picks one), offers it at `public_ip` (NAT 1:1) or this host's
/// address and loopback, and returns the handle and the task to run. `events` receives what
/// signal must know.
pub async fn start(
    bind: SocketAddr,
    public_ip: Option<IpAddr>,
    config: CoreConfig,
    events: mpsc::Sender<RelayEvent>,
) -> anyhow::Result<(RelayHandle, RelayTask)> {
    // A std socket: the task may run on a runtime of its own (see `spawn_thread`), which the
    // socket joins there.
    let socket = std::net::UdpSocket::bind(bind)
        .map_err(|e| anyhow::anyhow!("binding the relay's UDP port {bind}: {e}"))?;
    socket.set_nonblocking(true)?;
    // Bursts (a keyframe copied to hundreds of viewers, a publisher's frame arriving at once)
    // overflow the kernel's default buffers long before the CPU is busy.
    let sock = socket2::SockRef::from(&socket);
    for result in [
        sock.set_recv_buffer_size(SOCKET_BUFFER),
        sock.set_send_buffer_size(SOCKET_BUFFER),
    ] {
        if let Err(err) = result {
            tracing::warn!(error = %err, "could not enlarge the relay's UDP buffers");
        }
    }
    let udp_addr = socket.local_addr()?;
    let factory = RtcFactory::new(candidate_addrs(public_ip, udp_addr.port()))?
        .with_nack_history(config.nack_history);
    let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
    let relay = Relay::new(config, factory.candidates());
    let handle = RelayHandle {
        commands,
        factory,
        udp_addr,
    };
    let task = RelayTask {
        socket,
        relay,
        commands: rx,
        events,
    };
    Ok((handle, task))
}

async fn run(
    socket: UdpSocket,
    mut relay: Relay,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<RelayEvent>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut buf = vec![0u8; 2048];
    let mut delay = DelayHistogram::default();
    tokio::pin!(shutdown);
    let sleep = tokio::time::sleep_until(Instant::now().into());
    tokio::pin!(sleep);
    loop {
        let deadline = relay.next_timeout(Instant::now());
        sleep.as_mut().reset(deadline.into());
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            command = commands.recv() => match command {
                Some(command) => on_command(&mut relay, command, &delay),
                None => break,
            },
            received = socket.recv_from(&mut buf) => {
                if let Ok((n, source)) = received {
                    let mut first = Instant::now();
                    relay.handle_datagram(first, source, &buf[..n]);
                    let mut handled = 1;
                    for _ in 0..RECV_BATCH {
                        // What is already waiting is handled together (one release per viewer
                        // leg for the whole group), a few datagrams at a time so the first
                        // copies do not wait long: an idle relay sends each at once.
                        if handled == SEND_GROUP {
                            flush(&socket, &mut relay, Some((first, &mut delay)));
                            handled = 0;
                        }
                        match socket.try_recv_from(&mut buf) {
                            Ok((n, source)) => {
                                let now = Instant::now();
                                if handled == 0 {
                                    first = now;
                                }
                                relay.handle_datagram(now, source, &buf[..n]);
                                handled += 1;
                            }
                            Err(_) => break,
                        }
                    }
                    flush(&socket, &mut relay, Some((first, &mut delay)));
                }
            }
            _ = &mut sleep => {}
        }
        // Timers are served even when the socket never goes quiet.
        let now = Instant::now();
        if now >= deadline {
            relay.handle_timeout(now);
        }
        flush(&socket, &mut relay, None);
        while let Some(event) = relay.poll_event() {
            // Forwarding never waits for signal: should its queue be full, the event is
            // dropped and counted. Sessions still end by their timeouts and sweeps.
            if let Err(mpsc::error::TrySendError::Full(event)) = events.try_send(event) {
                metrics::counter!("securecam_relay_events_dropped_total").increment(1);
                tracing::warn!(?event, "relay event queue full: event dropped");
            }
        }
    }
    tracing::debug!("media relay stopped");
}

/// Sends what the relay has to send. After handling datagrams, `timed` gives the time the
/// first of them was read and the histogram each datagram sent is timed in (for the later
/// datagrams of a group, a little more than they waited).
fn flush(socket: &UdpSocket, relay: &mut Relay, mut timed: Option<(Instant, &mut DelayHistogram)>) {
    while let Some(transmit) = relay.poll_transmit() {
        // A full send buffer drops the datagram, as the network would: RTP copes, and one slow
        // peer never blocks the others.
        let _ = socket.try_send_to(&transmit.contents, transmit.destination);
        if let Some((received, delay)) = timed.as_mut() {
            delay.record(received.elapsed());
        }
    }
}

fn on_command(relay: &mut Relay, command: Command, delay: &DelayHistogram) {
    let now = Instant::now();
    match command {
        Command::Add {
            id,
            role,
            stream,
            device,
            session,
            peer,
            reply,
        } => {
            let result = relay.add_leg(now, id, role, &stream, device, session, *peer);
            let _ = reply.send(result);
        }
        Command::Remove { id, reply } => {
            let _ = reply.send(relay.remove_leg(now, &id));
        }
        Command::Trickle {
            id,
            candidates,
            restart,
            reply,
        } => {
            let _ = reply.send(relay.trickle(now, &id, &candidates, restart));
        }
        Command::Ufrag { id, reply } => {
            let _ = reply.send(relay.ice(&id));
        }
        Command::EndSession { session } => {
            relay.end_session(now, session);
        }
        Command::Snapshot { reply } => {
            let (streams, legs) = relay.snapshot();
            let _ = reply.send(Snapshot {
                streams,
                legs,
                stats: relay.stats(),
                forward_delay: delay.clone(),
            });
        }
    }
}
