//! PC/SC access to the NHI card: status, basic-data read and card proof, with a typed error
//! for every failure the page must tell apart.
//!
//! The PC/SC context is kept between requests and re-established once when it turns out stale
//! (pcscd restarted). Every card operation runs inside a PC/SC transaction so that SELECT and
//! READ (and AUTHENTICATE) reach the same card state.

use std::ffi::{CStr, CString};
use std::time::{Duration, Instant};

use nhi_protocol::apdu::{self, split_response, StatusWord};
use nhi_protocol::bridge::{CardKind, CardPresence, ErrorCode, ReaderStatus, ServiceState, Status};
use nhi_protocol::card::RECORD_LEN;
use nhi_protocol::card_proof::{self, CardMac, CardRecord, Nonce, MAC_LEN};
use nhi_protocol::{CardBasicData, CardDataError};
use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};
use zeroize::Zeroizing;

/// Every way a card operation can fail.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("the PC/SC service is not running")]
    ServiceNotRunning,
    #[error("no card reader is connected")]
    NoReader,
    #[error("no card in any reader")]
    NoCard,
    #[error("the card is not an NHI card (it answered {sw} to {command})")]
    NotNhiCard {
        command: &'static str,
        sw: StatusWord,
    },
    #[error("the card does not respond (mute; inserted the wrong way round?)")]
    MuteCard,
    #[error("another program holds the card")]
    Busy,
    #[error("the card was removed or reset during the operation")]
    Removed,
    #[error("the operation did not finish in time")]
    Timeout,
    #[error("the card answered {sw} to {command}")]
    Status {
        command: &'static str,
        sw: StatusWord,
    },
    #[error("malformed answer to {command} ({len} bytes)")]
    Malformed { command: &'static str, len: usize },
    #[error("the basic-data record is invalid: {0}")]
    Record(#[from] CardDataError),
    #[error("PC/SC error: {0}")]
    Pcsc(pcsc::Error),
    #[error("the card is not a citizen certificate card (it answered {sw} to {command})")]
    NotCertificateCard {
        command: &'static str,
        sw: StatusWord,
    },
    #[error("wrong PIN; {tries_left} tries left")]
    PinWrong { tries_left: u8 },
    #[error("the PIN is blocked")]
    PinBlocked,
}

impl CardError {
    /// The code the page sees.
    pub fn code(&self) -> ErrorCode {
        match self {
            CardError::ServiceNotRunning => ErrorCode::PcscNotRunning,
            CardError::NoReader => ErrorCode::NoReader,
            CardError::NoCard => ErrorCode::NoCard,
            CardError::NotNhiCard { .. } | CardError::MuteCard => ErrorCode::NotNhiCard,
            CardError::Busy => ErrorCode::CardBusy,
            CardError::Removed => ErrorCode::CardRemoved,
            CardError::Timeout => ErrorCode::Timeout,
            CardError::Status { .. } | CardError::Malformed { .. } | CardError::Record(_) => {
                ErrorCode::CardError
            }
            CardError::Pcsc(_) => ErrorCode::CardError,
            CardError::NotCertificateCard { .. } => ErrorCode::NotCertificateCard,
            CardError::PinWrong { .. } => ErrorCode::PinWrong,
            CardError::PinBlocked => ErrorCode::PinBlocked,
        }
    }

    /// Errors that mean the PC/SC context itself is gone (pcscd stopped or restarted).
    fn context_is_stale(&self) -> bool {
        matches!(
            self,
            CardError::ServiceNotRunning
                | CardError::Pcsc(pcsc::Error::InvalidHandle | pcsc::Error::CommError)
        )
    }
}

/// Maps a PC/SC error that is not specific to the card's answer.
pub fn map_pcsc(e: pcsc::Error) -> CardError {
    match e {
        pcsc::Error::NoService | pcsc::Error::ServiceStopped => CardError::ServiceNotRunning,
        pcsc::Error::NoReadersAvailable | pcsc::Error::UnknownReader => CardError::NoReader,
        pcsc::Error::NoSmartcard => CardError::NoCard,
        pcsc::Error::RemovedCard | pcsc::Error::ResetCard => CardError::Removed,
        pcsc::Error::SharingViolation => CardError::Busy,
        pcsc::Error::Timeout => CardError::Timeout,
        pcsc::Error::UnresponsiveCard | pcsc::Error::UnpoweredCard => CardError::MuteCard,
        other => CardError::Pcsc(other),
    }
}

/// A successful basic-data read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicDataRead {
    pub reader: String,
    pub data: CardBasicData,
}

