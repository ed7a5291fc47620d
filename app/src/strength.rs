//! The zxcvbn strength check runs in its own worker (`nhi-strength`, ~800 KB of wasm), which
//! is started only when a page needs it, so it never weighs on the first load. The rules
//! (`PasswordPolicy::check_rules`) run here on the main thread: the same code as the server.

use std::cell::RefCell;

use futures_channel::oneshot;
use leptos::prelude::*;
use nhi_protocol::password::{PersonalData, Strength};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The worker's loader (Trunk `data-loader-shim`): `importScripts` + init of the wasm.
const WORKER_URL: &str = "/nhi-strength_loader.js";

#[derive(Debug, Clone, PartialEq)]
pub enum StrengthState {
    Loading,
    /// The estimate of the password as it is now.
    Ready(Strength),
    /// The estimate of an earlier version of the password, shown until the new one arrives.
    Stale(Strength),
    Unavailable,
}

#[derive(Serialize)]
struct Ask<'a> {
    id: u32,
    password: &'a str,
    person: &'a PersonalData,
}

#[derive(Deserialize)]
struct Answer {
    id: u32,
    strength: Strength,
}

/// What the worker gives back to the one question waiting: its estimate, or that the worker
/// failed.
type Reply = Option<Strength>;

/// The worker's plumbing: a browser `Worker` and the channel end of the one question waiting.
/// Nothing reactive lives here: the page's signal is written by a task in the page's own
/// reactive owner ([`estimate`]), which this end only wakes (a newer question drops the older
/// sender, which ends the older task).
#[derive(Default)]
struct Worker {
    handle: Option<web_sys::Worker>,
    ready: bool,
    failed: bool,
    next_id: u32,
    /// The latest question, sent once the worker says it is ready.
    queued: Option<String>,
    waiting: Option<oneshot::Sender<Reply>>,
}

thread_local! {
    static WORKER: RefCell<Worker> = RefCell::new(Worker::default());
}

/// Wakes the question waiting, if any, with `reply`.
fn reply(reply: Reply, only_id: Option<u32>) {
    let waiting = WORKER.with(|w| {
        let mut w = w.borrow_mut();
        match only_id {
            Some(id) if id != w.next_id => None,
            _ => w.waiting.take(),
        }
    });
    if let Some(tx) = waiting {
        let _ = tx.send(reply);
    }
}

/// Starts the worker (downloads and compiles its wasm) if it is not running yet.
pub fn start() {
    let exists = WORKER.with(|w| w.borrow().handle.is_some() || w.borrow().failed);
    if exists {
        return;
    }
    let Ok(worker) = web_sys::Worker::new(WORKER_URL) else {
        WORKER.with(|w| w.borrow_mut().failed = true);
        return;
    };
    let on_message = Closure::<dyn Fn(web_sys::MessageEvent)>::new(|ev: web_sys::MessageEvent| {
        let Some(text) = ev.data().as_string() else {
            return;
        };
        if text == "ready" {
            let queued = WORKER.with(|w| {
                let mut w = w.borrow_mut();
                w.ready = true;
                w.queued.take().zip(w.handle.clone())
            });
            if let Some((q, h)) = queued {
                let _ = h.post_message(&JsValue::from_str(&q));
            }
            return;
        }
        let Ok(answer) = serde_json::from_str::<Answer>(&text) else {
            return;
        };
        reply(Some(answer.strength), Some(answer.id));
    });
    let on_error = Closure::<dyn Fn(web_sys::Event)>::new(|_| {
        WORKER.with(|w| w.borrow_mut().failed = true);
        reply(None, None);
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_message.forget();
    on_error.forget();
    WORKER.with(|w| w.borrow_mut().handle = Some(worker));
}

/// Asks for the strength of `password`; the answer lands in `out` (older answers are dropped).
pub fn estimate(password: &str, person: &PersonalData, out: RwSignal<StrengthState>) {
    start();
    let failed = WORKER.with(|w| w.borrow().failed);
    if failed {
        out.set(StrengthState::Unavailable);
        return;
    }
    let (tx, rx) = oneshot::channel::<Reply>();
    let (msg, send_now) = WORKER.with(|w| {
        let mut w = w.borrow_mut();
        w.next_id = w.next_id.wrapping_add(1);
        // A newer question: the older one's task ends (its sender is dropped here).
        w.waiting = Some(tx);
        let msg = serde_json::to_string(&Ask {
            id: w.next_id,
            password,
            person,
        })
        .unwrap_or_default();
        let send_now = w.ready.then(|| w.handle.clone()).flatten();
        if send_now.is_none() {
            w.queued = Some(msg.clone());
        }
        (msg, send_now)
    });
    match send_now {
        Some(h) => {
            if let StrengthState::Ready(s) = out.get_untracked() {
                out.set(StrengthState::Stale(s));
            }
            let _ = h.post_message(&JsValue::from_str(&msg));
        }
        None => out.set(StrengthState::Loading),
    }
    // The answer is written inside the caller's reactive owner; a page that is gone by then
    // has disposed the signal, and `try_set` does nothing.
    leptos::task::spawn_local_scoped(async move {
        if let Ok(reply) = rx.await {
            let _ = out.try_set(match reply {
                Some(strength) => StrengthState::Ready(strength),
                None => StrengthState::Unavailable,
            });
        }
    });
}
