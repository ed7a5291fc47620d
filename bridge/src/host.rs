//! The native-messaging host process: reads request frames from stdin, answers on stdout.
//!
//! Threads: the stdin loop (this thread) parses frames through [`Session`]; a card worker runs
//! PC/SC jobs one at a time; a watchdog answers `timeout` for jobs that overrun
//! `request_timeout` (their late result is dropped); a writer serialises every outgoing message
//! (replies and pushed events) and is joined before exit so nothing queued is lost.
//! Nothing but frames is ever written to stdout.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use nhi_protocol::bridge::{
    Answer, BridgeError, ErrorCode, HostMessage, RequestId, MAX_REPLY_FRAME, MAX_REQUEST_FRAME,
};

use crate::card::{CardError, Pcsc};
use crate::config::Config;
use crate::events::Watcher;
use crate::framing::{self, FrameError};
use crate::session::{frame_error_reply, Job, Session, Step};

/// Requests waiting for an answer, with their deadlines. Whoever removes an id first (the
/// worker with a result or the watchdog with `timeout`) sends the reply.
#[derive(Default)]
struct Pending {
    deadlines: Mutex<HashMap<RequestId, Instant>>,
    changed: Condvar,
}

impl Pending {
    fn insert(&self, id: RequestId, deadline: Instant) -> bool {
        let Ok(mut m) = self.deadlines.lock() else {
            return false;
        };
        if m.contains_key(&id) {
            return false;
        }
        m.insert(id, deadline);
        self.changed.notify_all();
        true
    }

    fn take(&self, id: RequestId) -> bool {
        self.deadlines
            .lock()
            .map(|mut m| m.remove(&id).is_some())
            .unwrap_or(false)
    }
}

/// Sends to the writer thread.
#[derive(Clone)]
pub struct Outbox(mpsc::Sender<Option<HostMessage>>);

impl Outbox {
    pub fn send(&self, m: HostMessage) {
        let _ = self.0.send(Some(m));
    }
}

/// Runs the host until stdin ends. Returns the process exit code.
pub fn run<R: Read, W: Write + Send + 'static>(config: &Config, mut input: R, output: W) -> i32 {
    let (tx, rx) = mpsc::channel::<Option<HostMessage>>();
    let writer = std::thread::Builder::new()
        .name("writer".into())
        .spawn(move || write_loop(rx, output));
    let Ok(writer) = writer else {
        tracing::error!("cannot start the writer thread");
        return 1;
    };
    let outbox = Outbox(tx);
    let pending = Arc::new(Pending::default());

    let (jobs_tx, jobs_rx) = mpsc::channel::<(RequestId, Job)>();
    let worker = {
        let outbox = outbox.clone();
        let pending = pending.clone();
        let busy = config.busy_timeout();
        std::thread::Builder::new()
            .name("card-worker".into())
            .spawn(move || worker_loop(jobs_rx, outbox, pending, busy))
    };
    let watchdog = {
        let outbox = outbox.clone();
        let pending = pending.clone();
        std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || watchdog_loop(&pending, &outbox))
    };
    let (Ok(worker), Ok(_watchdog)) = (worker, watchdog) else {
        tracing::error!("cannot start the worker threads");
        return 1;
    };

    let mut session = Session::new(config.origins.clone());
    let mut buf = Vec::with_capacity(1024);
    let mut code = 0;
    loop {
        match framing::read_frame(&mut input, MAX_REQUEST_FRAME, &mut buf) {
            Ok(false) => {
                tracing::info!("stdin closed; exiting");
                break;
            }
            Ok(true) => match session.on_frame(&buf) {
                Step::Reply(m) => {
                    log_reply(&m);
                    outbox.send(m);
                }
                Step::Run { id, job } => {
                    tracing::debug!(id, job = job.name(), "request");
                    if !pending.insert(id, Instant::now() + config.request_timeout()) {
                        outbox.send(HostMessage::reply(
                            Some(id),
                            Err(BridgeError::new(
                                ErrorCode::BadRequest,
                                "a request with this id is still running",
                            )),
                        ));
                    } else if jobs_tx.send((id, job)).is_err() {
                        pending.take(id);
                        outbox.send(HostMessage::reply(
                            Some(id),
                            Err(BridgeError::new(ErrorCode::Internal, "card worker stopped")),
                        ));
                    }
                }
            },
            Err(e @ FrameError::TooLarge { .. }) => {
                tracing::warn!("{e}");
                outbox.send(frame_error_reply(ErrorCode::FrameTooLarge, e.to_string()));
            }
            Err(e) => {
                tracing::warn!("cannot read from the browser: {e}; exiting");
                code = 1;
                break;
            }
        }
    }
    // Flush what is queued and leave; a worker stuck in PC/SC must not keep the process alive
    // (the browser has gone), so it is not joined.
    drop(jobs_tx);
    drop(worker);
    let _ = outbox.0.send(None);
    drop(outbox);
    let _ = writer.join();
    code
}

