//! One thread owns every write to `devices/`. Jobs queued while a write is in
//! flight are applied together in a single locked read-modify-write (group
//! commit), so a burst of connects costs one lock round and one file write
//! instead of one each. A job's result is released only after the files were
//! written, so nobody is told "pending" or "approved" before it is on disk.

use std::sync::mpsc as std_mpsc;
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::devices::{DeviceState, DeviceStore};
use crate::error::StoreError;

/// Why a job's result is not available.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WorkerError {
    /// The writer thread is gone, or dropped the job (the store could not be read).
    #[error("device store unavailable")]
    Unavailable,
    /// The batch write failed; every job of the batch gets the same error.
    #[error(transparent)]
    Store(Arc<StoreError>),
}

/// Completion of one job: called with the outcome of the batch write.
type Completer = Box<dyn FnOnce(Result<(), WorkerError>) + Send>;
/// A job: runs on the freshly read state, returns its completer.
type Job = Box<dyn FnOnce(&mut DeviceState, i64) -> Completer + Send>;

/// Most jobs applied in one write.
const MAX_BATCH: usize = 512;

/// Handle to the writer thread.
#[derive(Clone)]
pub struct StoreWorker {
    tx: std_mpsc::Sender<Job>,
}

impl StoreWorker {
    /// Starts the writer thread for `store`; `now` supplies the clock.
    pub fn start(store: DeviceStore, now: fn() -> i64) -> Self {
        let (tx, rx) = std_mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("clawpair-devices".into())
            .spawn(move || run(store, rx, now))
            .expect("spawn devices writer thread");
        StoreWorker { tx }
    }

    /// Runs `f` on the current state inside a locked write; resolves after the write.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DeviceState, i64) -> T + Send + 'static,
    ) -> Result<T, WorkerError> {
        let (otx, orx) = oneshot::channel::<Result<T, WorkerError>>();
        let job: Job = Box::new(move |st, now| {
            let out = f(st, now);
            Box::new(move |r: Result<(), WorkerError>| {
                let _ = otx.send(r.map(|_| out));
            })
        });
        self.tx.send(job).map_err(|_| WorkerError::Unavailable)?;
        orx.await.map_err(|_| WorkerError::Unavailable)?
    }
}

fn run(store: DeviceStore, rx: std_mpsc::Receiver<Job>, now: fn() -> i64) {
    let mut last_error: Option<String> = None;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let t = now();
        let mut completers: Vec<Completer> = Vec::with_capacity(batch.len());
        let res: Result<(), StoreError> = store.mutate(t, |st| {
            for job in batch.drain(..) {
                completers.push(job(st, t));
            }
            Ok(())
        });
        let res = res.map_err(|e| WorkerError::Store(Arc::new(e)));
        match &res {
            Err(e) => {
                // Logged once per distinct problem, not once per second.
                let text = e.to_string();
                if last_error.as_ref() != Some(&text) {
                    tracing::warn!("devices store: {text}");
                    last_error = Some(text);
                }
            }
            Ok(()) => last_error = None,
        }
        for c in completers {
            c(res.clone());
        }
        // Jobs never run (the store could not be read) are dropped here; their
        // callers see "device store unavailable".
        drop(batch);
    }
}
