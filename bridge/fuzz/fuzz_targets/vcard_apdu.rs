//! The virtual card's APDU parser (and the status-word splitter the host uses): arbitrary
//! command APDUs get a status word, never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nhi_bridge::vcard::{Model, VirtualCard};
use nhi_protocol::card_proof::{MasterKey, TEST_MASTER_KEY_HEX};
use nhi_protocol::CardBasicData;

fn holder() -> &'static CardBasicData {
    static H: OnceLock<CardBasicData> = OnceLock::new();
    H.get_or_init(|| {
        let all = nhi_bridge::vcard::load_holders(&nhi_bridge::vcard::default_holders_path())
            .expect("holders file");
        all.into_iter().next().expect("at least one holder")
    })
}

fuzz_target!(|data: &[u8]| {
    let holder = holder();
    let Ok(master) = MasterKey::from_hex(TEST_MASTER_KEY_HEX) else {
        return;
    };
    for model in [
        Model::Classic,
        Model::GetResponse,
        Model::SelectRefused,
        Model::NotNhi,
    ] {
        let Ok(mut card) = VirtualCard::new(holder, &master, model) else {
            return;
        };
        // Several APDUs per input, separated by 0xFF bytes.
        for apdu in data.split(|&b| b == 0xFF) {
            let r = card.process(apdu);
            assert!(r.len() >= 2, "every answer ends in a status word");
            let _ = nhi_protocol::apdu::split_response(&r).expect("splits");
        }
    }
});
