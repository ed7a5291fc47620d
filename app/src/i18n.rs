//! The one i18n layer: every user-facing string of the SPA comes from the Fluent resources
//! in `app/locales/{zh-TW,en}/main.ftl`. zh-TW is the default; the choice persists in
//! localStorage (`nhi.lang`) and `<html lang>` follows it.
//!
//! `build.rs` turns the FTL files into a catalogue at compile time: the key enum [`T`] (one
//! variant per message, `un-nav` → `T::UnNav`) and each message's text in both languages. A
//! key that no FTL file defines does not compile, and the build fails when the two languages
//! differ in their messages or their variables. Fixed strings are looked up with [`I18n::t`];
//! strings with values (counts, codes from the bridge, the server and the password policy)
//! are the functions below. Tests check that every coded message exists, that the code uses
//! every message, and that no Chinese text hides in the Rust sources.

use leptos::prelude::*;
use nhi_protocol::api::ErrorCode as ApiCode;
use nhi_protocol::bridge::ErrorCode as BridgeCode;
use nhi_protocol::certificate::CertificateProblem;
use nhi_protocol::password::{PasswordProblem, StrengthSuggestion, StrengthWarning};

/// The two languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    ZhTw,
    En,
}

impl Lang {
    /// The BCP 47 tag for `lang` attributes.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::ZhTw => "zh-Hant-TW",
            Lang::En => "en",
        }
    }

    /// The FTL folder name: also what `<html lang>` and localStorage (`nhi.lang`) hold.
    fn id(self) -> &'static str {
        match self {
            Lang::ZhTw => "zh-TW",
            Lang::En => "en",
        }
    }

    fn from_id(id: &str) -> Option<Lang> {
        [Lang::ZhTw, Lang::En].into_iter().find(|l| l.id() == id)
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::ZhTw => Lang::En,
            Lang::En => Lang::ZhTw,
        }
    }
}

// `T`, `T::ALL`, `IDS` and the texts `ZH_TW` / `EN`, generated from the FTL files.
include!(concat!(env!("OUT_DIR"), "/messages.rs"));

impl T {
    /// The FTL message id.
    pub fn id(self) -> &'static str {
        IDS.get(self as usize).copied().unwrap_or_default()
    }

    /// The key of the FTL message `id`, if there is one.
    pub fn from_id(id: &str) -> Option<T> {
        IDS.iter().position(|i| *i == id).map(|n| KEYS[n])
    }

    /// The message in `lang`, the variables taken from `args` (in the generated texts a
    /// variable's name stands between two NULs).
    fn text(self, lang: Lang, args: &[(&str, &str)]) -> String {
        let raw = match lang {
            Lang::ZhTw => ZH_TW.get(self as usize),
            Lang::En => EN.get(self as usize),
        }
        .copied()
        .unwrap_or_default();
        let mut out = String::new();
        for (n, piece) in raw.split('\0').enumerate() {
            if n % 2 == 0 {
                out.push_str(piece);
                continue;
            }
            match args.iter().find(|(name, _)| *name == piece) {
                Some((_, value)) => out.push_str(value),
                // As Fluent shows a missing variable.
                None => {
                    out.push_str("{$");
                    out.push_str(piece);
                    out.push('}');
                }
            }
        }
        out
    }
}

const STORAGE_KEY: &str = "nhi.lang";

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

/// Provides the language (from localStorage, else zh-TW) around `children`, keeps
/// `<html lang>` in step and stores each change.
#[component]
pub fn I18nProvider(children: Children) -> impl IntoView {
    let initial = local_storage()
        .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten())
        .and_then(|id| Lang::from_id(&id))
        .unwrap_or(Lang::ZhTw);
    let lang = RwSignal::new(initial);
    provide_context(I18n { lang });
    Effect::new(move |previous: Option<Lang>| {
        let now = lang.get();
        if let Some(root) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
        {
            let _ = root.set_attribute("lang", now.id());
        }
        if previous.is_some_and(|p| p != now) {
            if let Some(s) = local_storage() {
                let _ = s.set_item(STORAGE_KEY, now.id());
            }
        }
        now
    });
    children()
}

