//! The NHI card's APDUs and status words, kept in one place for the bridge and the virtual card.
//!
//! Sources: the public readers magiclen/tw-nhi-icc-service and windperson/TaiwanHealthCardDemo
//! agree on SELECT and READ; INTERNAL AUTHENTICATE is this service's card-proof command
//! (see [`crate::card_proof`]).

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
    fn internal_authenticate_layout() {
        let apdu = internal_authenticate(&[7; 32]);
        assert_eq!(&apdu[..5], &[0, 0x88, 0, 2, 32]);
        assert_eq!(apdu[37], 16);
        assert!(apdu[5..37].iter().all(|&b| b == 7));
    }
}
