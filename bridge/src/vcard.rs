//! The virtual NHI card: the card's "operating system" ([`VirtualCard`], pure APDU logic) and
//! the vpcd protocol that connects it to pcscd ([`serve`]).
//!
//! vpcd ⇄ card wire format (vsmartcard `vpcd.c`): every message is a 2-byte big-endian length
//! and a payload, both ways. From vpcd, a 1-byte payload is a control byte (0 power off,
//! 1 power on, 2 reset — no reply; 4 get ATR — reply the ATR); longer payloads are command
//! APDUs, answered with a response APDU. The card is the TCP client; closing the socket is
//! pulling the card out.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use nhi_protocol::apdu::{StatusWord, INS_INTERNAL_AUTHENTICATE, NHI_AID, P2_PROOF_V2};
use nhi_protocol::card_proof::{
    card_mac, derive_card_key, CardKey, CardRecord, MasterKey, CHALLENGE_LEN, MAC_LEN,
};
use nhi_protocol::CardBasicData;
use serde::Deserialize;

/// An NHI card ATR listed in pcsc-tools' smartcard_list.txt ("National Health Insurance Card,
/// Taiwan"); T=1, valid TCK.
pub const NHI_ATR: [u8; 22] = [
    0x3B, 0xFC, 0x18, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x45, 0x80, 0x73, 0xC8, 0x21, 0x13, 0x66, 0x02,
    0x04, 0x03, 0x55, 0x00, 0x02, 0xD2,
];

/// How the card behaves, to exercise every path of the host's reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Answers SELECT and READ directly (T=1 cards).
    Classic,
    /// Answers with `61 xx` and hands the data out on GET RESPONSE (T=0 readers).
    GetResponse,
    /// Refuses SELECT with `6D 00` but answers READ (some newer cards).
    SelectRefused,
    /// Some other card: SELECT fails with `6A 82`, READ with `6D 00`.
    NotNhi,
}

impl Model {
    pub fn parse(s: &str) -> Option<Model> {
        match s {
            "classic" => Some(Model::Classic),
            "get-response" => Some(Model::GetResponse),
            "select-6d00" => Some(Model::SelectRefused),
            "not-nhi" => Some(Model::NotNhi),
            _ => None,
        }
    }
}

/// The holders the virtual card can play (`data/sample/card-holders.json`).
#[derive(Debug, Deserialize)]
struct HoldersFile {
    holders: Vec<CardBasicData>,
}

#[derive(Debug, thiserror::Error)]
pub enum HolderError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} is not a valid holders file: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("no holder {0:?} in the holders file (use a national ID, card number or index)")]
    NotFound(String),
    #[error("holder cannot be encoded on a card: {0}")]
    Encode(#[from] nhi_protocol::CardDataError),
}

/// The holders file shipped with the repository.
pub fn default_holders_path() -> PathBuf {
    std::env::var_os("NHI_VCARD_HOLDERS")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/sample/card-holders.json")
        })
}

/// Loads every holder from `path`.
pub fn load_holders(path: &Path) -> Result<Vec<CardBasicData>, HolderError> {
    let text = std::fs::read(path).map_err(|source| HolderError::Read {
        path: path.into(),
        source,
    })?;
    let file: HoldersFile = serde_json::from_slice(&text).map_err(|source| HolderError::Parse {
        path: path.into(),
        source,
    })?;
    Ok(file.holders)
}

/// Picks a holder by national ID, card number or 0-based index (`None`: the first).
pub fn pick_holder(
    holders: &[CardBasicData],
    which: Option<&str>,
) -> Result<CardBasicData, HolderError> {
    let found = match which {
        None => holders.first(),
        Some(w) => holders
            .iter()
            .find(|h| h.national_id.as_str() == w || h.card_number.as_str() == w)
            .or_else(|| w.parse::<usize>().ok().and_then(|i| holders.get(i))),
    };
    found
        .cloned()
        .ok_or_else(|| HolderError::NotFound(which.unwrap_or("(first)").into()))
}

/// The card's APDU logic. No I/O.
pub struct VirtualCard {
    record: CardRecord,
    key: CardKey,
    model: Model,
    selected: bool,
    /// Response data waiting for GET RESPONSE (model `GetResponse`).
    waiting: Vec<u8>,
}

