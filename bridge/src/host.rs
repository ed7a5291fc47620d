//! The native-messaging host process: reads request frames from stdin, answers on stdout.
//!
//! Threads: the stdin loop (this thread) parses frames through [`Session`]; a card worker runs
//! PC/SC jobs one at a time; a watchdog answers `timeout` for jobs that overrun
//! `request_timeout` (their late result is dropped); a writer serialises every outgoing message
//! (replies and pushed events) and is joined before exit so nothing queued is lost.
//! Nothing but frames is ever written to stdout.
//!
//! `authenticate` opens the host's PIN dialog from the card worker; its deadline is
//! `pin_timeout` instead of `request_timeout`. A `cancel` is handled on the stdin thread at
//! once: it closes the dialog of the named request (which then answers `cancelled`); the
//! watchdog closes it too when the request times out. The PIN never leaves the worker and is
//! never logged.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use std::path::PathBuf;

use base64::Engine as _;
use nhi_protocol::bridge::{
    Answer, BridgeError, ErrorCode, HostMessage, RequestId, MAX_REPLY_FRAME, MAX_REQUEST_FRAME,
};
use nhi_protocol::certificate::{signed_digest, SignatureAlgorithm};

use crate::card::{CardError, Pcsc};
use crate::config::Config;
use crate::events::Watcher;
use crate::framing::{self, FrameError};
use crate::pin::{self, CancelToken, PinError, PinPrompt};
use crate::session::{frame_error_reply, Job, Session, Step};

/// Requests waiting for an answer, with their deadlines. Whoever removes an id first (the
/// worker with a result or the watchdog with `timeout`) sends the reply.
#[derive(Default)]
struct Pending {
    deadlines: Mutex<HashMap<RequestId, Instant>>,
    changed: Condvar,
    /// Cancel handles of the running `authenticate` requests.
    tokens: Mutex<HashMap<RequestId, Arc<CancelToken>>>,
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

    fn add_token(&self, id: RequestId) -> Arc<CancelToken> {
        let t = Arc::new(CancelToken::new());
        if let Ok(mut m) = self.tokens.lock() {
            m.insert(id, t.clone());
        }
        t
    }

    fn token(&self, id: RequestId) -> Option<Arc<CancelToken>> {
        self.tokens.lock().ok().and_then(|m| m.get(&id).cloned())
    }

    fn drop_token(&self, id: RequestId) -> Option<Arc<CancelToken>> {
        self.tokens.lock().ok().and_then(|mut m| m.remove(&id))
    }
}

