//! The registration password (註冊密碼) policy, shared so that client and server judge alike.
//!
//! FLOWS F1: 6–12 characters (configurable); letters or digits alone, or special characters
//! alone, are allowed — there is no composition rule. On top of that the password must not
//! contain the holder's ID number, card number or birth date, and must reach a minimum
//! zxcvbn score computed with the holder's data as user inputs.
//!
//! The rule checks ([`PasswordPolicy::check_rules`]) are cheap and always available; the
//! strength estimate needs the `strength` feature (zxcvbn, ~800 KB of wasm), which the SPA
//! loads lazily in a worker. [`PasswordPolicy::check`] runs both, as the server does.

use serde::{Deserialize, Serialize};

use crate::card::CardNumber;
use crate::date::RocDate;
use crate::id::NationalId;

/// Tunable limits. The defaults are FLOWS F1's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PasswordPolicy {
    pub min_chars: usize,
    pub max_chars: usize,
    /// Minimum zxcvbn score (0–4).
    pub min_score: u8,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: 6,
            max_chars: 12,
            min_score: 1,
        }
    }
}

/// What the password must not contain, and what zxcvbn should treat as guessable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalData {
    pub national_id: Option<NationalId>,
    pub card_number: Option<CardNumber>,
    pub birth_date: Option<RocDate>,
    /// Name, email and the like: only fed to zxcvbn as user inputs.
    #[serde(default)]
    pub other_inputs: Vec<String>,
}

/// A rule the password breaks; the UI translates each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "problem")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PasswordProblem {
    TooShort { min: usize },
    TooLong { max: usize },
    ControlCharacter,
    ContainsNationalId,
    ContainsCardNumber,
    ContainsBirthDate,
    TooWeak { score: u8, min: u8 },
}

/// zxcvbn's estimate, with feedback as values the UI translates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Strength {
    /// 0 (guessable in 10³ tries) … 4 (more than 10¹⁰).
    pub score: u8,
    pub warning: Option<StrengthWarning>,
    pub suggestions: Vec<StrengthSuggestion>,
}

/// The verdict on one password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordVerdict {
    pub problems: Vec<PasswordProblem>,
    /// `None` where only the rules were checked.
    pub strength: Option<Strength>,
}

impl PasswordVerdict {
    pub fn is_acceptable(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What the strength meter shows for a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rating {
    /// A rule (length, characters, personal data) is broken: submit refuses it, whatever
    /// zxcvbn thinks of it.
    Refused,
    /// zxcvbn's score (0–4) of a password that keeps every rule.
    Score(u8),
    /// The rules hold; the estimate is not there yet.
    Unknown,
}

/// [`PasswordPolicy::assess`]'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub verdict: PasswordVerdict,
    pub rating: Rating,
}

/// The ways a birth date is written: ROC with and without the leading zero, Gregorian.
fn birth_date_forms(d: RocDate) -> Vec<String> {
    let roc = d.to_string();
    let greg = d.iso().replace('-', "");
    let mut forms = vec![roc.trim_start_matches('0').to_string(), greg];
    forms.push(roc);
    forms.retain(|f| f.len() >= 6);
    forms
}

impl PasswordPolicy {
    /// Length, characters and personal data; no strength estimate.
    pub fn check_rules(&self, password: &str, person: &PersonalData) -> Vec<PasswordProblem> {
        let mut problems = Vec::new();
        let chars = password.chars().count();
        if chars < self.min_chars {
            problems.push(PasswordProblem::TooShort {
                min: self.min_chars,
            });
        }
        if chars > self.max_chars {
            problems.push(PasswordProblem::TooLong {
                max: self.max_chars,
            });
        }
        if password.chars().any(char::is_control) {
            problems.push(PasswordProblem::ControlCharacter);
        }
        let upper = password.to_uppercase();
        if person
            .national_id
            .as_ref()
            .is_some_and(|id| upper.contains(id.as_str()))
        {
            problems.push(PasswordProblem::ContainsNationalId);
        }
        if person
            .card_number
            .as_ref()
            .is_some_and(|c| password.contains(c.as_str()))
        {
            problems.push(PasswordProblem::ContainsCardNumber);
        }
        if person.birth_date.is_some_and(|d| {
            birth_date_forms(d)
                .iter()
                .any(|f| password.contains(f.as_str()))
        }) {
            problems.push(PasswordProblem::ContainsBirthDate);
        }
        problems
    }

    /// The personal data as zxcvbn user inputs.
    pub fn user_inputs(person: &PersonalData) -> Vec<String> {
        let mut inputs: Vec<String> = person.other_inputs.clone();
        inputs.extend(
            person
                .national_id
                .as_ref()
                .map(|i| i.as_str().to_lowercase()),
        );
        inputs.extend(person.card_number.as_ref().map(|c| c.to_string()));
        inputs.extend(person.birth_date.map(birth_date_forms).unwrap_or_default());
        inputs
    }

