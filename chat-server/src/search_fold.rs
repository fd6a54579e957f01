//! Folding for search, beyond what SQLite's `unicode61` tokenizer does (case, and accents of
//! Latin letters only): accents of every script (Greek `ά`, Hebrew points), `ß` as `ss`,
//! fullwidth forms and ligatures as their letters (NFKC: `ＡＢＣ` as `ABC`, `ﬁ` as `fi`). Texts
//! and query terms are folded alike, so `καλημερα` finds `Καλημέρα` and `strasse` `Straße`.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// `text` folded: compatibility forms composed (NFKC), lower case with `ß` as `ss`, and every
/// combining mark dropped after decomposition.
pub fn fold(text: &str) -> String {
    let composed: String = text.nfkc().collect();
    let mut lower = String::with_capacity(composed.len());
    for c in composed.chars() {
        match c {
            'ß' | 'ẞ' => lower.push_str("ss"),
            // Final sigma is sigma.
            'ς' => lower.push('σ'),
            c => lower.extend(c.to_lowercase()),
        }
    }
    lower
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .nfc()
        .collect()
}

/// What the word index also holds of a text: its folding when that can differ from what
/// `unicode61` makes of it (the text has anything but ASCII), else nothing.
pub fn folded_column(text: &str) -> String {
    if text.is_ascii() {
        return String::new();
    }
    let folded = fold(text);
    if folded == text.to_lowercase() {
        String::new()
    } else {
        folded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_folds_as_a_reader_expects() {
        assert_eq!(fold("Καλημέρα κόσμε"), "καλημερα κοσμε");
        assert_eq!(fold("Straße STRASSE"), "strasse strasse");
        assert_eq!(fold("ＡＢＣ１２３"), "abc123");
        assert_eq!(fold("ﬁnance ﬂow"), "finance flow");
        assert_eq!(fold("Crème brûlée"), "creme brulee");
        assert_eq!(fold("ΟΔΥΣΣΕΥΣ"), "οδυσσευσ");
        assert_eq!(fold("שָׁלוֹם"), "שלום");
        assert_eq!(fold("東京タワー"), "東京タワー", "CJK is left as it is");
        assert_eq!(fold("ｶﾀｶﾅ"), "カタカナ", "halfwidth katakana composed");
    }

    #[test]
    fn ascii_and_unchanged_texts_are_not_indexed_twice() {
        assert_eq!(folded_column("plain ascii"), "");
        assert_eq!(
            folded_column("привет"),
            "",
            "lower case is all unicode61 needs"
        );
        assert_eq!(folded_column("Straße"), "strasse");
        assert_eq!(folded_column("Ὀδυσσεύς"), "οδυσσευσ");
    }
}
