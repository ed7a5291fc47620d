//! Integration tests on the real stack: pcscd + vpcd + the virtual card + the host binary,
//! driven over stdin/stdout exactly as a browser drives it. They need `pcscd` and
//! `vsmartcard-vpcd` installed and root (or a writable /run/pcscd); without them they fail.

mod support;

use std::time::Duration;

use nhi_bridge::config::DEV_EXTENSION_ID;
use nhi_protocol::card_proof::{
    verify, CardMac, CardRecord, MasterKey, Nonce, TEST_MASTER_KEY_HEX,
};
use nhi_protocol::CardBasicData;
use serde_json::{json, Value};
use support::{err_code, ok, CardOpts, Host, Readers, Stack, TEST_ORIGIN};

fn holders() -> Vec<CardBasicData> {
    nhi_bridge::vcard::load_holders(&nhi_bridge::vcard::default_holders_path())
        .expect("sample holders")
}

fn read(host: &mut Host) -> Value {
    host.request(json!({"type": "read_basic_data"}))
}

fn proof(host: &mut Host, origin: Option<&str>, nonce: &Nonce) -> Value {
    host.request_with(
        origin,
        json!({"type": "card_proof", "nonce": nonce.to_string()}),
        &mut Vec::new(),
    )
}

fn master() -> MasterKey {
    MasterKey::from_hex(TEST_MASTER_KEY_HEX).expect("test key")
}

#[test]
fn reads_the_basic_data_of_every_card_model() {
    let hs = holders();
    for (model, holder) in [
        ("classic", &hs[0]),
        ("get-response", &hs[1]),
        ("select-6d00", &hs[4]),
    ] {
        let stack = Stack::start_with(
            Readers::Vpcd,
            Some(CardOpts {
                holder: Some(holder.national_id.to_string()),
                model,
                inserted: true,
                ..CardOpts::default()
            }),
        );
        let mut host = stack.host().ready();
        let r = read(&mut host);
        let got: CardBasicData =
            serde_json::from_value(ok(&r)["data"].clone()).expect("basic data decodes");
        assert_eq!(&got, holder, "model {model}");
        assert_eq!(ok(&r)["reader"], "Virtual PCD 00 00");
        assert_eq!(host.exit_code(), Some(0));
    }
}

#[test]
fn card_proof_verifies_only_for_its_origin_and_nonce() {
    let stack = Stack::start();
    let mut host = stack.host().ready();
    let nonce = Nonce([0x5A; 32]);
    let r = proof(&mut host, Some(TEST_ORIGIN), &nonce);
    let p = ok(&r);
    assert_eq!(p["origin"], TEST_ORIGIN);
    let card: CardRecord = serde_json::from_value(p["record"].clone()).expect("record");
    let mac: CardMac = serde_json::from_value(p["mac"].clone()).expect("mac");
    // The record is the card's own, byte for byte.
    assert_eq!(card.decode().expect("decodes"), holders()[0]);
    // The protocol crate's verifier (what the server's card authority runs) accepts it ...
    assert_eq!(verify(&master(), &card, TEST_ORIGIN, &nonce, &mac), Ok(()));
    // ... but not for another origin (a relay from a phishing site) ...
    assert!(verify(
        &master(),
        &card,
        "https://nhi.example.evil.test",
        &nonce,
        &mac
    )
    .is_err());
    // ... nor replayed against the next challenge the server issues ...
    assert!(verify(&master(), &card, TEST_ORIGIN, &Nonce([0x5B; 32]), &mac).is_err());
    // ... nor paired with another person's record (same card number, another ID number).
    let mut forged = card;
    forged.0[32..42].copy_from_slice(holders()[1].national_id.as_str().as_bytes());
    assert!(verify(&master(), &forged, TEST_ORIGIN, &nonce, &mac).is_err());
    // A proof computed through another allowed origin does not verify for ours.
    let other = ok(&proof(&mut host, Some("http://127.0.0.1:8080"), &nonce)).clone();
    let other_mac: CardMac = serde_json::from_value(other["mac"].clone()).expect("mac");
    assert_ne!(other_mac, mac);
    assert!(verify(&master(), &card, TEST_ORIGIN, &nonce, &other_mac).is_err());
    // Origins the bridge does not serve, or none at all, are refused before the card is used.
    assert_eq!(
        err_code(&proof(&mut host, Some("https://evil.example"), &nonce)),
        "origin_not_allowed"
    );
    assert_eq!(
        err_code(&proof(&mut host, None, &nonce)),
        "origin_not_allowed"
    );
    // Still serving.
    ok(&read(&mut host));
}

