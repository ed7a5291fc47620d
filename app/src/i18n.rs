//! The one i18n layer: every user-facing string of the SPA comes from the Fluent resources
//! in `app/locales/{zh-TW,en}/main.ftl`, through leptos-fluent. zh-TW is the default; the
//! choice persists in localStorage (`nhi.lang`) and `<html lang>` follows it.
//!
//! Fixed strings are [`T`] keys (each names one FTL message) looked up with [`I18n::t`];
//! strings with values (counts, codes from the bridge, the server and the password policy)
//! are the functions below. Tests check that both FTL files define every message the code
//! uses, and that no Chinese text hides in the Rust sources.

use std::borrow::Cow;
use std::collections::HashMap;

use leptos::prelude::*;
use leptos_fluent::__reexports::fluent_bundle::FluentValue;
use nhi_protocol::api::ErrorCode as ApiCode;
use nhi_protocol::bridge::ErrorCode as BridgeCode;
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

    /// The FTL folder / leptos-fluent language id.
    fn id(self) -> &'static str {
        match self {
            Lang::ZhTw => "zh-TW",
            Lang::En => "en",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::ZhTw => Lang::En,
            Lang::En => Lang::ZhTw,
        }
    }
}

macro_rules! keys {
    ($($key:ident => $id:literal;)*) => {
        /// Keys of the fixed strings; each is one message in the FTL files.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum T { $($key),* }

        impl T {
            pub const ALL: &'static [T] = &[$(T::$key),*];

            /// The FTL message id.
            pub fn id(self) -> &'static str {
                match self { $(T::$key => $id),* }
            }
        }
    };
}