impl VirtualCard {
    pub fn new(
        holder: &CardBasicData,
        master: &MasterKey,
        model: Model,
    ) -> Result<Self, HolderError> {
        let record = CardRecord::encode(holder)?;
        Ok(Self {
            record,
            // Personalisation: the key is bound to the card number and the ID number.
            key: derive_card_key(master, &record),
            model,
            selected: false,
            waiting: Vec::new(),
        })
    }

    pub fn atr(&self) -> &'static [u8] {
        &NHI_ATR
    }

    /// Power off, power on and reset all lose the selected application.
    pub fn reset(&mut self) {
        self.selected = false;
        self.waiting.clear();
    }

    /// Answers one command APDU (response data + SW1 SW2).
    pub fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        let sw = |s: StatusWord| vec![s.0, s.1];
        let [cla, ins, p1, p2, rest @ ..] = apdu else {
            return sw(StatusWord::WRONG_LENGTH);
        };
        if *cla != 0x00 {
            return sw(StatusWord::CLA_NOT_SUPPORTED);
        }
        if *ins == 0xC0 {
            return self.get_response(rest.first().copied());
        }
        self.waiting.clear();
        if self.model == Model::NotNhi {
            return match ins {
                0xA4 => sw(StatusWord::FILE_NOT_FOUND),
                _ => sw(StatusWord::INS_NOT_SUPPORTED),
            };
        }
        match (*ins, *p1, *p2) {
            (0xA4, 0x04, 0x00) => {
                if self.model == Model::SelectRefused {
                    return sw(StatusWord::INS_NOT_SUPPORTED);
                }
                match rest.split_first() {
                    Some((&lc, data))
                        if data.len() >= lc as usize && data[..lc as usize] == NHI_AID =>
                    {
                        self.selected = true;
                        sw(StatusWord::OK)
                    }
                    Some(_) => {
                        self.selected = false;
                        sw(StatusWord::FILE_NOT_FOUND)
                    }
                    None => sw(StatusWord::WRONG_LENGTH),
                }
            }
            (0xA4, _, _) => sw(StatusWord::FILE_NOT_FOUND),
            (0xCA, 0x11, 0x00) => {
                if !self.selected && self.model != Model::SelectRefused {
                    return sw(StatusWord::CONDITIONS_NOT_SATISFIED);
                }
                let record = self.record;
                self.answer(&record.0)
            }
            (0xCA, _, _) => sw(StatusWord::FILE_NOT_FOUND),
            // Proof v2: the MAC covers the challenge and the record this card stores; the
            // terminal passes the challenge only. Exactly 32 bytes (Lc = 0x20), or 67 00.
            (INS_INTERNAL_AUTHENTICATE, 0x00, P2_PROOF_V2) => {
                if !self.selected && self.model != Model::SelectRefused {
                    return sw(StatusWord::CONDITIONS_NOT_SATISFIED);
                }
                match rest.split_first() {
                    Some((&lc, data))
                        if lc as usize == CHALLENGE_LEN
                            && (data.len() == CHALLENGE_LEN || data.len() == CHALLENGE_LEN + 1) =>
                    {
                        let mut challenge = [0u8; CHALLENGE_LEN];
                        challenge.copy_from_slice(&data[..CHALLENGE_LEN]);
                        let mac = card_mac(&self.key, &challenge, &self.record);
                        debug_assert_eq!(mac.0.len(), MAC_LEN);
                        self.answer(&mac.0)
                    }
                    _ => sw(StatusWord::WRONG_LENGTH),
                }
            }
            // The retired v1 proof (P2 = 00) and any other P1/P2.
            (INS_INTERNAL_AUTHENTICATE, _, _) => sw(StatusWord::INCORRECT_P1_P2),
            _ => sw(StatusWord::INS_NOT_SUPPORTED),
        }
    }

    fn answer(&mut self, data: &[u8]) -> Vec<u8> {
        if self.model == Model::GetResponse {
            self.waiting = data.to_vec();
            return vec![0x61, data.len().min(255) as u8];
        }
        let mut r = data.to_vec();
        r.extend_from_slice(&[0x90, 0x00]);
        r
    }

    fn get_response(&mut self, le: Option<u8>) -> Vec<u8> {
        if self.waiting.is_empty() {
            return vec![
                StatusWord::CONDITIONS_NOT_SATISFIED.0,
                StatusWord::CONDITIONS_NOT_SATISFIED.1,
            ];
        }
        let want = match le {
            Some(0) | None => 256,
            Some(n) => n as usize,
        };
        let n = want.min(self.waiting.len());
        let mut r: Vec<u8> = self.waiting.drain(..n).collect();
        if self.waiting.is_empty() {
            r.extend_from_slice(&[0x90, 0x00]);
        } else {
            r.extend_from_slice(&[0x61, self.waiting.len().min(255) as u8]);
        }
        r
    }
}

