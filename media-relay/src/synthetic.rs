//! Synthetic H.264 over RTP for test and load peers (the str0m client, the core's simulated
//! network): RTP-correct framing (STAP-A SPS/PPS before a keyframe, FU-A fragments, marker on a
//! frame's last packet) around filler bytes, no encoder needed.

use std::time::Instant;

use str0m::media::Pt;
use str0m::rtp::{RtpWrite, StreamTx};
use str0m::{Rtc, RtcConfig};

/// What a test or load peer offers: exactly the one H.264 profile the relay forwards
/// (constrained baseline, packetization mode 1) and Opus, in RTP mode.
pub fn peer_config() -> RtcConfig {
    let mut config = Rtc::builder()
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_opus(true, false);
    config
        .codec_config()
        .add_h264(102.into(), Some(103.into()), true, 0x42e01f);
    config
}

const SPS: &[u8] = &[
    0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00,
    0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0xa4, 0x80,
];
const PPS: &[u8] = &[0x68, 0xcb, 0x83, 0xcb, 0x20];

/// The RTP payloads of one frame of `frame_bytes`, in fragments of at most `max_payload`;
/// `stamp` rides at the start of each fragment (the load tool's send time).
pub fn frame(keyframe: bool, frame_bytes: usize, max_payload: usize, stamp: &[u8]) -> Vec<Vec<u8>> {
    let mut packets = Vec::new();
    if keyframe {
        // STAP-A: SPS and PPS, real ones (x264's, 320×240 constrained baseline) so that the
        // recorder can write clips of synthetic streams; the slices themselves are filler.
        let mut stap = vec![0x78];
        for unit in [SPS, PPS] {
            stap.extend_from_slice(&(unit.len() as u16).to_be_bytes());
            stap.extend_from_slice(unit);
        }
        packets.push(stap);
    }
    let nal_type = if keyframe { 5u8 } else { 1u8 };
    let chunks = frame_bytes.div_ceil(max_payload).max(1);
    for i in 0..chunks {
        let mut fu = vec![0x7c, nal_type];
        if i == 0 {
            fu[1] |= 0x80;
        }
        if i == chunks - 1 {
            fu[1] |= 0x40;
        }
        fu.extend_from_slice(stamp);
        fu.resize(max_payload.min(frame_bytes.max(16)), 0xab);
        packets.push(fu);
    }
    packets
}

/// Writes one frame's payloads with consecutive sequence numbers from `seq` (advanced), the
/// marker on the last.
pub fn write_frame(
    tx: &mut StreamTx,
    pt: Pt,
    seq: &mut u64,
    ts: u32,
    now: Instant,
    payloads: Vec<Vec<u8>>,
) {
    let count = payloads.len();
    for (i, payload) in payloads.into_iter().enumerate() {
        *seq += 1;
        tx.write_rtp(
            RtpWrite::new(pt, (*seq).into(), ts, now, payload)
                .marker(i == count - 1)
                .nackable(true),
        );
    }
}