/// A successful card proof (v2): the record as the card stores it and the card's MAC over
/// the challenge and that record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofRead {
    pub reader: String,
    pub record: CardRecord,
    pub mac: CardMac,
}

/// The certificate card's authentication certificate and what its PIN counter says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRead {
    pub reader: String,
    /// DER.
    pub certificate: Vec<u8>,
    /// Tries left before the PIN blocks (`None`: the card did not say).
    pub tries_left: Option<u8>,
}

/// A signature made by the certificate card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureRead {
    pub reader: String,
    pub certificate: Vec<u8>,
    pub signature: Vec<u8>,
}

/// Which card an ATR belongs to, for the cards this bridge knows; `None` when unknown.
pub fn card_kind(atr: &[u8]) -> Option<CardKind> {
    if atr.is_empty() {
        None
    } else if atr == crate::vcard::NHI_ATR {
        Some(CardKind::Nhi)
    } else if atr == crate::certcard::CERT_ATR {
        Some(CardKind::Certificate)
    } else {
        None
    }
}

/// The host's PC/SC connection.
pub struct Pcsc {
    ctx: Option<Context>,
    busy_timeout: Duration,
}

impl Pcsc {
    /// `busy_timeout`: how long to wait for another program to release the card.
    pub fn new(busy_timeout: Duration) -> Self {
        Self {
            ctx: None,
            busy_timeout,
        }
    }

    fn context(&mut self) -> Result<Context, CardError> {
        if let Some(ctx) = &self.ctx {
            return Ok(ctx.clone());
        }
        let ctx = Context::establish(Scope::User).map_err(map_pcsc)?;
        self.ctx = Some(ctx.clone());
        Ok(ctx)
    }

    /// Runs `op` with the cached context; if the context turns out stale (pcscd restarted),
    /// establishes a new one and runs `op` once more.
    fn with_context<T>(
        &mut self,
        mut op: impl FnMut(&Context) -> Result<T, CardError>,
    ) -> Result<T, CardError> {
        let ctx = self.context()?;
        match op(&ctx) {
            Err(e) if e.context_is_stale() => {
                self.ctx = None;
                let ctx = self.context()?;
                let r = op(&ctx);
                if matches!(&r, Err(e) if e.context_is_stale()) {
                    self.ctx = None;
                }
                r
            }
            r => r,
        }
    }

    /// The PC/SC service, its readers and whether each holds a card.
    pub fn status(&mut self) -> Result<Status, CardError> {
        match self.with_context(reader_states) {
            Ok(states) => Ok(Status {
                service: ServiceState::Running,
                readers: states
                    .iter()
                    .map(|s| {
                        let card = presence(s.event_state());
                        ReaderStatus {
                            name: s.name().to_string_lossy().into_owned(),
                            card,
                            kind: if card == CardPresence::Empty {
                                None
                            } else {
                                card_kind(s.atr())
                            },
                        }
                    })
                    .collect(),
            }),
            Err(CardError::ServiceNotRunning) => Ok(Status {
                service: ServiceState::NotRunning,
                readers: Vec::new(),
            }),
            Err(e) => Err(e),
        }
    }

    /// SELECT + READ of the basic-data record from the first reader holding an NHI card.
    pub fn read_basic_data(&mut self) -> Result<BasicDataRead, CardError> {
        let busy = self.busy_timeout;
        self.with_context(|ctx| {
            on_first_card(ctx, busy, Disposition::LeaveCard, read_record)
                .map(|(reader, data)| BasicDataRead { reader, data })
        })
    }

