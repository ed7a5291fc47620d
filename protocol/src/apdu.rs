//! The NHI card's APDUs and status words, kept in one place for the bridge and the virtual card,
//! and the PKI applet of the citizen certificate card (自然人憑證, issue 12).
//!
//! Sources: the public readers magiclen/tw-nhi-icc-service and windperson/TaiwanHealthCardDemo
//! agree on SELECT and READ; INTERNAL AUTHENTICATE is this service's card-proof command
//! (see [`crate::card_proof`]).
//!
//! ## The certificate card's PKI applet
//!
//! ISO 7816-4/-8 commands, as PKI cards (MOICA's included) answer them; the bridge speaks
//! only these, and the virtual certificate card (`nhi-vcard --pki`) implements exactly them:
//!
//! | command | APDU | answers |
//! |---|---|---|
//! | SELECT the PKI application | `00 A4 04 00 08 <PKI_AID>` | `90 00`; `6A 82` on a card without it (an NHI card) |
//! | SELECT the certificate file | `00 A4 02 0C 02 C0 01` | `90 00`; `69 85` before the application is selected |
//! | READ BINARY | `00 B0 <offset hi> <offset lo> <Le>` | up to `Le` bytes + `90 00`; fewer + `62 82` at the end of the file; `6B 00` at or past the end |
//! | VERIFY the PIN | `00 20 00 81 <Lc> <PIN digits, ASCII>` | `90 00` (verified until the next reset); `63 Cx` wrong, `x` tries left (`63 C0`: now blocked); `69 83` blocked |
//! | VERIFY, empty | `00 20 00 81` | `90 00` when verified since the last reset, else `63 Cx` (tries left) or `69 83` |
//! | PSO: COMPUTE DIGITAL SIGNATURE | `00 2A 9E 9A 20 <32-byte SHA-256> 00` | signature + `90 00` (ES256: 64 bytes `r ‖ s`); `69 82` unless the PIN was verified since the last reset; `67 00` unless the hash is 32 bytes |
//!
//! The verified state lasts until the card is reset or powered off (as a real card's), so the
//! bridge runs VERIFY and the signature in one exclusive transaction that ends with a reset:
//! no later signature, nor another program on the reader, rides on that PIN. The retry
//! counter ([`crate::certificate::PIN_TRIES`]) survives resets; a correct PIN restores it.

/// The NHI application identifier selected before reading.
pub const NHI_AID: [u8; 16] = [
    0xD1, 0x58, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11, 0x00,
];

/// `SELECT` by AID: `00 A4 04 00 10 <AID>`.
pub const SELECT_NHI: [u8; 21] = [
    0x00, 0xA4, 0x04, 0x00, 0x10, 0xD1, 0x58, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x11, 0x00,
];

/// `READ` basic data: `00 CA 11 00 02 00 00` → 57 bytes + `90 00`.
pub const READ_BASIC_DATA: [u8; 7] = [0x00, 0xCA, 0x11, 0x00, 0x02, 0x00, 0x00];

/// Instruction byte of INTERNAL AUTHENTICATE.
pub const INS_INTERNAL_AUTHENTICATE: u8 = 0x88;
/// P2 of INTERNAL AUTHENTICATE v2: the card MACs the challenge *and its own record*
/// ([`crate::card_proof::card_mac`]). No other P1/P2 is answered (v1, P2 = 0, is gone).
pub const P2_PROOF_V2: u8 = 0x02;

/// `GET RESPONSE` for `len` bytes waiting after a `61 xx` status (T=0 readers).
pub fn get_response(len: u8) -> [u8; 5] {
    [0x00, 0xC0, 0x00, 0x00, len]
}

/// `INTERNAL AUTHENTICATE` v2: `00 88 00 02 20 <32-byte challenge> 10` → 16-byte MAC + `90 00`.
/// The card refuses (`67 00`) a challenge of any other length.
pub fn internal_authenticate(challenge: &[u8; 32]) -> [u8; 38] {
    let mut apdu = [0u8; 38];
    apdu[..5].copy_from_slice(&[0x00, INS_INTERNAL_AUTHENTICATE, 0x00, P2_PROOF_V2, 0x20]);
    apdu[5..37].copy_from_slice(challenge);
    apdu[37] = 0x10;
    apdu
}