#[test]
fn no_reader() {
    let stack = Stack::start_with(Readers::None, None);
    let mut host = stack.host().ready();
    assert_eq!(err_code(&read(&mut host)), "no_reader");
    assert_eq!(
        err_code(&proof(&mut host, Some(TEST_ORIGIN), &Nonce([1; 32]))),
        "no_reader"
    );
    let st = host.request(json!({"type": "status"}));
    assert_eq!(ok(&st)["service"], "running");
    assert_eq!(ok(&st)["readers"], json!([]));
    let (code, text) = stack.doctor();
    assert_eq!(code, 3, "{text}");
    assert!(
        text.contains("請接上讀卡機") && text.contains("Plug in the card reader"),
        "{text}"
    );
}

#[test]
fn no_card_then_inserted() {
    let stack = Stack::start_with(
        Readers::Vpcd,
        Some(CardOpts {
            inserted: false,
            ..CardOpts::default()
        }),
    );
    let mut host = stack.host().ready();
    assert_eq!(err_code(&read(&mut host)), "no_card");
    let st = host.request(json!({"type": "status"}));
    assert_eq!(ok(&st)["readers"][0]["card"], "empty");
    let (code, text) = stack.doctor();
    assert_eq!(code, 4, "{text}");
    assert!(
        text.contains("讀卡機內沒有卡片") && text.contains("Insert the NHI card"),
        "{text}"
    );
    stack.insert_card();
    ok(&read(&mut host));
}

#[test]
fn sigusr1_pulls_and_reinserts_the_virtual_card() {
    let stack = Stack::start();
    let mut host = stack.host().ready();
    stack.signal_card(libc::SIGUSR1);
    stack.wait_card(false);
    assert_eq!(err_code(&read(&mut host)), "no_card");
    stack.signal_card(libc::SIGUSR1);
    stack.wait_card(true);
    ok(&read(&mut host));
}

#[test]
fn card_removed_mid_read_then_reinserted() {
    let stack = Stack::start();
    let mut host = stack.host().ready();
    ok(&read(&mut host));
    stack.ctl("fault remove-on-read");
    assert_eq!(err_code(&read(&mut host)), "card_removed");
    stack.wait_card(false);
    assert_eq!(err_code(&read(&mut host)), "no_card");
    stack.insert_card();
    ok(&read(&mut host));
}

#[test]
fn a_hanging_card_times_out_and_the_host_recovers() {
    let stack = Stack::start();
    let mut host = stack.host().ready();
    // The harness configures request_timeout_ms = 2000; the card hangs longer than that.
    stack.ctl("fault stall-on-read 2600");
    let t = std::time::Instant::now();
    let r = read(&mut host);
    assert_eq!(err_code(&r), "timeout");
    assert!(
        t.elapsed() < Duration::from_millis(2500),
        "answered at the deadline, not when the card woke up"
    );
    // The late answer is dropped; the next request gets its own reply.
    ok(&read(&mut host));
}

