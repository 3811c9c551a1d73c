//! The engine's side of the audit log: decisions from `update` become
//! records (time, place, OS user, where made) and are appended by one writer
//! thread, in order, so a burst of decisions never piles up threads or
//! memory. An observation (a decision made elsewhere) first waits
//! [`OBSERVE_DELAY`], so that the process that made it records it first and
//! the observation is dropped as a duplicate. Results come back as
//! `Msg::Recorded`.

use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::app::effect::{Decided, Origin};
use crate::app::msg::Msg;
use crate::audit::{self, Place, Record, Via};
use crate::clock::now_ms;

/// How long an observed decision waits before it is recorded.
pub const OBSERVE_DELAY: Duration = Duration::from_millis(1500);

enum Job {
    Append {
        rec: Box<Record>,
        observed: bool,
    },
    /// Answered once every job before it is done.
    Barrier(oneshot::Sender<()>),
}

pub struct Recorder {
    place: Place,
    path: std::path::PathBuf,
    via: Via,
    writer: std_mpsc::Sender<Job>,
    tx: mpsc::UnboundedSender<Msg>,
    /// Observations waiting out their delay.
    waiting: Vec<JoinHandle<()>>,
    /// Set when stopping: observations go at once.
    flush: watch::Sender<bool>,
}

impl Recorder {
    pub fn start(place: Place, via: Via, tx: mpsc::UnboundedSender<Msg>) -> Recorder {
        let path = place.log_path();
        let (writer, jobs) = std_mpsc::channel::<Job>();
        let (p, out) = (path.clone(), tx.clone());
        let _ = std::thread::Builder::new()
            .name("clawpair-audit".into())
            .spawn(move || {
                for job in jobs {
                    match job {
                        Job::Append { rec, observed } => {
                            let written = if observed {
                                audit::append_observed(&p, &rec)
                            } else {
                                audit::append(&p, &rec).map(|_| true)
                            };
                            let msg = match written {
                                Ok(true) => Msg::Recorded(Ok(*rec)),
                                Ok(false) => continue,
                                Err(e) => {
                                    tracing::warn!("decision not recorded: {e}");
                                    Msg::Recorded(Err(e.to_string()))
                                }
                            };
                            // Nobody listening (the standalone gateway): the
                            // record is written all the same.
                            let _ = out.send(msg);
                        }
                        Job::Barrier(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            });
        Recorder {
            place,
            path,
            via,
            writer,
            tx,
            waiting: Vec::new(),
            flush: watch::channel(false).0,
        }
    }

    /// Makes the record for `d` (now, here, as this user) and queues it.
    pub fn record(&mut self, d: Decided) {
        let now = now_ms();
        let mut rec = match d.origin {
            Origin::Here => Record::new(now, d.action, d.subject, self.via, &self.place),
            Origin::Gateway => Record::new(now, d.action, d.subject, Via::Gateway, &self.place),
            Origin::Observed => Record::observed(now, d.action, d.subject, self.via, &self.place),
            Origin::AnnouncedByGateway => {
                Record::observed(now, d.action, d.subject, Via::Gateway, &self.place)
            }
        };
        if let Some(why) = d.failed {
            rec = rec.failed(why);
        }
        if !rec.is_observed() {
            let _ = self.writer.send(Job::Append {
                rec: Box::new(rec),
                observed: false,
            });
            return;
        }
        let writer = self.writer.clone();
        let mut flush = self.flush.subscribe();
        self.waiting.retain(|t| !t.is_finished());
        self.waiting.push(tokio::spawn(async move {
            if !*flush.borrow() {
                tokio::select! {
                    _ = tokio::time::sleep(OBSERVE_DELAY) => {}
                    _ = flush.changed() => {}
                }
            }
            let _ = writer.send(Job::Append {
                rec: Box::new(rec),
                observed: true,
            });
        }));
    }

    /// Reads the log (and its rotated files) in the background.
    pub fn load_history(&self) {
        let (path, tx) = (self.path.clone(), self.tx.clone());
        tokio::spawn(async move {
            let h = tokio::task::spawn_blocking(move || audit::read(&path))
                .await
                .unwrap_or_default();
            let _ = tx.send(Msg::HistoryLoaded(h));
        });
    }

    /// Writes everything queued or waiting, within `within`.
    pub async fn flush(&mut self, within: Duration) {
        let _ = self.flush.send(true);
        let deadline = tokio::time::Instant::now() + within;
        for t in self.waiting.drain(..) {
            let _ = tokio::time::timeout_at(deadline, t).await;
        }
        let (done, wait) = oneshot::channel();
        if self.writer.send(Job::Barrier(done)).is_ok() {
            let _ = tokio::time::timeout_at(deadline, wait).await;
        }
    }
}
