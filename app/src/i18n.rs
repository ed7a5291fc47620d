//! The one i18n layer: every user-facing string of the SPA comes from here, in Traditional
//! Chinese (zh-TW, the default) and English. The chosen language persists in localStorage.
//!
//! Fixed strings are [`T`] keys looked up with [`I18n::t`]; strings with values (counts,
//! codes from the bridge, the server and the password policy) are functions below that take
//! the [`Lang`].

use leptos::prelude::*;
use nhi_protocol::api::ErrorCode as ApiCode;
use nhi_protocol::bridge::{ErrorCode as BridgeCode, Lang as BridgeLang};
use nhi_protocol::password::{PasswordProblem, StrengthSuggestion, StrengthWarning};

const STORAGE_KEY: &str = "nhi.lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    ZhTw,
    En,
}

impl Lang {
    /// The BCP 47 tag for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::ZhTw => "zh-Hant-TW",
            Lang::En => "en",
        }
    }

    fn code(self) -> &'static str {
        match self {
            Lang::ZhTw => "zh-TW",
            Lang::En => "en",
        }
    }

    fn from_code(s: &str) -> Option<Lang> {
        match s {
            "zh-TW" => Some(Lang::ZhTw),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::ZhTw => Lang::En,
            Lang::En => Lang::ZhTw,
        }
    }

    fn pick(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::ZhTw => zh,
            Lang::En => en,
        }
    }
}

macro_rules! strings {
    ($($key:ident => $zh:literal, $en:literal;)*) => {
        /// Keys of the fixed strings.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum T { $($key),* }

        /// The text of `key` in `lang`.
        pub fn text(lang: Lang, key: T) -> &'static str {
            match key { $(T::$key => lang.pick($zh, $en)),* }
        }
    };
}

