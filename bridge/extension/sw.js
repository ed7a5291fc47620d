// NHI card bridge — extension service worker (Chromium) / background script (Firefox).
// One native host per page connection: the host lives as long as the tab's page does.
"use strict";

const HOST = "tw.nhi.card_bridge";
const PROTOCOL = 2; // nhi_protocol::bridge::PROTOCOL_VERSION (2: the card proof covers the card's record)
// Origins served (keep in step with content_scripts.matches in manifest.json and the host's
// configuration). A trailing ":*" allows any port (development).
const ALLOWED_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*"];
const VERSION = chrome.runtime.getManifest().version;

function originAllowed(origin) {
  if (!origin || origin === "null" || origin.endsWith("/")) return false;
  return ALLOWED_ORIGINS.some((a) => {
    if (!a.endsWith(":*")) return origin === a;
    const base = a.slice(0, -2);
    if (origin === base) return true;
    if (!origin.startsWith(base + ":")) return false;
    return /^[0-9]{1,5}$/.test(origin.slice(base.length + 1));
  });
}

function senderOrigin(sender) {
  if (sender.origin) return sender.origin; // Chromium
  try {
    return new URL(sender.url).origin; // Firefox
  } catch {
    return "";
  }
}

function errorReply(id, code, message) {
  return { kind: "reply", v: PROTOCOL, id, result: { err: { code, message } } };
}

chrome.runtime.onConnect.addListener((page) => {
  if (page.name !== "nhi-card-bridge") return;
  const origin = senderOrigin(page.sender || {});
  const topFrame = !page.sender || page.sender.frameId === undefined || page.sender.frameId === 0;
  if (!originAllowed(origin) || !topFrame) {
    page.onMessage.addListener((m) => page.postMessage(errorReply(m && m.id, "origin_not_allowed", "this page may not use the card bridge")));
    return;
  }

  let native = null;
  let hello = null; // the host's hello answer once the handshake succeeded
  let broken = null; // { code, message } once the host is known unusable
  const queue = []; // requests waiting for the handshake

  function fail(code, message) {
    broken = { code, message };
    while (queue.length) {
      const m = queue.shift();
      page.postMessage(errorReply(m.id, code, message));
    }
  }

  function toHost(m) {
    if (m.cmd.type === "hello") {
      const ok = { ...hello, extension_version: VERSION };
      page.postMessage({ kind: "reply", v: PROTOCOL, id: m.id, result: { ok } });
      return;
    }
    // The origin comes from the browser, never from the page.
    native.postMessage({ v: PROTOCOL, id: m.id, origin, cmd: m.cmd });
  }

  function startHost() {
    try {
      native = chrome.runtime.connectNative(HOST);
    } catch (e) {
      fail("bridge_missing", String(e));
      return;
    }
    native.onMessage.addListener((msg) => {
      if (!msg || typeof msg !== "object") return;
      if (hello === null && msg.kind === "reply" && msg.id === 0) {
        const r = msg.result || {};
        if (r.ok && r.ok.type === "hello" && r.ok.protocol >= PROTOCOL && r.ok.min_protocol <= PROTOCOL) {
          hello = r.ok;
          while (queue.length) toHost(queue.shift());
        } else if (r.ok) {
          fail(r.ok.protocol < PROTOCOL ? "bridge_version" : "extension_version", `bridge protocol ${r.ok.protocol}, extension ${PROTOCOL}`);
        } else {
          fail((r.err && r.err.code) || "bridge_version", (r.err && r.err.message) || "handshake failed");
        }
        return;
      }
      if (hello === null && msg.kind === "reply" && msg.result && msg.result.err) {
        // The host refused us before the handshake (e.g. extension id not allowed).
        fail(msg.result.err.code, msg.result.err.message);
        return;
      }
      page.postMessage(msg);
    });
    native.onDisconnect.addListener((port) => {
      // Chromium reports why in runtime.lastError, Firefox in the port's `error`.
      const err = (port && port.error) || chrome.runtime.lastError;
      const why = (err && err.message) || "the card bridge exited";
      native = null;
      if (!broken) fail("bridge_missing", why);
      // Let the page see that nothing is in flight any more.
      page.postMessage({ kind: "reply", v: PROTOCOL, id: null, result: { err: { code: broken.code, message: broken.message } } });
    });
    native.postMessage({ v: PROTOCOL, id: 0, cmd: { type: "hello", client: `nhi-card-bridge-extension/${VERSION}` } });
  }

  page.onMessage.addListener((m) => {
    if (!m || typeof m !== "object" || typeof m.id !== "number" || !m.cmd || typeof m.cmd.type !== "string") return;
    if (broken && broken.code === "bridge_missing" && !native) {
      // Perhaps installed since: try again.
      broken = null;
      hello = null;
    }
    if (broken) {
      page.postMessage(errorReply(m.id, broken.code, broken.message));
      return;
    }
    if (!native) startHost();
    if (broken) {
      page.postMessage(errorReply(m.id, broken.code, broken.message));
    } else if (hello === null) {
      queue.push(m);
    } else {
      toHost(m);
    }
  });
  page.onDisconnect.addListener(() => {
    if (native) native.disconnect();
    native = null;
  });
});
