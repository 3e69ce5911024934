//! Per-viewer, per-track RTP rewriting. Every viewer leg sends with its own SSRC (str0m's send
//! stream); sequence numbers and timestamps are mapped so the viewer sees one continuous stream
//! from the first keyframe it gets, across a camera that reconnects with a new SSRC, new
//! sequence numbers and a new clock origin.

use std::time::{Duration, Instant};

/// Where a viewer's first packet lands: low enough that str0m's rollover counter starts at
/// zero (the viewer learns it from nothing else), high enough that reordered packets just
/// before the start never wrap below zero.
const FIRST_SEQ: u64 = 1 << 12;

#[derive(Debug, Clone, Default)]
pub struct Rewriter {
    map: Option<Mapping>,
    /// What the next mapping continues from after the source changes.
    last_out: Option<LastOut>,
}

#[derive(Debug, Clone, Copy)]
struct Mapping {
    /// The first source sequence number of this mapping: older ones are from before the
    /// viewer's start (or before a source change) and are dropped.
    first_in_seq: u64,
    seq_delta: u64,
    ts_delta: u32,
}

#[derive(Debug, Clone, Copy)]
struct LastOut {
    seq: u64,
    ts: u32,
    at: Instant,
}

impl Rewriter {
    /// The source changed (a new publisher leg): the next packet starts a new mapping that
    /// continues the viewer's numbering.
    pub fn source_changed(&mut self) {
        self.map = None;
    }

    /// Maps a source packet (extended sequence number, RTP timestamp) received at `now`;
    /// `None` for a packet from before the current mapping began.
    pub fn map(&mut self, seq: u64, ts: u32, now: Instant, clock_rate: u32) -> Option<(u64, u32)> {
        let map = *self.map.get_or_insert_with(|| {
            let (out_seq, out_ts) = match self.last_out {
                None => (FIRST_SEQ, ts),
                Some(last) => (last.seq + 1, advance(last.ts, now - last.at, clock_rate)),
            };
            Mapping {
                first_in_seq: seq,
                seq_delta: out_seq.wrapping_sub(seq),
                ts_delta: out_ts.wrapping_sub(ts),
            }
        });
        if seq < map.first_in_seq {
            return None;
        }
        let out_seq = seq.wrapping_add(map.seq_delta);
        let out_ts = ts.wrapping_add(map.ts_delta);
        if self.last_out.is_none_or(|last| out_seq > last.seq) {
            self.last_out = Some(LastOut {
                seq: out_seq,
                ts: out_ts,
                at: now,
            });
        }
        Some((out_seq, out_ts))
    }
}

/// `ts` moved on by `elapsed` at `clock_rate` (at least one tick, so frames never repeat a
/// timestamp across a source change).
fn advance(ts: u32, elapsed: Duration, clock_rate: u32) -> u32 {
    let ticks = (elapsed.as_micros() as u64 * clock_rate as u64 / 1_000_000).max(1);
    ts.wrapping_add(ticks as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_source_maps_linearly_and_drops_what_came_before_the_start() {
        let t0 = Instant::now();
        let mut r = Rewriter::default();
        assert_eq!(r.map(50_000, 9_000, t0, 90_000), Some((FIRST_SEQ, 9_000)));
        assert_eq!(
            r.map(50_002, 12_000, t0, 90_000),
            Some((FIRST_SEQ + 2, 12_000))
        );
        // A late packet (retransmission) keeps its place.
        assert_eq!(
            r.map(50_001, 12_000, t0, 90_000),
            Some((FIRST_SEQ + 1, 12_000))
        );
        // From before the viewer's first packet.
        assert_eq!(r.map(49_999, 6_000, t0, 90_000), None);
        // Timestamps wrap like RTP timestamps do.
        assert_eq!(
            r.map(50_003, u32::MAX, t0, 90_000),
            Some((FIRST_SEQ + 3, u32::MAX))
        );
    }

    #[test]
    fn a_new_source_continues_the_numbering_and_the_clock() {
        let t0 = Instant::now();
        let mut r = Rewriter::default();
        r.map(100, 1_000, t0, 90_000).unwrap();
        r.map(101, 4_000, t0 + Duration::from_millis(33), 90_000)
            .unwrap();
        r.source_changed();
        // The camera came back 1 s later with new numbers.
        let back = t0 + Duration::from_millis(1_033);
        let (seq, ts) = r.map(7, 500, back, 90_000).unwrap();
        assert_eq!(seq, FIRST_SEQ + 2);
        assert_eq!(ts, 4_000 + 90_000);
        assert_eq!(
            r.map(8, 3_500, back, 90_000),
            Some((FIRST_SEQ + 3, 4_000 + 90_000 + 3_000))
        );
    }
}
