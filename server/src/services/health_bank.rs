//! 健康存摺 (My Health Bank, F9): the logged-in person's visits, medications and costs.
//!
//! The embedded default has no claims database, so the first query of a person generates
//! sample records — deterministic per person (seeded from the national ID) over the 36
//! months before that first query — and stores them with the enrolment history the 投保證明
//! prints. From then on everything is read from the database.

use nhi_protocol::online::{summarize, HealthBankQuery, HealthBankResponse, Medication, Visit};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use time::{Date, Duration, Month};

use super::online::{iso, parse_iso, today};
use super::Services;
use super::{ServiceError, ServiceResult};
use crate::storage::accounts::AccountRow;
use crate::storage::{self, StorageError};

/// Longest range one query may ask for.
pub const MAX_RANGE_DAYS: i64 = 3700;

/// A small deterministic generator (SplitMix64) seeded from the person.
struct Rng(u64);

impl Rng {
    fn for_person(national_id: &str) -> Self {
        let h = Sha256::digest(format!("nhi-health-bank:{national_id}").as_bytes());
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&h[..8]);
        Rng(u64::from_le_bytes(seed))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = u64::try_from(hi - lo + 1).unwrap_or(1).max(1);
        lo + i64::try_from(self.next() % span).unwrap_or(0)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let i = usize::try_from(self.next() % items.len() as u64).unwrap_or(0);
        &items[i]
    }
}

struct Condition {
    code: &'static str,
    zh: &'static str,
    en: &'static str,
    clinics: &'static [&'static str],
    /// (name, units per day; 0 = one pack for the whole course)
    drugs: &'static [(&'static str, u32)],
    cost: (i64, i64),
    days: u32,
}

const CONDITIONS: &[Condition] = &[
    Condition {
        code: "J06.9",
        zh: "急性上呼吸道感染",
        en: "Acute upper respiratory infection",
        clinics: &["安和家庭醫學科診所", "仁心耳鼻喉科診所"],
        drugs: &[
            ("Acetaminophen 500 mg", 3),
            ("Dextromethorphan 15 mg", 3),
            ("Chlorpheniramine 4 mg", 3),
        ],
        cost: (380, 620),
        days: 3,
    },
    Condition {
        code: "J02.9",
        zh: "急性咽炎",
        en: "Acute pharyngitis",
        clinics: &["仁心耳鼻喉科診所"],
        drugs: &[("Amoxicillin 500 mg", 3), ("Ibuprofen 400 mg", 3)],
        cost: (420, 700),
        days: 5,
    },
    Condition {
        code: "J30.9",
        zh: "過敏性鼻炎",
        en: "Allergic rhinitis",
        clinics: &["仁心耳鼻喉科診所", "安和家庭醫學科診所"],
        drugs: &[
            ("Fexofenadine 60 mg", 2),
            ("Fluticasone nasal spray 50 mcg", 0),
        ],
        cost: (450, 780),
        days: 14,
    },
    Condition {
        code: "K29.70",
        zh: "胃炎",
        en: "Gastritis",
        clinics: &["安和家庭醫學科診所", "博愛聯合醫院"],
        drugs: &[("Famotidine 20 mg", 2), ("Magnesium oxide 250 mg", 3)],
        cost: (500, 1200),
        days: 7,
    },
    Condition {
        code: "M54.50",
        zh: "下背痛",
        en: "Low back pain",
        clinics: &["康復骨科診所", "博愛聯合醫院"],
        drugs: &[("Diclofenac 25 mg", 3), ("Mephenoxalone 200 mg", 3)],
        cost: (600, 1800),
        days: 7,
    },
    Condition {
        code: "K02.9",
        zh: "齲齒",
        en: "Dental caries",
        clinics: &["晴光牙醫診所"],
        drugs: &[],
        cost: (700, 1600),
        days: 0,
    },
    Condition {
        code: "H52.13",
        zh: "近視",
        en: "Myopia",
        clinics: &["明亮眼科診所"],
        drugs: &[("Atropine 0.01% eye drops", 0)],
        cost: (350, 650),
        days: 30,
    },
    Condition {
        code: "L20.9",
        zh: "異位性皮膚炎",
        en: "Atopic dermatitis",
        clinics: &["柔膚皮膚科診所"],
        drugs: &[("Hydrocortisone 1% cream", 0), ("Cetirizine 10 mg", 1)],
        cost: (400, 750),
        days: 14,
    },
    Condition {
        code: "R51.9",
        zh: "頭痛",
        en: "Headache",
        clinics: &["安和家庭醫學科診所", "博愛聯合醫院"],
        drugs: &[("Acetaminophen 500 mg", 3)],
        cost: (350, 900),
        days: 3,
    },
    Condition {
        code: "N39.0",
        zh: "泌尿道感染",
        en: "Urinary tract infection",
        clinics: &["博愛聯合醫院", "安和家庭醫學科診所"],
        drugs: &[("Cefalexin 500 mg", 4)],
        cost: (520, 1100),
        days: 5,
    },
];