keys! {
    UnNav => "un-nav";
    UnTitle => "un-title";
    UnIntro => "un-intro";
    UnNone => "un-none";
    UnLoginNeeded => "un-login-needed";
    UnAdmin => "un-admin";
    UnUnitCode => "un-unit-code";
    UnUnitName => "un-unit-name";
    UnYourPermissions => "un-your-permissions";
    UnActions => "un-actions";
    UnRoles => "un-roles";
    UnUpload => "un-upload";
    UnRecords => "un-records";
    UnPermUpload => "un-perm-upload";
    UnPermQuery => "un-perm-query";
    UnBack => "un-back";
    UnRolesIntro => "un-roles-intro";
    UnStaffCaption => "un-staff-caption";
    UnNoStaff => "un-no-staff";
    UnAddStaff => "un-add-staff";
    UnStaffId => "un-staff-id";
    UnStaffIdHint => "un-staff-id-hint";
    UnSave => "un-save";
    UnRevoke => "un-revoke";
    UnSaved => "un-saved";
    UnNotInsured => "un-not-insured";
    UnUploader => "un-uploader";
    UnUploaderEmail => "un-uploader-email";
    UnFormatTitle => "un-format-title";
    UnFormatColumns => "un-format-columns";
    UnFormatTypes => "un-format-types";
    UnFormatRules => "un-format-rules";
    UnFormatLimit => "un-format-limit";
    UnMaxSize => "un-max-size";
    UnBrowse => "un-browse";
    UnSend => "un-send";
    UnNoFile => "un-no-file";
    UnChosen => "un-chosen";
    UnProgress => "un-progress";
    UnQueued => "un-queued";
    UnAccepted => "un-accepted";
    UnRejected => "un-rejected";
    UnTotal => "un-total";
    UnProcessed => "un-processed";
    UnDownload => "un-download";
    UnColTime => "un-col-time";
    UnColUploader => "un-col-uploader";
    UnColFile => "un-col-file";
    UnColStatus => "un-col-status";
    UnColDetails => "un-col-details";
    UnNoRecords => "un-no-records";
    UnRecordsCaption => "un-records-caption";
    UnShowRows => "un-show-rows";
    UnRowsCaption => "un-rows-caption";
    UnRowNumber => "un-row-number";
    UnRowResult => "un-row-result";
    UnStatusQueued => "un-status-queued";
    UnStatusProcessing => "un-status-processing";
    UnStatusDone => "un-status-done";
    UnStatusFailed => "un-status-failed";
    UnFileTooLarge => "un-file-too-large";
    UnFileEmpty => "un-file-empty";
    UnFileEncoding => "un-file-encoding";
    UnFileUnreadable => "un-file-unreadable";
    UnFileTooManyRows => "un-file-too-many-rows";
    UnFileUnsupported => "un-file-unsupported";
    UnFileTooManyColumns => "un-file-too-many-columns";
    UnFileFieldTooLong => "un-file-field-too-long";
    UnFileTooLargeDecompressed => "un-file-too-large-decompressed";
    UnFileBusy => "un-file-busy";
    UnRsAccepted => "un-rs-accepted";
    UnRsMalformed => "un-rs-malformed";
    UnRsFormula => "un-rs-formula";
    UnRsInvalidId => "un-rs-invalid-id";
    UnRsNotInsured => "un-rs-not-insured";
    UnRsNameMismatch => "un-rs-name-mismatch";
    UnRsInvalidBirth => "un-rs-invalid-birth";
    UnRsBirthMismatch => "un-rs-birth-mismatch";
    UnRsEmailMissing => "un-rs-email-missing";
    UnRsEmailInvalid => "un-rs-email-invalid";
    UnRsMobileInvalid => "un-rs-mobile-invalid";
    UnRsAlreadyRegistered => "un-rs-already-registered";
    UnRsAlreadyPending => "un-rs-already-pending";
    UnRsDuplicate => "un-rs-duplicate";
    BaTitle => "ba-title";
    BaIntro => "ba-intro";
    BaNoTicket => "ba-no-ticket";
    BaSubmit => "ba-submit";
    BaDone => "ba-done";
    SkipToMain => "skip-to-main";
    Agency => "agency";
    AppTitle => "app-title";
    NavLabel => "nav-label";
    NavHome => "nav-home";
    NavCheck => "nav-check";
    NavRegister => "nav-register";
    NavResend => "nav-resend";
    NavLogin => "nav-login";
    NavDownload => "nav-download";
    LangSwitch => "lang-switch";
    LangSwitchLabel => "lang-switch-label";
    Footer => "footer";
    LandingIntro => "landing-intro";
    LandingSteps => "landing-steps";
    LandingStep1 => "landing-step1";
    LandingStep2 => "landing-step2";
    LandingStep3 => "landing-step3";
    LandingStep4 => "landing-step4";
    NotFoundTitle => "not-found-title";
    NotFoundBody => "not-found-body";
    CheckTitle => "check-title";
    CheckIntro => "check-intro";
    CheckBrowser => "check-browser";
    CheckExtension => "check-extension";
    CheckBridge => "check-bridge";
    CheckPcsc => "check-pcsc";
    CheckReaders => "check-readers";
    CheckCard => "check-card";
    CheckNhi => "check-nhi";
    StatePass => "state-pass";
    StateFail => "state-fail";
    StatePending => "state-pending";
    StateSkipped => "state-skipped";
    SkippedBody => "skipped-body";
    BrowserOk => "browser-ok";
    BrowserFail => "browser-fail";
    PcscOk => "pcsc-ok";
    CardPresent => "card-present";
    CardInUse => "card-in-use";
    CardMute => "card-mute";
    NhiOk => "nhi-ok";
    CheckAllGood => "check-all-good";
    CheckAgain => "check-again";
    GetExtension => "get-extension";
    GetBridge => "get-bridge";
    CheckLive => "check-live";
    DownloadTitle => "download-title";
    DownloadExtTitle => "download-ext-title";
    DownloadExtBody => "download-ext-body";
    DownloadBridgeTitle => "download-bridge-title";
    DownloadBridgeBody => "download-bridge-body";
    ReadCard => "read-card";
    Reading => "reading";
    CardDataTitle => "card-data-title";
    CardNumber => "card-number";
    Name => "name";
    NationalId => "national-id";
    BirthDate => "birth-date";
    Sex => "sex";
    Male => "male";
    Female => "female";
    InsertCardPrompt => "insert-card-prompt";
    CardNeeded => "card-needed";
    Ok => "ok";
    RegTitle => "reg-title";
    StepTerms => "step-terms";
    StepCard => "step-card";
    StepHousehold => "step-household";
    StepPassword => "step-password";
    StepDone => "step-done";
    StepsLabel => "steps-label";
    TermsTitle => "terms-title";
    Terms1 => "terms1";
    Terms2 => "terms2";
    Terms3 => "terms3";
    Terms4 => "terms4";
    TermsAgree => "terms-agree";
    TermsMustAgree => "terms-must-agree";
    Next => "next";
    Back => "back";
    HouseholdNumber => "household-number";
    HouseholdHint => "household-hint";
    HouseholdInvalid => "household-invalid";
    Address => "address";
    County => "county";
    Township => "township";
    Village => "village";
    Neighbourhood => "neighbourhood";
    ChooseOne => "choose-one";
    PlacesLoading => "places-loading";
    FieldRequired => "field-required";
    NeighbourhoodInvalid => "neighbourhood-invalid";
    Password => "password";
    PasswordHint => "password-hint";
    PasswordRepeat => "password-repeat";
    PasswordMismatch => "password-mismatch";
    Strength => "strength";
    StrengthLoading => "strength-loading";
    StrengthEmpty => "strength-empty";
    StrengthUnavailable => "strength-unavailable";
    Score0 => "score0";
    Score1 => "score1";
    Score2 => "score2";
    Score3 => "score3";
    Score4 => "score4";
    Email => "email";
    EmailHint => "email-hint";
    Mobile => "mobile";
    MobileHint => "mobile-hint";
    Phone => "phone";
    PhoneHint => "phone-hint";
    EmailInvalid => "email-invalid";
    MobileInvalid => "mobile-invalid";
    PhoneInvalid => "phone-invalid";
    Submit => "submit";
    Sending => "sending";
    FixErrors => "fix-errors";
    PendingTitle => "pending-title";
    PendingNext => "pending-next";
    ConfirmTitle => "confirm-title";
    ConfirmIntro => "confirm-intro";
    ConfirmNoTicket => "confirm-no-ticket";
    ConfirmNoCard => "confirm-no-card";
    ConfirmDone => "confirm-done";
    GoLogin => "go-login";
    ResendTitle => "resend-title";
    ResendIntro => "resend-intro";
    ResendSubmit => "resend-submit";
    ResendDone => "resend-done";
    LoginTitle => "login-title";
    LoginIntro => "login-intro";
    LoginSubmit => "login-submit";
    HomeTitle => "home-title";
    HomeWelcome => "home-welcome";
    AccountStatus => "account-status";
    StatusPending => "status-pending";
    StatusActive => "status-active";
    RegisteredAt => "registered-at";
    HomeServices => "home-services";
    HomeHealthBank => "home-health-bank";
    HomeApplications => "home-applications";
    HomeSoon => "home-soon";
    Logout => "logout";
    LoggedOut => "logged-out";
    Loading => "loading";
    NetworkError => "network-error";
    ServerConfused => "server-confused";
    BridgeConfused => "bridge-confused";
    ErrorPrefix => "error-prefix";
    // F9 online services (issue 7)
    HbTitle => "hb-title";
    HbIntro => "hb-intro";
    HbFrom => "hb-from";
    HbTo => "hb-to";
    HbQuery => "hb-query";
    HbRangeInvalid => "hb-range-invalid";
    HbSummary => "hb-summary";
    HbVisitCount => "hb-visit-count";
    HbTotalCost => "hb-total-cost";
    HbTotalCopay => "hb-total-copay";
    HbExport => "hb-export";
    HbChartTitle => "hb-chart-title";
    HbChartDesc => "hb-chart-desc";
    HbMonthTable => "hb-month-table";
    HbMonth => "hb-month";
    HbCost => "hb-cost";
    HbCopay => "hb-copay";
    HbVisitsTitle => "hb-visits-title";
    HbDate => "hb-date";
    HbInstitution => "hb-institution";
    HbDiagnosis => "hb-diagnosis";
    HbMedications => "hb-medications";
    HbNoMedication => "hb-no-medication";
    HbNoVisits => "hb-no-visits";
    HbDaysUnit => "hb-days-unit";
    AppsTitle => "apps-title";
    AppsIntro => "apps-intro";
    AppsMine => "apps-mine";
    AppsNone => "apps-none";
    AppsRefresh => "apps-refresh";
    AppsNumber => "apps-number";
    AppsSubmittedAt => "apps-submitted-at";
    AppsStatus => "apps-status";
    AppsTimeline => "apps-timeline";
    AppsDownload => "apps-download";
    KindCardReplacement => "kind-card-replacement";
    KindCertificate => "kind-certificate";
    AppStatusSubmitted => "app-status-submitted";
    AppStatusInReview => "app-status-in-review";
    AppStatusCardProduction => "app-status-card-production";
    AppStatusMailed => "app-status-mailed";
    AppStatusIssued => "app-status-issued";
    AppStatusRejected => "app-status-rejected";
    StepCompleted => "step-completed";
    StepCurrent => "step-current";
    StepTodo => "step-todo";
    ReplaceTitle => "replace-title";
    ReplaceReason => "replace-reason";
    ReasonRequired => "reason-required";
    ReasonLost => "reason-lost";
    ReasonDamaged => "reason-damaged";
    ReasonPhotoChange => "reason-photo-change";
    ReasonDataChange => "reason-data-change";
    PostalCode => "postal-code";
    PostalCodeHint => "postal-code-hint";
    PostalCodeInvalid => "postal-code-invalid";
    MailingAddress => "mailing-address";
    MailingAddressHint => "mailing-address-hint";
    MailingAddressInvalid => "mailing-address-invalid";
    ReplaceSubmit => "replace-submit";
    ReplaceDone => "replace-done";
    CertTitle => "cert-title";
    CertIntro => "cert-intro";
    CertSubmit => "cert-submit";
    CertDone => "cert-done";
    SessionExpired => "session-expired";
    Relogin => "relogin";
}

