//! Helpers around pcscd for tests, the demo script and the virtual card: waiting for a reader
//! state with `SCardGetStatusChange`, and the machine-wide lock that serialises the users of
//! the (single, machine-wide) pcscd started by `scripts/vcard.sh` and the test harness.

use std::ffi::CString;
use std::fs::File;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pcsc::{Context, ReaderState, Scope, State};

/// The reader vpcd's first slot appears as (TCP port 35963).
pub const VPCD_READER: &str = "Virtual PCD 00 00";
/// The TCP port of that slot.
pub const VPCD_PORT: u16 = 35963;

/// Path of the machine-wide lock (`NHI_PCSCD_LOCK` overrides).
pub fn lock_path() -> PathBuf {
    std::env::var_os("NHI_PCSCD_LOCK")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/nhi-pcscd.lock"))
}

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("pcscd is not running")]
    NoService,
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("PC/SC error: {0}")]
    Pcsc(#[from] pcsc::Error),
    #[error("reader name contains NUL")]
    BadName,
    #[error("cannot take the pcscd lock {path}: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Waits until pcscd answers (its socket can appear a moment before it accepts).
pub fn wait_for_service(timeout: Duration) -> Result<Context, WaitError> {
    let deadline = Instant::now() + timeout;
    loop {
        match Context::establish(Scope::User) {
            Ok(c) => return Ok(c),
            Err(pcsc::Error::NoService) if Instant::now() < deadline => {
                // pcscd has no notification for "I am up"; the socket appears within ms.
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(pcsc::Error::NoService) => return Err(WaitError::Timeout(timeout)),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Waits until `reader` exists and has (`present`) or has no card, using
/// `SCardGetStatusChange` (no polling).
pub fn wait_for_card(reader: &str, present: bool, timeout: Duration) -> Result<(), WaitError> {
    let deadline = Instant::now() + timeout;
    let ctx = wait_for_service(timeout)?;
    let name = CString::new(reader).map_err(|_| WaitError::BadName)?;
    let mut st = [ReaderState::new(name, State::UNAWARE)];
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match ctx.get_status_change(remaining, &mut st) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => return Err(WaitError::Timeout(timeout)),
            Err(pcsc::Error::NoService | pcsc::Error::ServiceStopped) => {
                return Err(WaitError::NoService)
            }
            Err(e) => return Err(e.into()),
        }
        let ev = st[0].event_state();
        let known = !ev.intersects(State::UNKNOWN | State::UNAVAILABLE);
        if known
            && ev.contains(State::PRESENT) == present
            && (!present || !ev.contains(State::MUTE))
        {
            return Ok(());
        }
        if remaining.is_zero() {
            return Err(WaitError::Timeout(timeout));
        }
        st[0].sync_current_state();
    }
}

/// Takes the machine-wide pcscd lock, waiting up to `timeout`. Held until the file is dropped
/// (or, when the descriptor is inherited, until the last process holding it exits).
pub fn lock(timeout: Duration) -> Result<File, WaitError> {
    let path = lock_path();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|source| WaitError::Lock {
            path: path.clone(),
            source,
        })?;
    let deadline = Instant::now() + timeout;
    loop {
        if try_flock(&file) {
            return Ok(file);
        }
        if Instant::now() >= deadline {
            return Err(WaitError::Lock {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    "held by another pcscd user (scripts/vcard.sh start, or another test run)",
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(unix)]
fn try_flock(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own; no memory is passed.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(not(unix))]
fn try_flock(_file: &File) -> bool {
    true
}
