//! `nhi-bridge doctor`: every layer from the installed bridge to a readable NHI card, in words
//! a citizen can follow (zh-TW first, English second). Exits non-zero when the card cannot be
//! used, with what to do.

use std::io::Write;

use nhi_protocol::bridge::{CardKind, CardPresence, ErrorCode, ServiceState};

use crate::card::{CardError, Pcsc};
use crate::config::{Config, ConfigError, Source};
use crate::install::{self, Scope};

/// Exit codes of `doctor` (0 = the card can be used).
pub mod exit {
    pub const OK: i32 = 0;
    pub const PCSC_NOT_RUNNING: i32 = 2;
    pub const NO_READER: i32 = 3;
    pub const NO_CARD: i32 = 4;
    pub const CARD_UNUSABLE: i32 = 5;
    pub const CARD_BUSY: i32 = 6;
    pub const CONFIG: i32 = 7;
}

struct Report<'a, W: Write> {
    out: &'a mut W,
}

impl<W: Write> Report<'_, W> {
    fn line(&mut self, mark: &str, zh: &str, en: &str) {
        let _ = writeln!(self.out, "[{mark}] {zh}");
        let _ = writeln!(self.out, "       {en}");
    }
    fn ok(&mut self, zh: &str, en: &str) {
        self.line(" OK ", zh, en);
    }
    fn warn(&mut self, zh: &str, en: &str) {
        self.line("WARN", zh, en);
    }
    fn fail(&mut self, zh: &str, en: &str) {
        self.line("FAIL", zh, en);
    }
    fn todo(&mut self, zh: &str, en: &str) {
        let _ = writeln!(self.out, "  → 請這樣做：{zh}");
        let _ = writeln!(self.out, "  → What to do: {en}");
    }
}

/// What a citizen should do about a failed layer, (Traditional Chinese, English): the
/// doctor's own copy (the SPA has its wording in its locale files).
fn generic_advice(code: ErrorCode) -> (&'static str, &'static str) {
    match code {
        ErrorCode::ExtensionMissing => (
            "請安裝「健保卡網路服務」瀏覽器擴充功能，安裝後重新整理本頁。",
            "Install the NHI card browser extension, then reload this page.",
        ),
        ErrorCode::ExtensionVersion => (
            "瀏覽器擴充功能版本不符，請更新擴充功能後重新整理本頁。",
            "The browser extension is out of date. Update it and reload this page.",
        ),
        ErrorCode::BridgeMissing => (
            "找不到健保卡讀卡元件（nhi-bridge），請下載安裝後重新啟動瀏覽器。",
            "The card reader component (nhi-bridge) is not installed. Install it and restart the browser.",
        ),
        ErrorCode::BridgeVersion => (
            "健保卡讀卡元件版本過舊，請下載安裝新版後重新啟動瀏覽器。",
            "The card reader component is too old. Install the new version and restart the browser.",
        ),
        ErrorCode::PcscNotRunning => (
            "讀卡機服務未啟動：Windows 請啟動「Smart Card」服務；Linux 請執行 sudo systemctl start pcscd。",
            "The smart card service is not running: on Windows start the \"Smart Card\" service; on Linux run: sudo systemctl start pcscd.",
        ),
        ErrorCode::NoReader => (
            "找不到讀卡機，請接上讀卡機（必要時安裝驅動程式）。",
            "No card reader found. Plug in the card reader (install its driver if needed).",
        ),
        ErrorCode::NoCard => (
            "讀卡機內沒有卡片，請將健保卡晶片朝上、朝內插入讀卡機。",
            "There is no card in the reader. Insert the NHI card, chip first and facing up.",
        ),
        ErrorCode::NotNhiCard => (
            "讀卡機內的卡片不是健保卡，或插反了，請確認後重新插入。",
            "The card in the reader is not an NHI card, or it is the wrong way round. Check and reinsert it.",
        ),
        ErrorCode::CardBusy => (
            "健保卡正被其他程式使用，請關閉其他讀卡程式後再試一次。",
            "Another program is using the card. Close other card programs and try again.",
        ),
        ErrorCode::CardRemoved => (
            "讀取中卡片被拔出，請重新插入健保卡後再試一次。",
            "The card was removed while reading. Reinsert it and try again.",
        ),
        ErrorCode::CardError => (
            "無法讀取健保卡資料，請重新插入卡片後再試；仍失敗請洽健保署。",
            "The card could not be read. Reinsert it and try again; if it keeps failing, contact the NHI Administration.",
        ),
        ErrorCode::Timeout => (
            "讀卡逾時，請確認卡片已插好後再試一次。",
            "Reading the card timed out. Check that the card is inserted properly and try again.",
        ),
        ErrorCode::BadRequest | ErrorCode::FrameTooLarge | ErrorCode::Internal => (
            "讀卡元件發生內部錯誤，請重新整理本頁；仍失敗請重新安裝讀卡元件。",
            "The card component reported an internal error. Reload this page; if it persists, reinstall the component.",
        ),
        ErrorCode::OriginNotAllowed => (
            "此網站不是健保署網路服務，讀卡元件拒絕服務。",
            "This website is not the NHI online service; the card component refuses to serve it.",
        ),
        ErrorCode::NotCertificateCard => (
            "讀卡機內的卡片不是自然人憑證，請插入自然人憑證卡後再試一次。",
            "The card in the reader is not a citizen digital certificate. Insert the certificate card and try again.",
        ),
        ErrorCode::PinWrong => (
            "PIN 碼錯誤，請確認後重新輸入；連續輸入錯誤 3 次將鎖卡。",
            "Wrong PIN. Check it and try again; three wrong tries in a row lock the card.",
        ),
        ErrorCode::PinBlocked => (
            "PIN 碼已鎖住，請持卡至戶政事務所或依內政部憑證管理中心說明解鎖。",
            "The PIN is blocked. Have it unblocked at a household registration office or as the MOICA certificate authority explains.",
        ),
        ErrorCode::Cancelled => (
            "已取消輸入 PIN 碼，需要時請再試一次。",
            "The PIN entry was cancelled. Try again when you are ready.",
        ),
        ErrorCode::PinDialogUnavailable => (
            "讀卡元件無法開啟 PIN 碼輸入視窗，請重新安裝讀卡元件（Linux 需安裝 pinentry）。",
            "The card component could not open its PIN dialog. Reinstall the component (on Linux, install pinentry).",
        ),
    }
}

