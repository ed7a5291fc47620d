//! The page side of the card bridge: `window.postMessage` to the extension's content script
//! (bridge/extension/README) and the replies and events it posts back.
//!
//! Requests carry `{channel: "nhi-card-bridge:page", v, id, cmd, timeout_ms}`; answers come
//! as `{channel: "nhi-card-bridge:ext", kind: "reply"|"event"|"ready", …}` with the shapes of
//! [`nhi_protocol::bridge::HostMessage`]. Everything the extension posts is treated as
//! untrusted input: anything that does not parse is ignored or becomes a coded error.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use futures_channel::oneshot;
use nhi_protocol::bridge::{
    Answer, BridgeError, Command, ErrorCode, Event, HostMessage, Outcome, PROTOCOL_VERSION,
};
use nhi_protocol::card_proof::Nonce;
use nhi_protocol::CardBasicData;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

const TO_EXT: &str = "nhi-card-bridge:page";
const FROM_EXT: &str = "nhi-card-bridge:ext";
/// How long the extension may take for one command (it answers `timeout` itself after this).
const DEFAULT_TIMEOUT_MS: u32 = 20_000;

type Reply = Result<Answer, BridgeError>;
/// Called with each event, or with `None` when the connection to the host was lost (the
/// subscription with it).
type Listener = Rc<dyn Fn(Option<&Event>)>;

#[derive(Default)]
struct State {
    installed: bool,
    next_id: u32,
    pending: HashMap<u32, oneshot::Sender<Reply>>,
    listeners: Vec<(u32, Listener)>,
    next_listener: u32,
    /// The host pushes events on this page's connection once subscribed.
    subscribed: bool,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Whether the extension's content script marked this page (it runs at document_start).
pub fn extension_present() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .is_some_and(|e| e.has_attribute("data-nhi-card-bridge"))
}

fn install() {
    let already = STATE.with(|s| std::mem::replace(&mut s.borrow_mut().installed, true));
    if already {
        return;
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    let handler = Closure::<dyn Fn(web_sys::MessageEvent)>::new(on_message);
    let _ = window.add_event_listener_with_callback("message", handler.as_ref().unchecked_ref());
    handler.forget(); // lives as long as the page
}

/// A string field of a posted message (read before it is parsed as a [`HostMessage`]).
fn field(data: &JsValue, name: &str) -> Option<JsValue> {
    js_sys::Reflect::get(data, &JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined())
}

fn on_message(ev: web_sys::MessageEvent) {
    // Only our own window's messages (the content script posts into the page's window).
    let own = web_sys::window().map(JsValue::from);
    if ev.source().map(JsValue::from) != own {
        return;
    }
    let data = ev.data();
    let Some(json) = js_sys::JSON::stringify(&data)
        .ok()
        .and_then(|s| s.as_string())
    else {
        return;
    };
    if field(&data, "channel")
        .and_then(|c| c.as_string())
        .as_deref()
        != Some(FROM_EXT)
    {
        return;
    }
    if field(&data, "kind").and_then(|k| k.as_string()).as_deref() == Some("ready") {
        return;
    }
    // Parsed from the text (not from `value`): one deserializer for every bridge type.
    match serde_json::from_str::<HostMessage>(&json) {
        Ok(HostMessage::Reply {
            id: Some(id),
            result,
            ..
        }) => settle(id, result.into()),
        Ok(HostMessage::Reply {
            id: None, result, ..
        }) => {
            // An error for everything in flight (the host exited, or refused the extension).
            let err = match result {
                Outcome::Err(e) => e,
                Outcome::Ok(_) => BridgeError::new(ErrorCode::BadRequest, "reply without id"),
            };
            let all: Vec<u32> = STATE.with(|s| s.borrow().pending.keys().copied().collect());
            for id in all {
                settle(id, Err(err.clone()));
            }
            // The host is gone, and with it the event subscription: let the listeners look
            // again (the extension starts a new host on the next request).
            let listeners: Vec<Listener> = STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.subscribed = false;
                s.listeners.iter().map(|(_, l)| l.clone()).collect()
            });
            for l in listeners {
                l(None);
            }
        }
        Ok(HostMessage::Event { event, .. }) => {
            let listeners: Vec<Listener> = STATE.with(|s| {
                s.borrow()
                    .listeners
                    .iter()
                    .map(|(_, l)| l.clone())
                    .collect()
            });
            for l in listeners {
                l(Some(&event));
            }
        }
        Err(_) => {
            // A reply we cannot parse still answers its request, as a coded error.
            // A whole number that fits a request id (as JSON would carry it).
            if let Some(id) = field(&data, "id")
                .and_then(|i| i.as_f64())
                .filter(|i| i.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(i))
                .map(|i| i as u32)
            {
                settle(
                    id,
                    Err(BridgeError::new(ErrorCode::Internal, "unreadable answer")),
                );
            }
        }
    }
}