/// The PKI application identifier (the certificate card's applet): `D1 58 43 45 52 54 00 01`
/// (this service's test applet; a real card's AID is configured per card profile).
pub const PKI_AID: [u8; 8] = [0xD1, 0x58, 0x43, 0x45, 0x52, 0x54, 0x00, 0x01];

/// `SELECT` the PKI application by AID: `00 A4 04 00 08 <PKI_AID>`.
pub const SELECT_PKI: [u8; 13] = [
    0x00, 0xA4, 0x04, 0x00, 0x08, 0xD1, 0x58, 0x43, 0x45, 0x52, 0x54, 0x00, 0x01,
];

/// File identifier of the authentication certificate (DER) inside the PKI application.
pub const CERTIFICATE_FILE: [u8; 2] = [0xC0, 0x01];

/// `SELECT` the certificate file by identifier, no answer data: `00 A4 02 0C 02 C0 01`.
pub const SELECT_CERTIFICATE_FILE: [u8; 7] = [0x00, 0xA4, 0x02, 0x0C, 0x02, 0xC0, 0x01];

/// Instruction byte of READ BINARY.
pub const INS_READ_BINARY: u8 = 0xB0;
/// Instruction byte of VERIFY.
pub const INS_VERIFY: u8 = 0x20;
/// Instruction byte of PERFORM SECURITY OPERATION.
pub const INS_PSO: u8 = 0x2A;
/// P2 of VERIFY: the card's (local) PIN reference.
pub const PIN_REFERENCE: u8 = 0x81;
/// P1 P2 of PSO COMPUTE DIGITAL SIGNATURE (`9E`: answer the signature, `9A`: input data).
pub const PSO_CDS: [u8; 2] = [0x9E, 0x9A];
/// The longest PIN a VERIFY carries.
pub const PIN_MAX_LEN: usize = 12;
/// The shortest PIN a card accepts.
pub const PIN_MIN_LEN: usize = 4;
/// READ BINARY chunk the bridge asks for.
pub const READ_CHUNK: u8 = 0xE0;
/// The largest certificate file the bridge reads.
pub const CERTIFICATE_MAX_LEN: usize = 8192;

/// `READ BINARY` `le` bytes at `offset` (15 bits): `00 B0 <hi> <lo> <le>`.
pub fn read_binary(offset: u16, le: u8) -> [u8; 5] {
    let [hi, lo] = (offset & 0x7FFF).to_be_bytes();
    [0x00, INS_READ_BINARY, hi, lo, le]
}

/// `VERIFY` the PIN: `00 20 00 81 <Lc> <pin>`; an empty `pin` asks for the tries left
/// (`00 20 00 81`). The caller wipes the returned buffer after use (it holds the PIN).
pub fn verify_pin(pin: &[u8]) -> Vec<u8> {
    let mut apdu = Vec::with_capacity(5 + pin.len());
    apdu.extend_from_slice(&[0x00, INS_VERIFY, 0x00, PIN_REFERENCE]);
    if !pin.is_empty() {
        apdu.push(pin.len().min(255) as u8);
        apdu.extend_from_slice(&pin[..pin.len().min(255)]);
    }
    apdu
}

/// `PSO: COMPUTE DIGITAL SIGNATURE` over a SHA-256 hash: `00 2A 9E 9A 20 <hash> 00`.
pub fn compute_signature(hash: &[u8; 32]) -> [u8; 38] {
    let mut apdu = [0u8; 38];
    apdu[..5].copy_from_slice(&[0x00, INS_PSO, PSO_CDS[0], PSO_CDS[1], 0x20]);
    apdu[5..37].copy_from_slice(hash);
    apdu[37] = 0x00;
    apdu
}

/// A status word (`SW1 SW2`) at the end of a card response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusWord(pub u8, pub u8);

impl StatusWord {
    pub const OK: StatusWord = StatusWord(0x90, 0x00);
    /// `6D 00`: instruction not supported (newer cards answer SELECT with it but still READ).
    pub const INS_NOT_SUPPORTED: StatusWord = StatusWord(0x6D, 0x00);
    pub const FILE_NOT_FOUND: StatusWord = StatusWord(0x6A, 0x82);
    pub const WRONG_LENGTH: StatusWord = StatusWord(0x67, 0x00);
    pub const CLA_NOT_SUPPORTED: StatusWord = StatusWord(0x6E, 0x00);
    pub const CONDITIONS_NOT_SATISFIED: StatusWord = StatusWord(0x69, 0x85);
    /// `6A 86`: incorrect P1/P2 (e.g. the retired v1 proof command).
    pub const INCORRECT_P1_P2: StatusWord = StatusWord(0x6A, 0x86);