strings! {
    SkipToMain => "跳到主要內容", "Skip to main content";
    Agency => "衛生福利部中央健康保險署", "National Health Insurance Administration";
    AppTitle => "健保卡網路服務註冊", "NHI card online registration";
    NavLabel => "主選單", "Main menu";
    NavHome => "首頁", "Home";
    NavCheck => "電腦環境檢測", "System check";
    NavRegister => "首次登入請先申請", "Register";
    NavResend => "重寄認證信", "Resend confirmation mail";
    NavLogin => "登入", "Log in";
    NavDownload => "下載元件", "Downloads";
    LangSwitch => "English", "中文";
    LangSwitchLabel => "Switch to English", "切換為中文";
    Footer => "示範系統：所有資料皆為虛構。客服專線 0800-030-598", "Demonstration system: all data is fictitious. Help line 0800-030-598";
    LandingIntro => "只要有健保卡、讀卡機與新版瀏覽器，就能申請並使用健保卡網路服務，不必安裝 ActiveX 或調整瀏覽器設定。", "With your NHI card, a card reader and an up-to-date browser you can register for and use the NHI online services. No ActiveX and no browser settings to change.";
    LandingSteps => "申請步驟", "How it works";
    LandingStep1 => "檢測電腦環境：安裝瀏覽器擴充功能與讀卡元件。", "Check your computer: install the browser extension and the card reader component.";
    LandingStep2 => "首次申請：讀取健保卡、輸入戶籍資料、設定註冊密碼。", "Register: read your card, enter your household details, choose a password.";
    LandingStep3 => "開啟認證信中的連結並讀取健保卡，完成認證。", "Open the link in the confirmation mail and read your card again.";
    LandingStep4 => "以健保卡與註冊密碼登入。", "Log in with your card and password.";
    NotFoundTitle => "找不到此頁面", "Page not found";
    NotFoundBody => "您要找的頁面不存在，請由選單選擇服務。", "This page does not exist. Please choose a service from the menu.";
    // F0
    CheckTitle => "電腦環境檢測", "System check";
    CheckIntro => "本頁即時檢查使用健保卡網路服務所需的每一項環境；插入或拔出卡片時會自動更新，不必重新整理。", "This page checks everything the NHI online services need, live. Inserting or removing the card updates it without reloading.";
    CheckBrowser => "瀏覽器功能", "Browser features";
    CheckExtension => "瀏覽器擴充功能", "Browser extension";
    CheckBridge => "讀卡元件", "Card reader component";
    CheckPcsc => "讀卡機服務（PC/SC）", "Smart card service (PC/SC)";
    CheckReaders => "讀卡機", "Card reader";
    CheckCard => "卡片", "Card";
    CheckNhi => "健保卡讀取", "NHI card readable";
    StatePass => "通過", "OK";
    StateFail => "未通過", "Problem";
    StatePending => "檢查中…", "Checking…";
    StateSkipped => "尚未檢查", "Not checked yet";
    SkippedBody => "請先解決上方未通過的項目。", "Fix the problem above first.";
    BrowserOk => "此瀏覽器支援本服務。", "This browser supports the service.";
    BrowserFail => "此瀏覽器缺少必要功能，請改用新版 Chrome、Edge 或 Firefox。", "This browser lacks required features. Use an up-to-date Chrome, Edge or Firefox.";
    PcscOk => "讀卡機服務執行中。", "The smart card service is running.";
    CardPresent => "讀卡機內有卡片。", "A card is in the reader.";
    CardInUse => "卡片正被其他程式使用，請關閉其他讀卡程式。", "Another program is using the card. Close other card programs.";
    CardMute => "卡片沒有回應，可能插反了，請晶片朝上、朝內重新插入。", "The card does not answer; it may be upside down. Reinsert it chip first, facing up.";
    NhiOk => "已讀取健保卡。", "The NHI card was read.";
    CheckAllGood => "全部通過，您可以開始申請或登入。", "All checks passed. You can register or log in.";
    CheckAgain => "重新檢測", "Check again";
    GetExtension => "取得瀏覽器擴充功能", "Get the browser extension";
    GetBridge => "下載讀卡元件", "Download the card reader component";
    CheckLive => "檢測結果", "Check results";
    // downloads
    DownloadTitle => "下載元件", "Downloads";
    DownloadExtTitle => "瀏覽器擴充功能", "Browser extension";
    DownloadExtBody => "Chrome、Edge：開啟擴充功能頁面，啟用「開發人員模式」，選擇「載入未封裝項目」並指定 bridge/extension 資料夾。Firefox：在 about:debugging 載入 manifest.json。", "Chrome, Edge: open the extensions page, turn on Developer mode, choose Load unpacked and pick the bridge/extension folder. Firefox: load manifest.json in about:debugging.";
    DownloadBridgeTitle => "讀卡元件（nhi-bridge）", "Card reader component (nhi-bridge)";
    DownloadBridgeBody => "下載 nhi-bridge 後執行「nhi-bridge install」，再重新啟動瀏覽器；「nhi-bridge doctor」會逐項說明目前狀態。", "Download nhi-bridge, run “nhi-bridge install”, then restart the browser; “nhi-bridge doctor” explains every layer's state.";
    // card reading
    ReadCard => "讀取", "Read card";
    Reading => "讀取中…", "Reading…";
    CardDataTitle => "卡片資料（部分遮蔽）", "Card data (partly hidden)";
    CardNumber => "卡號", "Card number";
    Name => "姓名", "Name";
    NationalId => "身分證號", "ID number";
    BirthDate => "出生日期", "Date of birth";
    Sex => "性別", "Sex";
    Male => "男", "Male";
    Female => "女", "Female";
    InsertCardPrompt => "請將健保卡晶片朝上插入讀卡機，再按「讀取」。", "Insert your NHI card in the reader, chip facing up, then press “Read card”.";
    CardNeeded => "請先按「讀取」讀取健保卡。", "Read your card first (“Read card”).";
    Ok => "確定", "OK";
    // F1
    RegTitle => "首次登入請先申請", "Register for the NHI online services";
    StepTerms => "閱讀注意事項", "Terms";
    StepCard => "讀取健保卡", "Read the card";
    StepHousehold => "戶籍資料", "Household";
    StepPassword => "密碼與聯絡資料", "Password and contacts";
    StepDone => "完成", "Done";
    StepsLabel => "申請步驟", "Registration steps";
    TermsTitle => "全民健康保險網路服務註冊管理作業要點", "Rules for registering for the NHI online services";
    Terms1 => "一、本服務供全民健康保險保險對象以本人健保卡申請使用，不得冒用他人卡片。", "1. The service is for insured persons using their own NHI card. Using another person's card is forbidden.";
    Terms2 => "二、申請時須讀取健保卡並輸入戶號及戶籍地址，由系統與戶政資料即時比對。", "2. To apply you read your card and enter your household number and address, which are checked against the household registry in real time.";
    Terms3 => "三、註冊密碼請自行妥善保管；密碼連續輸入錯誤將暫停登入。", "3. Keep your registration password to yourself. Repeated wrong passwords suspend logging in.";
    Terms4 => "四、申請後請於5日內開啟認證信中的連結完成認證，逾期請使用「重寄認證信」。", "4. Open the link in the confirmation mail within 5 days. After that, use “Resend confirmation mail”.";
    TermsAgree => "我已閱讀完畢，並瞭解相關規定", "I have read and understood the rules";
    TermsMustAgree => "請先勾選「我已閱讀完畢，並瞭解相關規定」。", "Please tick “I have read and understood the rules” first.";
    Next => "下一步", "Next";
    Back => "上一步", "Back";
    HouseholdNumber => "戶號", "Household number (戶號)";
    HouseholdHint => "戶口名簿上的8碼戶號，英文字母或數字。", "The 8 letters or digits in your household register.";
    HouseholdInvalid => "戶號為8碼英文字母或數字。", "The household number is 8 letters or digits.";
    Address => "戶籍鄉鎮里鄰", "Registered address";
    County => "縣市", "County or city";
    Township => "鄉鎮市區", "Township or district";
    Village => "村里", "Village";
    Neighbourhood => "鄰", "Neighbourhood (鄰)";
    ChooseOne => "請選擇", "Choose…";
    PlacesLoading => "正在載入地區清單…", "Loading the list of places…";
    FieldRequired => "此欄必填。", "This field is required.";
    NeighbourhoodInvalid => "請輸入1至99的數字。", "Enter a number from 1 to 99.";
    Password => "註冊密碼", "Registration password";
    PasswordHint => "6至12個字元；可以只用英文字母、只用數字或只用特殊符號。", "6–12 characters; letters only, digits only or symbols only are all fine.";
    PasswordRepeat => "再次輸入註冊密碼", "Repeat the password";
    PasswordMismatch => "兩次輸入的密碼不同。", "The two passwords differ.";
    Strength => "密碼強度", "Password strength";
    StrengthLoading => "正在載入密碼強度檢查…", "Loading the strength check…";
    StrengthEmpty => "請輸入密碼。", "Type a password.";
    StrengthUnavailable => "暫時無法估計強度；送出時由伺服器檢查。", "The strength check is not available; the server checks on submit.";
    Score0 => "非常弱", "Very weak";
    Score1 => "弱", "Weak";
    Score2 => "普通", "Fair";
    Score3 => "強", "Strong";
    Score4 => "非常強", "Very strong";
    Email => "電子郵件信箱", "Email address";
    EmailHint => "認證信將寄到這個信箱。", "The confirmation mail goes to this address.";
    Mobile => "行動電話（選填）", "Mobile number (optional)";
    MobileHint => "例如 0912345678", "For example 0912345678";
    Phone => "聯絡電話（選填）", "Phone number (optional)";
    PhoneHint => "例如 02-27065866", "For example 02-27065866";
    EmailInvalid => "電子郵件格式不正確，例如 name@example.com。", "Enter an email address like name@example.com.";
    MobileInvalid => "行動電話為09開頭的10碼數字。", "A mobile number is 10 digits starting with 09.";
    PhoneInvalid => "聯絡電話格式不正確，例如 02-27065866。", "Enter a phone number like 02-27065866.";
    Submit => "確認申請", "Apply";
    Sending => "處理中…", "Working…";
    FixErrors => "請修正標示的欄位，您輸入的資料都已保留。", "Please correct the marked fields. Everything you typed is kept.";
    PendingTitle => "申請已送出，等待電子信箱認證", "Application sent: confirm your email address";
    PendingNext => "請於5日內開啟認證信中的「進入電子信箱認證畫面」連結，並讀取同一張健保卡完成認證。沒有收到信？請使用「重寄認證信」。", "Within 5 days, open the link “進入電子信箱認證畫面” (confirm your email) in the mail and read the same NHI card. No mail? Use “Resend confirmation mail”.";
    // F2
    ConfirmTitle => "電子信箱認證", "Email confirmation";
    ConfirmIntro => "請插入申請時使用的健保卡，按「讀取」完成認證。", "Insert the NHI card you applied with and press “Read card” to finish.";
    ConfirmNoTicket => "連結不完整，請直接點選認證信中的連結開啟本頁。", "The link is incomplete. Open this page from the link in the confirmation mail.";
    ConfirmNoCard => "讀卡機內沒有健保卡。請插入健保卡，按「確定」後再按「讀取」。", "There is no NHI card in the reader. Insert the card, press “OK”, then “Read card” again.";
    ConfirmDone => "認證完成，您的帳號已啟用，申請完成通知信已寄出。", "Confirmed: your account is active. A completion notice has been mailed to you.";
    GoLogin => "前往登入", "Go to log in";
    // F8
    ResendTitle => "重寄認證信", "Resend confirmation mail";
    ResendIntro => "未在5日內完成認證、沒有收到信，或要更改電子郵件信箱時，請讀取健保卡並輸入電子郵件信箱。新連結寄出後，舊連結即失效。", "If you did not confirm within 5 days, did not get the mail, or need another address: read your card and enter the email address. Once a new link is sent, the old one stops working.";
    ResendSubmit => "重寄認證信", "Resend the mail";
    ResendDone => "已受理。若此卡有等待認證的申請，新的認證信已寄出，舊的連結已失效。", "Done. If this card has an application waiting for confirmation, a new mail has been sent and the old link no longer works.";
    // F3
    LoginTitle => "健保卡網路服務登入", "Log in to the NHI online services";
    LoginIntro => "請插入健保卡，按「讀取」，再輸入註冊密碼。", "Insert your NHI card, press “Read card”, then enter your registration password.";
    LoginSubmit => "登入", "Log in";
    HomeTitle => "我的健保卡網路服務", "My NHI online services";
    HomeWelcome => "您已登入。", "You are logged in.";
    AccountStatus => "帳號狀態", "Account status";
    StatusPending => "等待電子信箱認證", "Waiting for email confirmation";
    StatusActive => "已啟用", "Active";
    RegisteredAt => "註冊時間", "Registered";
    HomeServices => "線上申辦服務", "Online services";
    HomeHealthBank => "健康存摺查詢", "My Health Bank";
    HomeApplications => "線上申辦業務", "Online applications";
    HomeSoon => "即將開放。", "Coming soon.";
    Logout => "登出", "Log out";
    LoggedOut => "您已登出。", "You have logged out.";
    Loading => "載入中…", "Loading…";
    NetworkError => "無法連線到伺服器，請確認網路後再試一次；您輸入的資料都已保留。", "The server cannot be reached. Check your connection and try again; everything you typed is kept.";
    ServerConfused => "伺服器的回應無法辨識，請稍後再試。", "The server's answer could not be understood. Please try again later.";
    BridgeConfused => "讀卡元件的回應無法辨識，請重新安裝讀卡元件。", "The card reader component answered something unexpected. Please reinstall it.";
    ErrorPrefix => "錯誤：", "Error: ";
}