#[test]
fn pcscd_stopped_and_restarted_under_a_running_host() {
    let mut stack = Stack::start();
    let mut host = stack.host().ready();
    ok(&read(&mut host));
    stack.stop_pcscd();
    assert_eq!(err_code(&read(&mut host)), "pcsc_not_running");
    assert_eq!(
        err_code(&proof(&mut host, Some(TEST_ORIGIN), &Nonce([2; 32]))),
        "pcsc_not_running"
    );
    let st = host.request(json!({"type": "status"}));
    assert_eq!(ok(&st)["service"], "not_running");
    let (code, text) = stack.doctor();
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("systemctl start pcscd"), "{text}");
    // pcscd comes back; the card reconnects to vpcd by itself; the same host serves again.
    stack.start_pcscd();
    stack.wait_card(true);
    ok(&read(&mut host));
}

#[test]
fn oversize_and_garbage_frames_get_their_own_codes_and_the_host_keeps_serving() {
    let stack = Stack::start();
    let mut host = stack.host();
    // Before the handshake: anything else is refused.
    assert_eq!(err_code(&read(&mut host)), "bad_request");
    host.hello();
    // Oversize (over 8 KiB): skipped, answered, stream stays in step.
    let big = format!(
        "{{\"v\":1,\"id\":99,\"cmd\":{{\"type\":\"status\"}},\"pad\":\"{}\"}}",
        "x".repeat(9000)
    );
    host.send_raw(&nhi_bridge::framing::encode_frame(big.as_bytes()));
    let r = host.recv();
    assert_eq!(err_code(&r), "frame_too_large");
    assert_eq!(r["id"], Value::Null);
    // Garbage bytes, an empty frame, JSON that is not a command, an unknown command.
    for garbage in [
        &b"\xff\xfe\x00garbage"[..],
        b"",
        b"[1,2,3]",
        b"{\"v\":2,\"id\":5,\"cmd\":{\"type\":\"format_card\"}}",
    ] {
        host.send_raw(&nhi_bridge::framing::encode_frame(garbage));
        assert_eq!(
            err_code(&host.recv()),
            "bad_request",
            "{:?}",
            String::from_utf8_lossy(garbage)
        );
    }
    // A newer protocol version than this bridge speaks.
    host.send(&json!({"v": 3, "id": 6, "cmd": {"type": "status"}}));
    let r = host.recv();
    assert_eq!(
        (err_code(&r), r["id"].clone()),
        ("bridge_version".to_string(), json!(6))
    );
    // An extension of protocol 1 (whose card proofs the server no longer accepts) is told to
    // update, not failed obscurely.
    host.send(&json!({"v": 1, "id": 7, "cmd": {"type": "card_proof", "nonce": "00".repeat(32)}}));
    let r = host.recv();
    assert_eq!(
        (err_code(&r), r["id"].clone()),
        ("extension_version".to_string(), json!(7))
    );
    ok(&read(&mut host));
    assert_eq!(host.exit_code(), Some(0));
}

#[test]
fn other_cards_and_busy_cards_are_told_apart() {
    let stack = Stack::start_with(
        Readers::Vpcd,
        Some(CardOpts {
            model: "not-nhi",
            ..CardOpts::default()
        }),
    );
    let mut host = stack.host().ready();
    assert_eq!(err_code(&read(&mut host)), "not_nhi_card");
    drop(host);
    drop(stack);

    let stack = Stack::start();
    let mut host = stack.host().ready();
    // Another program holds the card exclusively (PC/SC sharing violation).
    let ctx = pcsc::Context::establish(pcsc::Scope::User).expect("context");
    let reader = std::ffi::CString::new("Virtual PCD 00 00").expect("name");
    let holder = ctx
        .connect(&reader, pcsc::ShareMode::Exclusive, pcsc::Protocols::ANY)
        .expect("exclusive connect");
    assert_eq!(err_code(&read(&mut host)), "card_busy");
    let st = host.request(json!({"type": "status"}));
    assert_eq!(ok(&st)["readers"][0]["card"], "in_use");
    // The host waits for the release (within its busy timeout) instead of failing.
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let _ = holder.disconnect(pcsc::Disposition::LeaveCard);
    });
    ok(&read(&mut host));
    release.join().expect("release");
}

