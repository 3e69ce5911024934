//! The SFU as a sans-IO state machine: every peer's `Rtc`, the streams they belong to, and the
//! forwarding between them. It takes datagrams and time as input and leaves datagrams to send
//! and events for signal in queues; the driver (`crate::driver`) owns the socket and the clock.
//! Tests drive it with made-up `Instant`s and no sockets.

mod leg;
mod stream;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::media::{KeyframeRequestKind, MediaKind};
use str0m::net::{DatagramRecv, Protocol, Receive, Transmit};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite};
use str0m::{Event, IceConnectionState, IceCreds, Input, Output};
use uuid::Uuid;

pub use leg::{LegKey, LegStats};
pub use stream::StreamStats;

#[cfg(test)]
mod sim_tests;
#[cfg(test)]
mod tests;

use crate::factory::{self, NewPeer};
use crate::{h264, stun, LegRole};
use leg::{Leg, Track};
use stream::Stream;

#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Peers at most (publishers and viewers); more are refused with 503.
    pub max_legs: usize,
    /// A peer that has not connected (ICE + DTLS) by then is dropped.
    pub connect_timeout: Duration,
    /// How long viewers wait for a camera that went away to come back.
    pub publisher_grace: Duration,
    /// Keyframe requests to a camera are coalesced to one per interval.
    pub keyframe_interval: Duration,
    /// How far back viewers' NACKs can reach (see [`factory::DEFAULT_NACK_HISTORY`]).
    pub nack_history: Duration,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            max_legs: 2000,
            connect_timeout: Duration::from_secs(15),
            publisher_grace: Duration::from_secs(15),
            keyframe_interval: Duration::from_millis(300),
            nack_history: factory::DEFAULT_NACK_HISTORY,
        }
    }
}

