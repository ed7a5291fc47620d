// NHI card bridge — content script (isolated world), injected only on the service's origins.
// Relays page <-> extension service worker. The page's origin is NOT sent from here: the
// service worker takes it from the browser (port.sender), so a page cannot claim another.
"use strict";
(() => {
  const PAGE = "nhi-card-bridge:page"; // page -> extension
  const EXT = "nhi-card-bridge:ext"; // extension -> page
  const PROTOCOL = 2; // nhi_protocol::bridge::PROTOCOL_VERSION (2: the card proof covers the card's record)
  const DEFAULT_TIMEOUT_MS = 20000;
  // authenticate waits for the PIN dialog (host pin_timeout_ms, 120 s by default) and the page
  // asks for 150 s; nothing else needs more than 60 s.
  const MAX_TIMEOUT_MS = 180000;

  let port = null;
  let nextId = 1; // ids towards the service worker / host (u32)
  const pending = new Map(); // our id -> { pageId, timer }

  function toPage(message) {
    window.postMessage({ channel: EXT, ...message }, window.location.origin);
  }

  function replyError(pageId, code, message) {
    toPage({ kind: "reply", v: PROTOCOL, id: pageId, result: { err: { code, message } } });
  }

  function settle(ourId) {
    const p = pending.get(ourId);
    if (!p) return null;
    clearTimeout(p.timer);
    pending.delete(ourId);
    return p;
  }

  function connect() {
    if (port) return port;
    port = chrome.runtime.connect({ name: "nhi-card-bridge" });
    port.onMessage.addListener((msg) => {
      if (!msg || typeof msg !== "object") return;
      if (msg.kind === "reply") {
        if (typeof msg.id !== "number") {
          // An error without id (frame-level, or the bridge refusing the extension or
          // exiting): it concerns everything in flight; with nothing in flight the page still
          // learns of it (e.g. to update its environment check).
          if (pending.size === 0) {
            toPage({ ...msg, id: null });
            return;
          }
          for (const ourId of [...pending.keys()]) {
            const p = settle(ourId);
            toPage({ ...msg, id: p.pageId });
          }
          return;
        }
        const p = settle(msg.id);
        if (p) toPage({ ...msg, id: p.pageId });
      } else if (msg.kind === "event") {
        toPage(msg);
      }
    });
    port.onDisconnect.addListener(() => {
      port = null;
      for (const ourId of [...pending.keys()]) {
        const p = settle(ourId);
        replyError(p.pageId, "extension_missing", "the extension was reloaded or disabled");
      }
    });
    return port;
  }

  window.addEventListener("message", (ev) => {
    if (ev.source !== window || ev.origin !== window.location.origin) return;
    const data = ev.data;
    if (!data || typeof data !== "object" || data.channel !== PAGE) return;
    const pageId = data.id;
    if (typeof pageId !== "number" && typeof pageId !== "string") return;
    if (data.v !== PROTOCOL) {
      replyError(pageId, "extension_version", `the extension speaks protocol ${PROTOCOL}`);
      return;
    }
    let cmd = data.cmd;
    if (!cmd || typeof cmd !== "object" || typeof cmd.type !== "string") {
      replyError(pageId, "bad_request", "cmd.type missing");
      return;
    }
    if (cmd.type === "cancel") {
      // The page names its own request id; the host knows ours. Only a request of this page
      // (this content script's map) can be cancelled.
      const target = [...pending.entries()].find(([, p]) => p.pageId === cmd.request);
      if (!target) {
        replyError(pageId, "bad_request", "no such request in flight");
        return;
      }
      cmd = { type: "cancel", request: target[0] };
    }
    let timeout = Number(data.timeout_ms) || DEFAULT_TIMEOUT_MS;
    timeout = Math.min(Math.max(timeout, 100), MAX_TIMEOUT_MS);
    const ourId = nextId;
    nextId = nextId >= 0xfffffff0 ? 1 : nextId + 1;
    const timer = setTimeout(() => {
      const p = settle(ourId);
      if (p) replyError(p.pageId, "timeout", `no answer within ${timeout} ms`);
    }, timeout);
    pending.set(ourId, { pageId, timer });
    try {
      // Only what the page may choose is forwarded; no origin.
      connect().postMessage({ v: PROTOCOL, id: ourId, cmd });
    } catch (e) {
      port = null;
      const p = settle(ourId);
      if (p) replyError(p.pageId, "extension_missing", String(e));
    }
  });

  // Presence marker for the page (it still confirms with a hello).
  document.documentElement.dataset.nhiCardBridge = String(PROTOCOL);
  toPage({ kind: "ready", v: PROTOCOL });
})();
