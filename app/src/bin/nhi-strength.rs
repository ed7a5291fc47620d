//! The password-strength worker: zxcvbn via `nhi_protocol::password::estimate`, the same code
//! the server judges with. Built by Trunk as a web worker (`data-type="worker"`); the SPA
//! starts it only when a page needs the meter.
//!
//! Protocol (strings, JSON): in `{"id":1,"password":"…","person":{…PersonalData}}`,
//! out `"ready"` once, then `{"id":1,"strength":{…Strength}}` per question.

use nhi_protocol::password::{estimate, PersonalData};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[derive(Deserialize)]
struct Ask {
    id: u32,
    password: String,
    #[serde(default)]
    person: PersonalData,
}

fn main() {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let reply_to = scope.clone();
    let on_message =
        Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            let Some(text) = ev.data().as_string() else {
                return;
            };
            let Ok(ask) = serde_json::from_str::<Ask>(&text) else {
                return;
            };
            let strength = estimate(&ask.password, &ask.person);
            let answer = serde_json::json!({ "id": ask.id, "strength": strength });
            let _ = reply_to.post_message(&JsValue::from_str(&answer.to_string()));
        });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    let _ = scope.post_message(&JsValue::from_str("ready"));
}
