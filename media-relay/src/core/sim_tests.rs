//! The relay and its peers in one simulated network: str0m clients (a camera and viewers)
//! exchange datagrams with the core in memory, on a made-up clock, with loss and vanishing
//! peers injected per link. Deterministic and socket-free: seconds of media run in
//! milliseconds.

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

use super::*;
use crate::factory::RtcFactory;

const STREAM: &str = "cam-sim";
const STEP: Duration = Duration::from_millis(5);

#[derive(Debug, Default, Clone)]
struct Seen {
    connected: bool,
    /// Distinct video sequence numbers (a retransmission fills a hole, it does not add one).
    video_seqs: BTreeSet<u64>,
    video_packets: u64,
    audio_packets: u64,
    keyframes: u64,
    first_video_was_keyframe: Option<bool>,
    keyframe_requests: u64,
}

struct SimPeer {
    rtc: Rtc,
    addr: SocketAddr,
    video_mid: Mid,
    audio_mid: Mid,
    seen: Seen,
    /// Drops the n-th RTP datagram towards this peer when it says so.
    drop_downlink: Option<fn(u64) -> bool>,
    downlink_rtp: u64,
    /// Gone without a word: nothing reaches it and it sends nothing.
    vanished: bool,
    // The camera's counters.
    frame: u32,
    video_seq: u64,
    audio_seq: u64,
    owed_keyframes: u64,
}

struct Net {
    relay: Relay,
    factory: RtcFactory,
    relay_addr: SocketAddr,
    peers: Vec<SimPeer>,
    sessions: Vec<Uuid>,
    events: Vec<RelayEvent>,
    now: Instant,
    t0: Instant,
    next_video: Instant,
    next_audio: Instant,
}

impl Net {
    fn new() -> Net {
        let relay_addr: SocketAddr = "10.0.0.1:3478".parse().unwrap();
        let factory = RtcFactory::new(vec![relay_addr]).unwrap();
        let now = Instant::now();
        Net {
            relay: Relay::new(CoreConfig::default(), factory.candidates()),
            factory,
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
    fn join(&mut self, role: LegRole, device: Uuid) -> usize {
        let index = self.peers.len();
        let addr: SocketAddr = format!("10.0.1.{}:5000", index + 1).parse().unwrap();
        let mut config = Rtc::builder()
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_opus(true, false);
        config
            .codec_config()
            .add_h264(102.into(), Some(103.into()), true, 0x42e01f);
        let mut rtc = config.build(self.now);
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
    fn run(&mut self, duration: Duration) {
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
            // Four fragments of 1,000 bytes, after SPS/PPS on a keyframe.
            let payloads = crate::synthetic::frame(keyframe, 4_000, 1_000, &[]);
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
    fn pump(&mut self) {
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

    fn leg_stats(&self, index: usize) -> LegStats {
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

fn on_event(peer: &mut SimPeer, event: Event) {
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

fn publisher_and_viewers(viewers: usize) -> Net {
    let mut net = Net::new();
    net.join(LegRole::Publisher, Uuid::now_v7());
    net.run(Duration::from_millis(500));
    assert!(net.peers[0].seen.connected, "the camera connects");
    for _ in 0..viewers {
        net.join(LegRole::Viewer, Uuid::now_v7());
    }
    net
}

#[test]
fn viewers_get_the_camera_from_a_keyframe_on() {
    let mut net = publisher_and_viewers(2);
    net.run(Duration::from_secs(3));
    for viewer in &net.peers[1..] {
        let seen = &viewer.seen;
        assert!(seen.connected);
        assert_eq!(seen.first_video_was_keyframe, Some(true), "{seen:?}");
        assert!(seen.video_packets > 200, "{seen:?}");
        assert!(seen.audio_packets > 50, "{seen:?}");
    }
    assert!(
        net.peers[0].seen.keyframe_requests >= 1,
        "the relay asked the camera for a keyframe"
    );
}

#[test]
fn a_lossy_viewer_gets_retransmissions_and_slows_no_one() {
    let mut net = publisher_and_viewers(2);
    // Every 10th RTP datagram to viewer 2 is lost (retransmissions included).
    net.peers[2].drop_downlink = Some(|n| n % 10 == 0);
    net.run(Duration::from_secs(4));
    let sent = net.peers[0].video_seq;
    let (clean, lossy) = (&net.peers[1].seen, &net.peers[2].seen);
    // The clean viewer misses nothing after its first keyframe, loss next door or not.
    let span = |seen: &Seen| seen.video_seqs.last().unwrap() - seen.video_seqs.first().unwrap() + 1;
    assert_eq!(clean.video_seqs.len() as u64, span(clean), "{clean:?}");
    assert!(span(clean) > sent * 3 / 4);
    // The lossy one asked for what it missed and got nearly all of it back.
    let nacks = net.leg_stats(2).nacks;
    assert!(nacks > 0, "the lossy viewer's NACKs reached the relay");
    assert_eq!(net.leg_stats(1).nacks, 0);
    let repaired = lossy.video_seqs.len() as f64 / span(lossy) as f64;
    assert!(
        repaired > 0.97,
        "{:.3} of the lossy viewer's video arrived (10% was dropped)",
        repaired
    );
}

#[test]
fn a_viewer_that_vanishes_is_dropped_and_the_others_go_on() {
    let mut net = publisher_and_viewers(2);
    net.run(Duration::from_secs(1));
    let session = net.sessions[2];
    net.peers[2].vanished = true;
    let before = net.peers[1].seen.video_packets;
    // A peer that stops talking (no STUN, no RTCP) is disconnected by ICE and dropped.
    let mut gone_after = None;
    for second in 1..=40 {
        net.run(Duration::from_secs(1));
        if net.relay.leg_count() == 2 {
            gone_after = Some(second);
            break;
        }
    }
    let gone_after = gone_after.expect("the vanished viewer's leg was dropped");
    assert!(gone_after <= 30, "dropped after {gone_after} s");
    assert!(net.events.contains(&RelayEvent::ViewerLeft {
        stream: STREAM.into(),
        session,
        viewers: 1
    }));
    assert!(
        net.relay.end_session(net.now, session) == 0,
        "nothing left of it"
    );
    // The other viewer never noticed.
    let during = net.peers[1].seen.video_packets - before;
    assert!(
        during as f64 >= (gone_after as f64) * 30.0 * 4.0 * 0.95,
        "{during} video packets in {gone_after} s"
    );
    let before = net.peers[1].seen.video_packets;
    net.run(Duration::from_secs(1));
    assert!(net.peers[1].seen.video_packets - before > 100);
}