/// A card the serve loop can play: the NHI card or the certificate card.
pub trait Applet {
    fn atr(&self) -> &[u8];
    /// Power off, power on or reset.
    fn reset(&mut self);
    /// Answers one command APDU.
    fn process(&mut self, apdu: &[u8]) -> Vec<u8>;
}

impl Applet for VirtualCard {
    fn atr(&self) -> &[u8] {
        VirtualCard::atr(self)
    }
    fn reset(&mut self) {
        VirtualCard::reset(self)
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        VirtualCard::process(self, apdu)
    }
}

pub const CTRL_POWER_OFF: u8 = 0;
pub const CTRL_POWER_ON: u8 = 1;
pub const CTRL_RESET: u8 = 2;
pub const CTRL_GET_ATR: u8 = 4;

/// Reads one vpcd message; `Ok(None)` at a clean end of stream.
pub fn read_msg<R: Read>(r: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut hdr = [0u8; 2];
    match r.read_exact(&mut hdr) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut buf = vec![0u8; u16::from_be_bytes(hdr) as usize];
    r.read_exact(&mut buf)?;
    Ok(Some(buf))
}

/// Writes one vpcd message (length and payload in one write).
pub fn write_msg<W: Write>(w: &mut W, payload: &[u8]) -> io::Result<()> {
    let len = u16::try_from(payload.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "vpcd message over 64 KiB"))?;
    let mut msg = Vec::with_capacity(payload.len() + 2);
    msg.extend_from_slice(&len.to_be_bytes());
    msg.extend_from_slice(payload);
    w.write_all(&msg)?;
    w.flush()
}

/// A TCP stream that re-arms `TCP_QUICKACK` before every read.
///
/// vpcd writes each message as two `send()` calls (length, then payload) without
/// `TCP_NODELAY`; Nagle holds the payload until the length is ACKed, and Linux delays that ACK
/// (~40 ms) because the card has nothing to send yet. Quick-ack mode is cleared by the kernel
/// on its own, so it must be set before each read; without it every APDU costs ~44 ms.
pub struct QuickAckStream {
    pub stream: std::net::TcpStream,
    pub quickack: bool,
}

impl Read for QuickAckStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(target_os = "linux")]
        if self.quickack {
            set_quickack(&self.stream);
        }
        self.stream.read(buf)
    }
}

/// `setsockopt(TCP_QUICKACK, 1)` (std's `TcpStreamExt::set_quickack` needs Rust 1.89; the
/// workspace supports 1.85).
#[cfg(target_os = "linux")]
fn set_quickack(stream: &std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: a valid socket descriptor and a pointer to a live c_int of the given size.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

impl Write for QuickAckStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// What the serve loop should do with an APDU before answering it (fault injection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Drop the connection (pull the card out) instead of answering the next READ.
    RemoveOnRead,
    /// Answer the next READ only after this long (a card or reader that hangs).
    Stall(std::time::Duration),
}

/// Counters of one connection.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub atr_polls: u64,
    pub apdus: u64,
}

