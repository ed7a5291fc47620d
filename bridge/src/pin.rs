//! The host's own PIN dialog for the certificate card: the page never sees the PIN.
//!
//! - Linux (and macOS with `pinentry-mac`): a pinentry program, spoken to over the Assuan
//!   protocol on its own pipes (never the native-messaging stdin/stdout). Its path comes from
//!   the host's configuration (`pinentry`), never from a message. The dialog names the
//!   requesting origin.
//! - Windows: the system credential prompt, `CredUIPromptForWindowsCredentialsW`.
//!
//! The PIN is held in [`Zeroizing`] buffers (wiped when dropped) and never logged.

// On Windows the Assuan client is compiled (and unit-tested on Unix) but the dialog is CredUI.
#![cfg_attr(windows, allow(dead_code))]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use zeroize::Zeroizing;

/// Why no PIN came back.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PinError {
    #[error("the PIN dialog was cancelled")]
    Cancelled,
    #[error("the PIN dialog cannot be shown: {0}")]
    Unavailable(String),
}

/// Lets another thread close a running dialog (the page's `cancel`, the request's timeout).
#[derive(Debug, Default)]
pub struct CancelToken {
    cancelled: AtomicBool,
    child: Mutex<Option<Child>>,
}

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the request cancelled and kills its pinentry, if one is running.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        if let Ok(mut c) = self.child.lock() {
            if let Some(child) = c.as_mut() {
                let _ = child.kill();
            }
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    fn attach(&self, child: Child) {
        if let Ok(mut c) = self.child.lock() {
            *c = Some(child);
        }
        // A cancel that came while the dialog was starting.
        if self.is_cancelled() {
            self.cancel();
        }
    }

    fn detach(&self) -> Option<Child> {
        self.child.lock().ok().and_then(|mut c| c.take())
    }
}

/// What the dialog shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinPrompt {
    /// The web origin that asks for the signature.
    pub origin: String,
    /// Tries the card has left, when fewer than all.
    pub tries_left: Option<u8>,
    /// How long the dialog stays open.
    pub timeout: Duration,
}

impl PinPrompt {
    /// Dialog title (zh-TW first, English second).
    pub fn title(&self) -> String {
        "自然人憑證 PIN 碼 / Citizen certificate PIN".to_string()
    }

    /// The description naming the origin.
    pub fn description(&self) -> String {
        format!(
            "{o} 要求以您的自然人憑證登入。請輸入憑證卡的 PIN 碼（PIN 碼只輸入在此視窗，網頁看不到）。\n\
             {o} asks to log you in with your citizen digital certificate. Enter the card's PIN \
             (it is typed only into this window; the web page never sees it).",
            o = self.origin
        )
    }

    /// Shown when earlier tries failed.
    pub fn error(&self) -> Option<String> {
        self.tries_left
            .filter(|&n| n < nhi_protocol::certificate::PIN_TRIES)
            .map(|n| format!("PIN 碼曾輸入錯誤，尚可再試 {n} 次 / A wrong PIN was entered before; {n} tries left"))
    }
}

/// Asks for the PIN with the platform's dialog. `pinentry` is the configured program (used on
/// Unix).
pub fn ask(
    pinentry: &Path,
    prompt: &PinPrompt,
    token: &CancelToken,
) -> Result<Zeroizing<String>, PinError> {
    #[cfg(windows)]
    {
        let _ = pinentry;
        windows::ask(prompt, token)
    }
    #[cfg(not(windows))]
    {
        ask_pinentry(pinentry, prompt, token)
    }
}

/// Percent-escapes `%`, CR and LF for an Assuan command argument.
pub fn assuan_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
    out
}

/// Undoes Assuan percent-escaping (invalid escapes are kept as they are).
pub fn assuan_unescape(b: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(b.len()));
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// libgpg-error's GPG_ERR_CANCELED and GPG_ERR_FULLY_CANCELED (low 16 bits of an Assuan ERR).
const GPG_ERR_CANCELED: u32 = 99;
const GPG_ERR_FULLY_CANCELED: u32 = 198;
/// Longest Assuan line accepted from pinentry.
const MAX_LINE: usize = 4096;

struct Assuan {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

enum Reply {
    Ok,
    Err(u32, String),
}

impl Assuan {
    fn line(&mut self) -> Result<Zeroizing<Vec<u8>>, PinError> {
        let mut buf = Zeroizing::new(Vec::with_capacity(128));
        let n = std::io::Read::take(&mut self.stdout, MAX_LINE as u64)
            .read_until(b'\n', &mut buf)
            .map_err(|e| PinError::Unavailable(format!("reading from pinentry: {e}")))?;
        if n == 0 {
            return Err(PinError::Unavailable("pinentry closed its output".into()));
        }
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        Ok(buf)
    }

