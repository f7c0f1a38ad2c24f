//! Progress output: a redrawn status line with rate and ETA on a terminal,
//! a plain line every few seconds otherwise, nothing with `--quiet`.
//!
//! Hand-written rather than a progress-bar crate: one line of text redrawn
//! with `\r` and "erase line" needs no terminal library.

use super::{Phase, Progress};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Terminal,
    Plain,
    Quiet,
}

/// Renders [`Progress`] updates to stderr.
#[derive(Debug)]
pub struct ProgressPrinter {
    style: Style,
    started: Instant,
    phase_started: Instant,
    phase: Option<Phase>,
    last: Option<Instant>,
    drawn: bool,
}

impl ProgressPrinter {
    /// A printer for stderr: redrawn line on a terminal, plain lines
    /// otherwise, silent when `quiet`.
    pub fn new(quiet: bool) -> ProgressPrinter {
        let style = if quiet {
            Style::Quiet
        } else if std::io::stderr().is_terminal() {
            Style::Terminal
        } else {
            Style::Plain
        };
        let now = Instant::now();
        ProgressPrinter {
            style,
            started: now,
            phase_started: now,
            phase: None,
            last: None,
            drawn: false,
        }
    }

    fn interval(&self) -> Duration {
        match self.style {
            Style::Terminal => Duration::from_millis(100),
            _ => Duration::from_secs(5),
        }
    }

    pub fn update(&mut self, p: Progress) {
        if self.style == Style::Quiet {
            return;
        }
        let now = Instant::now();
        if self.phase != Some(p.phase) {
            self.phase = Some(p.phase);
            self.phase_started = now;
        }
        let finished = p.total > 0 && p.done >= p.total;
        if let Some(last) = self.last
            && now.duration_since(last) < self.interval()
            && !(finished && self.style == Style::Terminal)
        {
            return;
        }
        // Plain output: nothing in the first interval (short runs stay quiet).
        if self.style == Style::Plain && now.duration_since(self.started) < self.interval() {
            return;
        }
        self.last = Some(now);
        let line = line(p, now.duration_since(self.phase_started));
        let mut err = std::io::stderr().lock();
        let _ = match self.style {
            Style::Terminal => {
                self.drawn = true;
                write!(err, "\r\x1b[2K{line}")
            }
            _ => writeln!(err, "musefs: {line}"),
        };
        let _ = err.flush();
    }

    /// Erase the status line (before printing the summary).
    pub fn finish(&mut self) {
        if self.drawn {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
            self.drawn = false;
        }
    }
}

fn line(p: Progress, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.05 {
        p.done as f64 / secs
    } else {
        0.0
    };
    match p.phase {
        Phase::Walking => format!("listing directories: {} files found", p.done),
        Phase::Probing | Phase::Checking => {
            let what = if p.phase == Phase::Probing {
                "scanning"
            } else {
                "checking"
            };
            let pct = if p.total > 0 {
                p.done as f64 * 100.0 / p.total as f64
            } else {
                100.0
            };
            let eta = if rate > 0.0 && p.total > p.done {
                format!(
                    ", about {} left",
                    duration((p.total - p.done) as f64 / rate)
                )
            } else {
                String::new()
            };
            format!(
                "{what}: {}/{} files ({pct:.0}%), {rate:.0} files/s{eta}",
                p.done, p.total
            )
        }
    }
}

fn duration(secs: f64) -> String {
    let s = secs.ceil() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// `12.3 MiB` style sizes.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_show_rate_and_eta() {
        let l = line(
            Progress {
                phase: Phase::Probing,
                done: 500,
                total: 1500,
            },
            Duration::from_secs(1),
        );
        assert_eq!(
            l,
            "scanning: 500/1500 files (33%), 500 files/s, about 2s left"
        );
        assert_eq!(duration(3725.0), "1h02m");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(10), "10 B");
    }
}
