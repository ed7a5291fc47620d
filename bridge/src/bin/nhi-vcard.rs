//! `nhi-vcard`: a virtual NHI card for pcscd's vpcd driver (tests and the demo).
//!
//! ```text
//! nhi-vcard [run] [--holder ID|CARD_NO|INDEX] [--holders FILE] [--model classic|get-response|select-6d00|not-nhi]
//!                 [--pki DIR [--certificate LABEL]]
//!                 [--port 35963] [--host 127.0.0.1] [--control SOCKET] [--master-key HEX]
//!                 [--absent] [--no-quickack] [-v]
//! nhi-vcard ctl --control SOCKET insert|remove|toggle|status|quit|holder ID|fault remove-on-read|fault stall-on-read MS|fault none
//!                                |certificate LABEL|unblock LABEL|tries LABEL
//! nhi-vcard wait [--reader NAME] --present|--absent [--timeout-ms N]
//! ```
//!
//! `--pki DIR` loads the test PKI's certificate cards (`DIR/pki.json`, `nhi-testpki init`);
//! `--certificate LABEL` starts with that certificate card in the reader instead of the NHI
//! card. `certificate LABEL` swaps in a certificate card, `holder ID` an NHI card; the PIN
//! retry counter of every certificate card persists while nhi-vcard runs (across swaps,
//! `remove`/`insert` and resets), `unblock LABEL` restores its 3 tries and `tries LABEL`
//! answers `ok <tries left>`. `status` answers `ok inserted|removed connected|not-connected
//! <card number | cert:LABEL>`.
//!
//! SIGUSR1 toggles remove/insert (closes/reopens the connection to vpcd); SIGTERM/SIGINT quit.
//! If vpcd is not listening (pcscd stopped) the card reconnects every 100 ms.

