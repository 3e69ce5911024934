//! Memory per viewer leg, counted by the allocator rather than read off RSS: a camera sends
//! 2.5 Mbit/s of H.264 (30 fps, 1,000-byte packets) plus Opus to N viewers in the simulated
//! network (`securecam_media_relay::sim`); after 4 s of media the relay is dropped and the
//! bytes that frees are what it held. Per viewer leg = (held with N viewers − held with one
//! viewer) / (N − 1). Deterministic: the same figures on every run and machine.
//!
//! `cargo bench -p securecam-media-relay --features sim --bench leg_memory`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use securecam_media_relay::core::{CoreConfig, Relay};
use securecam_media_relay::factory::DEFAULT_NACK_HISTORY;
use securecam_media_relay::sim::Net;
use securecam_media_relay::LegRole;
use uuid::Uuid;

/// Counts the bytes currently allocated by the whole process.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed through to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// 2.5 Mbit/s at 30 fps.
const FRAME_BYTES: usize = 2_500_000 / 8 / 30;

/// Bytes the relay holds with `viewers` viewers after 4 s of media.
fn relay_bytes(viewers: usize, nack_history: Duration) -> isize {
    let mut net = Net::new();
    net.frame_bytes = FRAME_BYTES;
    net.factory = net.factory.clone().with_nack_history(nack_history);
    net.join(LegRole::Publisher, Uuid::now_v7());
    net.run(Duration::from_millis(500));
    assert!(net.peers[0].seen.connected, "the camera connects");
    for _ in 0..viewers {
        net.join(LegRole::Viewer, Uuid::now_v7());
    }
    net.run(Duration::from_secs(4));
    let received = net.peers[1..]
        .iter()
        .filter(|p| p.seen.video_packets > 1_000)
        .count();
    assert_eq!(received, viewers, "every viewer receives the stream");
    let before = LIVE.load(Ordering::Relaxed);
    let empty = Relay::new(CoreConfig::default(), net.factory.candidates());
    drop(std::mem::replace(&mut net.relay, empty));
    before - LIVE.load(Ordering::Relaxed)
}

fn main() {
    const VIEWERS: usize = 51;
    println!("memory per viewer leg, 2.5 Mbit/s H.264 + Opus, {VIEWERS} viewers vs 1");
    for history in [
        DEFAULT_NACK_HISTORY,
        Duration::from_millis(250),
        Duration::ZERO,
    ] {
        let one = relay_bytes(1, history);
        let many = relay_bytes(VIEWERS, history);
        let per_leg = (many - one) as f64 / (VIEWERS - 1) as f64;
        println!(
            "NACK history {:>4} ms: relay holds {:>9} B with 1 viewer, {:>10} B with {VIEWERS}: \
             {:>6.1} KiB per viewer leg",
            history.as_millis(),
            one,
            many,
            per_leg / 1024.0
        );
    }
}