    /// Adds the strength problem, if any, to the rule problems.
    pub fn judge(&self, mut problems: Vec<PasswordProblem>, strength: Strength) -> PasswordVerdict {
        if strength.score < self.min_score {
            problems.push(PasswordProblem::TooWeak {
                score: strength.score,
                min: self.min_score,
            });
        }
        PasswordVerdict {
            problems,
            strength: Some(strength),
        }
    }

    /// The one judgement both the meter and submit use: the rule problems, plus the strength
    /// problem once an estimate is there. The meter shows [`Assessment::rating`], so it can
    /// never praise a password that submit refuses (a 19-character one, say).
    pub fn assess(
        &self,
        password: &str,
        person: &PersonalData,
        strength: Option<Strength>,
    ) -> Assessment {
        let rules = self.check_rules(password, person);
        let rules_broken = !rules.is_empty();
        let verdict = match strength {
            Some(s) => self.judge(rules, s),
            None => PasswordVerdict {
                problems: rules,
                strength: None,
            },
        };
        let rating = match &verdict.strength {
            _ if rules_broken => Rating::Refused,
            Some(s) => Rating::Score(s.score),
            None => Rating::Unknown,
        };
        Assessment { verdict, rating }
    }

    /// Every rule and the strength estimate: what the server enforces.
    #[cfg(feature = "strength")]
    pub fn check(&self, password: &str, person: &PersonalData) -> PasswordVerdict {
        let problems = self.check_rules(password, person);
        self.judge(problems, estimate(password, person))
    }
}

/// zxcvbn's estimate with the person's data as user inputs. An empty password scores 0.
#[cfg(feature = "strength")]
pub fn estimate(password: &str, person: &PersonalData) -> Strength {
    if password.is_empty() {
        return Strength {
            score: 0,
            warning: None,
            suggestions: Vec::new(),
        };
    }
    let inputs = PasswordPolicy::user_inputs(person);
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let entropy = zxcvbn::zxcvbn(password, &refs);
    let feedback = entropy.feedback();
    Strength {
        score: entropy.score() as u8,
        warning: feedback
            .and_then(|f| f.warning())
            .map(StrengthWarning::from),
        suggestions: feedback
            .map(|f| {
                f.suggestions()
                    .iter()
                    .copied()
                    .map(StrengthSuggestion::from)
                    .collect()
            })
            .unwrap_or_default(),
    }
}

macro_rules! mirror_enum {
    ($(#[$m:meta])* $name:ident mirrors $zx:ident { $($v:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($v),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),*];
        }

        #[cfg(feature = "strength")]
        impl From<zxcvbn::feedback::$zx> for $name {
            fn from(v: zxcvbn::feedback::$zx) -> Self {
                match v { $(zxcvbn::feedback::$zx::$v => $name::$v),* }
            }
        }
    };
}

mirror_enum!(
    /// zxcvbn's warning, as a value the UI translates.
    StrengthWarning mirrors Warning {
        StraightRowsOfKeysAreEasyToGuess,
        ShortKeyboardPatternsAreEasyToGuess,
        RepeatsLikeAaaAreEasyToGuess,
        RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess,
        ThisIsATop10Password,
        ThisIsATop100Password,
        ThisIsACommonPassword,
        ThisIsSimilarToACommonlyUsedPassword,
        SequencesLikeAbcAreEasyToGuess,
        RecentYearsAreEasyToGuess,
        AWordByItselfIsEasyToGuess,
        DatesAreOftenEasyToGuess,
        NamesAndSurnamesByThemselvesAreEasyToGuess,
        CommonNamesAndSurnamesAreEasyToGuess,
    }
);

mirror_enum!(
    /// zxcvbn's suggestion, as a value the UI translates.
    StrengthSuggestion mirrors Suggestion {
        UseAFewWordsAvoidCommonPhrases,
        NoNeedForSymbolsDigitsOrUppercaseLetters,
        AddAnotherWordOrTwo,
        CapitalizationDoesntHelpVeryMuch,
        AllUppercaseIsAlmostAsEasyToGuessAsAllLowercase,
        ReversedWordsArentMuchHarderToGuess,
        PredictableSubstitutionsDontHelpVeryMuch,
        UseALongerKeyboardPatternWithMoreTurns,
        AvoidRepeatedWordsAndCharacters,
        AvoidSequences,
        AvoidRecentYears,
        AvoidYearsThatAreAssociatedWithYou,
        AvoidDatesAndYearsThatAreAssociatedWithYou,
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn person() -> PersonalData {
        PersonalData {
            national_id: "A123456789".parse().ok(),
            card_number: "000012345678".parse().ok(),
            birth_date: "0790101".parse().ok(),
            other_inputs: vec!["王小明".into()],
        }
    }

    fn rules(p: &str) -> Vec<PasswordProblem> {
        PasswordPolicy::default().check_rules(p, &person())
    }

    #[test]
    fn length_is_counted_in_characters() {
        assert_eq!(rules("abcde"), vec![PasswordProblem::TooShort { min: 6 }]);
        assert_eq!(rules("abcdef"), vec![]);
        assert_eq!(rules("健保卡密碼好"), vec![]);
        assert_eq!(rules("abcdefghijkl"), vec![]);
        assert_eq!(
            rules("abcdefghijklm"),
            vec![PasswordProblem::TooLong { max: 12 }]
        );
        let custom = PasswordPolicy {
            min_chars: 8,
            max_chars: 64,
            min_score: 2,
        };
        assert_eq!(
            custom.check_rules("abcdefg", &person()),
            vec![PasswordProblem::TooShort { min: 8 }]
        );
    }

    #[test]
    fn there_is_no_composition_rule() {
        for ok in ["qwpzmxnb", "58204719", "!@#$%^&*", "Ｑ密碼!測試"] {
            assert_eq!(rules(ok), vec![], "{ok}");
        }
    }

    #[test]
    fn personal_data_is_refused() {
        assert_eq!(
            rules("xa123456789"),
            vec![PasswordProblem::ContainsNationalId]
        );
        assert_eq!(
            rules("000012345678"),
            vec![PasswordProblem::ContainsCardNumber]
        );
        assert_eq!(rules("pw0790101"), vec![PasswordProblem::ContainsBirthDate]);
        assert_eq!(rules("pw790101"), vec![PasswordProblem::ContainsBirthDate]);
        assert_eq!(rules("19900101"), vec![PasswordProblem::ContainsBirthDate]);
        assert_eq!(rules("tab\there"), vec![PasswordProblem::ControlCharacter]);
    }

    #[cfg(feature = "strength")]
    #[test]
    fn strength_uses_zxcvbn_with_personal_inputs() {
        let policy = PasswordPolicy::default();
        let weak = policy.check("password", &PersonalData::default());
        assert!(
            weak.problems
                .contains(&PasswordProblem::TooWeak { score: 0, min: 1 }),
            "{weak:?}"
        );
        assert!(weak.strength.as_ref().is_some_and(|s| s.warning.is_some()));
        let strong = policy.check("tq8-Vz!rk2Lm", &person());
        assert!(strong.is_acceptable(), "{strong:?}");
        assert!(strong.strength.as_ref().is_some_and(|s| s.score >= 3));
        assert_eq!(estimate("", &person()).score, 0);
    }

    /// Issue 17: the meter rated a 19-character password 非常強 that submit refused.
    #[test]
    fn the_meter_rates_by_the_submit_policy() {
        let policy = PasswordPolicy::default();
        let strong = Strength {
            score: 4,
            warning: None,
            suggestions: Vec::new(),
        };
        let long = "tq8-Vz!rk2Lm-x7Qw9p";
        assert_eq!(long.chars().count(), 19);
        let a = policy.assess(long, &person(), Some(strong.clone()));
        assert_eq!(a.rating, Rating::Refused);
        assert!(!a.verdict.is_acceptable());
        assert!(a
            .verdict
            .problems
            .contains(&PasswordProblem::TooLong { max: 12 }));
        let a = policy.assess("tq8-Vz!rk2Lm", &person(), Some(strong.clone()));
        assert_eq!(a.rating, Rating::Score(4));
        assert!(a.verdict.is_acceptable());
        let a = policy.assess("abc", &person(), None);
        assert_eq!(a.rating, Rating::Refused);
        let a = policy.assess("qwpzmxnb", &person(), None);
        assert_eq!((a.rating, a.verdict.problems.len()), (Rating::Unknown, 0));
        let weak = Strength { score: 0, ..strong };
        let a = policy.assess("qwpzmxnb", &person(), Some(weak));
        assert_eq!(a.rating, Rating::Score(0));
        assert!(!a.verdict.is_acceptable());
    }

    #[test]
    fn feedback_enums_serialise_as_snake_case() {
        let json = serde_json::to_string(&StrengthWarning::ThisIsATop10Password).expect("json");
        assert_eq!(json, "\"this_is_a_top10_password\"");
        let p = serde_json::to_string(&PasswordProblem::TooShort { min: 6 }).expect("json");
        assert_eq!(p, r#"{"problem":"too_short","min":6}"#);
    }

    proptest! {
        #[test]
        fn never_panics(p in "\\PC{0,20}") {
            let _ = rules(&p);
        }

        #[cfg(feature = "strength")]
        #[test]
        fn rule_problems_are_a_subset_of_the_full_check(p in "[a-z0-9!]{0,14}") {
            let policy = PasswordPolicy::default();
            let full = policy.check(&p, &person());
            for problem in rules(&p) {
                prop_assert!(full.problems.contains(&problem));
            }
        }
    }
}