/// The language state, provided as context by the app shell.
#[derive(Clone, Copy)]
pub struct I18n {
    pub lang: RwSignal<Lang>,
}

impl I18n {
    /// Reads the stored choice (zh-TW by default) and keeps `<html lang>` in step.
    pub fn init() -> Self {
        let stored = storage()
            .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten())
            .and_then(|c| Lang::from_code(&c));
        let lang = RwSignal::new(stored.unwrap_or(Lang::ZhTw));
        Effect::new(move |_| {
            let l = lang.get();
            if let Some(el) = document_element() {
                let _ = el.set_attribute("lang", l.tag());
            }
        });
        Self { lang }
    }

    pub fn get(&self) -> Lang {
        self.lang.get()
    }

    /// The text of `key` in the current language (tracked: use inside closures).
    pub fn t(&self, key: T) -> &'static str {
        text(self.lang.get(), key)
    }

    pub fn set(&self, lang: Lang) {
        if let Some(s) = storage() {
            let _ = s.set_item(STORAGE_KEY, lang.code());
        }
        self.lang.set(lang);
    }
}

pub fn use_i18n() -> I18n {
    use_context::<I18n>().unwrap_or_else(|| {
        let i = I18n::init();
        provide_context(i);
        i
    })
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

fn document_element() -> Option<web_sys::Element> {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
}

pub fn step_of(lang: Lang, n: usize, total: usize) -> String {
    match lang {
        Lang::ZhTw => format!("第 {n} 步，共 {total} 步"),
        Lang::En => format!("Step {n} of {total}"),
    }
}

pub fn score_text(lang: Lang, score: u8) -> String {
    let key = match score {
        0 => T::Score0,
        1 => T::Score1,
        2 => T::Score2,
        3 => T::Score3,
        _ => T::Score4,
    };
    let sep = lang.pick("：", ": ");
    format!("{}{sep}{}", text(lang, T::Strength), text(lang, key))
}

pub fn version_text(lang: Lang, what: &str, version: &str) -> String {
    match lang {
        Lang::ZhTw => format!("{what}已就緒（版本 {version}）。"),
        Lang::En => format!("{what} ready (version {version})."),
    }
}

pub fn readers_text(lang: Lang, names: &[String]) -> String {
    match lang {
        Lang::ZhTw => format!("找到讀卡機：{}", names.join("、")),
        Lang::En => format!("Readers found: {}", names.join(", ")),
    }
}

pub fn pending_text(lang: Lang, email_masked: &str) -> String {
    match lang {
        Lang::ZhTw => format!("認證信已寄到 {email_masked}。"),
        Lang::En => format!("A confirmation mail was sent to {email_masked}."),
    }
}

pub fn password_problem(lang: Lang, p: PasswordProblem) -> String {
    match (p, lang) {
        (PasswordProblem::TooShort { min }, Lang::ZhTw) => format!("密碼至少要 {min} 個字元。"),
        (PasswordProblem::TooShort { min }, Lang::En) => {
            format!("The password needs at least {min} characters.")
        }
        (PasswordProblem::TooLong { max }, Lang::ZhTw) => format!("密碼最多 {max} 個字元。"),
        (PasswordProblem::TooLong { max }, Lang::En) => {
            format!("The password may have at most {max} characters.")
        }
        (PasswordProblem::ControlCharacter, l) => l
            .pick(
                "密碼不可包含控制字元。",
                "The password must not contain control characters.",
            )
            .into(),
        (PasswordProblem::ContainsNationalId, l) => l
            .pick(
                "密碼不可包含身分證號。",
                "The password must not contain your ID number.",
            )
            .into(),
        (PasswordProblem::ContainsCardNumber, l) => l
            .pick(
                "密碼不可包含健保卡號。",
                "The password must not contain your card number.",
            )
            .into(),
        (PasswordProblem::ContainsBirthDate, l) => l
            .pick(
                "密碼不可包含出生日期。",
                "The password must not contain your date of birth.",
            )
            .into(),
        (PasswordProblem::TooWeak { .. }, l) => l
            .pick(
                "密碼太容易被猜到，請換一個較不常見的密碼。",
                "The password is too easy to guess. Choose a less common one.",
            )
            .into(),
    }
}

pub fn strength_warning(lang: Lang, w: StrengthWarning) -> &'static str {
    use StrengthWarning as W;
    match w {
        W::StraightRowsOfKeysAreEasyToGuess => lang.pick(
            "鍵盤上連續一排的按鍵很容易被猜到。",
            "Straight rows of keys are easy to guess.",
        ),
        W::ShortKeyboardPatternsAreEasyToGuess => lang.pick(
            "短的鍵盤圖形很容易被猜到。",
            "Short keyboard patterns are easy to guess.",
        ),
        W::RepeatsLikeAaaAreEasyToGuess => lang.pick(
            "像 aaa 的重複很容易被猜到。",
            "Repeats like “aaa” are easy to guess.",
        ),
        W::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess => lang.pick(
            "像 abcabc 的重複只比 abc 難猜一點。",
            "Repeats like “abcabc” are only slightly harder to guess than “abc”.",
        ),
        W::ThisIsATop10Password => lang.pick(
            "這是最常見的10個密碼之一。",
            "This is a top-10 common password.",
        ),
        W::ThisIsATop100Password => lang.pick(
            "這是最常見的100個密碼之一。",
            "This is a top-100 common password.",
        ),
        W::ThisIsACommonPassword => {
            lang.pick("這是很常見的密碼。", "This is a very common password.")
        }
        W::ThisIsSimilarToACommonlyUsedPassword => lang.pick(
            "這和常見的密碼很相似。",
            "This is similar to a commonly used password.",
        ),
        W::SequencesLikeAbcAreEasyToGuess => lang.pick(
            "像 abc 或 6543 的順序很容易被猜到。",
            "Sequences like “abc” or “6543” are easy to guess.",
        ),
        W::RecentYearsAreEasyToGuess => lang.pick(
            "最近的年份很容易被猜到。",
            "Recent years are easy to guess.",
        ),
        W::AWordByItselfIsEasyToGuess => lang.pick(
            "單獨一個字詞很容易被猜到。",
            "A word by itself is easy to guess.",
        ),
        W::DatesAreOftenEasyToGuess => {
            lang.pick("日期通常很容易被猜到。", "Dates are often easy to guess.")
        }
        W::NamesAndSurnamesByThemselvesAreEasyToGuess => lang.pick(
            "單獨的名字或姓氏很容易被猜到。",
            "Names and surnames by themselves are easy to guess.",
        ),
        W::CommonNamesAndSurnamesAreEasyToGuess => lang.pick(
            "常見的名字和姓氏很容易被猜到。",
            "Common names and surnames are easy to guess.",
        ),
    }
}

