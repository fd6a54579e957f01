//! Reading message text the same way on the server and in clients: `@mentions`, the
//! excerpt a reply quotes, and the characters a file name must not hold.

/// Characters of a username (see the server's username rules).
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// One `@word` in a text: its byte range (the `@` included) and the name after the `@`,
/// without trailing dots (`@bob.` at the end of a sentence names `bob`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentionSpan<'a> {
    pub start: usize,
    pub end: usize,
    pub name: &'a str,
}

/// Every `@name` in `text` that starts a word: `a@b.com` is not a mention, `(@bob)` is.
pub fn mention_spans(text: &str) -> Vec<MentionSpan<'_>> {
    let mut spans = Vec::new();
    let mut previous: Option<char> = None;
    for (at, c) in text.char_indices() {
        let starts_word = previous.is_none_or(|p| !is_name_char(p) && p != '@');
        previous = Some(c);
        if c != '@' || !starts_word {
            continue;
        }
        let rest = &text[at + 1..];
        let len = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
        let name = rest[..len].trim_end_matches('.');
        if name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        {
            spans.push(MentionSpan {
                start: at,
                end: at + 1 + name.len(),
                name,
            });
        }
    }
    spans
}

/// Whether a name mentions everyone in the room.
pub fn is_room_mention(name: &str) -> bool {
    name.eq_ignore_ascii_case("room") || name.eq_ignore_ascii_case("all")
}

/// The distinct names mentioned in `text`, lowercased, in order of first appearance, without
/// `@room` and `@all`.
pub fn mentioned_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for span in mention_spans(text) {
        let name = span.name.to_ascii_lowercase();
        if !is_room_mention(&name) && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Whether `text` says `@room` or `@all`.
pub fn mentions_everyone(text: &str) -> bool {
    mention_spans(text).iter().any(|s| is_room_mention(s.name))
}

/// Most characters of a reply's quote.
pub const EXCERPT_CHARS: usize = 100;

/// What a reply quotes of a message: [`excerpt`] of its text, or for a message of files only,
/// `📎` and its first file's name (a reply to a photo says which photo).
pub fn quote_excerpt(text: &str, first_file: Option<&str>) -> String {
    match (excerpt(text), first_file) {
        (quote, Some(name)) if quote.is_empty() => excerpt(&format!("📎 {name}")),
        (quote, _) => quote,
    }
}

/// What a reply quotes of a text: its first non-empty line, cut to [`EXCERPT_CHARS`]
/// characters with `…`.
pub fn excerpt(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let more_lines = text.trim().lines().count() > 1;
    let mut out: String = line.chars().take(EXCERPT_CHARS).collect();
    if line.chars().count() > EXCERPT_CHARS || more_lines {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_start_a_word_and_drop_trailing_dots() {
        assert_eq!(
            mentioned_names("hi @Bob, and (@carol.d). mail a@b.com @bob @dave."),
            ["bob", "carol.d", "dave"]
        );
        assert!(mentions_everyone("heads up @room"));
        assert!(mentions_everyone("@ALL: lunch"));
        assert!(!mentions_everyone("room@all"));
        assert!(mentioned_names("@ @. @_x email@x").is_empty());
        let spans = mention_spans("é @bob!");
        assert_eq!(&"é @bob!"[spans[0].start..spans[0].end], "@bob");
    }

    #[test]
    fn excerpts_take_the_first_line_cut() {
        assert_eq!(excerpt("hello"), "hello");
        assert_eq!(excerpt("\n  first\nsecond"), "first…");
        let long = "x".repeat(150);
        assert_eq!(excerpt(&long).chars().count(), EXCERPT_CHARS + 1);
        assert_eq!(excerpt(""), "");
    }
}

/// Characters that reorder or hide text (bidirectional embeddings, overrides, isolates and
/// marks): in a file name they make `exe.txt` look like `txt.exe`, so names never keep them.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// A file name as stored and saved: no folders, no control or bidirectional characters, no
/// leading dots, at most `max_chars` (the extension kept when the stem is cut).
pub fn clean_file_name(name: &str, max_chars: usize) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.chars().count() <= max_chars {
        return cleaned.to_string();
    }
    let (stem, extension) = match cleaned.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && ext.chars().count() <= 16 => {
            (stem, format!(".{ext}"))
        }
        _ => (cleaned, String::new()),
    };
    let keep = max_chars.saturating_sub(extension.chars().count());
    let stem: String = stem.chars().take(keep).collect();
    format!("{}{extension}", stem.trim_end())
}

#[cfg(test)]
mod file_name_tests {
    use super::*;

    #[test]
    fn file_names_cannot_hide_or_escape() {
        assert_eq!(clean_file_name("../../etc/passwd", 255), "passwd");
        assert_eq!(
            clean_file_name("C:\\Users\\me\\report.pdf", 255),
            "report.pdf"
        );
        assert_eq!(clean_file_name("a\nb.txt", 255), "ab.txt");
        assert_eq!(clean_file_name("..", 255), "");
        assert_eq!(clean_file_name(".bashrc", 255), "bashrc");
        assert_eq!(clean_file_name("\u{202E}fdp.exe", 255), "fdp.exe");
        assert_eq!(clean_file_name("写真 🎉.png", 255), "写真 🎉.png");
        let long = format!("{}.txt", "a".repeat(300));
        let cut = clean_file_name(&long, 255);
        assert_eq!(cut.chars().count(), 255);
        assert!(cut.ends_with("a.txt"), "the extension is kept");
    }
}