fn settle(id: u32, reply: Reply) {
    if let Some(tx) = STATE.with(|s| s.borrow_mut().pending.remove(&id)) {
        let _ = tx.send(reply);
    }
}

/// What the page posts to the content script.
#[derive(serde::Serialize)]
struct Outgoing<'a> {
    channel: &'static str,
    v: u32,
    id: u32,
    cmd: &'a Command,
    timeout_ms: u32,
}

/// Sends one command and waits for its answer (the extension enforces `timeout_ms`; the
/// page adds its own guard in case the extension goes away).
pub async fn request(cmd: Command) -> Reply {
    request_with(cmd, DEFAULT_TIMEOUT_MS, |_| ()).await
}

/// [`request`] with its own timeout; `started` learns the request's id (for `cancel`).
async fn request_with(cmd: Command, timeout_ms: u32, started: impl FnOnce(u32)) -> Reply {
    if !extension_present() {
        return Err(BridgeError::new(
            ErrorCode::ExtensionMissing,
            "no content script",
        ));
    }
    install();
    let (tx, rx) = oneshot::channel();
    let id = STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.next_id = s.next_id.wrapping_add(1).max(1);
        let id = s.next_id;
        s.pending.insert(id, tx);
        id
    });
    started(id);
    let msg = serde_json::to_string(&Outgoing {
        channel: TO_EXT,
        v: PROTOCOL_VERSION,
        id,
        cmd: &cmd,
        timeout_ms,
    });
    let posted = web_sys::window().is_some_and(|w| {
        let Some(js) = msg.ok().and_then(|m| js_sys::JSON::parse(&m).ok()) else {
            return false;
        };
        let origin = w.location().origin().unwrap_or_else(|_| "*".into());
        w.post_message(&js, &origin).is_ok()
    });
    if !posted {
        settle(
            id,
            Err(BridgeError::new(ErrorCode::Internal, "postMessage failed")),
        );
    }
    crate::util::set_timeout(timeout_ms + 2_000, move || {
        settle(
            id,
            Err(BridgeError::new(
                ErrorCode::Timeout,
                "no answer from the extension",
            )),
        );
    });
    rx.await
        .unwrap_or_else(|_| Err(BridgeError::new(ErrorCode::Internal, "request dropped")))
}

/// The handshake: extension and bridge versions.
pub async fn hello() -> Result<(String, String), BridgeError> {
    match request(Command::Hello {
        client: Some(format!("nhi-app/{}", env!("CARGO_PKG_VERSION"))),
    })
    .await?
    {
        Answer::Hello {
            bridge_version,
            extension_version,
            ..
        } => Ok((extension_version.unwrap_or_default(), bridge_version)),
        _ => Err(unexpected()),
    }
}

pub async fn status() -> Result<nhi_protocol::bridge::Status, BridgeError> {
    match request(Command::Status).await? {
        Answer::Status(s) | Answer::Subscribed(s) => Ok(s),
        _ => Err(unexpected()),
    }
}