/// Serves one vpcd connection until it ends. `fault` is consulted (and may be reset) before
/// each APDU; returning with `Ok(true)` means a fault pulled the card.
pub fn serve<S: Read + Write>(
    s: &mut S,
    card: &mut dyn Applet,
    fault: &mut dyn FnMut(&[u8]) -> Fault,
    log: &mut dyn FnMut(String),
) -> io::Result<(Stats, bool)> {
    let mut st = Stats::default();
    loop {
        let Some(msg) = read_msg(s)? else {
            return Ok((st, false));
        };
        match msg.as_slice() {
            [] => log("empty message from vpcd".into()),
            [CTRL_POWER_OFF] | [CTRL_POWER_ON] | [CTRL_RESET] => card.reset(),
            [CTRL_GET_ATR] => {
                st.atr_polls += 1;
                write_msg(s, card.atr())?;
            }
            [c] => log(format!("unknown control byte {c:#04x}")),
            apdu => {
                st.apdus += 1;
                match fault(apdu) {
                    Fault::RemoveOnRead => {
                        log("fault: pulling the card out instead of answering".into());
                        return Ok((st, true));
                    }
                    Fault::Stall(d) => {
                        log(format!("fault: stalling {d:?} before answering"));
                        std::thread::sleep(d);
                    }
                    Fault::None => {}
                }
                let resp = card.process(apdu);
                write_msg(s, &resp)?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nhi_protocol::apdu::{get_response, internal_authenticate, READ_BASIC_DATA, SELECT_NHI};
    use nhi_protocol::card::RECORD_LEN;
    use nhi_protocol::card_proof::{challenge, verify, CardMac, Nonce, TEST_MASTER_KEY_HEX};

    fn holders() -> Vec<CardBasicData> {
        load_holders(&default_holders_path()).expect("sample holders load")
    }

    fn card(model: Model) -> (VirtualCard, CardBasicData) {
        let h = pick_holder(&holders(), None).expect("first holder");
        let master = MasterKey::from_hex(TEST_MASTER_KEY_HEX).expect("key");
        (VirtualCard::new(&h, &master, model).expect("card"), h)
    }

    #[test]
    fn atr_checksum_is_valid() {
        assert_eq!(NHI_ATR[1..].iter().fold(0u8, |a, b| a ^ b), 0);
    }

    #[test]
    fn holders_are_found_by_id_card_number_or_index() {
        let hs = holders();
        assert_eq!(hs.len(), 6);
        let by_id = pick_holder(&hs, Some(hs[1].national_id.as_str())).expect("by id");
        assert_eq!(by_id, hs[1]);
        assert_eq!(
            pick_holder(&hs, Some(hs[2].card_number.as_str())).expect("by number"),
            hs[2]
        );
        assert_eq!(pick_holder(&hs, Some("3")).expect("by index"), hs[3]);
        assert!(matches!(
            pick_holder(&hs, Some("Z999999999")),
            Err(HolderError::NotFound(_))
        ));
        for h in &hs {
            assert!(h.encode().is_ok(), "{} encodes", h.card_number);
        }
    }

    #[test]
    fn classic_card_answers_select_read_and_authenticate() {
        let (mut c, h) = card(Model::Classic);
        assert_eq!(c.process(&READ_BASIC_DATA), [0x69, 0x85]);
        assert_eq!(c.process(&SELECT_NHI), [0x90, 0x00]);
        let r = c.process(&READ_BASIC_DATA);
        assert_eq!(r.len(), RECORD_LEN + 2);
        assert_eq!(CardBasicData::decode(&r[..RECORD_LEN]).expect("decodes"), h);
        let nonce = Nonce([3; 32]);
        let r = c.process(&internal_authenticate(&challenge(
            "https://nhi.example",
            &nonce,
        )));
        assert_eq!(&r[MAC_LEN..], [0x90, 0x00]);
        let mac = CardMac(r[..MAC_LEN].try_into().expect("16 bytes"));
        let master = MasterKey::from_hex(TEST_MASTER_KEY_HEX).expect("key");
        let record = CardRecord::encode(&h).expect("record");
        assert!(verify(&master, &record, "https://nhi.example", &nonce, &mac).is_ok());
        assert!(verify(&master, &record, "https://evil.example", &nonce, &mac).is_err());
        // The MAC is over the record the card stores: another record does not verify.
        let mut other = record;
        other.0[33] = b'2';
        assert!(verify(&master, &other, "https://nhi.example", &nonce, &mac).is_err());
    }

    #[test]
    fn the_card_refuses_a_challenge_that_is_not_32_bytes_and_the_v1_command() {
        let (mut c, _) = card(Model::Classic);
        c.process(&SELECT_NHI);
        // A 64-byte "challenge" (e.g. a bridge trying to slip a record hash in): 67 00.
        let mut long = vec![0x00, 0x88, 0x00, 0x02, 0x40];
        long.extend_from_slice(&[7; 64]);
        long.push(0x10);
        assert_eq!(c.process(&long), [0x67, 0x00]);
        // Lc says 32 but 64 bytes follow: 67 00.
        let mut lying = vec![0x00, 0x88, 0x00, 0x02, 0x20];
        lying.extend_from_slice(&[7; 64]);
        assert_eq!(c.process(&lying), [0x67, 0x00]);
        // 31 bytes: 67 00.
        let mut short = vec![0x00, 0x88, 0x00, 0x02, 0x1F];
        short.extend_from_slice(&[7; 31]);
        assert_eq!(c.process(&short), [0x67, 0x00]);
        // The v1 command (P2 = 00) is gone: 6A 86.
        let mut v1 = vec![0x00, 0x88, 0x00, 0x00, 0x20];
        v1.extend_from_slice(&[7; 32]);
        v1.push(0x10);
        assert_eq!(c.process(&v1), [0x6A, 0x86]);
    }

    #[test]
    fn other_models() {
        let (mut c, h) = card(Model::GetResponse);
        assert_eq!(c.process(&SELECT_NHI), [0x90, 0x00]);
        assert_eq!(c.process(&READ_BASIC_DATA), [0x61, RECORD_LEN as u8]);
        let r = c.process(&get_response(RECORD_LEN as u8));
        assert_eq!(CardBasicData::decode(&r[..RECORD_LEN]).expect("decodes"), h);
        assert_eq!(&r[RECORD_LEN..], [0x90, 0x00]);

        let (mut c, _) = card(Model::SelectRefused);
        assert_eq!(c.process(&SELECT_NHI), [0x6D, 0x00]);
        assert_eq!(c.process(&READ_BASIC_DATA).len(), RECORD_LEN + 2);

        let (mut c, _) = card(Model::NotNhi);
        assert_eq!(c.process(&SELECT_NHI), [0x6A, 0x82]);
        assert_eq!(c.process(&READ_BASIC_DATA), [0x6D, 0x00]);
    }

    #[test]
    fn malformed_apdus_get_status_words() {
        let (mut c, _) = card(Model::Classic);
        assert_eq!(c.process(&[0x00]), [0x67, 0x00]);
        assert_eq!(c.process(&[0x80, 0xCA, 0x11, 0x00]), [0x6E, 0x00]);
        assert_eq!(c.process(&[0x00, 0xA4, 0x04, 0x00]), [0x67, 0x00]);
        assert_eq!(
            c.process(&[0x00, 0xA4, 0x04, 0x00, 0x10, 0xD1]),
            [0x6A, 0x82]
        );
        assert_eq!(c.process(&[0x00, 0xB0, 0x00, 0x00, 0x00]), [0x6D, 0x00]);
        assert_eq!(c.process(&[0x00, 0xC0, 0x00, 0x00, 0x10]), [0x69, 0x85]);
        c.process(&SELECT_NHI);
        assert_eq!(
            c.process(&[0x00, 0x88, 0x00, 0x02, 0x05, 1, 2, 3, 4, 5]),
            [0x67, 0x00]
        );
    }

    #[test]
    fn serve_speaks_vpcd() {
        let (mut c, _) = card(Model::Classic);
        let mut input = Vec::new();
        for m in [
            &[CTRL_GET_ATR][..],
            &[CTRL_POWER_ON],
            &SELECT_NHI,
            &READ_BASIC_DATA,
            &[CTRL_POWER_OFF],
        ] {
            write_msg(&mut input, m).expect("write");
        }
        struct Duplex(io::Cursor<Vec<u8>>, Vec<u8>);
        impl Read for Duplex {
            fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
                self.0.read(b)
            }
        }
        impl Write for Duplex {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.1.write(b)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut d = Duplex(io::Cursor::new(input), Vec::new());
        let (st, pulled) = serve(&mut d, &mut c, &mut |_| Fault::None, &mut |_| {}).expect("serve");
        assert_eq!((st.atr_polls, st.apdus, pulled), (1, 2, false));
        let mut out = io::Cursor::new(d.1);
        assert_eq!(read_msg(&mut out).expect("atr").expect("some"), NHI_ATR);
        assert_eq!(read_msg(&mut out).expect("sw").expect("some"), [0x90, 0x00]);
        assert_eq!(
            read_msg(&mut out).expect("rec").expect("some").len(),
            RECORD_LEN + 2
        );
        assert!(read_msg(&mut out).expect("eof").is_none());
    }
}
