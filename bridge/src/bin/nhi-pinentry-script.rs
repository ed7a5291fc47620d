//! `nhi-pinentry-script`: a pinentry that stands in for the person in tests. It speaks Assuan
//! on stdin/stdout like pinentry.
//!
//! At each `GETPIN` it takes the first line of the queue file `$NHI_PINENTRY_QUEUE` (waiting up
//! to 60 s for one to appear) and removes it: `pin <digits>` answers that PIN, `cancel` answers
//! as if the person pressed Cancel. What the dialog was shown (`SETTITLE`, `SETDESC`,
//! `SETPROMPT`, `SETERROR`, one line each, unescaped, newlines as spaces) and a `GETPIN` line
//! per prompt are appended to `$NHI_PINENTRY_LOG`; the PIN never is. Without
//! `$NHI_PINENTRY_QUEUE` it answers `GETPIN` as a pinentry without a display does (an error).
//! The queue file is rewritten under `flock(2)`; a harness that appends while a dialog may be
//! open should take the same lock.

#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use nhi_bridge::pin::{assuan_escape, assuan_unescape};
use zeroize::Zeroizing;

/// How long `GETPIN` waits for a queue line.
const QUEUE_WAIT: Duration = Duration::from_secs(60);

/// Assuan error lines, as pinentry sends them.
const ERR_CANCELLED: &str = "ERR 83886179 Operation cancelled <Pinentry>";
const ERR_NO_DISPLAY: &str = "ERR 83918950 Inappropriate ioctl for device <Pinentry>";
const ERR_TIMEOUT: &str = "ERR 83886142 Timeout <Pinentry>";

enum Answer {
    Pin(Zeroizing<String>),
    Cancel,
}

fn log_line(line: &str) {
    let Some(path) = std::env::var_os("NHI_PINENTRY_LOG").filter(|p| !p.is_empty()) else {
        return;
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

#[cfg(unix)]
fn lock(f: &std::fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid descriptor; the lock is released when the file is closed.
    unsafe {
        libc::flock(f.as_raw_fd(), libc::LOCK_EX);
    }
}

#[cfg(not(unix))]
fn lock(_f: &std::fs::File) {}

/// Takes the first line of the queue, if there is one.
fn take_line(path: &std::path::Path) -> std::io::Result<Option<Zeroizing<String>>> {
    use std::io::{Read, Seek};
    let mut f = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    lock(&f);
    let mut text = Zeroizing::new(String::new());
    f.read_to_string(&mut text)?;
    let mut lines = text.splitn(2, '\n');
    let first = lines.next().unwrap_or("").trim().to_string();
    let rest = lines.next().unwrap_or("").to_string();
    if first.is_empty() && rest.trim().is_empty() {
        return Ok(None);
    }
    f.set_len(0)?;
    f.rewind()?;
    f.write_all(rest.as_bytes())?;
    f.flush()?;
    if first.is_empty() {
        // A blank line: skip it.
        return take_line(path);
    }
    Ok(Some(Zeroizing::new(first)))
}

fn next_answer() -> Result<Answer, &'static str> {
    let Some(path) = std::env::var_os("NHI_PINENTRY_QUEUE").filter(|p| !p.is_empty()) else {
        return Err(ERR_NO_DISPLAY);
    };
    let path = std::path::PathBuf::from(path);
    let deadline = Instant::now() + QUEUE_WAIT;
    loop {
        match take_line(&path) {
            Ok(Some(line)) => {
                if line.as_str() == "cancel" {
                    return Ok(Answer::Cancel);
                }
                if let Some(pin) = line.strip_prefix("pin ") {
                    return Ok(Answer::Pin(Zeroizing::new(pin.trim().to_string())));
                }
                log_line("SCRIPT unknown queue line (neither `pin <digits>` nor `cancel`)");
                return Err(ERR_NO_DISPLAY);
            }
            Ok(None) => {}
            Err(_) => return Err(ERR_NO_DISPLAY),
        }
        if Instant::now() >= deadline {
            return Err(ERR_TIMEOUT);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    let mut send = |s: &str| {
        let _ = writeln!(out, "{s}");
        let _ = out.flush();
    };
    send("OK Pleased to meet you (nhi-pinentry-script)");
    let mut line = Zeroizing::new(String::new());
    let mut input = stdin.lock();
    loop {
        line.clear();
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let cmd = line.trim_end_matches(['\n', '\r']);
        let (verb, arg) = cmd.split_once(' ').unwrap_or((cmd, ""));
        match verb.to_ascii_uppercase().as_str() {
            v @ ("SETTITLE" | "SETDESC" | "SETPROMPT" | "SETERROR") => {
                let text = assuan_unescape(arg.as_bytes());
                let shown = String::from_utf8_lossy(&text).replace(['\n', '\r'], " ");
                log_line(&format!("{v} {shown}"));
                send("OK");
            }
            "GETPIN" => {
                log_line("GETPIN");
                match next_answer() {
                    Ok(Answer::Pin(pin)) => {
                        let d = Zeroizing::new(format!("D {}", assuan_escape(&pin)));
                        send(&d);
                        send("OK");
                    }
                    Ok(Answer::Cancel) => send(ERR_CANCELLED),
                    Err(e) => send(e),
                }
            }
            "BYE" => {
                send("OK closing connection");
                return;
            }
            _ => send("OK"),
        }
    }
}
