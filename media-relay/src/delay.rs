//! How long the relay holds a packet: from reading a datagram off the socket to handing each
//! datagram it caused (the forwarded copies, above all) to the kernel. A fixed-bucket
//! histogram, cheap enough to update for every packet sent, shown on `/metrics` as
//! `securecam_relay_forward_delay_seconds` and read by the load tool for p50/p99.

use std::time::Duration;

/// Upper bounds of the buckets, in microseconds; a last bucket takes the rest.
pub const BOUNDS_US: [u64; 18] = [
    10, 20, 50, 100, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 10_000, 20_000, 50_000,
    100_000, 1_000_000,
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DelayHistogram {
    /// Per bucket (not cumulative); one more than [`BOUNDS_US`].
    pub counts: [u64; BOUNDS_US.len() + 1],
    pub sum_us: u64,
}

impl DelayHistogram {
    pub fn record(&mut self, delay: Duration) {
        let us = delay.as_micros().min(u64::MAX as u128) as u64;
        let bucket = BOUNDS_US.partition_point(|&bound| bound < us);
        self.counts[bucket] += 1;
        self.sum_us = self.sum_us.saturating_add(us);
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// What was recorded since `earlier` (a snapshot of the same histogram).
    pub fn since(&self, earlier: &DelayHistogram) -> DelayHistogram {
        let mut counts = self.counts;
        for (count, before) in counts.iter_mut().zip(earlier.counts) {
            *count = count.saturating_sub(before);
        }
        DelayHistogram {
            counts,
            sum_us: self.sum_us.saturating_sub(earlier.sum_us),
        }
    }

    /// The `q` quantile (0..=1) in microseconds, interpolated linearly inside its bucket, as
    /// Prometheus' `histogram_quantile` does; `None` when empty.
    pub fn quantile_us(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total as f64;
        let mut seen = 0u64;
        for (i, &count) in self.counts.iter().enumerate() {
            if count > 0 && (seen + count) as f64 >= rank {
                let lower = if i == 0 { 0 } else { BOUNDS_US[i - 1] } as f64;
                let Some(&upper) = BOUNDS_US.get(i) else {
                    // The open-ended bucket: all that can be said is its lower bound.
                    return Some(lower);
                };
                let within = (rank - seen as f64) / count as f64;
                return Some(lower + (upper as f64 - lower) * within);
            }
            seen += count;
        }
        BOUNDS_US.last().map(|&b| b as f64)
    }

    /// Parses the series [`crate::metrics::render`] writes, from a whole `/metrics` page.
    pub fn from_metrics(page: &str) -> Option<DelayHistogram> {
        let mut cumulative = Vec::new();
        let mut sum = None;
        for line in page.lines() {
            if let Some(rest) =
                line.strip_prefix("securecam_relay_forward_delay_seconds_bucket{le=\"")
            {
                let (_, value) = rest.split_once("\"} ")?;
                cumulative.push(value.trim().parse::<u64>().ok()?);
            } else if let Some(value) =
                line.strip_prefix("securecam_relay_forward_delay_seconds_sum ")
            {
                sum = Some((value.trim().parse::<f64>().ok()? * 1e6) as u64);
            }
        }
        if cumulative.len() != BOUNDS_US.len() + 1 {
            return None;
        }
        let mut histogram = DelayHistogram {
            sum_us: sum?,
            ..Default::default()
        };
        let mut previous = 0;
        for (count, total) in histogram.counts.iter_mut().zip(cumulative) {
            *count = total.saturating_sub(previous);
            previous = total;
        }
        Some(histogram)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_quantiles_and_the_metrics_round_trip() {
        let mut h = DelayHistogram::default();
        assert_eq!(h.quantile_us(0.5), None);
        for us in [5, 10, 11, 40, 90, 1_200, 2_000_000] {
            h.record(Duration::from_micros(us));
        }
        // 5 and 10 fall in (0, 10]; 11 in (10, 20]; 40 in (20, 50]; 90 in (50, 100].
        assert_eq!(&h.counts[..4], &[2, 1, 1, 1]);
        assert_eq!(h.counts[9], 1, "1.2 ms in (1 ms, 1.5 ms]");
        assert_eq!(h.counts[BOUNDS_US.len()], 1, "2 s past the last bound");
        assert_eq!(h.count(), 7);
        // Rank 3.5 of 7 lies halfway into the (20, 50] bucket's one sample.
        assert_eq!(h.quantile_us(0.5), Some(35.0));
        assert_eq!(h.quantile_us(1.0), Some(1_000_000.0));

        let mut page = String::new();
        crate::metrics::render_delay(&mut page, &h);
        assert_eq!(DelayHistogram::from_metrics(&page), Some(h.clone()));
        let later = {
            let mut later = h.clone();
            later.record(Duration::from_micros(15));
            later
        };
        let diff = later.since(&h);
        assert_eq!(diff.count(), 1);
        assert_eq!(diff.counts[1], 1);
        assert_eq!(diff.sum_us, 15);
    }
}
