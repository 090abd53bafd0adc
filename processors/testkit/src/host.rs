//! Hosts under test: a runtime [`Host`] on a thread of its own, and a `parley` process.

use parley_runtime::{Host, KeyedProcessor, Metrics, RuntimeError, Shutdown};
use std::process::Child;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A host running on its own thread; stopped (its batch committed) when dropped.
#[derive(Debug)]
pub struct RunningHost {
    shutdown: Shutdown,
    metrics: Option<Arc<Metrics>>,
    thread: Option<JoinHandle<Result<(), RuntimeError>>>,
}

impl RunningHost {
    /// Runs `host` on a thread.
    pub fn start<P: KeyedProcessor>(host: Host<P>) -> RunningHost {
        let shutdown = Shutdown::new();
        let flag = shutdown.clone();
        let thread = std::thread::spawn(move || host.run(flag));
        RunningHost {
            shutdown,
            metrics: None,
            thread: Some(thread),
        }
    }

    /// Runs `host`, made with `metrics`, on a thread; [`RunningHost::metrics`] reads them.
    pub fn start_with_metrics<P: KeyedProcessor>(
        host: Host<P>,
        metrics: Arc<Metrics>,
    ) -> RunningHost {
        let mut running = Self::start(host);
        running.metrics = Some(metrics);
        running
    }

    /// The host's metrics; panics for a host started without them.
    pub fn metrics(&self) -> &Metrics {
        self.metrics
            .as_deref()
            .expect("a host started with start_with_metrics")
    }

    /// Whether the host's loop has ended (by itself: a failure).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stops the host and returns how it ended.
    pub fn stop(mut self) -> Result<(), RuntimeError> {
        self.shutdown.trigger();
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for RunningHost {
    fn drop(&mut self) {
        self.shutdown.trigger();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A child process (`parley run` or a role), stopped with SIGINT on drop and killed if it
/// has not exited 20 s later.
#[derive(Debug)]
pub struct Running(pub Child);

impl Running {
    /// Sends `signal` (for example `libc::SIGSTOP`) to the process.
    pub fn signal(&self, signal: i32) {
        unsafe {
            libc::kill(self.0.id() as i32, signal);
        }
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A process frozen with SIGSTOP must run again to handle SIGINT.
        self.signal(libc::SIGCONT);
        self.signal(libc::SIGINT);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