const CHRONIC: &[Condition] = &[
    Condition {
        code: "I10",
        zh: "本態性高血壓",
        en: "Essential hypertension",
        clinics: &["博愛聯合醫院", "安和家庭醫學科診所"],
        drugs: &[("Amlodipine 5 mg", 1), ("Losartan 50 mg", 1)],
        cost: (900, 1600),
        days: 28,
    },
    Condition {
        code: "E11.9",
        zh: "第二型糖尿病",
        en: "Type 2 diabetes mellitus",
        clinics: &["博愛聯合醫院"],
        drugs: &[("Metformin 500 mg", 2), ("Sitagliptin 100 mg", 1)],
        cost: (1200, 2400),
        days: 28,
    },
    Condition {
        code: "E78.5",
        zh: "高血脂症",
        en: "Hyperlipidaemia",
        clinics: &["博愛聯合醫院", "安和家庭醫學科診所"],
        drugs: &[("Atorvastatin 20 mg", 1)],
        cost: (800, 1400),
        days: 28,
    },
];

/// A generated visit before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleVisit {
    pub date: Date,
    pub institution: &'static str,
    pub code: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    pub cost: i64,
    pub copayment: i64,
    pub medications: Vec<Medication>,
}

/// A generated enrolment period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleEnrolment {
    pub unit_name: String,
    pub unit_code: String,
    pub category: &'static str,
    pub start: Date,
    pub end: Option<Date>,
}

/// Copayment of an outpatient visit: clinics NT$50, the hospital NT$170, plus NT$20 per
/// 100 points of drugs above 100 (capped at NT$200) — close to the real schedule.
fn copayment(institution: &str, drug_points: i64) -> i64 {
    let base = if institution.ends_with("醫院") {
        170
    } else {
        50
    };
    let drugs = if drug_points > 100 {
        ((drug_points - 1) / 100 * 20).min(200)
    } else {
        0
    };
    base + drugs
}

/// The visits of the 36 months up to `anchor`, newest first.
pub fn sample_visits(national_id: &str, anchor: Date) -> Vec<SampleVisit> {
    let mut rng = Rng::for_person(national_id);
    let chronic = (rng.next() % 3 == 0).then(|| rng.pick(CHRONIC));
    let mut out = Vec::new();
    let acute = rng.range(18, 40);
    let mut push = |rng: &mut Rng, date: Date, c: &'static Condition| {
        let institution = *rng.pick(c.clinics);
        let medications: Vec<Medication> = c
            .drugs
            .iter()
            .map(|(name, per_day)| Medication {
                name: (*name).to_owned(),
                // 0 per day: one pack (a spray, a cream, eye drops).
                quantity: if *per_day == 0 {
                    1
                } else {
                    per_day * c.days.max(1)
                },
                days: c.days,
            })
            .collect();
        let cost = rng.range(c.cost.0, c.cost.1);
        let drug_points = i64::try_from(medications.len()).unwrap_or(0) * rng.range(20, 90);
        out.push(SampleVisit {
            date,
            institution,
            code: c.code,
            zh: c.zh,
            en: c.en,
            cost,
            copayment: copayment(institution, drug_points),
            medications,
        });
    };
    for _ in 0..acute {
        let date = anchor - Duration::days(rng.range(0, 1094));
        let c = rng.pick(CONDITIONS);
        push(&mut rng, date, c);
    }
    if let Some(c) = chronic {
        // A follow-up every 4 weeks.
        let mut date = anchor - Duration::days(rng.range(0, 27));
        while anchor - date < Duration::days(1095) {
            push(&mut rng, date, c);
            date -= Duration::days(28);
        }
    }
    out.sort_by(|a, b| b.date.cmp(&a.date).then(a.code.cmp(b.code)));
    out
}