/// What the relay tells signal (in process, or as JSON through the bus when it runs alone).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RelayEvent {
    /// The camera's publisher leg connected: the stream is live.
    PublisherLive {
        stream: String,
        device: Uuid,
        session: Uuid,
    },
    /// The publisher leg is gone; the stream waits for the camera to come back.
    PublisherAway { stream: String },
    /// No publisher came back within the grace period: the stream and its viewers are gone.
    StreamClosed { stream: String },
    /// A viewer leg connected; `viewers` is how many the stream has now.
    ViewerJoined {
        stream: String,
        session: Uuid,
        viewers: usize,
    },
    /// The last viewer leg of a stream session is gone.
    ViewerLeft {
        stream: String,
        session: Uuid,
        viewers: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddError {
    #[error("the relay is at capacity")]
    Overloaded,
    #[error("the camera is not publishing this stream")]
    NoPublisher,
    #[error("another device publishes this stream")]
    PublisherTaken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TrickleError {
    #[error("no such session")]
    NotFound,
    #[error("bad candidate: {0}")]
    BadCandidate(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegIce {
    pub local_ufrag: String,
    pub remote_ufrag: String,
}

/// Relay-wide counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct RelayStats {
    /// Datagrams that were not STUN, DTLS, RTP or RTCP.
    pub garbage_datagrams: u64,
    /// Datagrams no leg accepted.
    pub unrouted_datagrams: u64,
    /// Legs dropped because str0m panicked on them.
    pub panicked_legs: u64,
}

/// A leg as `/metrics` shows it.
#[derive(Debug, Clone)]
pub struct LegSnapshot {
    /// The internal number, not the session id: that one is a capability and stays secret.
    pub key: LegKey,
    pub stream: Arc<str>,
    pub role: LegRole,
    pub connected: bool,
    pub stats: LegStats,
}

#[derive(Debug, Clone)]
pub struct StreamSnapshot {
    pub stream: String,
    pub live: bool,
    pub viewers: usize,
    pub stats: StreamStats,
}

pub struct Relay {
    config: CoreConfig,
    candidates: Arc<Vec<SocketAddr>>,
    next_key: LegKey,
    legs: HashMap<LegKey, Leg>,
    by_id: HashMap<String, LegKey>,
    by_ufrag: HashMap<String, LegKey>,
    by_addr: HashMap<SocketAddr, LegKey>,
    streams: HashMap<Arc<str>, Stream>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<RelayEvent>,
    stats: RelayStats,
    /// Scratch buffers reused on every packet, so forwarding does not allocate.
    scratch_events: Vec<Event>,
    scratch_viewers: Vec<LegKey>,
    /// Viewer legs with copies written but not yet released (see [`Relay::poll_transmit`]).
    pending_release: Vec<LegKey>,
    /// The time of the last datagram handled: when pending copies are released.
    last_input: Instant,
    /// When bitrates were last computed.
    rate_window_start: Option<Instant>,
}

/// Bitrates on `/metrics` are averages over this window.
const RATE_WINDOW: Duration = Duration::from_secs(1);

impl Relay {
    pub fn new(config: CoreConfig, candidates: Arc<Vec<SocketAddr>>) -> Self {
        Relay {
            config,
            candidates,
            next_key: 1,
            legs: HashMap::new(),
            by_id: HashMap::new(),
            by_ufrag: HashMap::new(),
            by_addr: HashMap::new(),
            streams: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: RelayStats::default(),
            scratch_events: Vec::new(),
            scratch_viewers: Vec::new(),
            pending_release: Vec::new(),
            last_input: Instant::now(),
            rate_window_start: None,
        }
    }

    pub fn leg_count(&self) -> usize {
        self.legs.len()
    }

    pub fn stats(&self) -> RelayStats {
        self.stats
    }

    /// Adds a peer built by [`factory::RtcFactory::answer`] for `stream`, on behalf of the
    /// token's `device` and `session`. `id` is the leg's public (unguessable) id.
    #[allow(clippy::too_many_arguments)]
    pub fn add_leg(
        &mut self,
        now: Instant,
        id: String,
        role: LegRole,
        stream: &str,
        device: Uuid,
        session: Uuid,
        peer: NewPeer,
    ) -> Result<(), AddError> {
        if self.legs.len() >= self.config.max_legs {
            return Err(AddError::Overloaded);
        }
        // A camera reconnecting replaces its old leg; anyone else waits their turn.
        let mut replaced = None;
        match role {
            LegRole::Publisher => {
                if let Some(old) = self.streams.get(stream).and_then(|s| s.publisher) {
                    if self.legs.get(&old).is_some_and(|l| l.device != device) {
                        return Err(AddError::PublisherTaken);
                    }
                    replaced = Some(old);
                }
            }
            LegRole::Viewer => {
                if self
                    .streams
                    .get(stream)
                    .is_none_or(|s| s.publisher.is_none())
                {
                    return Err(AddError::NoPublisher);
                }
            }
        }
        let key = self.next_key;
        self.next_key += 1;
        let stream_key: Arc<str> = match self.streams.get_key_value(stream) {
            Some((k, _)) => k.clone(),
            None => Arc::from(stream),
        };
        let NewPeer {
            rtc,
            ufrag,
            remote_ufrag,
            tracks,
            ..
        } = peer;
        let leg = Leg {
            id: id.clone(),
            role,
            stream: stream_key.clone(),
            device,
            session,
            rtc,
            ufrag: ufrag.clone(),
            remote_ufrag,
            addrs: Vec::new(),
            created_at: now,
            connected: false,
            timeout: now,
            tracks: tracks.iter().map(Track::new).collect(),
            stats: LegStats::default(),
            release_pending: false,
        };
        self.legs.insert(key, leg);
        self.by_id.insert(id, key);
        self.by_ufrag.insert(ufrag, key);
        let s = self.streams.entry(stream_key).or_default();
        match role {
            LegRole::Publisher => {
                s.publisher = Some(key);
                s.away_since = None;
            }
            LegRole::Viewer => s.viewers.push(key),
        }
        if let Some(old) = replaced {
            self.remove(now, old);
        }
        self.drive(key, now);
        Ok(())
    }

    /// Ends a leg (WHIP/WHEP DELETE). Returns whether it existed.
    pub fn remove_leg(&mut self, now: Instant, id: &str) -> bool {
        match self.by_id.get(id).copied() {
            Some(key) => {
                self.remove(now, key);
                true
            }
            None => false,
        }
    }

    /// Signal ended a stream session: the viewer legs watching for it go.
    pub fn end_session(&mut self, now: Instant, session: Uuid) -> usize {
        let keys: Vec<LegKey> = self
            .legs
            .iter()
            .filter(|(_, l)| l.role == LegRole::Viewer && l.session == session)
            .map(|(k, _)| *k)
            .collect();
        for key in &keys {
            self.remove(now, *key);
        }
        keys.len()
    }

    /// Trickled candidates for a leg, and an ICE restart when `restart` carries the client's
    /// new credentials: then the leg's new local credentials are returned.
    pub fn trickle(
        &mut self,
        now: Instant,
        id: &str,
        candidates: &[String],
        restart: Option<IceCreds>,
    ) -> Result<Option<IceCreds>, TrickleError> {
        let key = *self.by_id.get(id).ok_or(TrickleError::NotFound)?;
        let mut parsed = Vec::new();
        for line in candidates {
            let candidate = str0m::Candidate::from_sdp_string(line)
                .map_err(|_| TrickleError::BadCandidate("not an ICE candidate line"))?;
            parsed.push(candidate);
        }
        let leg = self.legs.get_mut(&key).ok_or(TrickleError::NotFound)?;
        let mut new_local = None;
        if let Some(remote) = restart {
            let remote_ufrag = remote.ufrag.clone();
            let local = IceCreds::new();
            let mut direct = leg.rtc.direct_api();
            direct.set_remote_ice_credentials(remote);
            direct.set_local_ice_credentials(local.clone());
            self.by_ufrag.remove(&leg.ufrag);
            leg.ufrag = local.ufrag.clone();
            leg.remote_ufrag = remote_ufrag;
            self.by_ufrag.insert(local.ufrag.clone(), key);
            new_local = Some(local);
        }
        for candidate in parsed {
            leg.rtc.add_remote_candidate(candidate);
        }
        self.drive(key, now);
        Ok(new_local)
    }

    /// A leg's ICE usernames: ours (the ETag is made from it) and the client's (a PATCH with
    /// another one is an ICE restart).
    pub fn ice(&self, id: &str) -> Option<LegIce> {
        let key = self.by_id.get(id)?;
        self.legs.get(key).map(|l| LegIce {
            local_ufrag: l.ufrag.clone(),
            remote_ufrag: l.remote_ufrag.clone(),
        })
    }

    /// A datagram from `source` arrived at the UDP port.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, buf: &[u8]) {
        self.last_input = self.last_input.max(now);
        let Ok(contents) = DatagramRecv::try_from(buf) else {
            self.stats.garbage_datagrams += 1;
            return;
        };
        let key = match stun::local_ufrag(buf) {
            Some(ufrag) => self.by_ufrag.get(ufrag),
            None => self.by_addr.get(&source),
        };
        let Some(&key) = key else {
            self.stats.unrouted_datagrams += 1;
            return;
        };
        let destination = factory::local_for(&self.candidates, source);
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination,
                contents,
            },
        );
        let Some(leg) = self.legs.get_mut(&key) else {
            return;
        };
        if !leg.rtc.accepts(&input) {
            self.stats.unrouted_datagrams += 1;
            return;
        }
        if !leg.addrs.contains(&source) {
            leg.addrs.push(source);
            self.by_addr.insert(source, key);
        }
        let result = catch_unwind(AssertUnwindSafe(|| leg.rtc.handle_input(input)));
        match result {
            Ok(Ok(())) => self.drive(key, now),
            Ok(Err(err)) => {
                tracing::debug!(leg = %leg.id, error = %err, "peer input failed; dropping it");
                self.remove(now, key);
            }
            Err(_) => self.panicked(now, key),
        }
    }

    /// When [`Relay::handle_timeout`] should next be called.
    pub fn next_timeout(&self, now: Instant) -> Instant {
        let mut next = now + Duration::from_millis(500);
        if let Some(start) = self.rate_window_start {
            next = next.min(start + RATE_WINDOW);
        }
        for leg in self.legs.values() {
            next = next.min(leg.timeout);
            if !leg.connected {
                next = next.min(leg.created_at + self.config.connect_timeout);
            }
        }
        for stream in self.streams.values() {
            if let Some(away) = stream.away_since {
                next = next.min(away + self.config.publisher_grace);
            }
            if stream.keyframe_wanted {
                if let Some(last) = stream.last_keyframe_request {
                    next = next.min(last + self.config.keyframe_interval);
                }
            }
        }
        next
    }

    /// Time passed: every leg that asked for it gets it; peers that never connected, streams
    /// whose camera did not come back, and owed keyframe requests are dealt with.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.release_forwarded(now);
        let due: Vec<LegKey> = self
            .legs
            .iter()
            .filter(|(_, l)| {
                l.timeout <= now
                    || (!l.connected && l.created_at + self.config.connect_timeout <= now)
            })
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            let Some(leg) = self.legs.get_mut(&key) else {
                continue;
            };
            if !leg.connected && leg.created_at + self.config.connect_timeout <= now {
                tracing::debug!(leg = %leg.id, "peer never connected; dropping it");
                self.remove(now, key);
                continue;
            }
            self.give_time(key, now);
        }
        let closed: Vec<Arc<str>> = self
            .streams
            .iter()
            .filter(|(_, s)| {
                s.away_since
                    .is_some_and(|away| away + self.config.publisher_grace <= now)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for stream in closed {
            self.close_stream(now, &stream);
        }
        let owed: Vec<Arc<str>> = self
            .streams
            .iter()
            .filter(|(_, s)| s.keyframe_wanted)
            .map(|(k, _)| k.clone())
            .collect();
        for stream in owed {
            self.request_keyframe(now, &stream);
        }
        self.update_rates(now);
    }

    fn update_rates(&mut self, now: Instant) {
        let start = *self.rate_window_start.get_or_insert(now);
        let elapsed = now - start;
        if elapsed < RATE_WINDOW {
            return;
        }
        let rate =
            |bytes: u64, mark: u64| (bytes - mark) * 8 * 1000 / elapsed.as_millis().max(1) as u64;
        for s in self.streams.values_mut() {
            s.stats.bitrate_in = rate(s.stats.bytes_in, s.stats.rate_mark);
            s.stats.rate_mark = s.stats.bytes_in;
        }
        for leg in self.legs.values_mut() {
            leg.stats.bitrate = rate(leg.stats.bytes, leg.stats.rate_mark);
            leg.stats.rate_mark = leg.stats.bytes;
        }
        self.rate_window_start = Some(now);
    }

    /// The next datagram to send. Copies forwarded since the last call are released first:
    /// str0m's pacer learns of written packets only when time passes, so each such viewer
    /// leg is handed the time of the last datagram and driven once, however many copies it got.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if !self.pending_release.is_empty() {
            self.release_forwarded(self.last_input);
        }
        self.transmits.pop_front()
    }

    /// Hands a leg the time (its timers, and str0m's pacer sees what was written), then
    /// drives it; a leg that fails or panics is dropped.
    fn give_time(&mut self, key: LegKey, now: Instant) {
        let Some(leg) = self.legs.get_mut(&key) else {
            return;
        };
        match catch_unwind(AssertUnwindSafe(|| {
            leg.rtc.handle_input(Input::Timeout(now))
        })) {
            Ok(Ok(())) => self.drive(key, now),
            Ok(Err(_)) => self.remove(now, key),
            Err(_) => self.panicked(now, key),
        }
    }

    fn release_forwarded(&mut self, now: Instant) {
        let mut pending = std::mem::take(&mut self.pending_release);
        for key in pending.drain(..) {
            let Some(leg) = self.legs.get_mut(&key) else {
                continue;
            };
            leg.release_pending = false;
            self.give_time(key, now);
        }
        self.pending_release = pending;
    }

    pub fn poll_event(&mut self) -> Option<RelayEvent> {
        self.events.pop_front()
    }

    pub fn snapshot(&self) -> (Vec<StreamSnapshot>, Vec<LegSnapshot>) {
        let streams = self
            .streams
            .iter()
            .map(|(name, s)| StreamSnapshot {
                stream: name.to_string(),
                live: s
                    .publisher
                    .and_then(|p| self.legs.get(&p))
                    .is_some_and(|l| l.connected),
                viewers: s.viewers.len(),
                stats: s.stats,
            })
            .collect();
        let legs = self
            .legs
            .iter()
            .map(|(key, l)| LegSnapshot {
                key: *key,
                stream: l.stream.clone(),
                role: l.role,
                connected: l.connected,
                stats: l.stats,
            })
            .collect();
        (streams, legs)
    }

    /// Polls a leg until it has nothing more than a timeout, queueing its datagrams and acting
    /// on its events.
    fn drive(&mut self, key: LegKey, now: Instant) {
        let mut events = std::mem::take(&mut self.scratch_events);
        let mut gone = false;
        if let Some(leg) = self.legs.get_mut(&key) {
            loop {
                if !leg.rtc.is_alive() {
                    gone = true;
                    break;
                }
                match catch_unwind(AssertUnwindSafe(|| leg.rtc.poll_output())) {
                    Ok(Ok(Output::Timeout(at))) => {
                        leg.timeout = at;
                        break;
                    }
                    Ok(Ok(Output::Transmit(t))) => self.transmits.push_back(t),
                    Ok(Ok(Output::Event(e))) => events.push(e),
                    Ok(Err(err)) => {
                        tracing::debug!(leg = %leg.id, error = %err, "peer failed");
                        gone = true;
                        break;
                    }
                    Err(_) => {
                        self.stats.panicked_legs += 1;
                        tracing::error!(leg = %leg.id, "str0m panicked; dropping the peer");
                        gone = true;
                        break;
                    }
                }
            }
        }
        for event in events.drain(..) {
            self.on_event(key, event, now);
        }
        self.scratch_events = events;
        if gone {
            self.remove(now, key);
        }
    }

    fn on_event(&mut self, key: LegKey, event: Event, now: Instant) {
        let Some(leg) = self.legs.get_mut(&key) else {
            return;
        };
        match event {
            Event::Connected => {
                leg.connected = true;
                let stream = leg.stream.clone();
                let (device, session, role) = (leg.device, leg.session, leg.role);
                let Some(s) = self.streams.get_mut(&stream) else {
                    return;
                };
                match role {
                    LegRole::Publisher => {
                        // Viewers continue where they were, from the new camera's next keyframe.
                        for viewer in s.viewers.clone() {
                            if let Some(v) = self.legs.get_mut(&viewer) {
                                for track in &mut v.tracks {
                                    track.rewriter.source_changed();
                                    track.waiting_keyframe = track.kind == MediaKind::Video;
                                }
                            }
                        }
                        s.keyframe_wanted = !s.viewers.is_empty();
                        self.events.push_back(RelayEvent::PublisherLive {
                            stream: stream.to_string(),
                            device,
                            session,
                        });
                    }
                    LegRole::Viewer => {
                        s.keyframe_wanted = true;
                        let viewers = s.viewers.len();
                        self.events.push_back(RelayEvent::ViewerJoined {
                            stream: stream.to_string(),
                            session,
                            viewers,
                        });
                    }
                }
                self.request_keyframe(now, &stream);
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                leg.rtc.disconnect();
            }
            Event::RtpPacket(packet) if leg.role == LegRole::Publisher => {
                let kind = leg.kind_of_pt(packet.header.payload_type);
                leg.stats.packets += 1;
                leg.stats.bytes += packet.payload.len() as u64;
                let stream = leg.stream.clone();
                if let Some(kind) = kind {
                    self.forward(now, &stream, kind, &packet);
                }
            }
            // A viewer's PLI or FIR goes upstream, coalesced with everyone else's.
            Event::KeyframeRequest(req)
                if leg.role == LegRole::Viewer
                    && leg.kind_of_mid(req.mid) == Some(MediaKind::Video) =>
            {
                let stream = leg.stream.clone();
                if let Some(s) = self.streams.get_mut(&stream) {
                    s.keyframe_wanted = true;
                }
                self.request_keyframe(now, &stream);
            }
            Event::MediaEgressStats(stats) => {
                leg.stats.nacks = leg.stats.nacks.max(stats.nacks);
                leg.stats.plis = leg.stats.plis.max(stats.plis);
                leg.stats.firs = leg.stats.firs.max(stats.firs);
                if let Some(loss) = stats.remote.as_ref().and(stats.loss) {
                    leg.stats.loss = loss;
                }
            }
            Event::MediaIngressStats(stats) => {
                leg.stats.nacks = leg.stats.nacks.max(stats.nacks);
                leg.stats.plis = leg.stats.plis.max(stats.plis);
                leg.stats.firs = leg.stats.firs.max(stats.firs);
                if let Some(loss) = stats.loss {
                    leg.stats.loss = loss;
                }
            }
            _ => {}
        }
    }

    /// Sends one packet of the publisher on to every connected viewer of the stream.
    fn forward(&mut self, now: Instant, stream: &str, kind: MediaKind, packet: &RtpPacket) {
        let Some(s) = self.streams.get_mut(stream) else {
            return;
        };
        s.stats.packets_in += 1;
        s.stats.bytes_in += packet.payload.len() as u64;
        let mut viewers = std::mem::take(&mut self.scratch_viewers);
        viewers.clear();
        viewers.extend_from_slice(&s.viewers);
        let keyframe_start = kind == MediaKind::Video && h264::starts_keyframe(&packet.payload);
        let (clock_rate, nackable) = match kind {
            MediaKind::Video => (90_000, true),
            MediaKind::Audio => (48_000, false),
        };
        // What a viewer can use of the camera's header extensions; str0m adds its own
        // (transport-wide sequence numbers, MID) per leg.
        let ext = ExtensionValues {
            audio_level: packet.header.ext_vals.audio_level,
            voice_activity: packet.header.ext_vals.voice_activity,
            video_orientation: packet.header.ext_vals.video_orientation,
            ..Default::default()
        };
        let mut sent = 0u64;
        // Whether a connected viewer still waits for its first keyframe (it keeps asking).
        let mut waiting = false;
        for &viewer in &viewers {
            let Some(leg) = self.legs.get_mut(&viewer) else {
                continue;
            };
            if !leg.connected {
                continue;
            }
            let Some(track) = leg.track(kind) else {
                continue;
            };
            if track.waiting_keyframe {
                if !keyframe_start {
                    waiting = true;
                    continue;
                }
                track.waiting_keyframe = false;
            }
            let Some((seq, ts)) =
                track
                    .rewriter
                    .map(*packet.seq_no, packet.header.timestamp, now, clock_rate)
            else {
                continue;
            };
            let (mid, pt) = (track.mid, track.pt);
            let mut direct = leg.rtc.direct_api();
            let Some(tx) = direct.stream_tx_by_mid(mid, None) else {
                continue;
            };
            tx.write_rtp(
                RtpWrite::new(pt, seq.into(), ts, packet.timestamp, packet.payload.clone())
                    .marker(packet.header.marker)
                    .ext_vals(ext.clone())
                    .nackable(nackable),
            );
            leg.stats.packets += 1;
            leg.stats.bytes += packet.payload.len() as u64;
            sent += 1;
            // Released by the next poll_transmit: the datagrams handled before it (a burst
            // of the camera's packets) share one release per viewer.
            if !leg.release_pending {
                leg.release_pending = true;
                self.pending_release.push(viewer);
            }
        }
        self.scratch_viewers = viewers;
        if let Some(s) = self.streams.get_mut(stream) {
            s.stats.packets_out += sent;
            s.stats.bytes_out += sent * packet.payload.len() as u64;
            if waiting {
                s.keyframe_wanted = true;
            }
        }
        if kind == MediaKind::Video {
            self.request_keyframe(now, stream);
        }
    }

    /// Asks the camera for a keyframe if one is owed and the last ask is long enough ago.
    fn request_keyframe(&mut self, now: Instant, stream: &str) {
        let interval = self.config.keyframe_interval;
        let Some(s) = self.streams.get_mut(stream) else {
            return;
        };
        if !s.keyframe_wanted || s.last_keyframe_request.is_some_and(|t| now < t + interval) {
            return;
        }
        let Some(publisher) = s.publisher.and_then(|p| self.legs.get_mut(&p)) else {
            return;
        };
        if !publisher.connected {
            return;
        }
        let Some(mid) = publisher
            .tracks
            .iter()
            .find(|t| t.kind == MediaKind::Video)
            .map(|t| t.mid)
        else {
            s.keyframe_wanted = false;
            return;
        };
        // The receive stream exists once the camera's first video packet arrived.
        let mut direct = publisher.rtc.direct_api();
        let Some(rx) = direct.stream_rx_by_mid(mid, None) else {
            return;
        };
        rx.request_keyframe(KeyframeRequestKind::Pli);
        s.keyframe_wanted = false;
        s.last_keyframe_request = Some(now);
        s.stats.keyframe_requests += 1;
        let key = s.publisher.expect("checked above");
        self.drive(key, now);
    }

    fn panicked(&mut self, now: Instant, key: LegKey) {
        self.stats.panicked_legs += 1;
        if let Some(leg) = self.legs.get(&key) {
            tracing::error!(leg = %leg.id, "str0m panicked; dropping the peer");
        }
        self.remove(now, key);
    }

    fn remove(&mut self, now: Instant, key: LegKey) {
        self.remove_leg_inner(now, key, true);
    }

    /// Drops a leg; `report_viewer: false` when the whole stream closes (signal hears of that
    /// instead, so sessions end with the camera's reason, not as if their viewers left).
    fn remove_leg_inner(&mut self, now: Instant, key: LegKey, report_viewer: bool) {
        let Some(mut leg) = self.legs.remove(&key) else {
            return;
        };
        // Tell the peer (DTLS close_notify, RTCP BYE) when that is still possible.
        if leg.rtc.is_alive() {
            let _ = catch_unwind(AssertUnwindSafe(|| {
                let _ = leg.rtc.close();
                while let Ok(Output::Transmit(t)) = leg.rtc.poll_output() {
                    self.transmits.push_back(t);
                }
            }));
        }
        self.by_id.remove(&leg.id);
        if self.by_ufrag.get(&leg.ufrag) == Some(&key) {
            self.by_ufrag.remove(&leg.ufrag);
        }
        for addr in &leg.addrs {
            if self.by_addr.get(addr) == Some(&key) {
                self.by_addr.remove(addr);
            }
        }
        let Some(s) = self.streams.get_mut(&leg.stream) else {
            return;
        };
        match leg.role {
            LegRole::Publisher => {
                if s.publisher == Some(key) {
                    s.publisher = None;
                    s.away_since = Some(now);
                    self.events.push_back(RelayEvent::PublisherAway {
                        stream: leg.stream.to_string(),
                    });
                }
            }
            LegRole::Viewer => {
                s.viewers.retain(|v| *v != key);
                let viewers = s.viewers.len();
                let session_still_watching = s
                    .viewers
                    .iter()
                    .any(|v| self.legs.get(v).is_some_and(|l| l.session == leg.session));
                if report_viewer && !session_still_watching {
                    self.events.push_back(RelayEvent::ViewerLeft {
                        stream: leg.stream.to_string(),
                        session: leg.session,
                        viewers,
                    });
                }
                if s.publisher.is_none() && s.away_since.is_none() && s.viewers.is_empty() {
                    self.streams.remove(&leg.stream);
                }
            }
        }
    }

    fn close_stream(&mut self, now: Instant, stream: &str) {
        let Some(s) = self.streams.get_mut(stream) else {
            return;
        };
        // Viewers go first, so the stream is still there to account for them.
        s.away_since = None;
        let viewers = s.viewers.clone();
        for viewer in viewers {
            self.remove_leg_inner(now, viewer, false);
        }
        self.streams.remove(stream);
        self.events.push_back(RelayEvent::StreamClosed {
            stream: stream.to_string(),
        });
    }
}