/// The types of the events the host pushes, up to and with the first `last` (or until none
/// comes for 5 s).
fn events_until(host: &mut Host, last: &str) -> Vec<String> {
    let mut seen = Vec::new();
    while let Some(ev) = host.try_recv(Duration::from_secs(5)) {
        let t = ev["event"]["type"].as_str().unwrap_or_default().to_string();
        seen.push(t.clone());
        if t == last {
            break;
        }
    }
    seen
}

#[test]
fn events_for_card_insert_remove_and_service_stop() {
    let mut stack = Stack::start();
    let mut host = stack.host().ready();
    let sub = host.request(json!({"type": "subscribe"}));
    assert_eq!(ok(&sub)["type"], "subscribed");
    assert_eq!(ok(&sub)["readers"][0]["card"], "present");
    assert_eq!(ok(&sub)["readers"][0]["kind"], "nhi");
    stack.ctl("remove");
    let ev = host.recv();
    assert_eq!(
        ev["event"],
        json!({"type": "card_removed", "reader": "Virtual PCD 00 00"})
    );
    stack.ctl("insert");
    let ev = host.recv();
    assert_eq!(
        ev["event"],
        json!({"type": "card_inserted", "reader": "Virtual PCD 00 00", "kind": "nhi"})
    );
    stack.stop_pcscd();
    let seen = events_until(&mut host, "service_stopped");
    assert_eq!(
        seen.last().map(String::as_str),
        Some("service_stopped"),
        "{seen:?}"
    );
    stack.start_pcscd();
    let seen = events_until(&mut host, "card_inserted");
    assert_eq!(
        seen.first().map(String::as_str),
        Some("service_started"),
        "{seen:?}"
    );
    assert!(seen.contains(&"reader_added".to_string()), "{seen:?}");
    assert_eq!(
        seen.last().map(String::as_str),
        Some("card_inserted"),
        "{seen:?}"
    );
    let r = host.request(json!({"type": "unsubscribe"}));
    assert_eq!(ok(&r)["type"], "unsubscribed");
    stack.ctl("remove");
    assert!(
        host.try_recv(Duration::from_millis(1500)).is_none(),
        "no events after unsubscribe"
    );
}

#[test]
fn only_the_configured_extension_may_start_the_host() {
    let stack = Stack::start();
    let mut host = Host::spawn(
        &stack.dir,
        &format!("chrome-extension://{}/", "a".repeat(32)),
    );
    let r = host.recv();
    assert_eq!(err_code(&r), "origin_not_allowed");
    assert_eq!(host.exit_code(), Some(1));
    // Firefox's calling convention (manifest path, add-on id) with an unknown add-on id ...
    let manifest = "/usr/lib/mozilla/native-messaging-hosts/tw.nhi.card_bridge.json";
    let mut host = Host::spawn_args(&stack.dir, &[manifest, "evil@example.org"]);
    assert_eq!(err_code(&host.recv()), "origin_not_allowed");
    assert_eq!(host.exit_code(), Some(1));
    // ... and with the configured one.
    let mut host = Host::spawn_args(
        &stack.dir,
        &[manifest, nhi_bridge::config::FIREFOX_EXTENSION_ID],
    )
    .ready();
    ok(&read(&mut host));
    assert_eq!(host.exit_code(), Some(0));
    // Arguments no browser passes: usage on stderr, exit 2, nothing on stdout.
    let mut host = Host::spawn_args(&stack.dir, &["--bogus"]);
    assert!(host.try_recv(Duration::from_secs(5)).is_none(), "no frames");
    assert_eq!(host.exit_code(), Some(2));
    // The log went to the log file, nothing but frames to stdout.
    let log = support::read_text(&stack.dir.join("host.log"));
    assert!(log.contains("caller not allowed"), "{log}");
    let _ = DEV_EXTENSION_ID;
}

