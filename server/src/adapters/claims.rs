//! The claims source (健保署 claims and enrolment records, F9): what the health bank shows and
//! the 投保證明 prints. The services fetch a person's records once, on their first query, and
//! keep them in the database.
//!
//! The embedded default, [`SampleClaims`], has no claims database: it generates sample records,
//! deterministic per person (seeded from the national ID) over the 36 months before the first
//! query, with an enrolment history. A production build supplies another [`ClaimsSource`]
//! through `app::Overrides`, as it does the household registry. The sample source cannot fail;
//! one that can (a network source) adds its error type and a `ServiceError` variant for it.

use std::collections::HashMap;

use nhi_protocol::online::Medication;
use sha2::{Digest, Sha256};
use time::{Date, Duration, Month};

/// One visit (outpatient claim) with its medications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimVisit {
    pub date: Date,
    pub institution: String,
    pub diagnosis_code: String,
    pub diagnosis_zh: String,
    pub diagnosis_en: String,
    /// Medical cost in points.
    pub cost: i64,
    /// Copayment in NT$.
    pub copayment: i64,
    pub medications: Vec<Medication>,
}

/// One enrolment period (投保紀錄); `end` is `None` for the current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimEnrolment {
    pub unit_name: String,
    pub unit_code: String,
    pub category: String,
    pub start: Date,
    pub end: Option<Date>,
}

/// Everything the source knows of a person up to `anchor`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    /// Newest first.
    pub visits: Vec<ClaimVisit>,
    /// Oldest first.
    pub enrolments: Vec<ClaimEnrolment>,
}

/// Who the records are asked for.
#[derive(Debug, Clone, Copy)]
pub struct ClaimsPerson<'a> {
    pub national_id: &'a str,
    pub birth_date: Date,
}

#[async_trait::async_trait]
pub trait ClaimsSource: Send + Sync {
    /// The person's visits of the 36 months up to `anchor` and their enrolment history.
    async fn claims(&self, person: ClaimsPerson<'_>, anchor: Date) -> Claims;
}

/// The embedded default: generated sample records. A person insured by one of the sample
/// insured units (`server/data/sample-units.json`, or `units_file`) is currently enrolled with
/// that unit, so the 投保證明 and the units pages tell the same story.
#[derive(Debug, Clone, Default)]
pub struct SampleClaims {
    /// national ID → (unit name, unit code).
    units: HashMap<String, (String, String)>,
}

impl SampleClaims {
    /// Sample records whose current unit follows `units`: national ID → (unit name, unit
    /// code), as `services::units::current_units` reads the units file.
    pub fn with_current_units(units: HashMap<String, (String, String)>) -> Self {
        Self { units }
    }
}

#[async_trait::async_trait]
impl ClaimsSource for SampleClaims {
    async fn claims(&self, person: ClaimsPerson<'_>, anchor: Date) -> Claims {
        let mut enrolments = sample_enrolments(person.national_id, person.birth_date, anchor);
        if let Some((name, code)) = self.units.get(person.national_id) {
            enrolments = currently_at(enrolments, name, code, anchor);
        }
        Claims {
            visits: sample_visits(person.national_id, anchor),
            enrolments,
        }
    }
}

/// The history `e` whose current enrolment is with the unit `name` / `code`: a current
/// employer is replaced by it; a current dependant's enrolment (or none) ends the day
/// before the person joined it (up to half a year before `anchor`).
pub fn currently_at(
    mut e: Vec<ClaimEnrolment>,
    name: &str,
    code: &str,
    anchor: Date,
) -> Vec<ClaimEnrolment> {
    const EMPLOYEE: &str = "第1類被保險人（受僱者）";
    if let Some(last) = e.last_mut() {
        if last.end.is_none() && last.category == EMPLOYEE {
            last.unit_name = name.into();
            last.unit_code = code.into();
            return e;
        }
    }
    let earliest = match e.last() {
        Some(last) => last.end.unwrap_or(last.start) + Duration::days(1),
        None => anchor - Duration::days(180),
    };
    let start = (anchor - Duration::days(180)).max(earliest).min(anchor);
    if let Some(last) = e.last_mut() {
        if last.end.is_none() {
            last.end = Some((start - Duration::days(1)).max(last.start));
        }
    }
    e.push(ClaimEnrolment {
        unit_name: name.into(),
        unit_code: code.into(),
        category: EMPLOYEE.into(),
        start,
        end: None,
    });
    e
}

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
pub fn sample_visits(national_id: &str, anchor: Date) -> Vec<ClaimVisit> {
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
        out.push(ClaimVisit {
            date,
            institution: institution.to_owned(),
            diagnosis_code: c.code.to_owned(),
            diagnosis_zh: c.zh.to_owned(),
            diagnosis_en: c.en.to_owned(),
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
    out.sort_by(|a, b| {
        b.date
            .cmp(&a.date)
            .then(a.diagnosis_code.cmp(&b.diagnosis_code))
    });
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
pub fn sample_enrolments(national_id: &str, birth: Date, anchor: Date) -> Vec<ClaimEnrolment> {
    let mut rng = Rng::for_person(&format!("enrolment:{national_id}"));
    let nhi_start = Date::from_calendar_date(1995, Month::March, 1).unwrap_or(birth);
    let adult = birth
        .replace_year(birth.year() + 23)
        .unwrap_or(birth + Duration::days(23 * 365));
    let mut out = Vec::new();
    let first = birth.max(nhi_start);
    if first < adult.min(anchor) {
        out.push(ClaimEnrolment {
            unit_name: "依附父（母）投保".into(),
            unit_code: "—".into(),
            category: "第1類被保險人之眷屬".into(),
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
        out.push(ClaimEnrolment {
            unit_name: unit.into(),
            unit_code: code,
            category: "第1類被保險人（受僱者）".into(),
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
    fn a_sample_unit_member_is_currently_enrolled_with_that_unit() {
        let anchor = d(2026, 11, 26);
        let claims = SampleClaims::with_current_units(
            crate::services::units::current_units(crate::services::units::BUNDLED_UNITS)
                .expect("bundled units"),
        );
        for (id, birth, unit) in [
            ("A123456789", d(1990, 1, 1), "12345678"),
            ("F135792464", d(1981, 7, 4), "23456789"),
            // Younger than 23 yet insured by a unit: the dependant's enrolment ends first.
            ("E102030403", d(2010, 11, 11), "12345678"),
        ] {
            let (name, code) = claims.units.get(id).expect("in the units file").clone();
            assert_eq!(code, unit);
            let e = currently_at(sample_enrolments(id, birth, anchor), &name, &code, anchor);
            let last = e.last().expect("an enrolment");
            assert_eq!(
                (last.unit_name.as_str(), last.unit_code.as_str()),
                (name.as_str(), unit)
            );
            assert!(last.end.is_none(), "{id}: current");
            assert_eq!(
                e.iter().filter(|x| x.end.is_none()).count(),
                1,
                "{id}: {e:?}"
            );
            assert!(
                e.windows(2)
                    .all(|w| w[0].end.is_some_and(|end| end < w[1].start)),
                "{id}: {e:?}"
            );
        }
    }
}
