//! The zxcvbn strength check runs in its own worker (`nhi-strength`, ~800 KB of wasm), which
//! is started only when a page needs it, so it never weighs on the first load. The rules
//! (`PasswordPolicy::check_rules`) run here on the main thread: the same code as the server.

use std::cell::RefCell;

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

#[derive(Default)]
struct Worker {
    handle: Option<web_sys::Worker>,
    ready: bool,
    failed: bool,
    next_id: u32,
    /// The latest question, sent once the worker says it is ready.
    queued: Option<String>,
    out: Option<RwSignal<StrengthState>>,
}

thread_local! {
    static WORKER: RefCell<Worker> = RefCell::new(Worker::default());
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
        let out = WORKER.with(|w| {
            let w = w.borrow();
            (w.next_id == answer.id).then_some(w.out).flatten()
        });
        if let Some(out) = out {
            let _ = out.try_set(StrengthState::Ready(answer.strength));
        }
    });
    let on_error = Closure::<dyn Fn(web_sys::Event)>::new(|_| {
        let out = WORKER.with(|w| {
            let mut w = w.borrow_mut();
            w.failed = true;
            w.out
        });
        if let Some(out) = out {
            let _ = out.try_set(StrengthState::Unavailable);
        }
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
    let (msg, send_now) = WORKER.with(|w| {
        let mut w = w.borrow_mut();
        w.next_id = w.next_id.wrapping_add(1);
        w.out = Some(out);
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
}
