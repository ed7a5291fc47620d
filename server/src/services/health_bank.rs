//! 健康存摺 (My Health Bank, F9): the logged-in person's visits, medications and costs.
//!
//! The first query of a person fetches their records from the claims source
//! ([`crate::adapters::claims`]; the embedded default generates sample records) and stores
//! them with the enrolment history the 投保證明 prints. From then on everything is read from
//! the database.

use nhi_protocol::online::{summarize, HealthBankQuery, HealthBankResponse, Medication, Visit};
use time::{Date, Duration, Month};

use super::online::{iso, parse_iso, today};
use super::Services;
use super::{ServiceError, ServiceResult};
use crate::adapters::claims::{ClaimsPerson, ClaimsSource};
use crate::storage::accounts::AccountRow;
use crate::storage::health_bank::{self as store, NewEnrolment, NewVisit};
use crate::storage::{self};

/// Longest range one query may ask for.
pub const MAX_RANGE_DAYS: i64 = 3700;

/// The birth date of an account (`yyyMMdd`, ROC).
pub fn birth_date_of(account: &AccountRow) -> Date {
    account
        .birth_date
        .parse::<nhi_protocol::RocDate>()
        .map(|d| d.date())
        .unwrap_or_else(|_| Date::from_calendar_date(1980, Month::January, 1).unwrap_or(today()))
}

/// Fetches and stores the person's records once (concurrent first queries are safe: the
/// seed row's primary key lets exactly one transaction insert them).
pub async fn ensure_seeded(
    db: &storage::Db,
    claims: &dyn ClaimsSource,
    account: &AccountRow,
) -> ServiceResult<()> {
    {
        let mut conn = db.conn().await?;
        if store::is_seeded(&mut conn, account.id).await? {
            return Ok(());
        }
    }
    let anchor = today();
    let person = ClaimsPerson {
        national_id: &account.national_id,
        birth_date: birth_date_of(account),
    };
    let records = claims.claims(person, anchor).await;
    let mut tx = db.begin().await?;
    if !store::claim_seed(&mut tx, account.id, &iso(anchor), storage::now()).await? {
        return Ok(()); // another request seeded them
    }
    for v in &records.visits {
        let date = iso(v.date);
        let visit = NewVisit {
            date: &date,
            institution: &v.institution,
            diagnosis_code: &v.diagnosis_code,
            diagnosis_zh: &v.diagnosis_zh,
            diagnosis_en: &v.diagnosis_en,
            cost: v.cost,
            copayment: v.copayment,
            medications: &v.medications,
        };
        store::insert_visit(&mut tx, account.id, &visit).await?;
    }
    for e in &records.enrolments {
        let (start, end) = (iso(e.start), e.end.map(iso));
        let enrolment = NewEnrolment {
            unit_name: &e.unit_name,
            unit_code: &e.unit_code,
            category: &e.category,
            start_date: &start,
            end_date: end.as_deref(),
        };
        store::insert_enrolment(&mut tx, account.id, &enrolment).await?;
    }
    tx.commit().await.map_err(storage::StorageError::from)?;
    Ok(())
}

/// The checked range of a query: default the last 12 months up to today.
pub fn range_of(q: &HealthBankQuery) -> ServiceResult<(Date, Date)> {
    let to = match q.to.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => parse_iso(s).ok_or_else(|| ServiceError::bad("to", "want YYYY-MM-DD"))?,
        None => today(),
    };
    let from = match q.from.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => parse_iso(s).ok_or_else(|| ServiceError::bad("from", "want YYYY-MM-DD"))?,
        None => {
            let a = to
                .replace_year(to.year() - 1)
                .unwrap_or(to - Duration::days(365));
            a + Duration::days(1)
        }
    };
    if from > to {
        return Err(ServiceError::bad("from", "the range starts after it ends"));
    }
    if (to - from).whole_days() > MAX_RANGE_DAYS {
        return Err(ServiceError::bad(
            "from",
            "the range is longer than 10 years",
        ));
    }
    Ok((from, to))
}