    /// The origin-bound card proof v2: reads the raw record and lets the card MAC
    /// `SHA-256(origin ‖ nonce)` together with the record it stores, both in one transaction.
    /// The host passes only the challenge; the record it returns is what the card stores,
    /// and the server's check of the MAC fails for any other.
    pub fn card_proof(&mut self, origin: &str, nonce: &Nonce) -> Result<ProofRead, CardError> {
        let challenge = card_proof::challenge(origin, nonce);
        let busy = self.busy_timeout;
        self.with_context(|ctx| {
            on_first_card(ctx, busy, Disposition::LeaveCard, |card| {
                let record = read_raw_record(card)?;
                let (mac, sw) = exchange(
                    card,
                    &apdu::internal_authenticate(&challenge),
                    "INTERNAL AUTHENTICATE",
                )?;
                if !sw.is_ok() {
                    return Err(CardError::Status {
                        command: "INTERNAL AUTHENTICATE",
                        sw,
                    });
                }
                let mac: [u8; MAC_LEN] =
                    mac.as_slice()
                        .try_into()
                        .map_err(|_| CardError::Malformed {
                            command: "INTERNAL AUTHENTICATE",
                            len: mac.len(),
                        })?;
                Ok((record, CardMac(mac)))
            })
            .map(|(reader, (record, mac))| ProofRead {
                reader,
                record,
                mac,
            })
        })
    }

    /// Reads the certificate card's authentication certificate and asks (empty VERIFY) how
    /// many PIN tries it has left. No PIN.
    pub fn certificate(&mut self) -> Result<CertificateRead, CardError> {
        let busy = self.busy_timeout;
        self.with_context(|ctx| {
            on_first_card(ctx, busy, Disposition::LeaveCard, |card| {
                let certificate = read_certificate(card)?;
                let (_, sw) = exchange(card, &apdu::verify_pin(b""), "VERIFY")?;
                let tries_left = if sw == StatusWord::PIN_BLOCKED {
                    Some(0)
                } else {
                    sw.pin_tries_left()
                };
                Ok((certificate, tries_left))
            })
            .map(|(reader, (certificate, tries_left))| CertificateRead {
                reader,
                certificate,
                tries_left,
            })
        })
    }

    /// VERIFY `pin` and sign `digest` on the certificate card in `reader`, in one exclusive
    /// transaction that ends with a card reset (so the verified state dies with it). The card
    /// must still hold `certificate` (a card swapped while the dialog was open is
    /// [`CardError::Removed`]).
    pub fn sign(
        &mut self,
        reader: &str,
        certificate: &[u8],
        pin: &[u8],
        digest: &[u8; 32],
    ) -> Result<SignatureRead, CardError> {
        let busy = self.busy_timeout;
        let name = CString::new(reader).map_err(|_| CardError::NoReader)?;
        self.with_context(|ctx| {
            with_card(ctx, &name, busy, Disposition::ResetCard, &mut |card| {
                let now = read_certificate(card)?;
                if now != certificate {
                    return Err(CardError::Removed);
                }
                let verify = Zeroizing::new(apdu::verify_pin(pin));
                let (_, sw) = exchange(card, &verify, "VERIFY")?;
                drop(verify);
                if sw == StatusWord::PIN_BLOCKED || sw.pin_tries_left() == Some(0) {
                    return Err(CardError::PinBlocked);
                }
                if let Some(tries_left) = sw.pin_tries_left() {
                    return Err(CardError::PinWrong { tries_left });
                }
                if !sw.is_ok() {
                    return Err(CardError::Status {
                        command: "VERIFY",
                        sw,
                    });
                }
                let (signature, sw) = exchange(card, &apdu::compute_signature(digest), "PSO")?;
                if !sw.is_ok() {
                    return Err(CardError::Status {
                        command: "PSO COMPUTE DIGITAL SIGNATURE",
                        sw,
                    });
                }
                if signature.is_empty() {
                    return Err(CardError::Malformed {
                        command: "PSO COMPUTE DIGITAL SIGNATURE",
                        len: 0,
                    });
                }
                Ok(SignatureRead {
                    reader: reader.to_string(),
                    certificate: now,
                    signature,
                })
            })
        })
        // The card read before the dialog is no longer there.
        .map_err(|e| match e {
            CardError::NoCard
            | CardError::NoReader
            | CardError::MuteCard
            | CardError::NotCertificateCard { .. } => CardError::Removed,
            e => e,
        })
    }

    /// One APDU straight through PC/SC (for the benchmark's raw round trip).
    pub fn raw_transmit(&mut self, reader: &str, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        let ctx = self.context()?;
        let name = CString::new(reader).map_err(|_| CardError::NoReader)?;
        let card = ctx
            .connect(&name, ShareMode::Shared, Protocols::ANY)
            .map_err(map_pcsc)?;
        let mut buf = [0u8; 300];
        let r = card.transmit(apdu, &mut buf).map_err(map_pcsc)?.to_vec();
        let _ = card.disconnect(Disposition::LeaveCard);
        Ok(r)
    }
}