    /// `62 82`: end of file reached before `Le` bytes (READ BINARY).
    pub const END_OF_FILE: StatusWord = StatusWord(0x62, 0x82);
    /// `6B 00`: offset outside the file (READ BINARY).
    pub const WRONG_OFFSET: StatusWord = StatusWord(0x6B, 0x00);
    /// `69 82`: security status not satisfied (a signature without a verified PIN).
    pub const SECURITY_NOT_SATISFIED: StatusWord = StatusWord(0x69, 0x82);
    /// `69 83`: the PIN is blocked.
    pub const PIN_BLOCKED: StatusWord = StatusWord(0x69, 0x83);

    /// `63 Cx`: wrong PIN (or, to an empty VERIFY, not verified), `x` tries left.
    pub fn pin_tries_left(self) -> Option<u8> {
        (self.0 == 0x63 && self.1 & 0xF0 == 0xC0).then_some(self.1 & 0x0F)
    }

    /// `63 Cx` for `tries` (at most 15).
    pub fn pin_wrong(tries: u8) -> StatusWord {
        StatusWord(0x63, 0xC0 | tries.min(15))
    }

    pub fn is_ok(self) -> bool {
        self == Self::OK
    }

    /// `61 xx`: `xx` bytes are waiting for a GET RESPONSE.
    pub fn bytes_available(self) -> Option<u8> {
        (self.0 == 0x61).then_some(self.1)
    }

    pub fn as_u16(self) -> u16 {
        u16::from_be_bytes([self.0, self.1])
    }
}

impl std::fmt::Display for StatusWord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02X}{:02X}", self.0, self.1)
    }
}

/// Splits a card response into its data and status word; `None` when shorter than 2 bytes.
pub fn split_response(response: &[u8]) -> Option<(&[u8], StatusWord)> {
    let (data, sw) = response.split_at_checked(response.len().checked_sub(2)?)?;
    Some((data, StatusWord(sw[0], sw[1])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_embeds_the_aid() {
        assert_eq!(&SELECT_NHI[5..], &NHI_AID);
        assert_eq!(SELECT_NHI[4] as usize, NHI_AID.len());
    }

    #[test]
    fn split_response_takes_the_last_two_bytes() {
        assert_eq!(
            split_response(&[1, 2, 0x90, 0]),
            Some((&[1u8, 2][..], StatusWord::OK))
        );
        assert_eq!(
            split_response(&[0x61, 0x39]).map(|r| r.1.bytes_available()),
            Some(Some(0x39))
        );
        assert_eq!(split_response(&[0x90]), None);
        assert_eq!(split_response(&[]), None);
    }

    #[test]
    fn pki_commands_layout() {
        assert_eq!(&SELECT_PKI[5..], &PKI_AID);
        assert_eq!(SELECT_PKI[4] as usize, PKI_AID.len());
        assert_eq!(&SELECT_CERTIFICATE_FILE[5..], &CERTIFICATE_FILE);
        assert_eq!(read_binary(0x1234, 0xE0), [0, 0xB0, 0x12, 0x34, 0xE0]);
        assert_eq!(read_binary(0xFFFF, 1)[2], 0x7F);
        assert_eq!(verify_pin(b""), [0, 0x20, 0, 0x81]);
        assert_eq!(
            verify_pin(b"1234"),
            [0, 0x20, 0, 0x81, 4, b'1', b'2', b'3', b'4']
        );
        let s = compute_signature(&[9; 32]);
        assert_eq!(&s[..5], &[0, 0x2A, 0x9E, 0x9A, 0x20]);
        assert_eq!(s[37], 0);
        assert_eq!(StatusWord(0x63, 0xC2).pin_tries_left(), Some(2));
        assert_eq!(StatusWord(0x63, 0x00).pin_tries_left(), None);
        assert_eq!(StatusWord::pin_wrong(0), StatusWord(0x63, 0xC0));
    }

    #[test]
    fn internal_authenticate_layout() {
        let apdu = internal_authenticate(&[7; 32]);
        assert_eq!(&apdu[..5], &[0, 0x88, 0, 2, 32]);
        assert_eq!(apdu[37], 16);
        assert!(apdu[5..37].iter().all(|&b| b == 7));
    }
}