/// The language state and lookups.
#[derive(Clone, Copy)]
pub struct I18n {
    lang: RwSignal<Lang>,
}

/// The i18n context, from inside `<I18nProvider>` (components; event handlers use the copy
/// their component took).
pub fn use_i18n() -> I18n {
    expect_context::<I18n>()
}

impl I18n {
    /// The current language (tracked).
    pub fn get(&self) -> Lang {
        self.lang.get()
    }

    pub fn set(&self, lang: Lang) {
        self.lang.set(lang);
    }

    /// The text of `key` in the current language (tracked: use inside closures).
    pub fn t(&self, key: T) -> String {
        key.text(self.get(), &[])
    }

    /// The text of `key` with its variables.
    pub fn t_args(&self, key: T, args: &[(&str, &str)]) -> String {
        key.text(self.get(), args)
    }

    /// The message with the FTL id `id` (coded messages); the id itself if there is none.
    pub(crate) fn tr(&self, id: &str) -> String {
        self.tr_args(id, &[])
    }

    fn tr_args(&self, id: &str, args: &[(&str, &str)]) -> String {
        match T::from_id(id) {
            Some(key) => self.t_args(key, args),
            None => {
                self.lang.track();
                id.to_string()
            }
        }
    }
}

/// FTL ids are the kebab-case of a code's wire name (`no_card` → `bridge-no-card`).
fn code_id(prefix: &str, wire: &str) -> String {
    format!("{prefix}-{}", wire.replace('_', "-"))
}

fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (n, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && n > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn wire_name<S: serde::Serialize>(v: &S) -> String {
    serde_json::to_string(v)
        .ok()
        .and_then(|s| {
            s.strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .map(str::to_string)
        })
        .unwrap_or_default()
}

pub fn step_of(i: I18n, n: usize, total: usize) -> String {
    i.t_args(
        T::StepOf,
        &[("n", &n.to_string()), ("total", &total.to_string())],
    )
}

pub fn score_text(i: I18n, score: u8) -> String {
    let key = match score {
        0 => T::Score0,
        1 => T::Score1,
        2 => T::Score2,
        3 => T::Score3,
        _ => T::Score4,
    };
    i.t_args(T::StrengthLine, &[("word", &i.t(key))])
}

pub fn version_text(i: I18n, what: T, version: &str) -> String {
    i.t_args(
        T::VersionReady,
        &[("what", &i.t(what)), ("version", version)],
    )
}

pub fn readers_text(i: I18n, names: &[String]) -> String {
    let joined = names.join(&i.t(T::ListSeparator));
    i.t_args(T::ReadersFound, &[("names", &joined)])
}

pub fn pending_text(i: I18n, email_masked: &str) -> String {
    i.t_args(T::PendingSent, &[("email", email_masked)])
}

pub fn password_problem_id(p: PasswordProblem) -> &'static str {
    match p {
        PasswordProblem::TooShort { .. } => "pw-too-short",
        PasswordProblem::TooLong { .. } => "pw-too-long",
        PasswordProblem::ControlCharacter => "pw-control-character",
        PasswordProblem::ContainsNationalId => "pw-contains-national-id",
        PasswordProblem::ContainsCardNumber => "pw-contains-card-number",
        PasswordProblem::ContainsBirthDate => "pw-contains-birth-date",
        PasswordProblem::TooWeak { .. } => "pw-too-weak",
    }
}

pub fn password_problem(i: I18n, p: PasswordProblem) -> String {
    let id = password_problem_id(p);
    match p {
        PasswordProblem::TooShort { min } => i.tr_args(id, &[("min", &min.to_string())]),
        PasswordProblem::TooLong { max } => i.tr_args(id, &[("max", &max.to_string())]),
        _ => i.tr(id),
    }
}

pub fn warning_id(w: StrengthWarning) -> String {
    format!("warn-{}", kebab(&format!("{w:?}")))
}

pub fn suggestion_id(s: StrengthSuggestion) -> String {
    format!("sugg-{}", kebab(&format!("{s:?}")))
}

pub fn strength_warning(i: I18n, w: StrengthWarning) -> String {
    i.tr(&warning_id(w))
}

