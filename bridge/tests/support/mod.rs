//! The real stack for integration tests and the benchmark: pcscd (started here, in the
//! foreground, by PID) + vpcd + the virtual card (`nhi-vcard`) + the host binary (`nhi-bridge`)
//! driven over stdin/stdout.
//!
//! pcscd is a machine-wide singleton, so every user takes the machine-wide lock
//! (`nhi_bridge::pcscd::lock`, shared with `scripts/vcard.sh`) and, inside this process, a
//! mutex. Missing pcscd/vpcd is a test failure with instructions, never a skip.
#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nhi_bridge::config::DEV_EXTENSION_ID;
use nhi_bridge::framing;
use nhi_bridge::pcscd::{self, VPCD_READER};
use serde_json::{json, Value};

pub const VCARD: &str = env!("CARGO_BIN_EXE_nhi-vcard");
pub const BRIDGE: &str = env!("CARGO_BIN_EXE_nhi-bridge");
pub const PINENTRY: &str = env!("CARGO_BIN_EXE_nhi-pinentry-script");
pub const TEST_ORIGIN: &str = "https://nhi.example";

const PCSCD_SOCKET: &str = "/run/pcscd/pcscd.comm";
const PCSCD_PIDFILE: &str = "/run/pcscd/pcscd.pid";
const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
const VPCD_CONF: &str = "/etc/reader.conf.d";

static SERIAL: Mutex<()> = Mutex::new(());

fn find_pcscd() -> PathBuf {
    for p in [
        "/usr/sbin/pcscd",
        "/usr/bin/pcscd",
        "/sbin/pcscd",
        "/usr/local/sbin/pcscd",
    ] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    panic!("pcscd is not installed. These tests need the real PC/SC stack: apt-get install -y pcscd vsmartcard-vpcd libpcsclite-dev");
}

/// Whether `pid` runs (not a zombie).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

fn other_pcscd() -> Option<u32> {
    let raw = std::fs::read(PCSCD_PIDFILE).ok()?;
    let text: String = raw
        .iter()
        .filter(|b| b.is_ascii_digit())
        .map(|&b| b as char)
        .collect();
    let pid: u32 = text.parse().ok()?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    (alive(pid) && comm.trim() == "pcscd").then_some(pid)
}

/// Which readers pcscd offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readers {
    /// vpcd's two virtual readers (the system reader.conf.d).
    Vpcd,
    /// None at all (an empty reader.conf.d).
    None,
}

/// How the virtual card starts.
#[derive(Debug, Clone)]
pub struct CardOpts {
    pub holder: Option<String>,
    pub model: &'static str,
    pub inserted: bool,
    /// A test PKI directory (`nhi-vcard --pki`).
    pub pki: Option<PathBuf>,
    /// Start with this certificate card in the reader (`--certificate`).
    pub certificate: Option<String>,
}

impl Default for CardOpts {
    fn default() -> Self {
        Self {
            holder: None,
            model: "classic",
            inserted: true,
            pki: None,
            certificate: None,
        }
    }
}

pub struct Stack {
    _serial: MutexGuard<'static, ()>,
    _lock: File,
    pub dir: PathBuf,
    readers: Readers,
    pcscd: Option<Child>,
    card: Option<Child>,
    pub control: PathBuf,
}

impl Stack {
    /// pcscd with vpcd and an inserted classic card.
    pub fn start() -> Stack {
        Self::start_with(Readers::Vpcd, Some(CardOpts::default()))
    }

