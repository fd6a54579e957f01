//! The `search` query language, parsed into what the index is asked: words, `"phrases"`,
//! `prefix*`, `-excluded` terms, and the filters `in:`, `from:`, `before:`, `after:`.
//!
//! Terms in scripts written without spaces (Chinese, Japanese, Thai, Khmer, …) are matched as
//! substrings (the trigram index); the others as words (diacritics folded).

use chat_protocol::Millis;

/// At most this many terms in one query: each is a clause of the SQL.
pub const MAX_TERMS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub text: String,
    /// `word*`: words that start with it.
    pub prefix: bool,
    /// `-word`: messages with it are left out.
    pub excluded: bool,
    /// Matched as a substring (a script without spaces) rather than as words.
    pub substring: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub terms: Vec<Term>,
    /// `in:#general` or `in:12`: a room title (without `#`) or id.
    pub room: Option<String>,
    /// `from:alice`.
    pub from: Option<String>,
    pub before: Option<Millis>,
    pub after: Option<Millis>,
    /// `has:file`: only messages with attachments.
    pub has_file: bool,
}

/// Parse a query; the error says what is wrong, for a `bad_request`.
pub fn parse(query: &str) -> Result<Query, String> {
    let mut out = Query::default();
    // Control characters (NUL included) separate terms like spaces.
    let query: String = query
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    for token in tokens(&query)? {
        if !token.quoted && !token.excluded {
            if let Some((key, value)) = token.text.split_once(':') {
                let value = value.trim_start_matches(['#', '@']);
                let key = key.to_ascii_lowercase();
                let known = matches!(key.as_str(), "in" | "from" | "before" | "after" | "has");
                if known && value.is_empty() {
                    return Err(format!("{key}: needs a value"));
                }
                let twice = || Err(format!("{key}: is given twice"));
                match key.as_str() {
                    "in" if out.room.is_some() => return twice(),
                    "from" if out.from.is_some() => return twice(),
                    "before" if out.before.is_some() => return twice(),
                    "after" if out.after.is_some() => return twice(),
                    "has" if out.has_file => return twice(),
                    "has" if !value.eq_ignore_ascii_case("file") => {
                        return Err(format!("has:{value} is not a filter; has:file is"))
                    }
                    "has" => out.has_file = true,
                    "in" => out.room = Some(value.to_string()),
                    "from" => out.from = Some(value.to_string()),
                    "before" => out.before = Some(day_start(value)?),
                    // After a day: from the start of the next one.
                    "after" => out.after = Some(day_start(value)? + DAY_MS),
                    _ => {}
                }
                if known {
                    continue;
                }
            }
        }
        let (text, prefix) = match token.text.strip_suffix('*') {
            Some(stem) if !token.quoted && !stem.is_empty() => (stem.to_string(), true),
            _ => (token.text, false),
        };
        if !text.chars().any(char::is_alphanumeric) {
            continue;
        }
        let substring = text.chars().any(without_spaces);
        out.terms.push(Term {
            text,
            prefix: prefix && !substring,
            excluded: token.excluded,
            substring,
        });
    }
    if out.terms.len() > MAX_TERMS {
        return Err(format!("at most {MAX_TERMS} terms in a search"));
    }
    if !out.has_file && !out.terms.iter().any(|t| !t.excluded) {
        return Err("a search needs at least one word to find".into());
    }
    Ok(out)
}

struct Token {
    text: String,
    quoted: bool,
    excluded: bool,
}

/// The query split at whitespace; `"…"` groups a phrase, a leading `-` excludes a word or a
/// phrase.
fn tokens(query: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = query.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let excluded = c == '-';
        if excluded {
            chars.next();
        }
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut phrase = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some(c) => phrase.push(c),
                    None => return Err("a quote is not closed".into()),
                }
            }
            out.push(Token {
                text: phrase,
                quoted: true,
                excluded,
            });
            continue;
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek().filter(|c| !c.is_whitespace()) {
            if c == '"' {
                return Err("a quote starts a phrase: put it before a word, \"like this\"".into());
            }
            word.push(c);
            chars.next();
        }
        out.push(Token {
            text: word,
            quoted: false,
            excluded,
        });
    }
    Ok(out)
}

