//! CPU in proportion to memory, as Lambda allocates it: a function of
//! `memory_mb` gets at most `memory_mb / 1769` of one CPU while its code runs
//! (128 MB: 7.2 %); from 1,769 MB on a single-threaded guest runs at full speed.
//!
//! Enforced at the epoch ticks (every millisecond while guest code runs): the
//! guest's CPU time since the last tick is measured on its thread, the pause it
//! owes for it is added to a debt, and once the debt is what about a
//! millisecond of running owes (between 1 ms and 10 ms of pause) the guest is
//! paused (an async sleep, so the timeout and cancelling still work) for that
//! long. (Shorter pieces cost more: after each pause the guest's caches are
//! cold, so the same work needs more CPU time; with 10 ms pauses at 128 MB a
//! release build measured about 7 % more than at full speed.) Wall time in which the guest did not run (a pause, or a host
//! call blocked in sleep or I/O) pays the debt off, so a pause that oversleeps
//! is made up next time and blocked time is not throttled, as in Lambda; a
//! little credit (5 ms) may build up, no more. So over any window of a few
//! tens of milliseconds the guest's running time keeps to its share.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The shortest pause worth sleeping for.
const MIN_PAUSE_S: f64 = 0.001;
/// Pauses are gathered up to this long at small shares (fewer, longer pauses
/// cost less CPU after each: see the module's note).
const MAX_PIECE_S: f64 = 0.010;
/// The most credit (unthrottled running time) that idle time can buy.
const MAX_CREDIT_S: f64 = 0.005;

/// One environment's CPU budget.
#[derive(Debug)]
pub(crate) struct CpuThrottle {
    /// Fraction of one CPU; 1 or more is never throttled.
    fraction: f64,
    /// The runtime's switch (`--cpu-share off` clears it).
    enabled: Arc<AtomicBool>,
    cpu_last: Duration,
    wall_last: Instant,
    /// Seconds of pause owed (negative: credit).
    debt: f64,
    /// Whether `cpu_last` and `wall_last` are a reading made while counting.
    counting: bool,
}

impl CpuThrottle {
    /// A throttle to `fraction` of one CPU, while `enabled` is set.
    pub fn new(fraction: f64, enabled: Arc<AtomicBool>) -> Self {
        Self {
            fraction,
            enabled,
            // The first reading is made when counting starts (`restart`, or
            // the first tick): reading the CPU clock is a system call.
            cpu_last: Duration::ZERO,
            wall_last: Instant::now(),
            debt: 0.0,
            counting: false,
        }
    }

    /// Whether this environment can be throttled at all.
    pub fn applies(&self) -> bool {
        self.fraction < 1.0
    }

    /// Starts counting afresh: the time between invocations is neither debt
    /// nor credit.
    pub fn restart(&mut self) {
        // Reading the thread's CPU clock is a system call: skip it when the
        // share cannot apply (the next tick then starts from an old reading,
        // which `tick` ignores while the share is off).
        if !self.applies() || !self.enabled.load(Ordering::Relaxed) {
            self.counting = false;
            return;
        }
        self.counting = true;
        self.cpu_last = thread_cpu_time();
        self.wall_last = Instant::now();
        self.debt = 0.0;
    }

    /// At an epoch tick: how long the guest must pause now, if at all.
    pub fn tick(&mut self) -> Option<Duration> {
        if !self.applies() || !self.enabled.load(Ordering::Relaxed) {
            self.counting = false;
            self.debt = 0.0;
            return None;
        }
        let (cpu, wall) = (thread_cpu_time(), Instant::now());
        let ran = cpu.saturating_sub(self.cpu_last).as_secs_f64();
        let elapsed = wall.saturating_duration_since(self.wall_last).as_secs_f64();
        self.cpu_last = cpu;
        self.wall_last = wall;
        if !self.counting {
            // Switched on since the last reading: count from here.
            self.counting = true;
            self.debt = 0.0;
            return None;
        }
        self.account(ran, elapsed)
    }

    /// Adds `ran` seconds of running over `elapsed` seconds of wall time to
    /// the debt; the pause owed, if it is time to pause.
    fn account(&mut self, ran: f64, elapsed: f64) -> Option<Duration> {
        let idle = (elapsed - ran).max(0.0);
        self.debt = (self.debt + ran * (1.0 / self.fraction - 1.0) - idle).max(-MAX_CREDIT_S);
        // Pause once about a millisecond of running is owed for, but never
        // for less than 1 ms or (at small shares) in pieces under 10 ms.
        let threshold = (1.0 / self.fraction - 1.0) * 0.001;
        let threshold = threshold.clamp(MIN_PAUSE_S, MAX_PIECE_S);
        (self.debt >= threshold).then(|| Duration::from_secs_f64(self.debt))
    }
}

/// CPU time the calling thread has used.
#[cfg(unix)]
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into `ts`, which lives here.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    if rc != 0 {
        return wall_since_start();
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// Where the thread's CPU time cannot be read, wall time stands in (blocked
/// host calls then count as running).
#[cfg(not(unix))]
fn thread_cpu_time() -> Duration {
    wall_since_start()
}

fn wall_since_start() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin(d: Duration) {
        let until = thread_cpu_time() + d;
        while thread_cpu_time() < until {}
    }

    #[test]
    fn debt_follows_the_share_and_idle_time_pays_it() {
        // The accounting on given figures (real time on a loaded machine
        // counts preemption as idle, so it is not asserted on).
        let on = Arc::new(AtomicBool::new(true));
        let mut t = CpuThrottle::new(0.25, on.clone());
        t.restart();
        assert!(
            t.account(0.0005, 0.0005).is_none(),
            "1.5 ms owed: under a millisecond of running's worth"
        );
        // 4 ms of running at a quarter share owes 12 ms.
        let pause = t.account(0.0035, 0.0035).unwrap().as_secs_f64();
        assert!((pause - 0.012).abs() < 1e-9, "{pause}");
        assert!(t.account(0.0, pause).is_none(), "the sleep paid it");
        t.account(0.0, 0.05);
        assert!(t.debt >= -MAX_CREDIT_S, "credit is capped");
        // Time preempted (wall time beyond running) pays too.
        assert!(t.account(0.002, 0.01).is_none());
        // The real clock works through `tick`.
        t.restart();
        spin(Duration::from_millis(1));
        t.tick();
        on.store(false, Ordering::Relaxed);
        spin(Duration::from_millis(4));
        assert!(t.tick().is_none(), "switched off");
        // Switched on again: the time run while off is not owed.
        on.store(true, Ordering::Relaxed);
        assert!(t.tick().is_none(), "counting starts afresh");
        assert!(t.debt.abs() < 1e-9);
        let mut full = CpuThrottle::new(1.0, Arc::new(AtomicBool::new(true)));
        spin(Duration::from_millis(2));
        assert!(full.tick().is_none() && !full.applies());
    }
}
