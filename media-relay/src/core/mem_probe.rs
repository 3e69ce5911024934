//! TEMPORARY: where a viewer leg's memory goes.
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use uuid::Uuid;

use super::sim_tests::Net;
use super::*;

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        System.realloc(p, l, n)
    }
}
#[global_allocator]
static A: Counting = Counting;

fn relay_bytes(viewers: usize) -> isize {
    let mut net = Net::new();
    net.frame_bytes = 10_000;
    net.join(LegRole::Publisher, Uuid::now_v7());
    net.run(Duration::from_millis(500));
    for _ in 0..viewers {
        net.join(LegRole::Viewer, Uuid::now_v7());
    }
    net.run(Duration::from_secs(4));
    let b0 = LIVE.load(Ordering::Relaxed);
    for leg in net.relay.legs.values_mut() {
        if leg.role == LegRole::Viewer {
            let mids: Vec<_> = leg.tracks.iter().map(|t| t.mid).collect();
            for mid in mids {
                if let Some(tx) = leg.rtc.direct_api().stream_tx_by_mid(mid, None) {
                    tx.set_rtx_cache(1, Duration::ZERO, None);
                }
            }
        }
    }
    eprintln!("viewers {viewers}: rtx caches held {} B", b0 - LIVE.load(Ordering::Relaxed));
    let before = LIVE.load(Ordering::Relaxed);
    let cands = net.factory.candidates();
    let relay = std::mem::replace(&mut net.relay, Relay::new(CoreConfig::default(), cands));
    drop(relay);
    before - LIVE.load(Ordering::Relaxed)
}

#[test]
fn probe_memory_per_viewer_leg() {
    eprintln!("size_of RtpPacket {}", std::mem::size_of::<RtpPacket>());
    eprintln!("size_of Rtc {}", std::mem::size_of::<str0m::Rtc>());
    let one = relay_bytes(1);
    let many = relay_bytes(21);
    eprintln!("relay with 1 viewer: {one} B; with 21: {many} B; per viewer {} B", (many - one) / 20);
}
