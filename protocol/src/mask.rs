//! Masking for display: names as 王○明, numbers as A12****789. The one definition of how
//! every page, mail, result file and document masks a card number ([`mask_card_number`]), an
//! ID number ([`mask_national_id`]) and a name ([`mask_name`]).

/// A card number as every page, mail and document shows it: `0000****5678`.
pub fn mask_card_number(number: &str) -> String {
    mask_middle(number, 4, 4)
}

/// An ID number as every page, mail, result file and document shows it: `A12****789`.
pub fn mask_national_id(id: &str) -> String {
    mask_middle(id, 3, 3)
}

/// Keeps `head` leading and `tail` trailing characters and replaces the rest with `*`.
pub fn mask_middle(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let hidden = chars.len() - head - tail;
    chars[..head]
        .iter()
        .chain(std::iter::repeat_n(&'*', hidden))
        .chain(&chars[chars.len() - tail..])
        .collect()
}

/// Masks a personal name the way Taiwanese services do: 王小明 → 王○明, 王明 → 王○,
/// 歐陽小明 → 歐○○明; a Latin name keeps its first and last letter of each word.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.iter().any(|c| c.is_ascii_alphabetic()) {
        return name.split(' ').map(mask_word).collect::<Vec<_>>().join(" ");
    }
    match chars.len() {
        0 => String::new(),
        1 => "○".to_string(),
        2 => format!("{}○", chars[0]),
        n => std::iter::once(chars[0])
            .chain(std::iter::repeat_n('○', n - 2))
            .chain(std::iter::once(chars[n - 1]))
            .collect(),
    }
}

fn mask_word(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    match chars.len() {
        0..=2 => chars.iter().map(|_| '*').collect(),
        n => std::iter::once(chars[0])
            .chain(std::iter::repeat_n('*', n - 2))
            .chain(std::iter::once(chars[n - 1]))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn masks_chinese_names() {
        assert_eq!(mask_name("王小明"), "王○明");
        assert_eq!(mask_name("王明"), "王○");
        assert_eq!(mask_name("歐陽小明"), "歐○○明");
        assert_eq!(mask_name("林"), "○");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn masks_latin_names_per_word() {
        assert_eq!(mask_name("NGUYEN THI AN"), "N****N T*I **");
    }

    #[test]
    fn one_masking_of_card_and_id_numbers() {
        assert_eq!(mask_card_number("000012345678"), "0000****5678");
        assert_eq!(mask_national_id("A123456789"), "A12****789");
    }

    #[test]
    fn masks_numbers() {
        assert_eq!(mask_middle("A123456789", 3, 3), "A12****789");
        assert_eq!(mask_middle("000012345678", 4, 4), "0000****5678");
        assert_eq!(mask_middle("abc", 2, 2), "***");
    }

    proptest! {
        #[test]
        fn masking_keeps_the_length_and_never_panics(s in "\\PC{0,40}") {
            prop_assert_eq!(mask_middle(&s, 3, 3).chars().count(), s.chars().count());
            let _ = mask_name(&s);
        }
    }
}