    /// Reads until OK/ERR; `D` lines are collected into `data`.
    fn reply(&mut self, mut data: Option<&mut Zeroizing<Vec<u8>>>) -> Result<Reply, PinError> {
        loop {
            let line = self.line()?;
            if line.as_slice() == b"OK" || line.starts_with(b"OK ") {
                return Ok(Reply::Ok);
            }
            if let Some(rest) = line.strip_prefix(b"ERR ") {
                let text = String::from_utf8_lossy(rest);
                let code = text
                    .split_whitespace()
                    .next()
                    .and_then(|c| c.parse::<u32>().ok())
                    .unwrap_or(0);
                return Ok(Reply::Err(code, text.into_owned()));
            }
            if let Some(rest) = line.strip_prefix(b"D ") {
                if let Some(d) = data.as_deref_mut() {
                    d.extend_from_slice(&assuan_unescape(rest));
                }
                continue;
            }
            if line.starts_with(b"INQUIRE") {
                self.send("CAN")?;
                continue;
            }
            // Status (`S …`) and comment (`# …`) lines.
        }
    }

    fn send(&mut self, cmd: &str) -> Result<(), PinError> {
        self.stdin
            .write_all(format!("{cmd}\n").as_bytes())
            .and_then(|_| self.stdin.flush())
            .map_err(|e| PinError::Unavailable(format!("writing to pinentry: {e}")))
    }

    /// A setting command; a pinentry that does not know it (older versions) is not an error.
    fn set(&mut self, cmd: &str, arg: &str) -> Result<(), PinError> {
        self.send(&format!("{cmd} {}", assuan_escape(arg)))?;
        match self.reply(None)? {
            Reply::Ok | Reply::Err(..) => Ok(()),
        }
    }
}

fn ask_pinentry(
    pinentry: &Path,
    prompt: &PinPrompt,
    token: &CancelToken,
) -> Result<Zeroizing<String>, PinError> {
    if token.is_cancelled() {
        return Err(PinError::Cancelled);
    }
    let mut child = Command::new(pinentry)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| PinError::Unavailable(format!("cannot start {}: {e}", pinentry.display())))?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(PinError::Unavailable("pinentry pipes".into()));
    };
    token.attach(child);
    let mut a = Assuan {
        stdin,
        stdout: BufReader::new(stdout),
    };
    let result = converse(&mut a, prompt);
    drop(a);
    if let Some(mut child) = token.detach() {
        // It has answered (or failed); make sure it is gone and reaped.
        let _ = child.kill();
        let _ = child.wait();
    }
    if token.is_cancelled() {
        return Err(PinError::Cancelled);
    }
    result
}

fn converse(a: &mut Assuan, prompt: &PinPrompt) -> Result<Zeroizing<String>, PinError> {
    match a.reply(None)? {
        Reply::Ok => {}
        Reply::Err(_, m) => return Err(PinError::Unavailable(format!("pinentry: {m}"))),
    }
    a.set("SETTITLE", &prompt.title())?;
    a.set("SETDESC", &prompt.description())?;
    a.set("SETPROMPT", "PIN:")?;
    a.set("SETOK", "確定 / OK")?;
    a.set("SETCANCEL", "取消 / Cancel")?;
    if let Some(e) = prompt.error() {
        a.set("SETERROR", &e)?;
    }
    a.set("SETTIMEOUT", &prompt.timeout.as_secs().max(1).to_string())?;
    a.send("GETPIN")?;
    let mut data = Zeroizing::new(Vec::new());
    let r = a.reply(Some(&mut data))?;
    let _ = a.send("BYE");
    match r {
        Reply::Ok if data.is_empty() => Err(PinError::Cancelled),
        Reply::Ok => match std::str::from_utf8(&data) {
            Ok(s) => Ok(Zeroizing::new(s.to_string())),
            Err(_) => Err(PinError::Unavailable(
                "pinentry sent a non-UTF-8 PIN".into(),
            )),
        },
        Reply::Err(code, _)
            if matches!(code & 0xFFFF, GPG_ERR_CANCELED | GPG_ERR_FULLY_CANCELED) =>
        {
            Err(PinError::Cancelled)
        }
        Reply::Err(_, m) => Err(PinError::Unavailable(format!("pinentry: {m}"))),
    }
}

/// The default pinentry program.
pub fn default_pinentry() -> PathBuf {
    PathBuf::from("/usr/bin/pinentry")
}

#[cfg(windows)]
mod windows {
    //! `CredUIPromptForWindowsCredentialsW` with a generic credential: the user name field is
    //! ignored, the password field carries the PIN.
    use super::{CancelToken, PinError, PinPrompt};
    use std::ffi::c_void;
    use windows_sys::Win32::Foundation::{ERROR_CANCELLED, ERROR_SUCCESS};
    use windows_sys::Win32::Security::Credentials::{
        CredUIPromptForWindowsCredentialsW, CredUnPackAuthenticationBufferW, CREDUIWIN_GENERIC,
        CREDUI_INFOW,
    };
    use windows_sys::Win32::System::Com::CoTaskMemFree;
    use zeroize::{Zeroize, Zeroizing};

