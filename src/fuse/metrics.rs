//! Counters of the request path, rendered as Prometheus text.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Request counters, shared by the worker threads (relaxed atomics).
#[derive(Debug, Default)]
pub struct Metrics {
    pub opens: AtomicU64,
    pub passthrough_opens: AtomicU64,
    pub reads: AtomicU64,
    pub read_bytes: AtomicU64,
    pub lookups: AtomicU64,
    pub open_handles: AtomicU64,
    pub errors_eio: AtomicU64,
    pub errors_enoent: AtomicU64,
    pub errors_other: AtomicU64,
    pub passthrough_enabled: AtomicU64,
}

/// Figures owned by other layers, gathered by the caller.
#[derive(Debug, Default, Clone, Copy)]
pub struct Extra {
    pub tracks: u64,
    pub directories: u64,
    pub refreshes: u64,
    pub header_cache_hits: u64,
    pub header_cache_misses: u64,
    pub header_cache_bytes: u64,
    pub resident_bytes: u64,
}

fn line(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP musefs_{name} {help}\n# TYPE musefs_{name} {kind}\nmusefs_{name} {value}"
    );
}

impl Metrics {
    pub fn error(&self, errno: i32) {
        match errno {
            libc::EIO => &self.errors_eio,
            libc::ENOENT => &self.errors_enoent,
            _ => &self.errors_other,
        }
        .fetch_add(1, Relaxed);
    }

    /// Prometheus text exposition.
    pub fn render(&self, x: &Extra) -> String {
        let mut o = String::new();
        line(
            &mut o,
            "opens_total",
            "counter",
            "Files opened.",
            self.opens.load(Relaxed),
        );
        line(
            &mut o,
            "passthrough_opens_total",
            "counter",
            "Opens served by kernel passthrough.",
            self.passthrough_opens.load(Relaxed),
        );
        line(
            &mut o,
            "reads_total",
            "counter",
            "Read requests answered by the daemon.",
            self.reads.load(Relaxed),
        );
        line(
            &mut o,
            "read_bytes_total",
            "counter",
            "Bytes returned by daemon reads.",
            self.read_bytes.load(Relaxed),
        );
        line(
            &mut o,
            "lookups_total",
            "counter",
            "Name lookups.",
            self.lookups.load(Relaxed),
        );
        line(
            &mut o,
            "open_handles",
            "gauge",
            "Open file handles.",
            self.open_handles.load(Relaxed),
        );
        let _ = writeln!(
            o,
            "# HELP musefs_errors_total Requests failed, by errno.\n# TYPE musefs_errors_total counter"
        );
        for (e, v) in [
            ("EIO", &self.errors_eio),
            ("ENOENT", &self.errors_enoent),
            ("other", &self.errors_other),
        ] {
            let _ = writeln!(
                o,
                "musefs_errors_total{{errno=\"{e}\"}} {}",
                v.load(Relaxed)
            );
        }
        line(
            &mut o,
            "passthrough_enabled",
            "gauge",
            "1 when structure-only reads bypass the daemon.",
            self.passthrough_enabled.load(Relaxed),
        );
        line(&mut o, "tracks", "gauge", "Tracks in the view.", x.tracks);
        line(
            &mut o,
            "directories",
            "gauge",
            "Directories in the view.",
            x.directories,
        );
        line(
            &mut o,
            "refreshes_total",
            "counter",
            "Refreshes that changed the view.",
            x.refreshes,
        );
        line(
            &mut o,
            "header_cache_hits_total",
            "counter",
            "Opens served from the header cache.",
            x.header_cache_hits,
        );
        line(
            &mut o,
            "header_cache_misses_total",
            "counter",
            "Opens that built a header.",
            x.header_cache_misses,
        );
        line(
            &mut o,
            "header_cache_bytes",
            "gauge",
            "Bytes held by the header cache.",
            x.header_cache_bytes,
        );
        line(
            &mut o,
            "resident_memory_bytes",
            "gauge",
            "Resident memory of the process.",
            x.resident_bytes,
        );
        o
    }
}

/// Resident set size of this process.
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters() {
        let m = Metrics::default();
        m.reads.fetch_add(3, Relaxed);
        m.error(libc::EIO);
        let t = m.render(&Extra {
            tracks: 7,
            ..Extra::default()
        });
        assert!(t.contains("musefs_reads_total 3\n"));
        assert!(t.contains("musefs_errors_total{errno=\"EIO\"} 1\n"));
        assert!(t.contains("musefs_tracks 7\n"));
        assert!(
            t.lines()
                .all(|l| l.starts_with('#') || l.starts_with("musefs_"))
        );
    }
}