fn log_reply(m: &HostMessage) {
    if let HostMessage::Reply {
        id,
        result: nhi_protocol::bridge::Outcome::Err(e),
        ..
    } = m
    {
        tracing::info!(?id, code = %e.code, "refused: {}", e.message);
    }
}

fn write_loop<W: Write>(rx: mpsc::Receiver<Option<HostMessage>>, mut out: W) {
    while let Ok(Some(m)) = rx.recv() {
        let body = match serde_json::to_vec(&m) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("cannot serialise a reply: {e}");
                continue;
            }
        };
        if let Err(e) = framing::write_frame(&mut out, &body, MAX_REPLY_FRAME) {
            tracing::warn!("cannot write to the browser: {e}");
            return;
        }
    }
}

fn watchdog_loop(pending: &Pending, outbox: &Outbox) {
    let Ok(mut m) = pending.deadlines.lock() else {
        return;
    };
    loop {
        let now = Instant::now();
        let expired: Vec<RequestId> = m
            .iter()
            .filter(|(_, d)| **d <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            m.remove(&id);
            tracing::warn!(id, "request timed out");
            outbox.send(HostMessage::reply(
                Some(id),
                Err(BridgeError::new(
                    ErrorCode::Timeout,
                    "the card did not answer in time",
                )),
            ));
        }
        let next = m.values().min().copied();
        let r = match next {
            Some(d) => pending
                .changed
                .wait_timeout(m, d.saturating_duration_since(Instant::now()))
                .map(|(g, _)| g)
                .map_err(|_| ()),
            None => pending.changed.wait(m).map_err(|_| ()),
        };
        match r {
            Ok(g) => m = g,
            Err(_) => return,
        }
    }
}

fn worker_loop(
    jobs: mpsc::Receiver<(RequestId, Job)>,
    outbox: Outbox,
    pending: Arc<Pending>,
    busy: Duration,
) {
    let mut pcsc = Pcsc::new(busy);
    let mut watcher: Option<Watcher> = None;
    for (id, job) in jobs {
        let name = job.name();
        let started = Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_job(&mut pcsc, &mut watcher, &outbox, job)
        }))
        .unwrap_or_else(|_| {
            Err(BridgeError::new(
                ErrorCode::Internal,
                "the card worker failed",
            ))
        });
        let elapsed_us = started.elapsed().as_micros() as u64;
        match &result {
            Ok(_) => tracing::info!(id, job = name, elapsed_us, "ok"),
            Err(e) => {
                tracing::info!(id, job = name, elapsed_us, code = %e.code, "failed: {}", e.message)
            }
        }
        if pending.take(id) {
            outbox.send(HostMessage::reply(Some(id), result));
        }
    }
    if let Some(w) = watcher.take() {
        w.stop();
    }
}

fn card_err(e: CardError) -> BridgeError {
    BridgeError::new(e.code(), e.to_string())
}

fn run_job(
    pcsc: &mut Pcsc,
    watcher: &mut Option<Watcher>,
    outbox: &Outbox,
    job: Job,
) -> Result<Answer, BridgeError> {
    match job {
        Job::Status => pcsc.status().map(Answer::Status).map_err(card_err),
        Job::ReadBasicData => pcsc
            .read_basic_data()
            .map(|r| Answer::BasicData {
                reader: r.reader,
                data: r.data,
            })
            .map_err(card_err),
        Job::CardProof { origin, nonce } => pcsc
            .card_proof(&origin, &nonce)
            .map(|p| Answer::CardProof {
                reader: p.reader,
                origin,
                record: p.record,
                mac: p.mac,
            })
            .map_err(card_err),
        Job::Subscribe => {
            if watcher.is_none() {
                let outbox = outbox.clone();
                let w = Watcher::start(move |ev| {
                    tracing::info!(?ev, "event");
                    outbox.send(HostMessage::event(ev));
                })
                .map_err(|e| {
                    BridgeError::new(
                        ErrorCode::Internal,
                        format!("cannot start the event watcher: {e}"),
                    )
                })?;
                *watcher = Some(w);
            }
            pcsc.status().map(Answer::Subscribed).map_err(card_err)
        }
        Job::Unsubscribe => {
            if let Some(w) = watcher.take() {
                w.stop();
            }
            Ok(Answer::Unsubscribed)
        }
    }
}
