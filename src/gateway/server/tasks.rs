//! Minimal task tracking: count live tasks, wait for zero with a deadline.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct TaskTracker {
    live: Arc<AtomicUsize>,
    idle: Arc<Notify>,
}

impl TaskTracker {
    pub fn spawn<F>(&self, f: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.live.fetch_add(1, Ordering::SeqCst);
        let t = self.clone();
        tokio::spawn(async move {
            f.await;
            if t.live.fetch_sub(1, Ordering::SeqCst) == 1 {
                t.idle.notify_waiters();
            }
        });
    }
    pub async fn wait(&self, max: Duration) {
        let deadline = tokio::time::Instant::now() + max;
        loop {
            let n = self.idle.notified();
            if self.live.load(Ordering::SeqCst) == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, n).await.is_err() {
                return;
            }
        }
    }
}