    fn wide(s: &str) -> Vec<u16> {
        s.encode_utf16().chain(std::iter::once(0)).collect()
    }

    pub fn ask(prompt: &PinPrompt, token: &CancelToken) -> Result<Zeroizing<String>, PinError> {
        if token.is_cancelled() {
            return Err(PinError::Cancelled);
        }
        let mut message = prompt.description();
        if let Some(e) = prompt.error() {
            message = format!("{e}\n\n{message}");
        }
        let message = wide(&message);
        let caption = wide(&prompt.title());
        let info = CREDUI_INFOW {
            cbSize: std::mem::size_of::<CREDUI_INFOW>() as u32,
            hwndParent: std::ptr::null_mut(),
            pszMessageText: message.as_ptr(),
            pszCaptionText: caption.as_ptr(),
            hbmBanner: std::ptr::null_mut(),
        };
        let mut package: u32 = 0;
        let mut out: *mut c_void = std::ptr::null_mut();
        let mut out_size: u32 = 0;
        let mut save = 0;
        // SAFETY: every pointer refers to a live local of the documented type; `out` is
        // allocated by the call and freed below.
        let rc = unsafe {
            CredUIPromptForWindowsCredentialsW(
                &info,
                0,
                &mut package,
                std::ptr::null(),
                0,
                &mut out,
                &mut out_size,
                &mut save,
                CREDUIWIN_GENERIC,
            )
        };
        if rc == ERROR_CANCELLED {
            return Err(PinError::Cancelled);
        }
        if rc != ERROR_SUCCESS || out.is_null() {
            return Err(PinError::Unavailable(format!(
                "CredUIPromptForWindowsCredentialsW failed ({rc})"
            )));
        }
        let mut user = [0u16; 256];
        let mut user_len = user.len() as u32;
        let mut domain = [0u16; 256];
        let mut domain_len = domain.len() as u32;
        let mut pin = Zeroizing::new([0u16; 64]);
        let mut pin_len = pin.len() as u32;
        // SAFETY: `out`/`out_size` come from the prompt; the buffers are live and their
        // lengths are passed in characters.
        let ok = unsafe {
            CredUnPackAuthenticationBufferW(
                0,
                out,
                out_size,
                user.as_mut_ptr(),
                &mut user_len,
                domain.as_mut_ptr(),
                &mut domain_len,
                pin.as_mut_ptr(),
                &mut pin_len,
            )
        };
        // SAFETY: `out` points to `out_size` bytes allocated by the prompt.
        unsafe {
            std::slice::from_raw_parts_mut(out.cast::<u8>(), out_size as usize).zeroize();
            CoTaskMemFree(out);
        }
        if ok == 0 {
            return Err(PinError::Unavailable("cannot unpack the credential".into()));
        }
        if token.is_cancelled() {
            return Err(PinError::Cancelled);
        }
        let len = (pin_len as usize).min(pin.len());
        let chars = &pin[..len];
        let chars = chars.strip_suffix(&[0]).unwrap_or(chars);
        let s = String::from_utf16(chars)
            .map_err(|_| PinError::Unavailable("the PIN is not text".into()))?;
        Ok(Zeroizing::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips() {
        let s = "a%b\nc\rd 自然人";
        let e = assuan_escape(s);
        assert!(!e.contains('\n') && !e.contains('\r'));
        assert_eq!(&*assuan_unescape(e.as_bytes()), s.as_bytes());
        assert_eq!(&*assuan_unescape(b"%4"), b"%4");
        assert_eq!(&*assuan_unescape(b"%zz1"), b"%zz1");
        assert_eq!(&*assuan_unescape(b"12%3456"), b"12456");
    }

    #[test]
    fn the_prompt_names_the_origin() {
        let p = PinPrompt {
            origin: "https://nhi.example".into(),
            tries_left: Some(2),
            timeout: Duration::from_secs(5),
        };
        assert!(p.description().contains("https://nhi.example"));
        assert!(p.error().expect("tries shown").contains('2'));
        let p = PinPrompt {
            tries_left: Some(3),
            ..p
        };
        assert_eq!(p.error(), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_missing_pinentry_is_unavailable() {
        let p = PinPrompt {
            origin: "https://nhi.example".into(),
            tries_left: None,
            timeout: Duration::from_secs(5),
        };
        assert!(matches!(
            ask(Path::new("/nonexistent/pinentry"), &p, &CancelToken::new()),
            Err(PinError::Unavailable(_))
        ));
        // A program that is not a pinentry (says nothing and exits).
        assert!(matches!(
            ask(Path::new("/bin/true"), &p, &CancelToken::new()),
            Err(PinError::Unavailable(_))
        ));
        let t = CancelToken::new();
        t.cancel();
        assert_eq!(
            ask(Path::new("/bin/true"), &p, &t),
            Err(PinError::Cancelled)
        );
    }
}