const UNITS: &[&str] = &[
    "祥和科技股份有限公司",
    "長青食品有限公司",
    "海灣物流股份有限公司",
    "晨光文化事業有限公司",
    "東昇精密工業股份有限公司",
    "青禾會計師事務所",
];

/// The person's enrolment history: dependant of a parent from birth (or the start of the
/// NHI on 1995-03-01) until 23, then one to three employers; the last one is current.
pub fn sample_enrolments(national_id: &str, birth: Date, anchor: Date) -> Vec<SampleEnrolment> {
    let mut rng = Rng::for_person(&format!("enrolment:{national_id}"));
    let nhi_start = Date::from_calendar_date(1995, Month::March, 1).unwrap_or(birth);
    let adult = birth
        .replace_year(birth.year() + 23)
        .unwrap_or(birth + Duration::days(23 * 365));
    let mut out = Vec::new();
    let first = birth.max(nhi_start);
    if first < adult.min(anchor) {
        out.push(SampleEnrolment {
            unit_name: "依附父（母）投保".into(),
            unit_code: "—".into(),
            category: "第1類被保險人之眷屬",
            start: first,
            // Still a dependant when not 23 yet: the enrolment is current.
            end: (adult <= anchor).then(|| adult - Duration::days(1)),
        });
    }
    let mut start = adult.max(first);
    let jobs = rng.range(1, 3);
    for n in 0..jobs {
        if start >= anchor {
            break;
        }
        let unit = *rng.pick(UNITS);
        let code = format!("{:08}", rng.range(10_000_000, 99_999_999));
        let last = n + 1 == jobs;
        let end = if last {
            None
        } else {
            let e = start + Duration::days(rng.range(400, 3000));
            (e < anchor).then_some(e)
        };
        out.push(SampleEnrolment {
            unit_name: unit.into(),
            unit_code: code,
            category: "第1類被保險人（受僱者）",
            start,
            end,
        });
        match end {
            Some(e) => start = e + Duration::days(1),
            None => break,
        }
    }
    out
}

/// The birth date of an account (`yyyMMdd`, ROC).
pub fn birth_date_of(account: &AccountRow) -> Date {
    account
        .birth_date
        .parse::<nhi_protocol::RocDate>()
        .map(|d| d.date())
        .unwrap_or_else(|_| Date::from_calendar_date(1980, Month::January, 1).unwrap_or(today()))
}

