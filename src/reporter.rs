//! Progress shown to people: an indicatif bar when stderr is a terminal, a
//! plain line every few seconds when it is not, nothing with `--no-progress`
//! or `--quiet`. Implements the library's `ProgressFactory`.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use airlock::progress::{NoProgress, Progress, ProgressFactory};
use std::io::Write;

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

/// How often the non-terminal progress line is printed (5 s; the
/// `AIRLOCK_PROGRESS_EVERY_MS` environment variable overrides it).
fn log_every() -> Duration {
    std::env::var("AIRLOCK_PROGRESS_EVERY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(5))
}

pub(crate) enum Reporter {
    Bars,
    Lines,
    Silent,
}

impl Reporter {
    pub(crate) fn new(quiet: bool, no_progress: bool) -> Reporter {
        if quiet || no_progress {
            Reporter::Silent
        } else if std::io::stderr().is_terminal() {
            Reporter::Bars
        } else {
            Reporter::Lines
        }
    }
}

struct Bar(ProgressBar);

impl Progress for Bar {
    fn inc(&self, bytes: u64) {
        self.0.inc(bytes);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

struct Lines {
    every: Duration,
    label: String,
    total: u64,
    done: AtomicU64,
    start: Instant,
    last: Mutex<Instant>,
}

impl Progress for Lines {
    fn inc(&self, bytes: u64) {
        let done = self.done.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.elapsed() >= self.every {
            *last = Instant::now();
            let pct = (done * 100).checked_div(self.total).unwrap_or(100);
            let rate = done as f64 / self.start.elapsed().as_secs_f64().max(0.001);
            // A progress line lost on a closed stderr changes nothing.
            let _ = writeln!(
                std::io::stderr().lock(),
                "{}: {} of {} ({pct}%), {}/s",
                self.label,
                HumanBytes(done),
                HumanBytes(self.total),
                HumanBytes(rate as u64)
            );
        }
    }
    fn finish(&self) {}
}

impl ProgressFactory for Reporter {
    fn start(&self, label: &str, total: u64) -> Box<dyn Progress + '_> {
        match self {
            Reporter::Silent => Box::new(NoProgress),
            Reporter::Bars => {
                let pb = ProgressBar::new(total);
                pb.set_style(
                    ProgressStyle::with_template(
                        "{msg:>9} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                pb.set_message(label.to_string());
                Box::new(Bar(pb))
            }
            Reporter::Lines => Box::new(Lines {
                every: log_every(),
                label: label.to_string(),
                total,
                done: AtomicU64::new(0),
                start: Instant::now(),
                last: Mutex::new(Instant::now()),
            }),
        }
    }
}