pub fn strength_suggestion(i: I18n, s: StrengthSuggestion) -> String {
    i.tr(&suggestion_id(s))
}

pub fn bridge_error_id(code: BridgeCode) -> String {
    code_id("bridge", code.as_str())
}

/// Advice for a bridge error code.
pub fn bridge_error(i: I18n, code: BridgeCode) -> String {
    i.tr(&bridge_error_id(code))
}

pub fn api_error_id(code: ApiCode) -> String {
    code_id("api", &wire_name(&code))
}

/// A message for every server error code; the ones that say "wait" say how long.
pub fn api_error(i: I18n, code: ApiCode, retry_after: Option<u64>) -> String {
    let text = i.tr(&api_error_id(code));
    match code {
        ApiCode::RegistryUnavailable
        | ApiCode::AccountLocked
        | ApiCode::RateLimited
        | ApiCode::RevocationUnavailable
        | ApiCode::IdVerificationUnavailable => {
            let wait = match retry_after {
                Some(s) => i.t_args(
                    T::RetryInMinutes,
                    &[("minutes", &s.div_ceil(60).to_string())],
                ),
                None => i.t(T::RetryLater),
            };
            format!("{text}{wait}")
        }
        _ => text,
    }
}

/// The FTL id of a refused certificate's reason (the `message` of `certificate_rejected`).
pub fn certificate_problem_id(p: CertificateProblem) -> String {
    code_id("cert", p.code())
}

/// The FTL ids that make up the remedy for a failed layer on this OS and browser (F0).
pub fn remedy_ids(
    code: BridgeCode,
    os: crate::util::Os,
    browser: crate::util::Browser,
) -> Vec<String> {
    use crate::util::{Browser as B, Os as O};
    let os_part = match os {
        O::Windows => "windows",
        O::Mac => "mac",
        _ => "other",
    };
    match code {
        BridgeCode::ExtensionMissing | BridgeCode::ExtensionVersion => {
            let place = match browser {
                B::Edge => "remedy-ext-edge",
                B::Firefox => "remedy-ext-firefox",
                B::Chrome => "remedy-ext-chrome",
                B::Other => "remedy-ext-other",
            };
            let what = if code == BridgeCode::ExtensionVersion {
                "remedy-ext-update"
            } else {
                "remedy-ext-install"
            };
            vec![place.into(), what.into()]
        }
        BridgeCode::BridgeMissing => vec![format!("remedy-bridge-install-{os_part}")],
        BridgeCode::BridgeVersion => vec![format!("remedy-bridge-update-{os_part}")],
        BridgeCode::PcscNotRunning => vec![match os {
            O::Windows => "remedy-pcsc-windows".into(),
            O::Mac => "remedy-pcsc-mac".into(),
            _ => "remedy-pcsc-linux".into(),
        }],
        BridgeCode::NoReader => vec![match os {
            O::Linux => "remedy-no-reader-linux".into(),
            _ => "remedy-no-reader-other".into(),
        }],
        other => vec![bridge_error_id(other)],
    }
}

pub fn remedy(
    i: I18n,
    code: BridgeCode,
    os: crate::util::Os,
    browser: crate::util::Browser,
) -> String {
    remedy_ids(code, os, browser)
        .iter()
        .map(|id| i.tr(id))
        .collect()
}

/// A message kept as a value so that it is shown again in the other language when the user
/// switches.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(T),
    Bridge(BridgeCode),
    Api(ApiCode, Option<u64>),
    Problem(PasswordProblem),
    Pending(String),
    /// A message with the line of a file at fault (its `$line`).
    AtLine(T, u64),
    /// A wrong PIN, with the tries the card has left when the bridge said.
    #[cfg(not(feature = "citizen"))]
    PinWrong(Option<u8>),
    /// Why the server refused a citizen certificate.
    #[cfg(not(feature = "citizen"))]
    Certificate(CertificateProblem),
}

