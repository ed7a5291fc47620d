//! Online services after login (FLOWS F9): 健康存摺 (My Health Bank) and 線上申辦業務
//! (online applications), API bodies shared by the SPA and the server (issue 7).
//!
//! | Method | Path | Body → answer |
//! |---|---|---|
//! | GET | `/api/v1/health-bank?from=YYYY-MM-DD&to=YYYY-MM-DD` | – → [`HealthBankResponse`] |
//! | GET | `/api/v1/health-bank/export.csv?from=…&to=…&lang=zh-TW\|en` | – → CSV (UTF-8 with BOM) |
//! | GET | `/api/v1/applications` | – → [`ApplicationsResponse`] |
//! | POST | `/api/v1/applications/card-replacement` | [`CardReplacementRequest`] → [`Application`] (201) |
//! | POST | `/api/v1/applications/enrolment-certificate` | [`CertificateRequest`] → [`Application`] (201) |
//! | GET | `/api/v1/applications/{id}` | – → [`Application`] |
//! | GET | `/api/v1/applications/{id}/certificate.pdf` | – → PDF (when [`Application::certificate_available`]) |
//! | GET | `/api/v1/operator/applications?status=…` | bearer token → [`ApplicationsResponse`] |
//! | POST | `/api/v1/operator/applications/{id}/status` | bearer token, [`OperatorStatusRequest`] → [`Application`] |
//!
//! Citizen endpoints need the session cookie (401 `unauthenticated` without a live session)
//! and only ever show the logged-in person's own data: another person's application answers
//! 404 `not_found`. Operator endpoints need `Authorization: Bearer <token>`.

use serde::{Deserialize, Serialize};

/// Query of the health bank: an inclusive ISO date range; the server's default is the last
/// 12 months.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthBankQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// One prescribed drug of a visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Medication {
    /// Generic name and strength, e.g. `Acetaminophen 500 mg`.
    pub name: String,
    /// Number of units dispensed.
    pub quantity: u32,
    /// Days the prescription covers.
    pub days: u32,
}

/// One medical visit (就醫紀錄).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Visit {
    pub id: i64,
    /// ISO date `YYYY-MM-DD`.
    pub date: String,
    /// The institution's name (a proper name, zh-TW only).
    pub institution: String,
    /// ICD-10-CM code.
    pub diagnosis_code: String,
    pub diagnosis_zh: String,
    pub diagnosis_en: String,
    /// Medical cost declared to the NHI (申報點數, 1 point ≈ NT$1).
    pub cost: i64,
    /// What the person paid (部分負擔, NT$).
    pub copayment: i64,
    pub medications: Vec<Medication>,
}

/// Visits and costs of one calendar month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MonthSummary {
    /// `YYYY-MM`.
    pub month: String,
    pub visits: u32,
    pub cost: i64,
    pub copayment: i64,
}

/// Answer to the health bank query: visits newest first, and a per-month summary of every
/// month of the range (oldest first, months without visits included with zeros).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthBankResponse {
    pub from: String,
    pub to: String,
    pub visits: Vec<Visit>,
    pub months: Vec<MonthSummary>,
}

/// `YYYY-MM` of an ISO date, if it looks like one.
pub fn month_of(date: &str) -> Option<&str> {
    let m = date.get(..7)?;
    (m.len() == 7 && m.as_bytes()[4] == b'-').then_some(m)
}

/// Every month from `from` to `to` (ISO dates) with the visits' counts and sums.
pub fn summarize(from: &str, to: &str, visits: &[Visit]) -> Vec<MonthSummary> {
    let parse = |d: &str| -> Option<(i32, u32)> {
        let m = month_of(d)?;
        Some((m[..4].parse().ok()?, m[5..7].parse().ok()?))
    };
    let (Some((mut y, mut m)), Some(end)) = (parse(from), parse(to)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // At most 10 years of months, whatever the input.
    while (y, m) <= end && out.len() < 120 {
        let key = format!("{y:04}-{m:02}");
        let of_month = visits.iter().filter(|v| month_of(&v.date) == Some(&key));
        let (mut n, mut cost, mut copay) = (0u32, 0i64, 0i64);
        for v in of_month {
            n += 1;
            cost += v.cost;
            copay += v.copayment;
        }
        out.push(MonthSummary {
            month: key,
            visits: n,
            cost,
            copayment: copay,
        });
        if m == 12 {
            y += 1;
            m = 1;
        } else {
            m += 1;
        }
    }
    out
}

/// Kinds of online application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ApplicationKind {
    /// 換補發健保卡.
    CardReplacement,
    /// 投保證明.
    EnrolmentCertificate,
}