/// Provides the leptos-fluent context (FTL resources, language persisted in localStorage,
/// `<html lang>` kept in step) around `children`.
#[component]
pub fn I18nProvider(children: Children) -> impl IntoView {
    leptos_fluent::leptos_fluent! {
        children: children(),
        locales: "./locales",
        default_language: "zh-TW",
        sync_html_tag_lang: true,
        initial_language_from_local_storage: true,
        set_language_to_local_storage: true,
        local_storage_key: "nhi.lang",
    }
}

/// The language state and lookups (a thin, typed face over leptos-fluent's context).
#[derive(Clone, Copy)]
pub struct I18n {
    fluent: leptos_fluent::I18n,
}

thread_local! {
    static CURRENT: std::cell::Cell<Option<I18n>> = const { std::cell::Cell::new(None) };
}

/// The i18n context (also usable from event handlers, which have no reactive owner).
pub fn use_i18n() -> I18n {
    if let Some(fluent) = use_context::<leptos_fluent::I18n>() {
        let i = I18n { fluent };
        CURRENT.with(|c| c.set(Some(i)));
        return i;
    }
    CURRENT
        .with(|c| c.get())
        .expect("use_i18n inside <I18nProvider>")
}

type Args = HashMap<Cow<'static, str>, FluentValue<'static>>;