const DAY_MS: Millis = 86_400_000;

/// `2026-11-22` as the UTC midnight that starts it.
fn day_start(value: &str) -> Result<Millis, String> {
    let bad = || format!("\"{value}\" is not a date like 2026-11-22");
    let mut parts = value.splitn(3, '-');
    let mut next = || -> Result<i64, String> {
        parts
            .next()
            .filter(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<i64>().ok())
            .ok_or_else(bad)
    };
    let (year, month, day) = (next()?, next()?, next()?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || !(1..=month_days).contains(&day)
    {
        return Err(bad());
    }
    Ok(days_from_civil(year, month, day) * DAY_MS)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Letters of scripts written without spaces between words.
pub fn without_spaces(c: char) -> bool {
    matches!(u32::from(c),
        0x0E00..=0x0EFF        // Thai, Lao
        | 0x1000..=0x109F      // Myanmar
        | 0x1780..=0x17FF      // Khmer
        | 0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF      // CJK extension A
        | 0x4E00..=0x9FFF      // CJK unified ideographs
        | 0xF900..=0xFAFF      // CJK compatibility ideographs
        | 0xFF66..=0xFF9F      // half-width Katakana
        | 0x20000..=0x3134F    // CJK extensions B to G
    )
}

/// An FTS5 string literal: the text in double quotes, inner quotes doubled. As a string it is
/// tokenized and matched as a phrase, so no query syntax inside it is obeyed.
pub fn fts_string(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(text: &str) -> Term {
        Term {
            text: text.into(),
            prefix: false,
            excluded: false,
            substring: false,
        }
    }

    #[test]
    fn words_phrases_prefixes_exclusions_and_filters() {
        let q =
            parse(r#"brown "quick fox" jump* -lazy -"red dog" in:#general from:@alice"#).unwrap();
        assert_eq!(
            q.terms,
            [
                term("brown"),
                term("quick fox"),
                Term {
                    prefix: true,
                    ..term("jump")
                },
                Term {
                    excluded: true,
                    ..term("lazy")
                },
                Term {
                    excluded: true,
                    ..term("red dog")
                },
            ]
        );
        assert_eq!(q.room.as_deref(), Some("general"));
        assert_eq!(q.from.as_deref(), Some("alice"));
    }

    #[test]
    fn scripts_without_spaces_are_substrings_and_dates_are_utc_days() {
        let q = parse("東京 タワー café before:2026-11-22 after:2026-11-20").unwrap();
        assert!(q.terms[0].substring && q.terms[1].substring);
        assert!(!q.terms[2].substring);
        assert_eq!(q.before, Some(1_795_305_600_000));
        assert_eq!(q.after, Some(1_795_219_200_000));
    }

    #[test]
    fn bad_queries_say_why() {
        assert!(parse("").is_err());
        assert!(parse("-only -exclusions").is_err());
        assert!(parse("\"open quote").is_err());
        assert!(parse("x before:yesterday").is_err());
        assert!(parse("x in:").is_err());
        assert!(parse("x after:2026-02-30").is_err());
        assert!(parse("x after:+2026-11-01").is_err());
        assert!(parse("x after:2028-02-29").is_ok());
        assert!(parse("alpha\"").is_err());
        assert!(parse("alpha beta\"gamma").is_err());
        assert!(parse("x from:bob from:carol").is_err());
        assert_eq!(
            parse("al\u{0}pha").unwrap().terms,
            [term("al"), term("pha")]
        );
        assert!(parse(&"w ".repeat(17)).is_err());
        // Punctuation alone is no term; a colon in a word that is no filter is a word.
        assert_eq!(parse("*** ok").unwrap().terms, [term("ok")]);
        assert_eq!(parse("http:x").unwrap().terms, [term("http:x")]);
    }

    #[test]
    fn fts_strings_quote_everything() {
        assert_eq!(fts_string(r#"a "b" OR c*"#), r#""a ""b"" OR c*""#);
    }
}