/// Advice for a failed layer, specific to this OS where it matters.
fn advice(code: ErrorCode) -> (String, String) {
    if code == ErrorCode::PcscNotRunning && cfg!(target_os = "linux") {
        let installed = ["/usr/sbin/pcscd", "/usr/bin/pcscd", "/sbin/pcscd"]
            .iter()
            .any(|p| std::path::Path::new(p).exists());
        return if installed {
            (
                "啟動讀卡機服務：sudo systemctl start pcscd.socket pcscd.service（沒有 systemd 時執行 sudo pcscd）".into(),
                "Start the smart card service: sudo systemctl start pcscd.socket pcscd.service (without systemd: sudo pcscd)".into(),
            )
        } else {
            (
                "安裝並啟動讀卡機服務：sudo apt install pcscd（Fedora：sudo dnf install pcsc-lite）".into(),
                "Install and start the smart card service: sudo apt install pcscd (Fedora: sudo dnf install pcsc-lite)".into(),
            )
        };
    }
    let (zh, en) = generic_advice(code);
    (zh.into(), en.into())
}

/// Runs every check, writes the report to `out` and returns the exit code.
pub fn run<W: Write>(out: &mut W) -> i32 {
    let mut r = Report { out };
    let _ = writeln!(
        r.out,
        "nhi-bridge {} doctor — 健保卡讀卡環境檢查 / NHI card environment check",
        crate::VERSION
    );

    // 1. The bridge and its configuration.
    let config = match Config::load() {
        Ok((c, src)) => {
            let from = match src {
                Source::File(p) => p.display().to_string(),
                Source::Defaults => "內建預設 / built-in defaults".into(),
            };
            r.ok(
                &format!(
                    "讀卡元件 nhi-bridge {} 已就緒（協定 {}，設定：{from}）",
                    crate::VERSION,
                    nhi_protocol::bridge::PROTOCOL_VERSION
                ),
                &format!(
                    "Card bridge nhi-bridge {} is ready (protocol {}, configuration: {from})",
                    crate::VERSION,
                    nhi_protocol::bridge::PROTOCOL_VERSION
                ),
            );
            c
        }
        Err(e @ ConfigError::Missing { .. }) => {
            r.fail(
                &format!("讀卡元件缺少設定檔：{e}"),
                &format!("The bridge has no configuration: {e}"),
            );
            r.todo(
                "請重新安裝讀卡元件套件（nhi-bridge），再執行 nhi-bridge doctor。",
                "Reinstall the package (nhi-bridge), then run nhi-bridge doctor again.",
            );
            return exit::CONFIG;
        }
        Err(e) => {
            r.fail(
                &format!("讀卡元件設定檔有誤：{e}"),
                &format!("The bridge configuration is broken: {e}"),
            );
            let (zh, en) = if crate::config::PACKAGED {
                (
                    "請重新安裝讀卡元件套件（nhi-bridge），或修正該設定檔後再執行 nhi-bridge doctor。",
                    "Reinstall the package (nhi-bridge), or fix that file, then run nhi-bridge doctor again.",
                )
            } else {
                (
                    "修正或刪除該設定檔後再執行 nhi-bridge doctor。",
                    "Fix or delete that file, then run nhi-bridge doctor again.",
                )
            };
            r.todo(zh, en);
            return exit::CONFIG;
        }
    };

    // 2. Browser registration (a warning only: the card itself may still be fine).
    let mut found: Vec<String> = Vec::new();
    for (scope, zh, en) in [
        (Scope::User, "使用者", "user"),
        (Scope::System, "全機", "system"),
    ] {
        for (b, _) in install::installed(scope) {
            found.push(format!("{} ({zh}/{en})", b.name()));
        }
    }
    if found.is_empty() {
        r.warn(
            "瀏覽器尚未登錄讀卡元件（找不到 native messaging 設定檔）",
            "No browser knows the bridge yet (no native-messaging host manifest found)",
        );
        r.todo(
            "執行 nhi-bridge install（全機安裝請用 sudo）。",
            "Run: nhi-bridge install (with sudo for all users).",
        );
    } else {
        let list = found.join(", ");
        r.ok(
            &format!("已登錄於瀏覽器：{list}"),
            &format!("Registered with: {list}"),
        );
    }
    r.line(
        "INFO",
        "瀏覽器擴充功能是否已安裝，請開啟健保卡網路服務的「環境檢測」頁查看（本程式無法從瀏覽器外得知）",
        "Whether the browser extension is installed is shown on the service's environment check page (this program cannot see inside the browser)",
    );
    let origins = config.origins.join(", ");
    if config.origins.is_empty() {
        r.warn(
            "設定檔未列出任何服務網站，讀卡元件不會回應任何網頁",
            "The configuration lists no web origin: the bridge will answer no page",
        );
    } else {
        r.ok(
            &format!("服務的網站：{origins}"),
            &format!("Serves the web origins: {origins}"),
        );
    }

    // 3–6. PC/SC service, readers, card, NHI card.
    let mut pcsc = Pcsc::new(std::time::Duration::from_secs(2));
    let status = match pcsc.status() {
        Ok(s) => s,
        Err(e) => return fail_with(&mut r, e),
    };
    if status.service == ServiceState::NotRunning {
        r.fail(
            "讀卡機服務（PC/SC）沒有執行",
            "The smart card service (PC/SC) is not running",
        );
        let (zh, en) = advice(ErrorCode::PcscNotRunning);
        r.todo(&zh, &en);
        return exit::PCSC_NOT_RUNNING;
    }
    r.ok(
        "讀卡機服務（PC/SC）執行中",
        "The smart card service (PC/SC) is running",
    );
    if status.readers.is_empty() {
        r.fail("找不到讀卡機", "No card reader found");
        let (zh, en) = advice(ErrorCode::NoReader);
        r.todo(&zh, &en);
        return exit::NO_READER;
    }
    let names: Vec<&str> = status.readers.iter().map(|x| x.name.as_str()).collect();
    r.ok(
        &format!("找到 {} 台讀卡機：{}", names.len(), names.join("、")),
        &format!("{} card reader(s) found: {}", names.len(), names.join(", ")),
    );
    let with_card: Vec<_> = status
        .readers
        .iter()
        .filter(|x| x.card != CardPresence::Empty)
        .collect();
    if with_card.is_empty() {
        r.fail("讀卡機內沒有卡片", "There is no card in any reader");
        let (zh, en) = advice(ErrorCode::NoCard);
        r.todo(&zh, &en);
        return exit::NO_CARD;
    }
    for x in &with_card {
        let (zh, en) = match x.card {
            CardPresence::Mute => ("有卡片但沒有回應", "a card that does not respond"),
            CardPresence::InUse => ("有卡片，正被其他程式獨占", "a card held by another program"),
            _ => match x.kind {
                Some(CardKind::Nhi) => ("有健保卡", "an NHI card"),
                Some(CardKind::Certificate) => {
                    ("有自然人憑證卡", "a citizen digital certificate card")
                }
                _ => ("有卡片", "a card"),
            },
        };
        r.ok(
            &format!("「{}」內{zh}", x.name),
            &format!("\"{}\" holds {en}", x.name),
        );
    }
    match pcsc.read_basic_data() {
        Ok(read) => {
            let m = read.data.masked();
            r.ok(
                &format!(
                    "健保卡可讀取：卡號 {}，{}，身分證號 {}（於「{}」）",
                    m.card_number, m.name, m.national_id, read.reader
                ),
                &format!(
                    "The NHI card is readable: card {}, {}, ID {} (in \"{}\")",
                    m.card_number, m.name, m.national_id, read.reader
                ),
            );
            let _ = writeln!(r.out, "結論：一切正常，可以使用健保卡網路服務。");
            let _ = writeln!(
                r.out,
                "Result: all is well; the NHI card can be used with the online service."
            );
            exit::OK
        }
        // A citizen certificate card (自然人憑證) is usable too (unit staff login); no PIN.
        Err(e @ CardError::NotNhiCard { .. }) => match pcsc.certificate() {
            Ok(c) => {
                let tries = match c.tries_left {
                    Some(0) => (
                        "PIN 碼已鎖住，請洽發卡單位解鎖",
                        "its PIN is blocked; the issuer can unblock it",
                    ),
                    _ => ("PIN 碼未鎖住", "its PIN is not blocked"),
                };
                let line = (
                    format!("自然人憑證卡可讀取（於「{}」），{}", c.reader, tries.0),
                    format!(
                        "The citizen certificate card is readable (in \"{}\"); {}",
                        c.reader, tries.1
                    ),
                );
                if c.tries_left == Some(0) {
                    r.fail(&line.0, &line.1);
                    return exit::CARD_UNUSABLE;
                }
                r.ok(&line.0, &line.1);
                let _ = writeln!(
                    r.out,
                    "結論：一切正常，可以用自然人憑證登入（PIN 碼由本程式的視窗詢問）。"
                );
                let _ = writeln!(
                    r.out,
                    "Result: all is well; the citizen certificate can be used to log in (this program's own window asks for the PIN)."
                );
                exit::OK
            }
            Err(_) => fail_with(&mut r, e),
        },
        Err(e) => fail_with(&mut r, e),
    }
}