impl Msg {
    /// The text in the current language (tracked).
    pub fn render(&self, i: I18n) -> String {
        match self {
            Msg::Key(k) => i.t(*k),
            Msg::Bridge(c) => bridge_error(i, *c),
            Msg::Api(c, r) => api_error(i, *c, *r),
            Msg::Problem(p) => password_problem(i, *p),
            Msg::Pending(e) => pending_text(i, e),
            Msg::AtLine(k, line) => i.t_args(*k, &[("line", &line.to_string())]),
            #[cfg(not(feature = "citizen"))]
            Msg::PinWrong(tries) => crate::pages::units_login::pin_wrong_text(i, *tries),
            #[cfg(not(feature = "citizen"))]
            Msg::Certificate(p) => i.tr(&certificate_problem_id(*p)),
        }
    }
}

impl From<&crate::api::Failure> for Msg {
    fn from(f: &crate::api::Failure) -> Self {
        use crate::api::Failure;
        match f {
            Failure::Api(e) => Msg::Api(e.code, e.retry_after_seconds),
            Failure::Network => Msg::Key(T::NetworkError),
            Failure::Unreadable => Msg::Key(T::ServerConfused),
            Failure::Bridge(e) => Msg::Bridge(e.code),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::util::{Browser, Os};

    fn has_cjk(s: &str) -> bool {
        s.chars().any(|c| {
            ('\u{3000}'..='\u{303f}').contains(&c)
                || ('\u{4e00}'..='\u{9fff}').contains(&c)
                || ('\u{ff00}'..='\u{ffef}').contains(&c)
        })
    }

    /// `id = value` of one FTL file of `lang` (single-line messages, as ours are).
    fn ftl_file(lang: &str, file: &str) -> BTreeMap<String, String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("locales")
            .join(lang)
            .join(file);
        let text = std::fs::read_to_string(&path).expect("FTL file");
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let (id, value) = l
                    .split_once(" = ")
                    .unwrap_or_else(|| panic!("{lang}/{file}: bad line {l:?}"));
                (id.to_string(), value.to_string())
            })
            .collect()
    }

    /// Every message of `lang` (the three area files).
    fn ftl(lang: &str) -> BTreeMap<String, String> {
        ["main.ftl", "units.ftl", "online.ftl", "passkeys.ftl"]
            .iter()
            .flat_map(|f| ftl_file(lang, f))
            .collect()
    }

    const API: [ApiCode; 32] = [
        ApiCode::BadRequest,
        ApiCode::NonceInvalid,
        ApiCode::CardProofInvalid,
        ApiCode::CardProofOutdated,
        ApiCode::CardMismatch,
        ApiCode::CardRevoked,
        ApiCode::HouseholdMismatch,
        ApiCode::RegistryUnavailable,
        ApiCode::AlreadyRegistered,
        ApiCode::RegistrationPending,
        ApiCode::PasswordRejected,
        ApiCode::TicketInvalid,
        ApiCode::TicketExpired,
        ApiCode::WrongCard,
        ApiCode::LoginFailed,
        ApiCode::AccountNotActive,
        ApiCode::AccountLocked,
        ApiCode::RateLimited,
        ApiCode::CsrfRejected,
        ApiCode::Unauthenticated,
        ApiCode::NotFound,
        ApiCode::Forbidden,
        ApiCode::Internal,
        ApiCode::ApplicationPending,
        ApiCode::WrongOrigin,
        ApiCode::CertificateRejected,
        ApiCode::RevocationUnavailable,
        ApiCode::IdMismatch,
        ApiCode::IdVerificationUnavailable,
        ApiCode::NoUnitRole,
        ApiCode::StepUpRequired,
        ApiCode::PasskeyRejected,
    ];

    /// A new server error code fails to compile here until it is added to [`API`] (and so
    /// needs a message in both languages).
    fn every_code_is_listed(code: ApiCode) -> bool {
        match code {
            ApiCode::BadRequest
            | ApiCode::NonceInvalid
            | ApiCode::CardProofInvalid
            | ApiCode::CardProofOutdated
            | ApiCode::CardMismatch
            | ApiCode::CardRevoked
            | ApiCode::HouseholdMismatch
            | ApiCode::RegistryUnavailable
            | ApiCode::AlreadyRegistered
            | ApiCode::RegistrationPending
            | ApiCode::PasswordRejected
            | ApiCode::TicketInvalid
            | ApiCode::TicketExpired
            | ApiCode::WrongCard
            | ApiCode::LoginFailed
            | ApiCode::AccountNotActive
            | ApiCode::AccountLocked
            | ApiCode::RateLimited
            | ApiCode::CsrfRejected
            | ApiCode::Unauthenticated
            | ApiCode::NotFound
            | ApiCode::Forbidden
            | ApiCode::Internal
            | ApiCode::ApplicationPending
            | ApiCode::WrongOrigin
            | ApiCode::CertificateRejected
            | ApiCode::RevocationUnavailable
            | ApiCode::IdMismatch
            | ApiCode::IdVerificationUnavailable
            | ApiCode::NoUnitRole
            | ApiCode::StepUpRequired
            | ApiCode::PasskeyRejected => API.contains(&code),
        }
    }

    #[test]
    fn the_api_list_is_complete() {
        // Each code once; `every_code_is_listed` keeps the list in step with the enum.
        let distinct: BTreeSet<String> = API.iter().map(|c| api_error_id(*c)).collect();
        assert_eq!(distinct.len(), API.len());
        assert!(API.iter().all(|c| every_code_is_listed(*c)));
    }

    /// The keys the Rust sources of the app name (`T::…`).
    fn keys_in_sources() -> BTreeSet<String> {
        let by_name: BTreeMap<String, T> = T::ALL.iter().map(|k| (format!("{k:?}"), *k)).collect();
        let mut keys = BTreeSet::new();
        for (_, text) in rust_sources() {
            for (n, _) in text.match_indices("T::") {
                let before = text[..n].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let name: String = text[n + 3..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                if let Some(k) = by_name.get(&name) {
                    keys.insert(k.id().to_string());
                }
            }
        }
        keys
    }

    /// `{ message-reference }`s inside the FTL values.
    fn referenced_in_ftl() -> BTreeSet<String> {
        let mut ids = BTreeSet::new();
        for lang in ["zh-TW", "en"] {
            for value in ftl(lang).values() {
                for piece in value.split('{').skip(1) {
                    let inner = piece.split('}').next().unwrap_or_default().trim();
                    if inner.starts_with(|c: char| c.is_ascii_lowercase()) {
                        ids.insert(inner.to_string());
                    }
                }
            }
        }
        ids
    }

    /// Every message id the code can ask for.
    fn used_ids() -> BTreeSet<String> {
        let mut ids = keys_in_sources();
        ids.extend(referenced_in_ftl());
        ids.extend(API.iter().map(|c| api_error_id(*c)));
        ids.extend(BridgeCode::ALL.iter().map(|c| bridge_error_id(*c)));
        ids.extend(CertificateProblem::ALL.map(certificate_problem_id));
        ids.extend(StrengthWarning::ALL.iter().map(|w| warning_id(*w)));
        ids.extend(StrengthSuggestion::ALL.iter().map(|s| suggestion_id(*s)));
        for p in [
            PasswordProblem::TooShort { min: 6 },
            PasswordProblem::TooLong { max: 12 },
            PasswordProblem::ControlCharacter,
            PasswordProblem::ContainsNationalId,
            PasswordProblem::ContainsCardNumber,
            PasswordProblem::ContainsBirthDate,
            PasswordProblem::TooWeak { score: 0, min: 1 },
        ] {
            ids.insert(password_problem_id(p).into());
        }
        for code in BridgeCode::ALL {
            for os in [Os::Windows, Os::Mac, Os::Linux, Os::Other] {
                for b in [
                    Browser::Chrome,
                    Browser::Edge,
                    Browser::Firefox,
                    Browser::Other,
                ] {
                    ids.extend(remedy_ids(code, os, b));
                }
            }
        }
        ids
    }

    #[test]
    fn both_languages_define_every_message_the_app_uses() {
        let (zh, en) = (ftl("zh-TW"), ftl("en"));
        let zh_ids: BTreeSet<_> = zh.keys().cloned().collect();
        let en_ids: BTreeSet<_> = en.keys().cloned().collect();
        assert_eq!(zh_ids, en_ids, "zh-TW and en define different messages");
        let missing: Vec<_> = used_ids().difference(&zh_ids).cloned().collect();
        assert!(
            missing.is_empty(),
            "messages missing from the FTL files: {missing:?}"
        );
        let unused: Vec<_> = zh_ids.difference(&used_ids()).cloned().collect();
        assert!(unused.is_empty(), "FTL messages nothing uses: {unused:?}");
    }

    #[test]
    fn codes_and_advice_are_really_translated() {
        let (zh, en) = (ftl("zh-TW"), ftl("en"));
        let coded = used_ids().into_iter().filter(|id| {
            [
                "api-", "bridge-", "cert-", "pw-", "warn-", "sugg-", "remedy-",
            ]
            .iter()
            .any(|p| id.starts_with(p))
        });
        for id in coded {
            assert!(has_cjk(&zh[&id]), "{id} in zh-TW: {}", zh[&id]);
            assert!(!has_cjk(&en[&id]), "{id} in en: {}", en[&id]);
        }
    }

    /// The citizen area's wasm carries only main.ftl's texts: no source outside the units and
    /// online pages may name a message of units.ftl or online.ftl (it would show empty there).
    #[test]
    fn the_citizen_area_uses_only_its_own_messages() {
        let area_pages = [
            "units.rs",
            "unit_roles.rs",
            "bulk_upload.rs",
            "upload_records.rs",
            "bulk_activate.rs",
            "online.rs",
            "health_bank.rs",
            "applications.rs",
            "download.rs",
            "units_login.rs",
            "passkeys.rs",
            "passkey_login.rs",
            "webauthn.rs",
        ];
        let main = ftl_file("zh-TW", "main.ftl");
        let by_name: BTreeMap<String, T> = T::ALL.iter().map(|k| (format!("{k:?}"), *k)).collect();
        for (path, text) in rust_sources() {
            let in_pages = path.parent().is_some_and(|p| p.ends_with("pages"));
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if in_pages && area_pages.contains(&name) {
                continue;
            }
            for (n, _) in text.match_indices("T::") {
                let key: String = text[n + 3..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                if let Some(k) = by_name.get(&key) {
                    assert!(
                        main.contains_key(k.id()),
                        "{}: {} is not in main.ftl",
                        path.display(),
                        k.id()
                    );
                }
            }
        }
    }

    /// `(path, text)` of every Rust source of the app.
    fn rust_sources() -> Vec<(std::path::PathBuf, String)> {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![src];
        let mut out = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("src readable") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).expect("readable");
                    out.push((path, text));
                }
            }
        }
        out
    }

    /// Every user-facing string goes through the FTL files: no Rust source of the app may
    /// contain Chinese text.
    #[test]
    fn no_chinese_text_in_the_rust_sources() {
        for (path, text) in rust_sources() {
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                assert!(
                    !has_cjk(code),
                    "{}:{}: user-facing text outside the FTL files: {line}",
                    path.display(),
                    n + 1
                );
            }
        }
    }

    /// The catalogue renders as Fluent did: variables isolated (U+2068 … U+2069) in a
    /// pattern of more than one element, message references and literals resolved.
    #[test]
    fn messages_render_as_fluent_did() {
        assert_eq!(
            T::StepOf.text(Lang::En, &[("n", "1"), ("total", "4")]),
            "Step \u{2068}1\u{2069} of \u{2068}4\u{2069}"
        );
        assert_eq!(T::ListSeparator.text(Lang::En, &[]), ", ");
        assert_eq!(T::ListSeparator.text(Lang::ZhTw, &[]), "\u{3001}");
        let line = T::StrengthLine.text(Lang::En, &[("word", "weak")]);
        assert!(line.starts_with(&T::Strength.text(Lang::En, &[])), "{line}");
        assert!(line.ends_with(": \u{2068}weak\u{2069}"), "{line}");
        assert_eq!(T::from_id("api-bad-request"), Some(T::ApiBadRequest));
        assert_eq!(T::from_id("no-such-message"), None);
        assert!(T::ALL.iter().all(|k| T::from_id(k.id()) == Some(*k)));
    }
}