#[test]
fn doctor_says_all_is_well() {
    let stack = Stack::start();
    let (code, text) = stack.doctor();
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("一切正常") && text.contains("all is well"),
        "{text}"
    );
    assert!(text.contains("0000****5678"), "masked card number: {text}");
    assert!(!text.contains("A123456789"), "the ID is masked: {text}");
}

#[test]
fn install_writes_a_manifest_the_browser_accepts() {
    let dir = std::env::temp_dir().join(format!("nhi-bridge-install-it-{}", std::process::id()));
    let out = std::process::Command::new(support::BRIDGE)
        .args(["install", "--profile"])
        .arg(&dir)
        .env("HOME", &dir)
        .output()
        .expect("install");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = dir.join("NativeMessagingHosts/tw.nhi.card_bridge.json");
    let m: Value =
        serde_json::from_slice(&std::fs::read(&file).expect("manifest written")).expect("json");
    assert_eq!(m["path"], support::BRIDGE);
    assert_eq!(
        m["allowed_origins"],
        json!([format!("chrome-extension://{DEV_EXTENSION_ID}/")])
    );
    let out = std::process::Command::new(support::BRIDGE)
        .args(["uninstall", "--profile"])
        .arg(&dir)
        .env("HOME", &dir)
        .output()
        .expect("uninstall");
    assert!(out.status.success());
    assert!(!file.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- issue 12: the citizen certificate card -------------------------------------------------

mod certificate {
    use super::*;
    use base64::Engine as _;
    use nhi_protocol::apdu::{compute_signature, split_response, StatusWord, SELECT_PKI};
    use nhi_protocol::certificate::signed_data;
    use nhi_testpki::TestPki;
    use std::path::PathBuf;
    use std::sync::OnceLock;
    use std::time::Instant;
    use support::read_text;

    const PIN: &str = "123456";

    /// One test PKI per test process (generated at run time by nhi-testpki).
    fn pki_dir() -> PathBuf {
        static DIR: OnceLock<PathBuf> = OnceLock::new();
        DIR.get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("nhi-bridge-pki-{}", std::process::id()));
            TestPki::init(&dir).expect("test PKI");
            dir
        })
        .clone()
    }

    fn pki() -> TestPki {
        TestPki::load(pki_dir()).expect("test PKI loads")
    }

    fn stack_with(label: &str) -> Stack {
        Stack::start_with(
            Readers::Vpcd,
            Some(CardOpts {
                pki: Some(pki_dir()),
                certificate: Some(label.into()),
                ..CardOpts::default()
            }),
        )
    }

    fn authenticate(host: &mut Host, nonce: &Nonce) -> u32 {
        host.send_cmd(
            Some(TEST_ORIGIN),
            json!({"type": "authenticate", "nonce": nonce.to_string()}),
        )
    }

    fn b64(v: &Value) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64 string"))
            .expect("base64")
    }

    fn getpins(stack: &Stack) -> usize {
        read_text(&stack.pin_log())
            .lines()
            .filter(|l| *l == "GETPIN")
            .count()
    }

    /// Waits until the scripted pinentry has been asked `n` times in all.
    fn wait_getpin(stack: &Stack, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while getpins(stack) < n {
            assert!(Instant::now() < deadline, "the PIN dialog did not open");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn tries(stack: &Stack, label: &str) -> String {
        stack.ctl(&format!("tries {label}"))
    }

    #[test]
    fn the_certificate_is_read_and_the_two_cards_are_told_apart() {
        let pki = pki();
        let stack = stack_with("wang");
        let mut host = stack.host().ready();
        let st = host.request(json!({"type": "status"}));
        assert_eq!(ok(&st)["readers"][0]["kind"], "certificate", "{st}");
        let r = host.request(json!({"type": "certificate"}));
        assert_eq!(
            b64(&ok(&r)["certificate"]),
            pki.card("wang").expect("wang").der()
        );
        assert_eq!(ok(&r)["reader"], "Virtual PCD 00 00");
        // An NHI command on the certificate card.
        assert_eq!(err_code(&read(&mut host)), "not_nhi_card");
        // The doctor recognises the certificate card.
        let (code, text) = stack.doctor();
        assert_eq!(code, 0, "{text}");
        assert!(text.contains("自然人憑證卡可讀取"), "{text}");
        assert!(
            text.contains("citizen certificate card is readable"),
            "{text}"
        );

        // Swap in an NHI card: the event and the status say which card it is.
        ok(&host.request(json!({"type": "subscribe"})));
        stack.ctl(&format!("holder {}", holders()[0].national_id.as_str()));
        let kind = wait_inserted(&mut host);
        assert_eq!(kind, "nhi");
        let st = host.request(json!({"type": "status"}));
        assert_eq!(ok(&st)["readers"][0]["kind"], "nhi", "{st}");
        assert_eq!(
            err_code(&host.request(json!({"type": "certificate"}))),
            "not_certificate_card"
        );
        // authenticate on the NHI card: refused before any PIN dialog opens.
        let id = authenticate(&mut host, &Nonce([1; 32]));
        assert_eq!(
            err_code(&host.reply_to(id, Duration::from_secs(10))),
            "not_certificate_card"
        );
        assert_eq!(getpins(&stack), 0);
        ok(&read(&mut host));

        stack.ctl("certificate huang");
        assert_eq!(wait_inserted(&mut host), "certificate");
        let r = host.request(json!({"type": "certificate"}));
        assert_eq!(
            b64(&ok(&r)["certificate"]),
            pki.card("huang").expect("huang").der()
        );
        // The RSA card is refused by the virtual card (ES256 only); unknown labels too.
        assert!(stack.ctl_raw("certificate huang-rsa").starts_with("error"));
        assert!(stack.ctl_raw("certificate nobody").starts_with("error"));
    }

    fn wait_inserted(host: &mut Host) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = host.try_recv(left).expect("card_inserted event");
            if m["kind"] == "event" && m["event"]["type"] == "card_inserted" {
                return m["event"]["kind"].as_str().unwrap_or("").to_string();
            }
        }
    }

    #[test]
    fn authenticate_signs_the_origin_and_nonce_and_no_later_signature_rides_on_the_pin() {
        let pki = pki();
        let card = pki.card("wang").expect("wang");
        let stack = stack_with("wang");
        let mut host = stack.host().ready();
        let nonce = Nonce([0x3C; 32]);
        stack.queue_pin(&format!("pin {PIN}"));
        let id = authenticate(&mut host, &nonce);
        let r = host.reply_to(id, Duration::from_secs(20));
        let a = ok(&r);
        assert_eq!(a["type"], "authenticate");
        assert_eq!(a["origin"], TEST_ORIGIN);
        assert_eq!(a["algorithm"], "ES256");
        assert_eq!(b64(&a["certificate"]), card.der());
        let sig = b64(&a["signature"]);
        assert_eq!(sig.len(), 64);
        // The signature verifies over signed_data(origin, nonce) with the certificate's key…
        assert!(card.verify(&signed_data(TEST_ORIGIN, &nonce), &sig));
        // …and not for another origin or nonce.
        assert!(!card.verify(&signed_data("https://nhi.example.evil", &nonce), &sig));
        assert!(!card.verify(&signed_data(TEST_ORIGIN, &Nonce([0x3D; 32])), &sig));

        // The dialog named the origin; the PIN is in no log.
        let shown = read_text(&stack.pin_log());
        assert!(
            shown
                .lines()
                .any(|l| l.starts_with("SETDESC ") && l.contains(TEST_ORIGIN)),
            "{shown}"
        );
        assert!(!shown.contains(PIN), "{shown}");
        let log = read_text(&stack.dir.join("host.log"));
        assert!(log.contains("authenticate"), "{log}");
        assert!(!log.contains(PIN), "the PIN is in the host log:\n{log}");

        // Another program on the reader cannot sign on that PIN: the host reset the card.
        let ctx = pcsc::Context::establish(pcsc::Scope::User).expect("pcsc");
        let reader = std::ffi::CString::new("Virtual PCD 00 00").expect("name");
        let raw = ctx
            .connect(&reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
            .expect("connect");
        let mut buf = [0u8; 300];
        let r = raw.transmit(&SELECT_PKI, &mut buf).expect("select");
        assert_eq!(split_response(r).expect("sw").1, StatusWord::OK);
        let r = raw
            .transmit(&compute_signature(&[0x11; 32]), &mut buf)
            .expect("sign");
        assert_eq!(
            split_response(r).expect("sw").1,
            StatusWord::SECURITY_NOT_SATISFIED,
            "a signature without a fresh PIN must fail"
        );
        let _ = raw.disconnect(pcsc::Disposition::LeaveCard);

        // A second authenticate needs the PIN again.
        stack.queue_pin(&format!("pin {PIN}"));
        let id = authenticate(&mut host, &Nonce([0x3E; 32]));
        ok(&host.reply_to(id, Duration::from_secs(20)));
        assert_eq!(getpins(&stack), 2);
    }

    #[test]
    fn wrong_pins_count_down_then_block_and_the_counter_outlives_removal() {
        let stack = stack_with("huang");
        let mut host = stack.host().ready();
        stack.queue_pin("pin 000000");
        let id = authenticate(&mut host, &Nonce([1; 32]));
        let r = host.reply_to(id, Duration::from_secs(20));
        assert_eq!(err_code(&r), "pin_wrong");
        assert_eq!(r["result"]["err"]["tries_left"], 2, "{r}");
        // The counter is the card's: out and back in, it still says 2.
        stack.remove_card();
        stack.insert_card();
        assert_eq!(tries(&stack, "huang"), "ok 2");
        stack.queue_pin("pin 111111");
        let id = authenticate(&mut host, &Nonce([2; 32]));
        let r = host.reply_to(id, Duration::from_secs(20));
        assert_eq!(r["result"]["err"]["tries_left"], 1, "{r}");
        // The second dialog said how many tries were left before it.
        let shown = read_text(&stack.pin_log());
        assert!(
            shown
                .lines()
                .any(|l| l.starts_with("SETERROR ") && l.contains("2 tries left")),
            "{shown}"
        );
        stack.queue_pin("pin 222222");
        let id = authenticate(&mut host, &Nonce([3; 32]));
        assert_eq!(
            err_code(&host.reply_to(id, Duration::from_secs(20))),
            "pin_blocked"
        );
        // Blocked: even the right PIN is refused, and no dialog opens any more.
        let asked = getpins(&stack);
        let id = authenticate(&mut host, &Nonce([4; 32]));
        assert_eq!(
            err_code(&host.reply_to(id, Duration::from_secs(20))),
            "pin_blocked"
        );
        assert_eq!(getpins(&stack), asked);
        // The test hook unblocks; the right PIN works again.
        stack.ctl("unblock huang");
        stack.queue_pin(&format!("pin {PIN}"));
        let id = authenticate(&mut host, &Nonce([5; 32]));
        ok(&host.reply_to(id, Duration::from_secs(20)));
        assert_eq!(tries(&stack, "huang"), "ok 3");
        let log = read_text(&stack.dir.join("host.log"));
        for pin in [PIN, "000000", "111111", "222222"] {
            assert!(!log.contains(pin), "a PIN is in the host log:\n{log}");
        }
    }

    #[test]
    fn cancel_in_the_dialog_or_from_the_page() {
        let stack = stack_with("wang");
        let mut host = stack.host().ready();
        // The person presses Cancel.
        stack.queue_pin("cancel");
        let id = authenticate(&mut host, &Nonce([1; 32]));
        assert_eq!(
            err_code(&host.reply_to(id, Duration::from_secs(20))),
            "cancelled"
        );
        // The page cancels while the dialog waits: the cancel answers at once, the request
        // `cancelled`, and the dialog is gone.
        let id = authenticate(&mut host, &Nonce([2; 32]));
        wait_getpin(&stack, 2);
        let started = Instant::now();
        let c = host.send_cmd(None, json!({"type": "cancel", "request": id}));
        let mut replies = [host.recv(), host.recv()];
        replies.sort_by_key(|m| m["id"].as_u64());
        assert_eq!(replies[0]["id"], json!(id));
        assert_eq!(err_code(&replies[0]), "cancelled");
        assert_eq!(replies[1]["id"], json!(c));
        assert_eq!(ok(&replies[1])["type"], "cancelled");
        assert!(started.elapsed() < Duration::from_secs(3));
        // Cancelling something that is not running is harmless.
        let c = host.send_cmd(None, json!({"type": "cancel", "request": 999}));
        assert_eq!(
            ok(&host.reply_to(c, Duration::from_secs(5)))["type"],
            "cancelled"
        );
        // The host still serves, and the card's tries are untouched.
        assert_eq!(tries(&stack, "wang"), "ok 3");
        stack.queue_pin(&format!("pin {PIN}"));
        let id = authenticate(&mut host, &Nonce([3; 32]));
        ok(&host.reply_to(id, Duration::from_secs(20)));
    }

    #[test]
    fn card_removed_while_the_dialog_is_open() {
        let stack = stack_with("wang");
        let mut host = stack.host().ready();
        let id = authenticate(&mut host, &Nonce([1; 32]));
        wait_getpin(&stack, 1);
        stack.remove_card();
        stack.queue_pin(&format!("pin {PIN}"));
        assert_eq!(
            err_code(&host.reply_to(id, Duration::from_secs(20))),
            "card_removed"
        );
        assert_eq!(tries(&stack, "wang"), "ok 3");
    }

    #[test]
    fn no_pin_dialog_and_origins_not_served() {
        let stack = stack_with("wang");
        let config = stack.dir.join("host-config.json");
        let mut c: Value = serde_json::from_str(&read_text(&config)).expect("config");
        c["pinentry"] = json!("/nonexistent/pinentry");
        std::fs::write(&config, c.to_string()).expect("config");
        let mut host = stack.host().ready();
        let id = authenticate(&mut host, &Nonce([1; 32]));
        assert_eq!(
            err_code(&host.reply_to(id, Duration::from_secs(20))),
            "pin_dialog_unavailable"
        );
        // The origin comes from the extension and must be allowed; a message cannot name
        // the pinentry (unknown fields are refused).
        let id = host.send_cmd(
            Some("https://evil.example"),
            json!({"type": "authenticate", "nonce": Nonce([1; 32]).to_string()}),
        );
        assert_eq!(
            err_code(&host.reply_to(id, Duration::from_secs(5))),
            "origin_not_allowed"
        );
        let id = host.send_cmd(
            None,
            json!({"type": "authenticate", "nonce": Nonce([1; 32]).to_string()}),
        );
        assert_eq!(
            err_code(&host.reply_to(id, Duration::from_secs(5))),
            "origin_not_allowed"
        );
        let id = host.send_cmd(
            Some(TEST_ORIGIN),
            json!({"type": "authenticate", "nonce": Nonce([1; 32]).to_string(), "pinentry": "/bin/sh"}),
        );
        assert_eq!(
            err_code(&host.reply_to(id, Duration::from_secs(5))),
            "bad_request"
        );
        assert_eq!(tries(&stack, "wang"), "ok 3");
    }
}