impl ApplicationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CardReplacement => "card_replacement",
            Self::EnrolmentCertificate => "enrolment_certificate",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "card_replacement" => Some(Self::CardReplacement),
            "enrolment_certificate" => Some(Self::EnrolmentCertificate),
            _ => None,
        }
    }
}

/// Where an application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    /// 已受理.
    Submitted,
    /// 審核中.
    InReview,
    /// 製卡中 (card replacement).
    CardProduction,
    /// 已寄出 (card replacement; final).
    Mailed,
    /// 已核發 (certificate; final — the PDF can be downloaded).
    Issued,
    /// 不予受理 (final).
    Rejected,
}

impl ApplicationStatus {
    pub const ALL: [ApplicationStatus; 6] = [
        Self::Submitted,
        Self::InReview,
        Self::CardProduction,
        Self::Mailed,
        Self::Issued,
        Self::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::InReview => "in_review",
            Self::CardProduction => "card_production",
            Self::Mailed => "mailed",
            Self::Issued => "issued",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Mailed | Self::Issued | Self::Rejected)
    }

    /// The statuses an operator may move an application of `kind` to from `self`.
    pub fn next(self, kind: ApplicationKind) -> &'static [ApplicationStatus] {
        use ApplicationKind as K;
        use ApplicationStatus as S;
        match (kind, self) {
            (K::CardReplacement, S::Submitted) => &[S::InReview, S::Rejected],
            (K::CardReplacement, S::InReview) => &[S::CardProduction, S::Rejected],
            (K::CardReplacement, S::CardProduction) => &[S::Mailed],
            (K::EnrolmentCertificate, S::Submitted) => &[S::InReview, S::Issued, S::Rejected],
            (K::EnrolmentCertificate, S::InReview) => &[S::Issued, S::Rejected],
            _ => &[],
        }
    }

    /// Whether an application in this status is still being processed (a card replacement
    /// in it blocks another one: the server's partial unique index lists the same statuses).
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            ApplicationStatus::Submitted
                | ApplicationStatus::InReview
                | ApplicationStatus::CardProduction
        )
    }

    /// The path an application of `kind` normally takes (for the status timeline).
    pub fn path(kind: ApplicationKind) -> &'static [ApplicationStatus] {
        use ApplicationStatus as S;
        match kind {
            ApplicationKind::CardReplacement => {
                &[S::Submitted, S::InReview, S::CardProduction, S::Mailed]
            }
            ApplicationKind::EnrolmentCertificate => &[S::Submitted, S::InReview, S::Issued],
        }
    }
}

/// Why a new card is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReplacementReason {
    /// 遺失.
    Lost,
    /// 毀損.
    Damaged,
    /// 更換照片.
    PhotoChange,
    /// 個人資料變更（姓名等）.
    DataChange,
}

impl ReplacementReason {
    pub const ALL: [ReplacementReason; 4] = [
        Self::Lost,
        Self::Damaged,
        Self::PhotoChange,
        Self::DataChange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lost => "lost",
            Self::Damaged => "damaged",
            Self::PhotoChange => "photo_change",
            Self::DataChange => "data_change",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// 換補發健保卡: reason and where to mail the new card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CardReplacementRequest {
    pub reason: ReplacementReason,
    /// 3, 5 or 6 digit postal code (郵遞區號).
    pub postal_code: String,
    pub mailing_address: String,
}

/// 投保證明: nothing to fill in; the certificate covers the person's enrolment history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CertificateRequest {}

/// A problem with a card replacement form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ApplicationFormError {
    #[error("the postal code is 3, 5 or 6 digits")]
    PostalCode,
    #[error("the mailing address needs 6 to 120 characters without control characters")]
    Address,
}

impl CardReplacementRequest {
    /// Checks the form; the same rules run in the SPA and on the server.
    pub fn validate(&self) -> Result<(), (&'static str, ApplicationFormError)> {
        let pc = self.postal_code.trim();
        if !(matches!(pc.len(), 3 | 5 | 6) && pc.bytes().all(|b| b.is_ascii_digit())) {
            return Err(("postal_code", ApplicationFormError::PostalCode));
        }
        let addr = self.mailing_address.trim();
        let n = addr.chars().count();
        if !(6..=120).contains(&n) || addr.chars().any(char::is_control) {
            return Err(("mailing_address", ApplicationFormError::Address));
        }
        Ok(())
    }
}