pub async fn read_basic_data() -> Result<CardBasicData, BridgeError> {
    match request(Command::ReadBasicData).await? {
        Answer::BasicData { data, .. } => Ok(data),
        _ => Err(unexpected()),
    }
}

/// The card's answer to a server nonce, as the API wants it (proof v2: the record the card
/// stores and its MAC over the challenge and that record; the server believes the record only
/// once the MAC verifies).
pub async fn card_proof(nonce: Nonce) -> Result<nhi_protocol::api::CardProof, BridgeError> {
    match request(Command::CardProof { nonce }).await? {
        Answer::CardProof { record, mac, .. } => {
            Ok(nhi_protocol::api::CardProof::new(nonce, record, mac))
        }
        _ => Err(unexpected()),
    }
}

/// Subscribes to card and reader events; `on_event` runs for each (and with `None` if the
/// host goes away) until [`Subscription::cancel`].
pub async fn subscribe(
    on_event: impl Fn(Option<&Event>) + 'static,
) -> Result<(Subscription, nhi_protocol::bridge::Status), BridgeError> {
    install();
    let key = STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.next_listener += 1;
        let key = s.next_listener;
        s.listeners.push((key, Rc::new(on_event)));
        key
    });
    let sub = Subscription(key);
    if STATE.with(|s| s.borrow().subscribed) {
        return match status().await {
            Ok(st) => Ok((sub, st)),
            Err(e) => {
                sub.cancel();
                Err(e)
            }
        };
    }
    match request(Command::Subscribe).await {
        Ok(Answer::Subscribed(status)) => {
            STATE.with(|s| s.borrow_mut().subscribed = true);
            Ok((sub, status))
        }
        Ok(_) => {
            sub.cancel();
            Err(unexpected())
        }
        Err(e) => {
            sub.cancel();
            Err(e)
        }
    }
}

/// A registered event listener.
#[derive(Debug, Clone, Copy)]
pub struct Subscription(u32);

impl Subscription {
    pub fn cancel(self) {
        STATE.with(|s| s.borrow_mut().listeners.retain(|(k, _)| *k != self.0));
    }
}

/// How long `authenticate` may take: the person types the PIN into the host's dialog (the
/// host's own limit, `pin_timeout_ms`, is 120 s by default).
#[cfg(not(feature = "citizen"))]
pub const AUTHENTICATE_TIMEOUT_MS: u32 = 150_000;

/// The citizen certificate card's authentication certificate (base64 DER); no PIN.
#[cfg(not(feature = "citizen"))]
pub async fn certificate() -> Result<String, BridgeError> {
    match request(Command::Certificate).await? {
        Answer::Certificate { certificate, .. } => Ok(certificate),
        _ => Err(unexpected()),
    }
}

/// The certificate card's signature over `SHA-256(origin) ‖ SHA-256(nonce)`, after the
/// person typed the PIN into the host's own dialog: `(certificate, signature, algorithm)`.
/// `started` learns the request id, for [`cancel`].
#[cfg(not(feature = "citizen"))]
pub async fn authenticate(
    nonce: Nonce,
    started: impl FnOnce(u32),
) -> Result<
    (
        String,
        String,
        nhi_protocol::certificate::SignatureAlgorithm,
    ),
    BridgeError,
> {
    match request_with(
        Command::Authenticate { nonce },
        AUTHENTICATE_TIMEOUT_MS,
        started,
    )
    .await?
    {
        Answer::Authenticate {
            certificate,
            signature,
            algorithm,
            ..
        } => Ok((certificate, signature, algorithm)),
        _ => Err(unexpected()),
    }
}

/// Asks the host to cancel the running request `id` (closes its PIN dialog); that request
/// then answers `cancelled`.
#[cfg(not(feature = "citizen"))]
pub async fn cancel(id: u32) -> Result<(), BridgeError> {
    match request(Command::Cancel { request: id }).await? {
        Answer::Cancelled => Ok(()),
        _ => Err(unexpected()),
    }
}

fn unexpected() -> BridgeError {
    BridgeError::new(ErrorCode::Internal, "unexpected answer type")
}