pub fn strength_suggestion(lang: Lang, s: StrengthSuggestion) -> &'static str {
    use StrengthSuggestion as S;
    match s {
        S::UseAFewWordsAvoidCommonPhrases => lang.pick(
            "可以用幾個不相關的字詞組合，避免常見片語。",
            "Use a few words, avoid common phrases.",
        ),
        S::NoNeedForSymbolsDigitsOrUppercaseLetters => lang.pick(
            "不一定需要符號、數字或大寫字母。",
            "No need for symbols, digits, or uppercase letters.",
        ),
        S::AddAnotherWordOrTwo => lang.pick(
            "再加一兩個不常見的字詞。",
            "Add another word or two. Uncommon words are better.",
        ),
        S::CapitalizationDoesntHelpVeryMuch => lang.pick(
            "大小寫變化幫助不大。",
            "Capitalization doesn't help very much.",
        ),
        S::AllUppercaseIsAlmostAsEasyToGuessAsAllLowercase => lang.pick(
            "全部大寫和全部小寫一樣容易被猜到。",
            "All-uppercase is almost as easy to guess as all-lowercase.",
        ),
        S::ReversedWordsArentMuchHarderToGuess => lang.pick(
            "把字詞倒過來寫並不會難猜多少。",
            "Reversed words aren't much harder to guess.",
        ),
        S::PredictableSubstitutionsDontHelpVeryMuch => lang.pick(
            "以 @ 代替 a 這類可預期的替換幫助不大。",
            "Predictable substitutions like “@” instead of “a” don't help very much.",
        ),
        S::UseALongerKeyboardPatternWithMoreTurns => lang.pick(
            "使用較長、轉折較多的鍵盤圖形。",
            "Use a longer keyboard pattern with more turns.",
        ),
        S::AvoidRepeatedWordsAndCharacters => lang.pick(
            "避免重複的字詞和字元。",
            "Avoid repeated words and characters.",
        ),
        S::AvoidSequences => lang.pick("避免連續的順序。", "Avoid sequences."),
        S::AvoidRecentYears => lang.pick("避免最近的年份。", "Avoid recent years."),
        S::AvoidYearsThatAreAssociatedWithYou => lang.pick(
            "避免和您有關的年份。",
            "Avoid years that are associated with you.",
        ),
        S::AvoidDatesAndYearsThatAreAssociatedWithYou => lang.pick(
            "避免和您有關的日期和年份。",
            "Avoid dates and years that are associated with you.",
        ),
    }
}