/// One step of an application's status timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusEvent {
    pub status: ApplicationStatus,
    /// Unix seconds.
    pub at: i64,
    /// A note from the operator to the person (for example why it was rejected): only notes
    /// given with [`NoteVisibility::Citizen`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// A note for staff only ([`NoteVisibility::Internal`]). Only the operator API fills it;
    /// the citizen API never does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_note: Option<String>,
}

/// Who may read an operator's note.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NoteVisibility {
    /// Staff only (the default: a note is never shown to the person by accident).
    #[default]
    Internal,
    /// Shown to the person on their application's timeline.
    Citizen,
}

impl NoteVisibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Internal => "internal",
            Self::Citizen => "citizen",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "internal" => Some(Self::Internal),
            "citizen" => Some(Self::Citizen),
            _ => None,
        }
    }
}

/// An application and its timeline (oldest event first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Application {
    pub id: i64,
    pub kind: ApplicationKind,
    pub status: ApplicationStatus,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<ReplacementReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailing_address: Option<String>,
    pub timeline: Vec<StatusEvent>,
    /// True when the certificate PDF can be downloaded.
    pub certificate_available: bool,
}

/// The logged-in person's applications, newest first (or, for operators, the matching ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApplicationsResponse {
    pub applications: Vec<Application>,
}

/// An operator moves an application on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperatorStatusRequest {
    pub status: ApplicationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Who may read `note`: `internal` (staff only, the default) or `citizen`.
    #[serde(default)]
    pub visibility: NoteVisibility,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visit(date: &str, cost: i64) -> Visit {
        Visit {
            id: 1,
            date: date.into(),
            institution: "x".into(),
            diagnosis_code: "J06.9".into(),
            diagnosis_zh: "x".into(),
            diagnosis_en: "x".into(),
            cost,
            copayment: 50,
            medications: vec![],
        }
    }

    #[test]
    fn summary_covers_every_month_of_the_range() {
        let v = [
            visit("2025-11-03", 400),
            visit("2025-11-20", 600),
            visit("2026-02-01", 1000),
        ];
        let s = summarize("2025-10-15", "2026-02-28", &v);
        let months: Vec<_> = s.iter().map(|m| m.month.as_str()).collect();
        assert_eq!(
            months,
            ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02"]
        );
        assert_eq!((s[1].visits, s[1].cost, s[1].copayment), (2, 1000, 100));
        assert_eq!(s[4].visits, 1);
        assert!(summarize("garbage", "2026-01-01", &v).is_empty());
    }

    #[test]
    fn status_machine() {
        use ApplicationKind as K;
        use ApplicationStatus as S;
        assert!(S::Submitted.next(K::CardReplacement).contains(&S::InReview));
        assert!(!S::Submitted.next(K::CardReplacement).contains(&S::Issued));
        assert!(S::Mailed.next(K::CardReplacement).is_empty());
        assert!(S::Submitted
            .next(K::EnrolmentCertificate)
            .contains(&S::Issued));
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
            assert_eq!(
                s.is_final(),
                s.next(K::CardReplacement).is_empty() && s.next(K::EnrolmentCertificate).is_empty()
            );
        }
        let json = serde_json::to_string(&S::CardProduction).expect("json");
        assert_eq!(json, "\"card_production\"");
    }

    #[test]
    fn replacement_form_rules() {
        let ok = CardReplacementRequest {
            reason: ReplacementReason::Lost,
            postal_code: "106".into(),
            mailing_address: "臺北市大安區信義路三段140號".into(),
        };
        assert!(ok.validate().is_ok());
        let mut bad = ok.clone();
        bad.postal_code = "10".into();
        assert_eq!(bad.validate().map_err(|e| e.0), Err("postal_code"));
        let mut bad = ok.clone();
        bad.mailing_address = "短".into();
        assert_eq!(bad.validate().map_err(|e| e.0), Err("mailing_address"));
        let mut bad = ok;
        bad.mailing_address = "臺北市大安區\u{0007}信義路".into();
        assert!(bad.validate().is_err());
    }
}