/// Current state of every reader (empty when there are none).
pub fn reader_states(ctx: &Context) -> Result<Vec<ReaderState>, CardError> {
    let names = match ctx.list_readers_owned() {
        Ok(n) => n,
        Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
        Err(e) => return Err(map_pcsc(e)),
    };
    let mut states: Vec<ReaderState> = names
        .into_iter()
        .map(|n| ReaderState::new(n, State::UNAWARE))
        .collect();
    if states.is_empty() {
        return Ok(states);
    }
    match ctx.get_status_change(Duration::ZERO, &mut states) {
        Ok(()) | Err(pcsc::Error::Timeout) => Ok(states),
        Err(pcsc::Error::UnknownReader) => Ok(Vec::new()), // unplugged between list and query
        Err(e) => Err(map_pcsc(e)),
    }
}

/// What a reader's event state says about its card.
pub fn presence(state: State) -> CardPresence {
    if !state.contains(State::PRESENT) {
        CardPresence::Empty
    } else if state.contains(State::MUTE) {
        CardPresence::Mute
    } else if state.contains(State::EXCLUSIVE) {
        CardPresence::InUse
    } else {
        CardPresence::Present
    }
}

/// Runs `op` on the first reader whose card `op` accepts (an NHI card for the NHI commands, a
/// certificate card for the certificate ones). Readers without a card are skipped; a card of
/// the other kind makes the next reader be tried.
fn on_first_card<T>(
    ctx: &Context,
    busy_timeout: Duration,
    end: Disposition,
    mut op: impl FnMut(&pcsc::Card) -> Result<T, CardError>,
) -> Result<(String, T), CardError> {
    let states = reader_states(ctx)?;
    if states.is_empty() {
        return Err(CardError::NoReader);
    }
    let mut best = CardError::NoCard;
    for st in states
        .iter()
        .filter(|s| s.event_state().contains(State::PRESENT))
    {
        let reader = st.name();
        match with_card(ctx, reader, busy_timeout, end, &mut op) {
            Ok(v) => return Ok((reader.to_string_lossy().into_owned(), v)),
            // Another reader may hold the card wanted.
            Err(
                e @ (CardError::NotNhiCard { .. }
                | CardError::NotCertificateCard { .. }
                | CardError::MuteCard
                | CardError::NoCard),
            ) => {
                if matches!(best, CardError::NoCard) {
                    best = e;
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(best)
}

/// Connects (waiting while another program holds the card exclusively), begins a transaction,
/// runs `op`, ends the transaction with `end` (`ResetCard` after a PIN was verified), and
/// classifies transport failures (card gone → `Removed`).
fn with_card<T>(
    ctx: &Context,
    reader: &CStr,
    busy_timeout: Duration,
    end: Disposition,
    op: &mut impl FnMut(&pcsc::Card) -> Result<T, CardError>,
) -> Result<T, CardError> {
    let deadline = Instant::now() + busy_timeout;
    let mut card = loop {
        match ctx.connect(reader, ShareMode::Shared, Protocols::ANY) {
            Ok(c) => break c,
            Err(pcsc::Error::SharingViolation) => wait_for_release(ctx, reader, deadline)?,
            Err(e) => return Err(map_pcsc(e)),
        }
    };
    let result = match card.transaction() {
        Ok(tx) => {
            let r = op(&tx);
            if let Err((tx, e)) = tx.end(end) {
                tracing::warn!("ending the card transaction: {e}");
                drop(tx);
            }
            r
        }
        Err(e) => Err(map_pcsc(e)),
    };
    if let Err((card, e)) = card.disconnect(end) {
        tracing::warn!("disconnecting from the card: {e}");
        drop(card);
    }
    // A transport failure (an error, or an answer too short to carry a status word) while the
    // card leaves the reader is a removal; pcscd notices within its 400 ms poll.
    result.map_err(|e| match e {
        CardError::Pcsc(_) | CardError::MuteCard | CardError::Malformed { len: 0..=1, .. }
            if card_gone(ctx, reader, REMOVAL_GRACE) =>
        {
            CardError::Removed
        }
        e => e,
    })
}

/// Waits (without polling) until the reader's state changes or the deadline passes.
fn wait_for_release(ctx: &Context, reader: &CStr, deadline: Instant) -> Result<(), CardError> {
    let remaining = deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() {
        return Err(CardError::Busy);
    }
    let mut st = [ReaderState::new(reader.to_owned(), State::UNAWARE)];
    ctx.get_status_change(Duration::ZERO, &mut st)
        .map_err(map_pcsc)?;
    if !st[0].event_state().contains(State::EXCLUSIVE)
        && !st[0].event_state().contains(State::INUSE)
    {
        // Not held exclusively (any more): retry after a short pause so that a reader that
        // keeps refusing cannot make this a busy loop.
        std::thread::sleep(Duration::from_millis(20).min(remaining));
        return Ok(());
    }
    st[0].sync_current_state();
    match ctx.get_status_change(remaining, &mut st) {
        Ok(()) => Ok(()),
        Err(pcsc::Error::Timeout) => Err(CardError::Busy),
        Err(e) => Err(map_pcsc(e)),
    }
}

/// How long to wait for pcscd to report a removal after a transport failure.
const REMOVAL_GRACE: Duration = Duration::from_millis(1_000);

/// Whether the card has left `reader`, waiting up to `grace` for pcscd to notice.
fn card_gone(ctx: &Context, reader: &CStr, grace: Duration) -> bool {
    let deadline = Instant::now() + grace;
    let mut st = [ReaderState::new(reader.to_owned(), State::UNAWARE)];
    let mut timeout = Duration::ZERO;
    loop {
        match ctx.get_status_change(timeout, &mut st) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => return !st[0].event_state().contains(State::PRESENT),
            Err(_) => return true,
        }
        if !st[0].event_state().contains(State::PRESENT) {
            return true;
        }
        timeout = deadline.saturating_duration_since(Instant::now());
        if timeout.is_zero() {
            return false;
        }
        st[0].sync_current_state();
    }
}

/// Sends one APDU and follows `61 xx` with GET RESPONSE; returns the data and the final
/// status word.
pub fn exchange(
    card: &pcsc::Card,
    command: &[u8],
    what: &'static str,
) -> Result<(Vec<u8>, StatusWord), CardError> {
    let mut buf = [0u8; 260];
    let resp = card.transmit(command, &mut buf).map_err(map_pcsc)?;
    let (data, mut sw) = split_response(resp).ok_or(CardError::Malformed {
        command: what,
        len: resp.len(),
    })?;
    let mut out = data.to_vec();
    let mut rounds = 0;
    while let Some(n) = sw.bytes_available() {
        rounds += 1;
        if rounds > 16 || out.len() > 4096 {
            return Err(CardError::Malformed {
                command: what,
                len: out.len(),
            });
        }
        let resp = card
            .transmit(&apdu::get_response(n), &mut buf)
            .map_err(map_pcsc)?;
        let (data, next) = split_response(resp).ok_or(CardError::Malformed {
            command: "GET RESPONSE",
            len: resp.len(),
        })?;
        out.extend_from_slice(data);
        sw = next;
    }
    Ok((out, sw))
}

/// SELECT of the PKI application and the certificate file, READ BINARY in chunks.
fn read_certificate(card: &pcsc::Card) -> Result<Vec<u8>, CardError> {
    let (_, sw) = exchange(card, &apdu::SELECT_PKI, "SELECT PKI")?;
    if !sw.is_ok() {
        return Err(CardError::NotCertificateCard {
            command: "SELECT PKI",
            sw,
        });
    }
    let (_, sw) = exchange(card, &apdu::SELECT_CERTIFICATE_FILE, "SELECT CERTIFICATE")?;
    if !sw.is_ok() {
        return Err(CardError::NotCertificateCard {
            command: "SELECT CERTIFICATE",
            sw,
        });
    }
    let mut out = Vec::new();
    loop {
        let offset = u16::try_from(out.len()).map_err(|_| CardError::Malformed {
            command: "READ BINARY",
            len: out.len(),
        })?;
        let (data, sw) = exchange(
            card,
            &apdu::read_binary(offset, apdu::READ_CHUNK),
            "READ BINARY",
        )?;
        if sw == StatusWord::WRONG_OFFSET && !out.is_empty() {
            break;
        }
        if !sw.is_ok() && sw != StatusWord::END_OF_FILE {
            return Err(CardError::Status {
                command: "READ BINARY",
                sw,
            });
        }
        let short = data.len() < usize::from(apdu::READ_CHUNK);
        out.extend_from_slice(&data);
        if out.len() > apdu::CERTIFICATE_MAX_LEN {
            return Err(CardError::Malformed {
                command: "READ BINARY",
                len: out.len(),
            });
        }
        if short || sw == StatusWord::END_OF_FILE {
            break;
        }
    }
    if out.is_empty() {
        return Err(CardError::Malformed {
            command: "READ BINARY",
            len: 0,
        });
    }
    Ok(out)
}

/// SELECT + READ, decoded.
fn read_record(card: &pcsc::Card) -> Result<CardBasicData, CardError> {
    Ok(read_raw_record(card)?.decode()?)
}

/// SELECT (tolerating `6D 00` from newer cards) and READ of the 57-byte record, as stored.
fn read_raw_record(card: &pcsc::Card) -> Result<CardRecord, CardError> {
    let (_, select_sw) = exchange(card, &apdu::SELECT_NHI, "SELECT")?;
    let select_refused = select_sw == StatusWord::INS_NOT_SUPPORTED;
    if !select_sw.is_ok() && !select_refused {
        return Err(CardError::NotNhiCard {
            command: "SELECT",
            sw: select_sw,
        });
    }
    let (record, sw) = exchange(card, &apdu::READ_BASIC_DATA, "READ")?;
    if !sw.is_ok() {
        return Err(if select_refused || sw == StatusWord::INS_NOT_SUPPORTED {
            CardError::NotNhiCard {
                command: "READ",
                sw,
            }
        } else {
            CardError::Status {
                command: "READ",
                sw,
            }
        });
    }
    let raw: [u8; RECORD_LEN] = record
        .as_slice()
        .try_into()
        .map_err(|_| CardError::Malformed {
            command: "READ",
            len: record.len(),
        })?;
    Ok(CardRecord(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_its_code() {
        let sw = StatusWord(0x6A, 0x82);
        let cases = [
            (CardError::ServiceNotRunning, ErrorCode::PcscNotRunning),
            (CardError::NoReader, ErrorCode::NoReader),
            (CardError::NoCard, ErrorCode::NoCard),
            (
                CardError::NotNhiCard {
                    command: "SELECT",
                    sw,
                },
                ErrorCode::NotNhiCard,
            ),
            (CardError::MuteCard, ErrorCode::NotNhiCard),
            (CardError::Busy, ErrorCode::CardBusy),
            (CardError::Removed, ErrorCode::CardRemoved),
            (CardError::Timeout, ErrorCode::Timeout),
            (
                CardError::Status {
                    command: "READ",
                    sw,
                },
                ErrorCode::CardError,
            ),
            (
                CardError::Malformed {
                    command: "READ",
                    len: 3,
                },
                ErrorCode::CardError,
            ),
        ];
        for (e, code) in cases {
            assert_eq!(e.code(), code, "{e}");
        }
        assert_eq!(
            map_pcsc(pcsc::Error::NoService).code(),
            ErrorCode::PcscNotRunning
        );
        assert_eq!(
            map_pcsc(pcsc::Error::ServiceStopped).code(),
            ErrorCode::PcscNotRunning
        );
        assert_eq!(
            map_pcsc(pcsc::Error::SharingViolation).code(),
            ErrorCode::CardBusy
        );
        assert_eq!(
            map_pcsc(pcsc::Error::RemovedCard).code(),
            ErrorCode::CardRemoved
        );
        assert_eq!(
            map_pcsc(pcsc::Error::NoReadersAvailable).code(),
            ErrorCode::NoReader
        );
    }

    #[test]
    fn presence_follows_the_state_bits() {
        assert_eq!(presence(State::EMPTY), CardPresence::Empty);
        assert_eq!(presence(State::PRESENT), CardPresence::Present);
        assert_eq!(presence(State::PRESENT | State::MUTE), CardPresence::Mute);
        assert_eq!(
            presence(State::PRESENT | State::EXCLUSIVE | State::INUSE),
            CardPresence::InUse
        );
    }
}