#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match imp::main(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nhi-vcard: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(unix)]
mod imp {
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Write};
    use std::net::{Shutdown, TcpStream};
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::path::PathBuf;
    use std::sync::{Arc, Condvar, Mutex, MutexGuard};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use nhi_bridge::certcard::{CertificateCard, PinCounter, Pki};
    use nhi_bridge::pcscd::{self, VPCD_PORT, VPCD_READER};
    use nhi_bridge::vcard::{self, Applet, Fault, Model, QuickAckStream, VirtualCard};
    use nhi_protocol::card_proof::{MasterKey, TEST_MASTER_KEY_HEX};
    use nhi_protocol::CardBasicData;
    use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
    use signal_hook::iterator::Signals;

    fn log(msg: &str) {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        eprintln!(
            "[{}.{:06}] nhi-vcard[{}]: {msg}",
            t.as_secs(),
            t.subsec_micros(),
            std::process::id()
        );
    }

    fn value(it: &mut std::slice::Iter<'_, String>, flag: &str) -> Result<String, String> {
        it.next()
            .cloned()
            .ok_or_else(|| format!("{flag} needs a value"))
    }

    pub fn main(args: Vec<String>) -> Result<(), String> {
        match args.first().map(String::as_str) {
            Some("ctl") => ctl(&args[1..]),
            Some("wait") => wait(&args[1..]),
            Some("run") => run(&args[1..]),
            Some("-h" | "--help") => {
                eprintln!("see `nhi-vcard` in bridge/README.md");
                Ok(())
            }
            _ => run(&args),
        }
    }

    fn wait(args: &[String]) -> Result<(), String> {
        let mut reader = VPCD_READER.to_string();
        let mut present = true;
        let mut timeout = Duration::from_secs(10);
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--reader" => reader = value(&mut it, a)?,
                "--present" => present = true,
                "--absent" => present = false,
                "--timeout-ms" => {
                    timeout = Duration::from_millis(
                        value(&mut it, a)?.parse().map_err(|_| "bad --timeout-ms")?,
                    )
                }
                other => return Err(format!("unknown option {other:?}")),
            }
        }
        pcscd::wait_for_card(&reader, present, timeout).map_err(|e| {
            format!(
                "waiting for the card to be {} in {reader:?}: {e}",
                if present { "present" } else { "absent" }
            )
        })
    }

    fn ctl(args: &[String]) -> Result<(), String> {
        let mut socket: Option<PathBuf> = None;
        let mut words = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--control" => socket = Some(value(&mut it, a)?.into()),
                w => words.push(w.to_string()),
            }
        }
        let socket = socket.ok_or("--control SOCKET is required")?;
        let mut s = UnixStream::connect(&socket)
            .map_err(|e| format!("cannot reach the card at {}: {e}", socket.display()))?;
        writeln!(s, "{}", words.join(" ")).map_err(|e| e.to_string())?;
        let mut line = String::new();
        BufReader::new(s)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let line = line.trim();
        println!("{line}");
        if line.starts_with("ok") {
            Ok(())
        } else {
            Err(line.to_string())
        }
    }

    /// State shared by the connection loop, the signal thread and the control socket.
    struct Shared {
        want_present: bool,
        quit: bool,
        fault: Fault,
        next: Option<Next>,
        /// What the status line names: the card number, or `cert:LABEL`.
        playing: String,
        conn: Option<TcpStream>,
        connected: bool,
        /// Every certificate card's PIN retry counter, for the life of the process.
        counters: HashMap<String, PinCounter>,
    }

    /// The card to put in the reader next.
    enum Next {
        Nhi(CardBasicData),
        Certificate(String),
    }

    impl Shared {
        fn counter(&mut self, label: &str) -> PinCounter {
            self.counters.entry(label.to_string()).or_default().clone()
        }
    }

    struct State {
        inner: Mutex<Shared>,
        changed: Condvar,
        pki: Option<Pki>,
    }

    impl State {
        fn lock(&self) -> MutexGuard<'_, Shared> {
            self.inner.lock().unwrap_or_else(|p| p.into_inner())
        }
        /// Applies a control word; returns the reply line.
        fn control(&self, cmd: &str, holders: &[CardBasicData]) -> String {
            let mut s = self.lock();
            let words: Vec<&str> = cmd.split_whitespace().collect();
            let reply = match words.as_slice() {
                ["insert"] => {
                    s.want_present = true;
                    "ok inserting".to_string()
                }
                ["remove"] => {
                    pull(&mut s);
                    "ok removed".to_string()
                }
                ["toggle"] => {
                    if s.want_present {
                        pull(&mut s);
                        "ok removed".to_string()
                    } else {
                        s.want_present = true;
                        "ok inserting".to_string()
                    }
                }
                ["status"] => format!(
                    "ok {} {} {}",
                    if s.want_present {
                        "inserted"
                    } else {
                        "removed"
                    },
                    if s.connected {
                        "connected"
                    } else {
                        "not-connected"
                    },
                    s.playing
                ),
                ["quit"] => {
                    s.quit = true;
                    pull(&mut s);
                    "ok quitting".to_string()
                }
                ["fault", "remove-on-read"] => {
                    s.fault = Fault::RemoveOnRead;
                    "ok fault armed".to_string()
                }
                ["fault", "stall-on-read", ms] => match ms.parse::<u64>() {
                    Ok(ms) => {
                        s.fault = Fault::Stall(Duration::from_millis(ms));
                        "ok fault armed".to_string()
                    }
                    Err(_) => format!("error bad milliseconds {ms:?}"),
                },
                ["fault", "none"] => {
                    s.fault = Fault::None;
                    "ok no fault".to_string()
                }
                ["holder", which] => match vcard::pick_holder(holders, Some(which)) {
                    Ok(h) => {
                        // Swap cards: pull this one, the loop inserts the new one.
                        s.next = Some(Next::Nhi(h));
                        let was = s.want_present;
                        pull(&mut s);
                        s.want_present = was;
                        "ok swapped".to_string()
                    }
                    Err(e) => format!("error {e}"),
                },
                ["certificate", label] => match self.pki.as_ref().map(|p| p.card(label)) {
                    None => "error no test PKI loaded (start nhi-vcard with --pki DIR)".into(),
                    Some(Err(e)) => format!("error {e}"),
                    Some(Ok(_)) => {
                        s.next = Some(Next::Certificate(label.to_string()));
                        let was = s.want_present;
                        pull(&mut s);
                        s.want_present = was;
                        "ok swapped".to_string()
                    }
                },
                ["unblock", label] | ["tries", label] => {
                    match self.pki.as_ref().map(|p| p.card(label)) {
                        None => "error no test PKI loaded (start nhi-vcard with --pki DIR)".into(),
                        Some(Err(e)) => format!("error {e}"),
                        Some(Ok(_)) => {
                            let c = s.counter(label);
                            if words[0] == "unblock" {
                                c.unblock();
                                "ok unblocked".to_string()
                            } else {
                                format!("ok {}", c.tries_left())
                            }
                        }
                    }
                }
                _ => format!("error unknown command {cmd:?}"),
            };
            self.changed.notify_all();
            reply
        }
    }

    fn pull(s: &mut Shared) {
        s.want_present = false;
        if let Some(c) = s.conn.take() {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    fn run(args: &[String]) -> Result<(), String> {
        let mut holder_sel: Option<String> = None;
        let mut holders_path = vcard::default_holders_path();
        let mut model = Model::Classic;
        let mut host = "127.0.0.1".to_string();
        let mut port = VPCD_PORT;
        let mut control: Option<PathBuf> = None;
        let mut master_hex = TEST_MASTER_KEY_HEX.to_string();
        let mut present = true;
        let mut quickack = true;
        let mut verbose = false;
        let mut pki_dir: Option<PathBuf> = None;
        let mut certificate: Option<String> = None;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--holder" => holder_sel = Some(value(&mut it, a)?),
                "--holders" => holders_path = value(&mut it, a)?.into(),
                "--pki" => pki_dir = Some(value(&mut it, a)?.into()),
                "--certificate" => certificate = Some(value(&mut it, a)?),
                "--model" => {
                    let m = value(&mut it, a)?;
                    model = Model::parse(&m).ok_or(format!(
                        "unknown model {m:?} (classic, get-response, select-6d00, not-nhi)"
                    ))?;
                }
                "--host" => host = value(&mut it, a)?,
                "--port" => port = value(&mut it, a)?.parse().map_err(|_| "bad --port")?,
                "--control" => control = Some(value(&mut it, a)?.into()),
                "--master-key" => master_hex = value(&mut it, a)?,
                "--absent" => present = false,
                "--no-quickack" => quickack = false,
                "-v" | "--verbose" => verbose = true,
                other => return Err(format!("unknown option {other:?}")),
            }
        }
        let holders = vcard::load_holders(&holders_path).map_err(|e| e.to_string())?;
        let holder =
            vcard::pick_holder(&holders, holder_sel.as_deref()).map_err(|e| e.to_string())?;
        let master = MasterKey::from_hex(&master_hex).map_err(|e| format!("--master-key: {e}"))?;
        let pki = match &pki_dir {
            Some(d) => Some(Pki::load(d).map_err(|e| format!("--pki: {e}"))?),
            None => None,
        };
        if let Some(label) = &certificate {
            match &pki {
                Some(p) => {
                    p.card(label).map_err(|e| format!("--certificate: {e}"))?;
                }
                None => return Err("--certificate needs --pki DIR".into()),
            }
        }

        let state = Arc::new(State {
            inner: Mutex::new(Shared {
                want_present: present,
                quit: false,
                fault: Fault::None,
                next: certificate.clone().map(Next::Certificate),
                playing: holder.card_number.to_string(),
                conn: None,
                connected: false,
                counters: HashMap::new(),
            }),
            changed: Condvar::new(),
            pki,
        });

        // Signals.
        let mut signals =
            Signals::new([SIGUSR1, SIGTERM, SIGINT]).map_err(|e| format!("signals: {e}"))?;
        {
            let state = state.clone();
            let holders = holders.clone();
            std::thread::spawn(move || {
                for sig in signals.forever() {
                    let cmd = if sig == SIGUSR1 { "toggle" } else { "quit" };
                    let r = state.control(cmd, &holders);
                    log(&format!("signal {sig}: {r}"));
                }
            });
        }
        // Control socket.
        if let Some(path) = &control {
            let _ = std::fs::remove_file(path);
            let listener = UnixListener::bind(path)
                .map_err(|e| format!("control socket {}: {e}", path.display()))?;
            let state = state.clone();
            let holders = holders.clone();
            std::thread::spawn(move || {
                for conn in listener.incoming().flatten() {
                    let mut line = String::new();
                    let mut reader = BufReader::new(&conn);
                    if reader.read_line(&mut line).is_err() {
                        continue;
                    }
                    let reply = state.control(line.trim(), &holders);
                    if verbose {
                        log(&format!("control {:?}: {reply}", line.trim()));
                    }
                    let _ = writeln!(&conn, "{reply}");
                }
            });
        }

        log(&format!(
            "card {} ({:?}) for vpcd {host}:{port}",
            holder.card_number, model
        ));
        let mut card: Box<dyn Applet> =
            Box::new(VirtualCard::new(&holder, &master, model).map_err(|e| e.to_string())?);
        let mut unreachable_logged = false;
        loop {
            // Wait until the card should be in the reader.
            {
                let mut s = state.lock();
                while !s.quit && !s.want_present {
                    s = state.changed.wait(s).unwrap_or_else(|p| p.into_inner());
                }
                if s.quit {
                    log("exit");
                    break;
                }
                match s.next.take() {
                    Some(Next::Nhi(h)) => {
                        card = Box::new(
                            VirtualCard::new(&h, &master, model).map_err(|e| e.to_string())?,
                        );
                        log(&format!("now playing card {}", h.card_number));
                        s.playing = h.card_number.to_string();
                    }
                    Some(Next::Certificate(label)) => {
                        let counter = s.counter(&label);
                        let found = state.pki.as_ref().map(|p| p.card(&label));
                        match found {
                            Some(Ok(c)) => {
                                card = Box::new(CertificateCard::new(
                                    label.clone(),
                                    c.certificate.clone(),
                                    c.key.clone(),
                                    &c.pin,
                                    counter,
                                ));
                                log(&format!("now playing certificate card {label}"));
                                s.playing = format!("cert:{label}");
                            }
                            Some(Err(e)) => log(&format!("cannot play {label}: {e}")),
                            None => log("no test PKI loaded"),
                        }
                    }
                    None => {}
                }
            }
            let stream = match TcpStream::connect((host.as_str(), port)) {
                Ok(s) => s,
                Err(e) => {
                    if !unreachable_logged {
                        log(&format!("vpcd not reachable ({e}); retrying every 100 ms"));
                        unreachable_logged = true;
                    }
                    let s = state.lock();
                    let _ = state.changed.wait_timeout(s, Duration::from_millis(100));
                    continue;
                }
            };
            unreachable_logged = false;
            let _ = stream.set_nodelay(true);
            {
                let mut s = state.lock();
                s.conn = stream.try_clone().ok();
                s.connected = true;
                if !s.want_present || s.quit {
                    let _ = stream.shutdown(Shutdown::Both);
                }
            }
            log("card inserted");
            let mut io = QuickAckStream { stream, quickack };
            let fault_state = state.clone();
            let mut fault = move |apdu: &[u8]| {
                let mut s = fault_state.lock();
                // The READ command (INS CA) is where a "removed mid-read" is injected.
                if s.fault == Fault::None || apdu.get(1) != Some(&0xCA) {
                    return Fault::None;
                }
                let f = std::mem::replace(&mut s.fault, Fault::None);
                if f == Fault::RemoveOnRead {
                    s.want_present = false;
                }
                f
            };
            let mut logger = |m: String| {
                if verbose {
                    log(&m)
                }
            };
            let result = vcard::serve(&mut io, card.as_mut(), &mut fault, &mut logger);
            let _ = io.stream.shutdown(Shutdown::Both);
            card.reset();
            let still_wanted = {
                let mut s = state.lock();
                s.conn = None;
                s.connected = false;
                s.want_present && !s.quit
            };
            match result {
                Ok((st, _)) if !still_wanted => log(&format!(
                    "card removed (after {} APDUs, {} ATR polls)",
                    st.apdus, st.atr_polls
                )),
                Ok(_) => log("vpcd closed the connection (pcscd stopped?); reconnecting"),
                Err(e) if !still_wanted => log(&format!("card removed ({e})")),
                Err(e) => log(&format!("connection error: {e}; reconnecting")),
            }
            if still_wanted {
                // Avoid a hot loop if vpcd accepts and closes at once.
                let s = state.lock();
                let _ = state.changed.wait_timeout(s, Duration::from_millis(100));
            }
        }
        if let Some(path) = &control {
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }
}

#[cfg(not(unix))]
mod imp {
    pub fn main(_args: Vec<String>) -> Result<(), String> {
        Err("the virtual card needs vpcd (Linux/macOS)".into())
    }
}