fn args<const N: usize>(pairs: [(&'static str, FluentValue<'static>); N]) -> Args {
    pairs
        .into_iter()
        .map(|(k, v)| (Cow::Borrowed(k), v))
        .collect()
}

impl I18n {
    /// The current language (tracked).
    pub fn get(&self) -> Lang {
        if self.fluent.language.get().id.starts_with("zh") {
            Lang::ZhTw
        } else {
            Lang::En
        }
    }

    pub fn set(&self, lang: Lang) {
        if let Some(l) = self.fluent.languages.iter().find(|l| l.id == lang.id()) {
            self.fluent.language.set(l);
        }
    }

    /// The text of `key` in the current language (tracked: use inside closures).
    pub fn t(&self, key: T) -> String {
        self.fluent.tr(key.id())
    }

    fn tr(&self, id: &str) -> String {
        self.fluent.tr(id)
    }

    fn tr_args(&self, id: &str, a: &Args) -> String {
        self.fluent.tr_with_args(id, a)
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
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

pub fn step_of(i: I18n, n: usize, total: usize) -> String {
    i.tr_args("step-of", &args([("n", n.into()), ("total", total.into())]))
}

pub fn score_text(i: I18n, score: u8) -> String {
    let key = match score {
        0 => T::Score0,
        1 => T::Score1,
        2 => T::Score2,
        3 => T::Score3,
        _ => T::Score4,
    };
    i.tr_args("strength-line", &args([("word", i.t(key).into())]))
}

pub fn version_text(i: I18n, what: T, version: &str) -> String {
    i.tr_args(
        "version-ready",
        &args([
            ("what", i.t(what).into()),
            ("version", version.to_string().into()),
        ]),
    )
}

pub fn readers_text(i: I18n, names: &[String]) -> String {
    let joined = names.join(&i.tr("list-separator"));
    i.tr_args("readers-found", &args([("names", joined.into())]))
}

pub fn pending_text(i: I18n, email_masked: &str) -> String {
    i.tr_args(
        "pending-sent",
        &args([("email", email_masked.to_string().into())]),
    )
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
        PasswordProblem::TooShort { min } => i.tr_args(id, &args([("min", min.into())])),
        PasswordProblem::TooLong { max } => i.tr_args(id, &args([("max", max.into())])),
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
        ApiCode::RegistryUnavailable | ApiCode::AccountLocked | ApiCode::RateLimited => {
            let wait = match retry_after {
                Some(s) => i.tr_args(
                    "retry-in-minutes",
                    &args([("minutes", s.div_ceil(60).into())]),
                ),
                None => i.tr("retry-later"),
            };
            format!("{text}{wait}")
        }
        _ => text,
    }
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

    /// `id = value` of one FTL file (single-line messages, as ours are).
    fn ftl(lang: &str) -> BTreeMap<String, String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("locales")
            .join(lang)
            .join("main.ftl");
        let text = std::fs::read_to_string(&path).expect("FTL file");
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let (id, value) = l
                    .split_once(" = ")
                    .unwrap_or_else(|| panic!("{lang}: bad line {l:?}"));
                (id.to_string(), value.to_string())
            })
            .collect()
    }

    const API: [ApiCode; 23] = [
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
            | ApiCode::Internal => API.contains(&code),
        }
    }

    #[test]
    fn the_api_list_is_complete() {
        // Each code once; `every_code_is_listed` keeps the list in step with the enum.
        let distinct: BTreeSet<String> = API.iter().map(|c| api_error_id(*c)).collect();
        assert_eq!(distinct.len(), API.len());
        assert!(API.iter().all(|c| every_code_is_listed(*c)));
    }

    /// Every message id the code can ask for.
    fn used_ids() -> BTreeSet<String> {
        let mut ids: BTreeSet<String> = T::ALL.iter().map(|k| k.id().to_string()).collect();
        for fixed in [
            "step-of",
            "strength-line",
            "version-ready",
            "readers-found",
            "list-separator",
            "pending-sent",
            "retry-in-minutes",
            "retry-later",
        ] {
            ids.insert(fixed.into());
        }
        ids.extend(API.iter().map(|c| api_error_id(*c)));
        ids.extend(BridgeCode::ALL.iter().map(|c| bridge_error_id(*c)));
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
            ["api-", "bridge-", "pw-", "warn-", "sugg-", "remedy-"]
                .iter()
                .any(|p| id.starts_with(p))
        });
        for id in coded {
            assert!(has_cjk(&zh[&id]), "{id} in zh-TW: {}", zh[&id]);
            assert!(!has_cjk(&en[&id]), "{id} in en: {}", en[&id]);
        }
    }

    /// Every user-facing string goes through the FTL files: no Rust source of the app may
    /// contain Chinese text.
    #[test]
    fn no_chinese_text_in_the_rust_sources() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![src];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("src readable") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).expect("readable");
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
        }
    }
}
