//! The relay and its peers in one simulated network: str0m clients (a camera and viewers)
//! exchange datagrams with the core in memory, on a made-up clock, with loss and vanishing
//! peers injected per link. Deterministic and socket-free: seconds of media run in
//! milliseconds. Used by the core's tests and the leg-memory benchmark (feature `sim`).

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::SdpAnswer;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::RtpWrite;
use str0m::{Candidate, Event, Input, Output, Rtc};
use uuid::Uuid;

use crate::core::{CoreConfig, LegKey, LegStats, Relay, RelayEvent};
use crate::factory::RtcFactory;
use crate::LegRole;

pub const STREAM: &str = "cam-sim";
const STEP: Duration = Duration::from_millis(5);

#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub connected: bool,
    /// Distinct video sequence numbers (a retransmission fills a hole, it does not add one).
    pub video_seqs: BTreeSet<u64>,
    pub video_packets: u64,
    pub audio_packets: u64,
    pub keyframes: u64,
    pub first_video_was_keyframe: Option<bool>,
    pub keyframe_requests: u64,
}

pub struct SimPeer {
    pub rtc: Rtc,
    pub addr: SocketAddr,
    pub video_mid: Mid,
    pub audio_mid: Mid,
    pub seen: Seen,
    /// Drops the n-th RTP datagram towards this peer when it says so.
    pub drop_downlink: Option<fn(u64) -> bool>,
    pub downlink_rtp: u64,
    /// Gone without a word: nothing reaches it and it sends nothing.
    pub vanished: bool,
    // The camera's counters.
    pub frame: u32,
    pub video_seq: u64,
    pub audio_seq: u64,
    pub owed_keyframes: u64,
}

pub struct Net {
    pub relay: Relay,
    pub factory: RtcFactory,
    /// Bytes of each video frame the camera sends (30 fps, in 1,000-byte packets).
    pub frame_bytes: usize,
    pub relay_addr: SocketAddr,
    pub peers: Vec<SimPeer>,
    pub sessions: Vec<Uuid>,
    pub events: Vec<RelayEvent>,
    pub now: Instant,
    pub t0: Instant,
    pub next_video: Instant,
    pub next_audio: Instant,
}

impl Default for Net {
    fn default() -> Self {
        Net::new()
    }
}

impl Net {
    pub fn new() -> Net {
        let relay_addr: SocketAddr = "10.0.0.1:3478".parse().unwrap();
        let factory = RtcFactory::new(vec![relay_addr]).unwrap();
        let now = Instant::now();
        Net {
            relay: Relay::new(CoreConfig::default(), factory.candidates()),
            factory,
            frame_bytes: 4_000,
            relay_addr,
            peers: Vec::new(),
            sessions: Vec::new(),
            events: Vec::new(),
            now,
            t0: now,
            next_video: now,
            next_audio: now,
        }
    }