/// Generates and stores the person's records once (concurrent first queries are safe: the
/// seed row's primary key lets exactly one transaction insert them).
pub async fn ensure_seeded(db: &storage::Db, account: &AccountRow) -> ServiceResult<()> {
    {
        let mut conn = db.conn().await?;
        let seeded: Option<(i64,)> =
            sqlx::query_as("SELECT account_id FROM health_bank_seeds WHERE account_id = $1")
                .bind(account.id)
                .fetch_optional(&mut *conn)
                .await?;
        if seeded.is_some() {
            return Ok(());
        }
    }
    let anchor = today();
    let mut tx = db.begin().await?;
    let claimed = sqlx::query(
        "INSERT INTO health_bank_seeds (account_id, anchor_date, seeded_at) VALUES ($1, $2, $3)",
    )
    .bind(account.id)
    .bind(iso(anchor))
    .bind(storage::now())
    .execute(&mut *tx)
    .await;
    if let Err(e) = claimed {
        let e = StorageError::from(e);
        if e.is_unique_violation() {
            return Ok(()); // another request seeded them
        }
        return Err(e.into());
    }
    for v in sample_visits(&account.national_id, anchor) {
        insert_visit(&mut tx, account.id, &v).await?;
    }
    for e in sample_enrolments(&account.national_id, birth_date_of(account), anchor) {
        sqlx::query(
            "INSERT INTO enrolments (account_id, unit_name, unit_code, category, start_date, end_date) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(account.id)
        .bind(&e.unit_name)
        .bind(&e.unit_code)
        .bind(e.category)
        .bind(iso(e.start))
        .bind(e.end.map(iso))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn insert_visit(
    conn: &mut AnyConnection,
    account: i64,
    v: &SampleVisit,
) -> ServiceResult<()> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO medical_visits (account_id, visit_date, institution, diagnosis_code, \
         diagnosis_zh, diagnosis_en, cost, copayment) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         RETURNING id",
    )
    .bind(account)
    .bind(iso(v.date))
    .bind(v.institution)
    .bind(v.code)
    .bind(v.zh)
    .bind(v.en)
    .bind(v.cost)
    .bind(v.copayment)
    .fetch_one(&mut *conn)
    .await?;
    for m in &v.medications {
        sqlx::query(
            "INSERT INTO medications (visit_id, name, quantity, days) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(&m.name)
        .bind(i64::from(m.quantity))
        .bind(i64::from(m.days))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

type VisitRow = (i64, String, String, String, String, String, i64, i64);

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
        ensure_seeded(&self.db, account).await?;
        let (from_s, to_s) = (iso(from), iso(to));
        let mut conn = self.db.conn().await?;
        let rows: Vec<VisitRow> = sqlx::query_as(
            "SELECT id, visit_date, institution, diagnosis_code, diagnosis_zh, diagnosis_en, cost, copayment \
             FROM medical_visits WHERE account_id = $1 AND visit_date >= $2 AND visit_date <= $3 \
             ORDER BY visit_date DESC, id DESC",
        )
        .bind(account.id)
        .bind(&from_s)
        .bind(&to_s)
        .fetch_all(&mut *conn)
        .await?;
        let meds: Vec<(i64, String, i64, i64)> = sqlx::query_as(
            "SELECT m.visit_id, m.name, m.quantity, m.days FROM medications m \
             JOIN medical_visits v ON v.id = m.visit_id \
             WHERE v.account_id = $1 AND v.visit_date >= $2 AND v.visit_date <= $3 ORDER BY m.id",
        )
        .bind(account.id)
        .bind(&from_s)
        .bind(&to_s)
        .fetch_all(&mut *conn)
        .await?;
        let visits: Vec<Visit> = rows
            .into_iter()
            .map(
                |(id, date, institution, code, zh, en, cost, copayment)| Visit {
                    id,
                    date,
                    institution,
                    diagnosis_code: code,
                    diagnosis_zh: zh,
                    diagnosis_en: en,
                    cost,
                    copayment,
                    medications: meds
                        .iter()
                        .filter(|m| m.0 == id)
                        .map(|m| Medication {
                            name: m.1.clone(),
                            quantity: u32::try_from(m.2).unwrap_or(0),
                            days: u32::try_from(m.3).unwrap_or(0),
                        })
                        .collect(),
                },
            )
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

    fn d(y: i32, m: u8, day: u8) -> Date {
        Date::from_calendar_date(y, Month::try_from(m).expect("month"), day).expect("date")
    }

    #[test]
    fn samples_are_deterministic_per_person_and_within_36_months() {
        let anchor = d(2026, 11, 26);
        let a = sample_visits("A123456789", anchor);
        assert_eq!(a, sample_visits("A123456789", anchor));
        assert_ne!(a, sample_visits("B223456719", anchor));
        assert!(a.len() >= 18);
        for v in &a {
            assert!(v.date <= anchor && anchor - v.date < Duration::days(1095));
            assert!(v.cost > 0 && v.copayment >= 50);
        }
        assert!(a.windows(2).all(|w| w[0].date >= w[1].date));
        let e = sample_enrolments("A123456789", d(1990, 1, 1), anchor);
        assert_eq!(e.first().map(|x| x.start), Some(d(1995, 3, 1)));
        assert!(e.last().is_some_and(|x| x.end.is_none()));
        assert!(e
            .windows(2)
            .all(|w| w[0].end.is_some_and(|end| end < w[1].start)));
        // Younger than 23: a current dependant's enrolment.
        let young = sample_enrolments("E102030403", d(2010, 11, 11), anchor);
        assert_eq!(young.len(), 1);
        assert!(young[0].end.is_none());
    }

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