/// Where the PIN dialog comes from and how long it may stay open.
#[derive(Debug, Clone)]
pub struct PinSettings {
    pub pinentry: PathBuf,
    pub timeout: Duration,
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
        let pin = PinSettings {
            pinentry: config.pinentry.clone(),
            timeout: config.pin_timeout(),
        };
        std::thread::Builder::new()
            .name("card-worker".into())
            .spawn(move || worker_loop(jobs_rx, outbox, pending, busy, pin))
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
                Step::Cancel { id, request } => {
                    tracing::info!(id, request, "cancel");
                    if let Some(t) = pending.token(request) {
                        t.cancel();
                    }
                    outbox.send(HostMessage::reply(Some(id), Ok(Answer::Cancelled)));
                }
                Step::Run { id, job } => {
                    tracing::debug!(id, job = job.name(), "request");
                    let timeout = if matches!(job, Job::Authenticate { .. }) {
                        config.pin_timeout()
                    } else {
                        config.request_timeout()
                    };
                    if !pending.insert(id, Instant::now() + timeout) {
                        outbox.send(HostMessage::reply(
                            Some(id),
                            Err(BridgeError::new(
                                ErrorCode::BadRequest,
                                "a request with this id is still running",
                            )),
                        ));
                    } else if queue(&pending, &jobs_tx, id, job).is_err() {
                        pending.take(id);
                        pending.drop_token(id);
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

/// Hands a job to the worker (with a cancel handle for `authenticate`).
fn queue(
    pending: &Pending,
    jobs: &mpsc::Sender<(RequestId, Job)>,
    id: RequestId,
    job: Job,
) -> Result<(), ()> {
    if matches!(job, Job::Authenticate { .. }) {
        pending.add_token(id);
    }
    jobs.send((id, job)).map_err(|_| ())
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
            if let Some(t) = pending.token(id) {
                t.cancel();
            }
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
    pin: PinSettings,
) {
    let mut pcsc = Pcsc::new(busy);
    let mut watcher: Option<Watcher> = None;
    for (id, job) in jobs {
        let name = job.name();
        let started = Instant::now();
        let token = pending.token(id);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_job(
                &mut pcsc,
                &mut watcher,
                &outbox,
                &pin,
                token.as_deref(),
                job,
            )
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
        pending.drop_token(id);
        if pending.take(id) {
            outbox.send(HostMessage::reply(Some(id), result));
        }
    }
    if let Some(w) = watcher.take() {
        w.stop();
    }
}

fn card_err(e: CardError) -> BridgeError {
    match e {
        CardError::PinWrong { tries_left } => BridgeError::pin_wrong(tries_left),
        e => BridgeError::new(e.code(), e.to_string()),
    }
}

fn cancelled() -> BridgeError {
    BridgeError::new(ErrorCode::Cancelled, "the PIN dialog was cancelled")
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// `authenticate`: certificate and tries left, the PIN dialog (no card held meanwhile), then
/// VERIFY + SIGN in one transaction ended with a reset.
fn authenticate(
    pcsc: &mut Pcsc,
    pin: &PinSettings,
    token: Option<&CancelToken>,
    origin: String,
    nonce: &nhi_protocol::card_proof::Nonce,
) -> Result<Answer, BridgeError> {
    let own;
    let token = match token {
        Some(t) => t,
        None => {
            own = CancelToken::new();
            &own
        }
    };
    if token.is_cancelled() {
        return Err(cancelled());
    }
    let cert = pcsc.certificate().map_err(card_err)?;
    if cert.tries_left == Some(0) {
        return Err(card_err(CardError::PinBlocked));
    }
    let prompt = PinPrompt {
        origin: origin.clone(),
        tries_left: cert.tries_left,
        timeout: pin.timeout,
    };
    let code = pin::ask(&pin.pinentry, &prompt, token).map_err(|e| match e {
        PinError::Cancelled => cancelled(),
        PinError::Unavailable(m) => {
            tracing::warn!("PIN dialog unavailable: {m}");
            BridgeError::new(
                ErrorCode::PinDialogUnavailable,
                "the bridge cannot show its PIN dialog",
            )
        }
    })?;
    if token.is_cancelled() {
        return Err(cancelled());
    }
    let digest = signed_digest(&origin, nonce);
    let signed = pcsc
        .sign(&cert.reader, &cert.certificate, code.as_bytes(), &digest)
        .map_err(card_err)?;
    drop(code);
    let algorithm = if signed.signature.len() == 64 {
        SignatureAlgorithm::ES256
    } else {
        SignatureAlgorithm::RS256
    };
    Ok(Answer::Authenticate {
        reader: signed.reader,
        origin,
        certificate: b64(&signed.certificate),
        signature: b64(&signed.signature),
        algorithm,
    })
}

fn run_job(
    pcsc: &mut Pcsc,
    watcher: &mut Option<Watcher>,
    outbox: &Outbox,
    pin: &PinSettings,
    token: Option<&CancelToken>,
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
        Job::Certificate => pcsc
            .certificate()
            .map(|c| Answer::Certificate {
                reader: c.reader,
                certificate: b64(&c.certificate),
            })
            .map_err(card_err),
        Job::Authenticate { origin, nonce } => authenticate(pcsc, pin, token, origin, &nonce),
    }
}