/// Advice for a bridge error code, in the words the protocol crate keeps for citizens.
pub fn bridge_error(lang: Lang, code: BridgeCode) -> &'static str {
    code.advice(match lang {
        Lang::ZhTw => BridgeLang::ZhTw,
        Lang::En => BridgeLang::En,
    })
}

/// A message for every server error code.
pub fn api_error(lang: Lang, code: ApiCode, retry_after: Option<u64>) -> String {
    let wait = |zh: &str, en: &str| match (lang, retry_after) {
        (Lang::ZhTw, Some(s)) => format!("{zh}請於 {} 分鐘後再試。", s.div_ceil(60)),
        (Lang::En, Some(s)) => format!("{en} Try again in {} minutes.", s.div_ceil(60)),
        (Lang::ZhTw, None) => format!("{zh}請稍後再試。"),
        (Lang::En, None) => format!("{en} Try again later."),
    };
    let s = match code {
        ApiCode::BadRequest => lang.pick("送出的資料有誤，請檢查標示的欄位。", "Some of the data is not valid. Check the marked fields."),
        ApiCode::NonceInvalid => lang.pick("讀卡驗證已逾時，請再按一次。", "The card check expired. Please try once more."),
        ApiCode::CardProofInvalid => lang.pick("無法驗證這張健保卡，請重新插入卡片後再試；仍失敗請洽健保署。", "This NHI card could not be verified. Reinsert it and try again; if it keeps failing, contact the NHIA."),
        ApiCode::CardMismatch => lang.pick("卡片資料與讀卡結果不符，請重新讀取健保卡。", "The card data does not match the card. Read the card again."),
        ApiCode::HouseholdMismatch => lang.pick("戶號或戶籍地址與戶政資料不符，請依戶口名簿核對後再試。", "The household number or address does not match the household registry. Check your household register and try again."),
        ApiCode::RegistryUnavailable => return wait("戶政資料暫時無法查詢，", "The household registry is not answering."),
        ApiCode::AlreadyRegistered => lang.pick("這張健保卡已完成註冊，請直接登入。", "This card is already registered. Please log in."),
        ApiCode::RegistrationPending => lang.pick("這張健保卡的申請正等待電子信箱認證，請開啟認證信中的連結，或使用「重寄認證信」。", "An application for this card is waiting for email confirmation. Open the link in the mail, or use “Resend confirmation mail”."),
        ApiCode::PasswordRejected => lang.pick("註冊密碼不符合規定，請依說明修改。", "The password does not meet the rules; see the notes."),
        ApiCode::TicketInvalid => lang.pick("此認證連結無效或已使用過。若要新的連結，請使用「重寄認證信」。", "This confirmation link is not valid or was already used. Use “Resend confirmation mail” for a new one."),
        ApiCode::TicketExpired => lang.pick("此認證連結已超過5日，請使用「重寄認證信」取得新連結。", "This link is older than 5 days. Use “Resend confirmation mail” to get a new one."),
        ApiCode::WrongCard => lang.pick("這不是申請時使用的健保卡，請插入申請時的卡片後再讀取。", "This is not the card you applied with. Insert that card and read again."),
        ApiCode::LoginFailed => lang.pick("健保卡或註冊密碼不正確。", "The card or the password is not correct."),
        ApiCode::AccountNotActive => lang.pick("帳號尚未完成電子信箱認證，請開啟認證信中的連結。", "The account is not confirmed yet. Open the link in the confirmation mail."),
        ApiCode::AccountLocked => return wait("密碼錯誤次數過多，帳號暫時鎖定。", "Too many wrong passwords: the account is locked for now."),
        ApiCode::RateLimited => return wait("操作太頻繁。", "Too many requests."),
        ApiCode::CsrfRejected => lang.pick("請從本網站頁面操作，重新整理後再試。", "Please use this site's own pages. Reload and try again."),
        ApiCode::Unauthenticated => lang.pick("您尚未登入或已逾時，請重新登入。", "You are not logged in, or the session expired. Please log in again."),
        ApiCode::NotFound => lang.pick("找不到要求的資料。", "Not found."),
        ApiCode::Internal => lang.pick("伺服器發生問題，資料未被變更，請稍後再試。", "Something failed on the server; nothing was changed. Please try again."),
    };
    s.to_string()
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
    pub fn render(&self, lang: Lang) -> String {
        match self {
            Msg::Key(k) => text(lang, *k).to_string(),
            Msg::Bridge(c) => bridge_error(lang, *c).to_string(),
            Msg::Api(c, r) => api_error(lang, *c, *r),
            Msg::Problem(p) => password_problem(lang, *p),
            Msg::Pending(e) => pending_text(lang, e),
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

/// The exact remedy for a failed layer on the user's OS and browser (F0).
pub fn remedy(
    lang: Lang,
    code: BridgeCode,
    os: crate::util::Os,
    browser: crate::util::Browser,
) -> String {
    use crate::util::{Browser as B, Os as O};
    let l = lang;
    match code {
        BridgeCode::ExtensionMissing | BridgeCode::ExtensionVersion => {
            let place = match browser {
                B::Edge => l.pick("在 Edge 開啟 edge://extensions，", "In Edge open edge://extensions, "),
                B::Firefox => l.pick("在 Firefox 開啟 about:addons，", "In Firefox open about:addons, "),
                B::Chrome => l.pick("在 Chrome 開啟 chrome://extensions，", "In Chrome open chrome://extensions, "),
                B::Other => l.pick("請改用 Chrome、Edge 或 Firefox，", "Use Chrome, Edge or Firefox, "),
            };
            let what = if code == BridgeCode::ExtensionVersion {
                l.pick("更新「健保卡網路服務讀卡」擴充功能，再重新整理本頁。", "update the “NHI card bridge” extension, then reload this page.")
            } else {
                l.pick("安裝並啟用「健保卡網路服務讀卡」擴充功能，再重新整理本頁。", "install and enable the “NHI card bridge” extension, then reload this page.")
            };
            format!("{place}{what}")
        }
        BridgeCode::BridgeMissing | BridgeCode::BridgeVersion => {
            let new = if code == BridgeCode::BridgeVersion {
                l.pick("新版", "the new version of ")
            } else {
                ""
            };
            match (os, lang) {
                (O::Windows, Lang::ZhTw) => format!("下載{new}讀卡元件 nhi-bridge，在「命令提示字元」執行 nhi-bridge install，再關閉並重新開啟瀏覽器。"),
                (O::Windows, Lang::En) => format!("Download {new}the card reader component nhi-bridge, run “nhi-bridge install” in Command Prompt, then close and reopen the browser."),
                (O::Mac, Lang::ZhTw) => format!("下載{new}讀卡元件 nhi-bridge，在「終端機」執行 ./nhi-bridge install，再結束並重新開啟瀏覽器。"),
                (O::Mac, Lang::En) => format!("Download {new}the card reader component nhi-bridge, run “./nhi-bridge install” in Terminal, then quit and reopen the browser."),
                (_, Lang::ZhTw) => format!("下載{new}讀卡元件 nhi-bridge，在終端機執行 ./nhi-bridge install，再關閉並重新開啟瀏覽器。"),
                (_, Lang::En) => format!("Download {new}the card reader component nhi-bridge, run “./nhi-bridge install” in a terminal, then close and reopen the browser."),
            }
        }
        BridgeCode::PcscNotRunning => match os {
            O::Windows => l.pick("讀卡機服務未啟動：按 Win+R 輸入 services.msc，將「Smart Card」服務啟動並設為自動。", "The smart card service is not running: press Win+R, type services.msc, start the “Smart Card” service and set it to Automatic.").into(),
            O::Mac => l.pick("讀卡機服務沒有回應：請拔下讀卡機再接上；仍不行請重新開機。", "The smart card service does not answer: unplug and replug the reader; if that does not help, restart the Mac.").into(),
            _ => l.pick("讀卡機服務未啟動：請在終端機執行 sudo apt install pcscd，再執行 sudo systemctl enable --now pcscd。", "The smart card service is not running: in a terminal run “sudo apt install pcscd”, then “sudo systemctl enable --now pcscd”.").into(),
        },
        BridgeCode::NoReader => match os {
            O::Linux => l.pick("找不到讀卡機：請接上讀卡機；多數讀卡機需要 CCID 驅動程式（sudo apt install libccid）。", "No card reader found: plug in the reader; most readers need the CCID driver (sudo apt install libccid).").into(),
            _ => l.pick("找不到讀卡機：請接上讀卡機，必要時安裝廠商提供的驅動程式。", "No card reader found: plug in the reader and, if needed, install the maker's driver.").into(),
        },
        other => bridge_error(lang, other).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_cjk(s: &str) -> bool {
        s.chars().any(|c| {
            ('\u{3000}'..='\u{303f}').contains(&c)
                || ('\u{4e00}'..='\u{9fff}').contains(&c)
                || ('\u{ff00}'..='\u{ffef}').contains(&c)
        })
    }

    #[test]
    fn every_server_and_bridge_code_has_a_message_in_both_languages() {
        use ApiCode::*;
        let api = [
            BadRequest,
            NonceInvalid,
            CardProofInvalid,
            CardMismatch,
            HouseholdMismatch,
            RegistryUnavailable,
            AlreadyRegistered,
            RegistrationPending,
            PasswordRejected,
            TicketInvalid,
            TicketExpired,
            WrongCard,
            LoginFailed,
            AccountNotActive,
            AccountLocked,
            RateLimited,
            CsrfRejected,
            Unauthenticated,
            NotFound,
            Internal,
        ];
        for code in api {
            for retry in [None, Some(90)] {
                let (zh, en) = (
                    api_error(Lang::ZhTw, code, retry),
                    api_error(Lang::En, code, retry),
                );
                assert!(has_cjk(&zh) && !has_cjk(&en), "{code:?}: {zh} / {en}");
            }
        }
        for code in BridgeCode::ALL {
            assert!(has_cjk(bridge_error(Lang::ZhTw, code)), "{code:?}");
            assert!(!has_cjk(bridge_error(Lang::En, code)), "{code:?}");
            for os in [
                crate::util::Os::Windows,
                crate::util::Os::Mac,
                crate::util::Os::Linux,
                crate::util::Os::Other,
            ] {
                for b in [
                    crate::util::Browser::Chrome,
                    crate::util::Browser::Edge,
                    crate::util::Browser::Firefox,
                    crate::util::Browser::Other,
                ] {
                    assert!(has_cjk(&remedy(Lang::ZhTw, code, os, b)));
                    assert!(!remedy(Lang::En, code, os, b).is_empty());
                }
            }
        }
    }

    #[test]
    fn password_feedback_is_translated() {
        for w in StrengthWarning::ALL {
            assert!(
                has_cjk(strength_warning(Lang::ZhTw, *w))
                    && !has_cjk(strength_warning(Lang::En, *w))
            );
        }
        for s in StrengthSuggestion::ALL {
            assert!(
                has_cjk(strength_suggestion(Lang::ZhTw, *s))
                    && !has_cjk(strength_suggestion(Lang::En, *s))
            );
        }
        for p in [
            PasswordProblem::TooShort { min: 6 },
            PasswordProblem::TooLong { max: 12 },
            PasswordProblem::ControlCharacter,
            PasswordProblem::ContainsNationalId,
            PasswordProblem::ContainsCardNumber,
            PasswordProblem::ContainsBirthDate,
            PasswordProblem::TooWeak { score: 0, min: 1 },
        ] {
            assert!(
                has_cjk(&password_problem(Lang::ZhTw, p))
                    && !has_cjk(&password_problem(Lang::En, p))
            );
        }
    }

    /// Every user-facing string goes through this module: no other source file of the app
    /// may contain Chinese text.
    #[test]
    fn no_chinese_text_outside_the_i18n_layer() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![src];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("src readable") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("i18n.rs")
                {
                    let text = std::fs::read_to_string(&path).expect("readable");
                    for (n, line) in text.lines().enumerate() {
                        let code = line.split("//").next().unwrap_or_default();
                        assert!(
                            !has_cjk(code),
                            "{}:{}: user-facing text outside i18n.rs: {line}",
                            path.display(),
                            n + 1
                        );
                    }
                }
            }
        }
    }
}