    pub fn start_with(readers: Readers, card: Option<CardOpts>) -> Stack {
        let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        find_pcscd();
        assert!(
            Path::new(VPCD_DRIVER).exists(),
            "vsmartcard-vpcd is not installed ({VPCD_DRIVER} missing): apt-get install -y vsmartcard-vpcd"
        );
        let lock = pcscd::lock(Duration::from_secs(120)).unwrap_or_else(|e| {
            panic!("{e}. Stop the other user of pcscd first (scripts/vcard.sh stop).")
        });
        if let Some(pid) = other_pcscd() {
            panic!("a pcscd this test did not start is running (pid {pid}); stop it first (scripts/vcard.sh stop, or systemctl stop pcscd.socket pcscd.service)");
        }
        let dir = std::env::temp_dir().join(format!(
            "nhi-bridge-test-{}-{}",
            std::process::id(),
            unique()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::create_dir_all(dir.join("no-readers")).expect("empty reader.conf.d");
        std::fs::write(
            dir.join("host-config.json"),
            json!({
                "origins": [TEST_ORIGIN, "http://127.0.0.1:*"],
                "busy_timeout_ms": 500,
                "request_timeout_ms": 2000,
                "pinentry": PINENTRY,
                "pin_timeout_ms": 20000,
            })
            .to_string(),
        )
        .expect("config");
        let control = dir.join("card.sock");
        let mut s = Stack {
            _serial: serial,
            _lock: lock,
            dir,
            readers,
            pcscd: None,
            card: None,
            control,
        };
        s.start_pcscd();
        if let Some(opts) = card {
            s.start_card(&opts);
        }
        s
    }

    pub fn start_pcscd(&mut self) {
        let _ = std::fs::remove_file(PCSCD_SOCKET);
        let _ = std::fs::remove_file(PCSCD_PIDFILE);
        let conf = match self.readers {
            Readers::Vpcd => PathBuf::from(VPCD_CONF),
            Readers::None => self.dir.join("no-readers"),
        };
        let log = File::create(self.dir.join("pcscd.log")).expect("pcscd log");
        let child = Command::new(find_pcscd())
            .arg("--foreground")
            .arg("-c")
            .arg(conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start pcscd");
        self.pcscd = Some(child);
        let ok = pcscd::wait_for_service(Duration::from_secs(10));
        if let Err(e) = ok {
            let log = std::fs::read_to_string(self.dir.join("pcscd.log")).unwrap_or_default();
            panic!("pcscd did not come up: {e}\n{log}");
        }
    }

    pub fn stop_pcscd(&mut self) {
        if let Some(mut c) = self.pcscd.take() {
            terminate(&mut c);
        }
    }

    pub fn start_card(&mut self, opts: &CardOpts) {
        let mut cmd = Command::new(VCARD);
        cmd.arg("--control")
            .arg(&self.control)
            .arg("--model")
            .arg(opts.model);
        if let Some(h) = &opts.holder {
            cmd.arg("--holder").arg(h);
        }
        if !opts.inserted {
            cmd.arg("--absent");
        }
        if let Some(p) = &opts.pki {
            cmd.arg("--pki").arg(p);
        }
        if let Some(c) = &opts.certificate {
            cmd.arg("--certificate").arg(c);
        }
        let log = File::create(self.dir.join("card.log")).expect("card log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start nhi-vcard");
        self.card = Some(child);
        // The control socket exists once the card is listening.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&self.control).is_err() {
            assert!(
                Instant::now() < deadline,
                "nhi-vcard did not open its control socket"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        if opts.inserted {
            self.wait_card(true);
        }
    }

    /// Sends a control command and returns its reply line, whatever it is.
    pub fn ctl_raw(&self, cmd: &str) -> String {
        let mut s =
            std::os::unix::net::UnixStream::connect(&self.control).expect("card control socket");
        writeln!(s, "{cmd}").expect("send");
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).expect("reply");
        line.trim().to_string()
    }

    /// The scripted pinentry's queue file (`$NHI_PINENTRY_QUEUE` of every host started here).
    pub fn pin_queue(&self) -> PathBuf {
        self.dir.join("pinentry-queue")
    }

    /// The scripted pinentry's log (`$NHI_PINENTRY_LOG`).
    pub fn pin_log(&self) -> PathBuf {
        self.dir.join("pinentry.log")
    }

    /// Appends a line (`pin 123456`, `cancel`) to the scripted pinentry's queue.
    pub fn queue_pin(&self, line: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.pin_queue())
            .expect("queue");
        writeln!(f, "{line}").expect("queue line");
    }

    /// Sends a control command to the card ("remove", "insert", "fault remove-on-read", ...).
    pub fn ctl(&self, cmd: &str) -> String {
        let mut s =
            std::os::unix::net::UnixStream::connect(&self.control).expect("card control socket");
        writeln!(s, "{cmd}").expect("send");
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).expect("reply");
        assert!(line.starts_with("ok"), "card refused {cmd:?}: {line}");
        line.trim().to_string()
    }

    /// Sends a signal to the virtual card process (SIGUSR1 toggles removal).
    pub fn signal_card(&self, sig: libc::c_int) {
        let pid = self.card.as_ref().expect("card running").id();
        // SAFETY: signalling our own child by PID.
        unsafe {
            libc::kill(pid as libc::pid_t, sig);
        }
    }

    pub fn remove_card(&self) {
        self.ctl("remove");
        self.wait_card(false);
    }

    pub fn insert_card(&self) {
        self.ctl("insert");
        self.wait_card(true);
    }

    pub fn wait_card(&self, present: bool) {
        if let Err(e) = pcscd::wait_for_card(VPCD_READER, present, Duration::from_secs(10)) {
            let log = std::fs::read_to_string(self.dir.join("card.log")).unwrap_or_default();
            panic!(
                "card not {} in {VPCD_READER}: {e}\ncard log:\n{log}",
                if present { "present" } else { "absent" }
            );
        }
    }

    /// Starts a host process as Chromium would for the development extension.
    pub fn host(&self) -> Host {
        Host::spawn(
            &self.dir,
            &format!("chrome-extension://{DEV_EXTENSION_ID}/"),
        )
    }

    /// Runs `nhi-bridge doctor`; returns (exit code, output).
    pub fn doctor(&self) -> (i32, String) {
        let out = Command::new(BRIDGE)
            .arg("doctor")
            .env("NHI_BRIDGE_CONFIG", self.dir.join("host-config.json"))
            .env("HOME", &self.dir)
            .output()
            .expect("run doctor");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(mut c) = self.card.take() {
            terminate(&mut c);
        }
        self.stop_pcscd();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("logs kept in {}", self.dir.display());
        }
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// SIGTERM, wait up to 5 s, then SIGKILL; always reaped.
fn terminate(c: &mut Child) {
    // SAFETY: signalling our own child by PID.
    unsafe {
        libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = c.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = c.kill();
    let _ = c.wait();
}

/// A host process driven over its stdin/stdout.
pub struct Host {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: mpsc::Receiver<Option<Value>>,
    next_id: u32,
}

impl Host {
    pub fn spawn(dir: &Path, caller: &str) -> Host {
        Self::spawn_args(dir, &[caller])
    }

    /// Starts the host with the arguments a browser passes.
    pub fn spawn_args(dir: &Path, args: &[&str]) -> Host {
        let mut child = Command::new(BRIDGE)
            .args(args)
            .env("NHI_BRIDGE_CONFIG", dir.join("host-config.json"))
            .env("NHI_BRIDGE_LOG", dir.join("host.log"))
            .env("NHI_PINENTRY_QUEUE", dir.join("pinentry-queue"))
            .env("NHI_PINENTRY_LOG", dir.join("pinentry.log"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nhi-bridge");
        let mut stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            loop {
                match framing::read_frame(&mut stdout, usize::MAX >> 1, &mut buf) {
                    Ok(true) => {
                        let v: Value = serde_json::from_slice(&buf)
                            .unwrap_or_else(|e| json!({"unparseable": e.to_string()}));
                        if tx.send(Some(v)).is_err() {
                            return;
                        }
                    }
                    _ => {
                        let _ = tx.send(None);
                        return;
                    }
                }
            }
        });
        Host {
            child,
            stdin,
            rx,
            next_id: 1,
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        let w = self.stdin.as_mut().expect("stdin open");
        w.write_all(bytes).expect("write to host");
        w.flush().expect("flush");
    }

    pub fn send(&mut self, v: &Value) {
        let body = v.to_string().into_bytes();
        self.send_raw(&framing::encode_frame(&body));
    }

    /// The next message from the host (fails the test after 10 s or at end of stream).
    pub fn recv(&mut self) -> Value {
        self.try_recv(Duration::from_secs(10))
            .expect("a message from the host")
    }

    pub fn try_recv(&mut self, timeout: Duration) -> Option<Value> {
        self.rx.recv_timeout(timeout).unwrap_or_default()
    }

    /// Sends `cmd` with a fresh id (and `origin`, as the extension would) and returns the reply
    /// to it; events arriving meanwhile are returned in `events`.
    pub fn request_with(
        &mut self,
        origin: Option<&str>,
        cmd: Value,
        events: &mut Vec<Value>,
    ) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut req = json!({"v": nhi_protocol::bridge::PROTOCOL_VERSION, "id": id, "cmd": cmd});
        if let Some(o) = origin {
            req["origin"] = json!(o);
        }
        self.send(&req);
        loop {
            let m = self.recv();
            if m["kind"] == "event" {
                events.push(m);
                continue;
            }
            assert_eq!(m["id"], json!(id), "reply to request {id}: {m}");
            return m;
        }
    }

    /// Sends `cmd` with a fresh id and returns the id without waiting.
    pub fn send_cmd(&mut self, origin: Option<&str>, cmd: Value) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        let mut req = json!({"v": nhi_protocol::bridge::PROTOCOL_VERSION, "id": id, "cmd": cmd});
        if let Some(o) = origin {
            req["origin"] = json!(o);
        }
        self.send(&req);
        id
    }

    /// The next reply (events skipped) to `id`, within `timeout`.
    pub fn reply_to(&mut self, id: u32, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = self
                .try_recv(left)
                .unwrap_or_else(|| panic!("no reply to request {id} within {timeout:?}"));
            if m["kind"] == "event" {
                continue;
            }
            assert_eq!(m["id"], json!(id), "reply to request {id}: {m}");
            return m;
        }
    }

    pub fn request(&mut self, cmd: Value) -> Value {
        self.request_with(None, cmd, &mut Vec::new())
    }

    pub fn hello(&mut self) -> Value {
        let r = self.request(json!({"type": "hello", "client": "integration-test"}));
        assert_eq!(r["result"]["ok"]["type"], "hello", "{r}");
        r
    }

    /// A fresh host that has done the handshake.
    pub fn ready(mut self) -> Host {
        self.hello();
        self
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the process to exit after stdin closed.
    pub fn exit_code(mut self) -> Option<i32> {
        self.close_stdin();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `ok` part of a reply, or a panic naming the error.
pub fn ok(reply: &Value) -> &Value {
    let ok = &reply["result"]["ok"];
    assert!(ok.is_object(), "expected success, got {reply}");
    ok
}

/// The error code of a reply.
pub fn err_code(reply: &Value) -> String {
    reply["result"]["err"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error, got {reply}"))
        .to_string()
}

/// Reads a whole file as text (for log assertions).
pub fn read_text(p: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = File::open(p) {
        let _ = f.read_to_string(&mut s);
    }
    s
}
