//! Card insert/remove and reader plug/unplug events, from `SCardGetStatusChange` with an
//! infinite timeout (the thread sleeps in pcscd until something changes; no polling loop).
//! When pcscd is not running the watcher retries connecting every [`SERVICE_RETRY`].

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use nhi_protocol::bridge::Event;
use pcsc::{Context, ReaderState, Scope, State, PNP_NOTIFICATION};

/// How often to look for pcscd again while it is not running.
pub const SERVICE_RETRY: Duration = Duration::from_millis(500);

/// A running watcher; dropping it stops the thread.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    ctx: Arc<Mutex<Option<Context>>>,
    wake: mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Starts watching; every event is passed to `emit`. The first pass records the current
    /// state without emitting (the subscriber got it in the `subscribed` answer).
    pub fn start(emit: impl Fn(Event) + Send + 'static) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let ctx: Arc<Mutex<Option<Context>>> = Arc::new(Mutex::new(None));
        let (wake, wait) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("pcsc-events".into())
            .spawn({
                let stop = stop.clone();
                let ctx = ctx.clone();
                move || run(&stop, &ctx, &wait, &emit)
            })?;
        Ok(Self {
            stop,
            ctx,
            wake,
            thread: Some(thread),
        })
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.wake.send(());
        if let Ok(guard) = self.ctx.lock() {
            if let Some(c) = guard.as_ref() {
                let _ = c.cancel();
            }
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run(
    stop: &AtomicBool,
    slot: &Mutex<Option<Context>>,
    wait: &mpsc::Receiver<()>,
    emit: &dyn Fn(Event),
) {
    // `None` until the first look at the service, so that the first state is not an event.
    let mut service_up: Option<bool> = None;
    let mut known: Vec<(CString, bool)> = Vec::new(); // reader, card present
    while !stop.load(Ordering::SeqCst) {
        let ctx = match Context::establish(Scope::User) {
            Ok(c) => c,
            Err(_) => {
                if service_up == Some(true) {
                    for (name, present) in known.drain(..) {
                        if present {
                            emit(Event::CardRemoved {
                                reader: lossy(&name),
                            });
                        }
                        emit(Event::ReaderRemoved {
                            reader: lossy(&name),
                        });
                    }
                    emit(Event::ServiceStopped);
                }
                service_up = Some(false);
                // Wait for a stop request or the retry interval.
                if !matches!(
                    wait.recv_timeout(SERVICE_RETRY),
                    Err(mpsc::RecvTimeoutError::Timeout)
                ) {
                    return;
                }
                continue;
            }
        };
        let first_look = service_up.is_none();
        if service_up == Some(false) {
            emit(Event::ServiceStarted);
        }
        service_up = Some(true);
        if let Ok(mut g) = slot.lock() {
            *g = Some(ctx.clone());
        }
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let started = std::time::Instant::now();
        watch(&ctx, stop, &mut known, first_look, emit);
        if let Ok(mut g) = slot.lock() {
            *g = None;
        }
        // A context that fails at once (pcscd half up) must not turn this into a busy loop.
        let ran = started.elapsed();
        if ran < SERVICE_RETRY
            && !matches!(
                wait.recv_timeout(SERVICE_RETRY - ran),
                Err(mpsc::RecvTimeoutError::Timeout)
            )
        {
            return;
        }
    }
}

/// Watches one PC/SC context until it fails or is cancelled.
fn watch(
    ctx: &Context,
    stop: &AtomicBool,
    known: &mut Vec<(CString, bool)>,
    mut quiet: bool,
    emit: &dyn Fn(Event),
) {
    loop {
        // Reader list: diff against what we knew.
        let names = match ctx.list_readers_owned() {
            Ok(n) => n,
            Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
            Err(_) => return,
        };
        if !quiet {
            for (old, present) in known.iter() {
                if !names.contains(old) {
                    if *present {
                        emit(Event::CardRemoved { reader: lossy(old) });
                    }
                    emit(Event::ReaderRemoved { reader: lossy(old) });
                }
            }
        }
        let mut next: Vec<(CString, bool)> = Vec::with_capacity(names.len());
        for n in &names {
            let was = known.iter().find(|(k, _)| k == n).map(|(_, p)| *p);
            if was.is_none() && !quiet {
                emit(Event::ReaderAdded { reader: lossy(n) });
            }
            next.push((n.clone(), was.unwrap_or(false)));
        }
        *known = next;

        let mut states: Vec<ReaderState> =
            std::iter::once(ReaderState::new(PNP_NOTIFICATION(), State::UNAWARE))
                .chain(
                    names
                        .iter()
                        .map(|n| ReaderState::new(n.clone(), State::UNAWARE)),
                )
                .collect();
        // First call with UNAWARE returns at once with the current state.
        let mut first = true;
        loop {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let timeout = if first { Some(Duration::ZERO) } else { None };
            match ctx.get_status_change(timeout, &mut states) {
                Ok(()) => {}
                Err(pcsc::Error::Timeout) if first => {}
                Err(pcsc::Error::Timeout) => continue,
                Err(_) => return, // cancelled, service stopped, handle invalid
            }
            let mut readers_changed = false;
            for (i, st) in states.iter_mut().enumerate() {
                let ev = st.event_state();
                if i == 0 {
                    if !first && ev.contains(State::CHANGED) {
                        readers_changed = true;
                    }
                } else if let Some(entry) = known.get_mut(i - 1) {
                    if ev.intersects(State::UNKNOWN | State::UNAVAILABLE) {
                        readers_changed = true;
                    }
                    let present = ev.contains(State::PRESENT);
                    if present != entry.1 {
                        entry.1 = present;
                        if !quiet {
                            let reader = lossy(&entry.0);
                            emit(if present {
                                Event::CardInserted {
                                    reader,
                                    kind: crate::card::card_kind(st.atr()),
                                }
                            } else {
                                Event::CardRemoved { reader }
                            });
                        }
                    }
                }
                st.sync_current_state();
            }
            first = false;
            quiet = false;
            if readers_changed {
                break;
            }
        }
    }
}

fn lossy(name: &CString) -> String {
    name.to_string_lossy().into_owned()
}