    /// A peer offers, the relay answers and adds its leg; returns the peer's index.
    pub fn join(&mut self, role: LegRole, device: Uuid) -> usize {
        let index = self.peers.len();
        let addr: SocketAddr = format!("10.0.1.{}:5000", index + 1).parse().unwrap();
        let mut rtc = crate::synthetic::peer_config().build(self.now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        let dir = match role {
            LegRole::Publisher => Direction::SendOnly,
            LegRole::Viewer => Direction::RecvOnly,
        };
        let mut api = rtc.sdp_api();
        let video_mid = api.add_media(MediaKind::Video, dir, None, None, None);
        let audio_mid = api.add_media(MediaKind::Audio, dir, None, None, None);
        let (offer, pending) = api.apply().unwrap();
        let peer = self
            .factory
            .answer(self.now, role, &offer.to_sdp_string())
            .unwrap();
        let answer = SdpAnswer::from_sdp_string(&peer.answer).unwrap();
        rtc.sdp_api().accept_answer(pending, answer).unwrap();
        let session = Uuid::now_v7();
        self.relay
            .add_leg(
                self.now,
                format!("leg-{index}"),
                role,
                STREAM,
                device,
                session,
                peer,
            )
            .unwrap();
        self.sessions.push(session);
        self.peers.push(SimPeer {
            rtc,
            addr,
            video_mid,
            audio_mid,
            seen: Seen::default(),
            drop_downlink: None,
            downlink_rtp: 0,
            vanished: false,
            frame: 0,
            video_seq: 0,
            audio_seq: 0,
            owed_keyframes: 0,
        });
        index
    }

    /// Runs the network for `duration`; peer 0 (the camera) sends 30 fps video and 50 pps
    /// audio once connected.
    pub fn run(&mut self, duration: Duration) {
        let end = self.now + duration;
        while self.now < end {
            self.now += STEP;
            if self.now >= self.next_audio {
                self.next_audio += Duration::from_millis(20);
                self.camera_sends(false);
            }
            if self.now >= self.next_video {
                self.next_video += Duration::from_micros(33_333);
                self.camera_sends(true);
            }
            self.pump();
        }
    }

    fn camera_sends(&mut self, video: bool) {
        let now = self.now;
        let camera = &mut self.peers[0];
        if !camera.seen.connected {
            return;
        }
        let pt = |rtc: &Rtc, codec: Codec| {
            rtc.codec_config()
                .find(|p| p.spec().codec == codec)
                .map(|p| p.pt())
                .unwrap()
        };
        let ts = ((now - self.t0).as_micros() as u64 * 90 / 1000) as u32;
        if video {
            // A keyframe first, every 2 s, and whenever asked (coalesced by the relay).
            let asked = camera.seen.keyframe_requests > camera.owed_keyframes;
            camera.owed_keyframes = camera.seen.keyframe_requests;
            let keyframe = camera.frame % 60 == 0 || asked;
            let video_pt = pt(&camera.rtc, Codec::H264);
            // Fragments of 1,000 bytes, after SPS/PPS on a keyframe.
            let payloads = crate::synthetic::frame(keyframe, self.frame_bytes, 1_000, &[]);
            let mid = camera.video_mid;
            let mut direct = camera.rtc.direct_api();
            let tx = direct.stream_tx_by_mid(mid, None).unwrap();
            crate::synthetic::write_frame(tx, video_pt, &mut camera.video_seq, ts, now, payloads);
            camera.frame += 1;
        } else {
            let audio_pt = pt(&camera.rtc, Codec::Opus);
            let mid = camera.audio_mid;
            camera.audio_seq += 1;
            let seq = camera.audio_seq;
            let mut direct = camera.rtc.direct_api();
            let tx = direct.stream_tx_by_mid(mid, None).unwrap();
            tx.write_rtp(RtpWrite::new(
                audio_pt,
                seq.into(),
                (seq * 960) as u32,
                now,
                vec![0xfc; 80],
            ));
        }
    }

    /// Delivers datagrams both ways and serves timers until the network is quiet.
    pub fn pump(&mut self) {
        let now = self.now;
        if self.relay.next_timeout(now) <= now {
            self.relay.handle_timeout(now);
        }
        let mut uplink: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
        for _ in 0..50 {
            let mut moved = false;
            for peer in &mut self.peers {
                if peer.vanished {
                    continue;
                }
                // str0m's pacer releases what was written when time is handed to it.
                let _ = peer.rtc.handle_input(Input::Timeout(now));
                while let Ok(output) = peer.rtc.poll_output() {
                    match output {
                        Output::Timeout(_) => break,
                        Output::Transmit(t) => {
                            self.relay.handle_datagram(now, peer.addr, &t.contents);
                            moved = true;
                        }
                        Output::Event(event) => on_event(peer, event),
                    }
                }
            }
            let by_addr: HashMap<SocketAddr, usize> = self
                .peers
                .iter()
                .enumerate()
                .map(|(i, p)| (p.addr, i))
                .collect();
            while let Some(t) = self.relay.poll_transmit() {
                moved = true;
                let Some(&i) = by_addr.get(&t.destination) else {
                    continue;
                };
                let peer = &mut self.peers[i];
                if peer.vanished {
                    continue;
                }
                // RTP, not RTCP/DTLS/STUN: the first byte says version 2, the second byte's
                // payload type is not an RTCP packet type.
                let rtp = t.contents.len() > 12
                    && t.contents[0] >> 6 == 2
                    && !(192..=223).contains(&t.contents[1]);
                if rtp {
                    peer.downlink_rtp += 1;
                    if peer
                        .drop_downlink
                        .is_some_and(|drop| drop(peer.downlink_rtp))
                    {
                        continue;
                    }
                }
                let receive =
                    Receive::new(Protocol::Udp, self.relay_addr, peer.addr, &t.contents).unwrap();
                let _ = peer.rtc.handle_input(Input::Receive(now, receive));
                // str0m wants its output polled after every input (it holds one packet).
                while let Ok(output) = peer.rtc.poll_output() {
                    match output {
                        Output::Timeout(_) => break,
                        Output::Transmit(t) => uplink.push((peer.addr, t.contents.to_vec())),
                        Output::Event(event) => on_event(peer, event),
                    }
                }
            }
            for (from, datagram) in uplink.drain(..) {
                self.relay.handle_datagram(now, from, &datagram);
            }
            if !moved {
                break;
            }
        }
        self.events
            .extend(std::iter::from_fn(|| self.relay.poll_event()));
    }

    pub fn leg_stats(&self, index: usize) -> LegStats {
        let (_, legs) = self.relay.snapshot();
        let key = {
            // Legs are numbered in the order they were added.
            let mut keys: Vec<LegKey> = legs.iter().map(|l| l.key).collect();
            keys.sort();
            keys[index]
        };
        legs.into_iter().find(|l| l.key == key).unwrap().stats
    }
}

pub fn on_event(peer: &mut SimPeer, event: Event) {
    match event {
        Event::Connected => peer.seen.connected = true,
        Event::KeyframeRequest(_) => peer.seen.keyframe_requests += 1,
        Event::RtpPacket(packet) => {
            let mid = peer
                .rtc
                .direct_api()
                .stream_rx(&packet.header.ssrc)
                .map(|s| s.mid());
            if mid == Some(peer.video_mid) {
                peer.seen.video_packets += 1;
                peer.seen.video_seqs.insert(*packet.seq_no);
                let keyframe = crate::h264::starts_keyframe(&packet.payload);
                peer.seen.keyframes += keyframe as u64;
                peer.seen.first_video_was_keyframe.get_or_insert(keyframe);
            } else if mid == Some(peer.audio_mid) {
                peer.seen.audio_packets += 1;
            }
        }
        _ => {}
    }
}

pub fn publisher_and_viewers(viewers: usize) -> Net {
    let mut net = Net::new();
    net.join(LegRole::Publisher, Uuid::now_v7());
    net.run(Duration::from_millis(500));
    assert!(net.peers[0].seen.connected, "the camera connects");
    for _ in 0..viewers {
        net.join(LegRole::Viewer, Uuid::now_v7());
    }
    net
}