impl Services {
    /// The person's visits (newest first) with medications, and the per-month summary.
    pub async fn health_bank_visits(
        &self,
        account: &AccountRow,
        q: &HealthBankQuery,
    ) -> ServiceResult<HealthBankResponse> {
        let (from, to) = range_of(q)?;
        ensure_seeded(&self.db, &*self.claims, account).await?;
        let (from_s, to_s) = (iso(from), iso(to));
        let mut conn = self.db.conn().await?;
        let rows = store::visits(&mut conn, account.id, &from_s, &to_s).await?;
        let meds = store::medications(&mut conn, account.id, &from_s, &to_s).await?;
        let visits: Vec<Visit> = rows
            .into_iter()
            .map(|v| Visit {
                medications: meds
                    .iter()
                    .filter(|m| m.visit_id == v.id)
                    .map(|m| Medication {
                        name: m.name.clone(),
                        quantity: u32::try_from(m.quantity).unwrap_or(0),
                        days: u32::try_from(m.days).unwrap_or(0),
                    })
                    .collect(),
                id: v.id,
                date: v.visit_date,
                institution: v.institution,
                diagnosis_code: v.diagnosis_code,
                diagnosis_zh: v.diagnosis_zh,
                diagnosis_en: v.diagnosis_en,
                cost: v.cost,
                copayment: v.copayment,
            })
            .collect();
        let months = summarize(&from_s, &to_s, &visits);
        Ok(HealthBankResponse {
            from: from_s,
            to: to_s,
            visits,
            months,
        })
    }
}

/// CSV language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvLang {
    ZhTw,
    En,
}

/// One CSV cell: quoted when needed; a leading `= + - @` is neutralised (spreadsheet
/// formula injection).
fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The visits as CSV (UTF-8 with a BOM so spreadsheet programs read the Chinese right).
pub fn to_csv(r: &HealthBankResponse, lang: CsvLang) -> String {
    let header: &[&str] = match lang {
        CsvLang::ZhTw => &[
            "就醫日期",
            "醫事機構",
            "診斷代碼",
            "診斷",
            "醫療費用（點）",
            "部分負擔（元）",
            "用藥",
        ],
        CsvLang::En => &[
            "Date",
            "Institution",
            "Diagnosis code",
            "Diagnosis",
            "Medical cost (points)",
            "Copayment (NT$)",
            "Medications",
        ],
    };
    let mut out = String::from("\u{feff}");
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for v in &r.visits {
        let meds: Vec<String> = v
            .medications
            .iter()
            .map(|m| match lang {
                CsvLang::ZhTw => format!("{} ×{}（{}日）", m.name, m.quantity, m.days),
                CsvLang::En => format!("{} ×{} ({} days)", m.name, m.quantity, m.days),
            })
            .collect();
        let diagnosis = match lang {
            CsvLang::ZhTw => &v.diagnosis_zh,
            CsvLang::En => &v.diagnosis_en,
        };
        let row = [
            cell(&v.date),
            cell(&v.institution),
            cell(&v.diagnosis_code),
            cell(diagnosis),
            v.cost.to_string(),
            v.copayment.to_string(),
            cell(&meds.join("; ")),
        ];
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_csv() {
        let q = |f: &str, t: &str| HealthBankQuery {
            from: Some(f.into()),
            to: Some(t.into()),
        };
        assert!(range_of(&q("2026-01-01", "2025-01-01")).is_err());
        assert!(range_of(&q("2026-13-01", "2026-12-01")).is_err());
        assert!(range_of(&q("2000-01-01", "2026-12-01")).is_err());
        let (f, t) = range_of(&HealthBankQuery::default()).expect("default");
        assert!((t - f).whole_days() >= 364);
        assert_eq!(cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(cell("a,\"b\""), "\"a,\"\"b\"\"\"");
        let r = HealthBankResponse {
            from: "2026-01-01".into(),
            to: "2026-01-31".into(),
            visits: vec![Visit {
                id: 1,
                date: "2026-01-02".into(),
                institution: "晴光牙醫診所".into(),
                diagnosis_code: "K02.9".into(),
                diagnosis_zh: "齲齒".into(),
                diagnosis_en: "Dental caries".into(),
                cost: 900,
                copayment: 50,
                medications: vec![],
            }],
            months: vec![],
        };
        let zh = to_csv(&r, CsvLang::ZhTw);
        assert!(zh.starts_with("\u{feff}就醫日期,"));
        assert!(zh.contains("2026-01-02,晴光牙醫診所,K02.9,齲齒,900,50,\r\n"));
        assert!(to_csv(&r, CsvLang::En).contains("Dental caries"));
    }
}