fn fail_with<W: Write>(r: &mut Report<'_, W>, e: CardError) -> i32 {
    let code = e.code();
    let (zh_what, en_what) = match code {
        ErrorCode::PcscNotRunning => (
            "讀卡機服務（PC/SC）沒有執行",
            "The smart card service (PC/SC) is not running",
        ),
        ErrorCode::NoReader => ("找不到讀卡機", "No card reader found"),
        ErrorCode::NoCard => ("讀卡機內沒有卡片", "There is no card in any reader"),
        ErrorCode::NotNhiCard => (
            "卡片不是健保卡，或插反了",
            "The card is not an NHI card, or is inserted the wrong way round",
        ),
        ErrorCode::CardBusy => (
            "健保卡正被其他程式使用",
            "Another program is using the card",
        ),
        ErrorCode::CardRemoved => ("讀取中卡片被拔出", "The card was removed while being read"),
        _ => ("無法讀取健保卡", "The NHI card cannot be read"),
    };
    r.fail(&format!("{zh_what}（{e}）"), &format!("{en_what} ({e})"));
    let (zh, en) = advice(code);
    r.todo(&zh, &en);
    match code {
        ErrorCode::PcscNotRunning => exit::PCSC_NOT_RUNNING,
        ErrorCode::NoReader => exit::NO_READER,
        ErrorCode::NoCard => exit::NO_CARD,
        ErrorCode::CardBusy => exit::CARD_BUSY,
        _ => exit::CARD_UNUSABLE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_has_advice() {
        for code in ErrorCode::ALL {
            let (zh, en) = generic_advice(code);
            assert!(!zh.is_empty());
            assert!(!en.is_empty());
        }
    }
}
