//! Text measured in terminal cells: wrapping, truncation and sanitising.
//!
//! Widths come from `unicode-width` per grapheme cluster, the same rule ratatui renders with.
//! That rule is only safe for text whose width every terminal agrees on: CJK (two cells) and
//! single emoji do; emoji *sequences* do not. A flag (two regional indicators), a ZWJ family, a
//! skin tone, a VS16 or keycap sequence is 2 cells to ratatui but 1, 3, 4 or 6 to many
//! terminals (tmux, xterm, vt100 parsers), and where they disagree ratatui's diff leaves stale
//! glyphs on screen. So [`sanitize`] rewrites those sequences into pieces of certain width,
//! unless the user said their terminal draws them as Unicode says (`emoji = "full"`).

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Emoji sequences are drawn as sent (`emoji = "full"`), not rewritten.
static FULL_EMOJI: AtomicBool = AtomicBool::new(false);

/// Set once at start-up from the config: a process-wide rendering choice, like `NO_COLOR`.
pub fn set_full_emoji(full: bool) {
    FULL_EMOJI.store(full, Ordering::Relaxed);
}

/// Cells `s` takes on screen.
pub fn width(s: &str) -> usize {
    s.graphemes(true).map(grapheme_width).sum()
}

fn grapheme_width(g: &str) -> usize {
    UnicodeWidthStr::width(g)
}

/// Text as it may be written to the terminal. Text from other people may carry control
/// characters; written raw they could move the cursor or change colours: tabs become spaces,
/// other controls a visible mark. Emoji sequences whose width terminals disagree on are
/// rewritten (see the module comment and [`safe_cluster`]).
pub fn sanitize(text: &str) -> String {
    let full = FULL_EMOJI.load(Ordering::Relaxed);
    let mut out = String::with_capacity(text.len());
    let risky = !full && text.chars().any(is_sequence_part);
    if risky {
        for cluster in text.graphemes(true) {
            push_clean(&mut out, &safe_cluster(cluster));
        }
    } else {
        push_clean(&mut out, text);
    }
    out
}

fn push_clean(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\n' => out.push('\n'),
            '\t' => out.push_str("    "),
            '\r' => {}
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

/// Cells one grapheme cluster of the original text takes once sanitised.
pub fn display_width(cluster: &str) -> usize {
    match cluster {
        "\t" => 4,
        "\n" | "\r\n" | "\r" => 0,
        c if c.chars().any(|ch| ch.is_control()) => c.chars().filter(|ch| ch.is_control()).count(),
        c => width(&safe_cluster(c)),
    }
}

const ZWJ: char = '\u{200d}';
const KEYCAP: char = '\u{20e3}';

fn is_regional_indicator(c: char) -> bool {
    ('\u{1f1e6}'..='\u{1f1ff}').contains(&c)
}

fn is_skin_tone(c: char) -> bool {
    ('\u{1f3fb}'..='\u{1f3ff}').contains(&c)
}

fn is_variation_selector(c: char) -> bool {
    c == '\u{fe0e}' || c == '\u{fe0f}'
}

fn is_tag(c: char) -> bool {
    ('\u{e0020}'..='\u{e007f}').contains(&c)
}

/// A code point that only appears inside the sequences terminals disagree on.
fn is_sequence_part(c: char) -> bool {
    c == ZWJ
        || c == KEYCAP
        || is_regional_indicator(c)
        || is_skin_tone(c)
        || is_variation_selector(c)
        || is_tag(c)
}

fn is_emoji_like(c: char) -> bool {
    matches!(c, '\u{2190}'..='\u{2bff}' | '\u{1f000}'..='\u{1faff}')
}

/// One grapheme cluster in a form whose width every terminal agrees on:
/// - a flag (regional indicator pair) becomes its letters, `🇫🇷` → `[FR]` (terminals draw the
///   pair as one glyph of 2 cells, or as two letters of 1 or 2 cells each);
/// - a ZWJ sequence becomes its parts side by side, `👨‍👩‍👧` → `👨👩👧`;
/// - skin tones, variation selectors, keycap marks and tag characters are dropped: `👍🏽` → `👍`,
///   `❤️` → `❤`, `1️⃣` → `1`.
///
/// Anything else is returned as it is.
pub fn safe_cluster(cluster: &str) -> Cow<'_, str> {
    if FULL_EMOJI.load(Ordering::Relaxed) || !cluster.chars().any(is_sequence_part) {
        return Cow::Borrowed(cluster);
    }
    if cluster.chars().any(is_regional_indicator) {
        let letters: String = cluster
            .chars()
            .filter(|&c| is_regional_indicator(c))
            .map(|c| char::from(b'A' + (c as u32 - 0x1f1e6) as u8))
            .collect();
        return Cow::Owned(format!("[{letters}]"));
    }
    let emoji = cluster.chars().any(is_emoji_like);
    let mut out = String::with_capacity(cluster.len());
    for (i, c) in cluster.chars().enumerate() {
        let dropped = is_variation_selector(c)
            || c == KEYCAP
            || is_tag(c)
            || (c == ZWJ && emoji)
            || (is_skin_tone(c) && i > 0);
        if !dropped {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Word-wrap to `width` cells. Explicit line breaks are kept; a word longer than a line is
/// broken inside. Always at least one line.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut line_width = 0;
        for word in words_and_spaces(paragraph) {
            let w = self::width(word);
            if line_width + w <= width {
                line.push_str(word);
                line_width += w;
                continue;
            }
            if word.trim().is_empty() {
                // A space at the break point is dropped rather than starting the next line.
                lines.push(std::mem::take(&mut line));
                line_width = 0;
                continue;
            }
            if line_width > 0 && w <= width {
                lines.push(std::mem::take(&mut line).trim_end().to_string());
                line_width = 0;
            }
            for g in word.graphemes(true) {
                let gw = grapheme_width(g);
                if line_width + gw > width && line_width > 0 {
                    lines.push(std::mem::take(&mut line));
                    line_width = 0;
                }
                line.push_str(g);
                line_width += gw;
            }
        }
        lines.push(line);
    }
    lines
}

/// Runs of spaces and runs of anything else, in order: lines break only at spaces, as in the
/// message pane, so a word or a URL that fits a line is never split.
fn words_and_spaces(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let space = first.is_whitespace();
        let end = rest
            .char_indices()
            .find(|(_, c)| c.is_whitespace() != space)
            .map_or(rest.len(), |(i, _)| i);
        let (run, tail) = rest.split_at(end);
        rest = tail;
        Some(run)
    })
}

/// Break the input box's text into rows of at most `width` cells, at spaces like the message
/// pane where a word fits, inside a word where it does not. Returns each row's byte range in
/// `text`; together they cover every byte but the line breaks, so the cursor can be placed.
pub fn hard_wrap(text: &str, width: usize) -> Vec<std::ops::Range<usize>> {
    let width = width.max(1);
    let mut rows = Vec::new();
    let mut start = 0;
    let mut row_width = 0;
    // Where the row may break: just after its last space, and the width up to there.
    let mut last_break: Option<(usize, usize)> = None;
    for (i, g) in text.grapheme_indices(true) {
        if g == "\n" || g == "\r\n" {
            rows.push(start..i);
            start = i + g.len();
            row_width = 0;
            last_break = None;
            continue;
        }
        let gw = display_width(g);
        if row_width + gw > width {
            match last_break.take() {
                Some((at, before)) if at > start => {
                    rows.push(start..at);
                    start = at;
                    row_width -= before;
                }
                _ => {
                    rows.push(start..i);
                    start = i;
                    row_width = 0;
                }
            }
        }
        row_width += gw;
        if g.chars().all(char::is_whitespace) {
            last_break = Some((i + g.len(), row_width));
        }
    }
    rows.push(start..text.len());
    rows
}

/// Cut to at most `width` cells, ending in `…` when something was cut.
pub fn truncate(s: &str, width: usize) -> String {
    if self::width(s) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    for g in s.graphemes(true) {
        let gw = grapheme_width(g);
        if w + gw + 1 > width {
            break;
        }
        out.push_str(g);
        w += gw;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// Cut to at most `width` cells by taking out the middle (`report-…-final.pdf`): for names
/// and paths, whose end (the extension, the file) says as much as their start.
pub fn truncate_middle(s: &str, width: usize) -> String {
    if self::width(s) <= width {
        return s.to_string();
    }
    let graphemes: Vec<&str> = s.graphemes(true).collect();
    // The cells left beside the `…`: the end gets the larger half, the start the rest.
    let budget = width.saturating_sub(1);
    let mut tail = graphemes.len();
    let mut used = 0;
    while tail > 0 && used + grapheme_width(graphemes[tail - 1]) <= budget.div_ceil(2) {
        tail -= 1;
        used += grapheme_width(graphemes[tail]);
    }
    let mut head = 0;
    while head < tail && used + grapheme_width(graphemes[head]) <= budget {
        used += grapheme_width(graphemes[head]);
        head += 1;
    }
    format!(
        "{}…{}",
        graphemes[..head].concat(),
        graphemes[tail..].concat()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_name_loses_its_middle() {
        assert_eq!(truncate_middle("short.png", 20), "short.png");
        let cut = truncate_middle(&format!("report-{}-final.pdf", "y".repeat(100)), 20);
        assert_eq!(width(&cut), 20);
        assert!(cut.starts_with("report-"), "{cut}");
        assert!(cut.ends_with("-final.pdf"), "{cut}");
        assert!(cut.contains('…'));
        // Wide characters and emoji sequences are kept whole.
        let family = "👨‍👩‍👧".repeat(30);
        let cut = truncate_middle(&family, 11);
        assert!(width(&cut) <= 11, "{cut}");
        assert!(cut.graphemes(true).all(|g| g == "👨‍👩‍👧" || g == "…"), "{cut}");
    }

    #[test]
    fn words_wrap_at_the_width() {
        assert_eq!(wrap("the quick brown fox", 10), ["the quick", "brown fox"]);
        assert_eq!(wrap("a\nb", 10), ["a", "b"]);
        assert_eq!(wrap("", 10), [""]);
        assert_eq!(wrap("abcdefghijkl", 5), ["abcde", "fghij", "kl"]);
    }

    #[test]
    fn wide_characters_take_two_cells() {
        // Each ideograph is two cells: three fit in a line of 7.
        assert_eq!(wrap("日本語のテキスト", 7), ["日本語", "のテキ", "スト"]);
        assert_eq!(width("👍🏽ok"), 4);
        assert_eq!(width("👨‍👩‍👧"), 2, "a family emoji is one cluster");
        for line in wrap("emoji 😀😀😀😀😀 everywhere", 6) {
            assert!(width(&line) <= 6, "{line:?}");
        }
    }

    #[test]
    fn control_characters_cannot_reach_the_terminal() {
        assert_eq!(sanitize("a\x1b[2Jb\tc\r\n"), "a\u{fffd}[2Jb    c\n");
    }

    #[test]
    fn urls_and_words_that_fit_a_line_are_not_split() {
        let text = "see https://example.com/path/to/x now";
        assert_eq!(
            wrap(text, 30),
            ["see", "https://example.com/path/to/x", "now"]
        );
        assert_eq!(wrap("well-known re-use", 12), ["well-known", "re-use"]);
    }

    #[test]
    fn the_input_box_wraps_at_spaces_too() {
        let text = "hello world again";
        let rows: Vec<&str> = hard_wrap(text, 8).into_iter().map(|r| &text[r]).collect();
        assert_eq!(rows, ["hello ", "world ", "again"]);
        let long = "abcdefghij kl";
        let rows: Vec<&str> = hard_wrap(long, 4).into_iter().map(|r| &long[r]).collect();
        assert_eq!(rows, ["abcd", "efgh", "ij ", "kl"]);
    }

    #[test]
    fn hard_wrap_covers_every_byte() {
        let text = "abcdef\ngh";
        let rows = hard_wrap(text, 4);
        assert_eq!(rows, [0..4, 4..6, 7..9]);
        assert_eq!(hard_wrap("", 4), vec![0..0]);
    }

    #[test]
    fn emoji_sequences_are_drawn_in_pieces_every_terminal_measures_alike() {
        assert_eq!(sanitize("flag only: 🇫🇷"), "flag only: [FR]");
        assert_eq!(sanitize("👨‍👩‍👧 family"), "👨👩👧 family");
        assert_eq!(sanitize("👍🏽 ok"), "👍 ok");
        assert_eq!(sanitize("❤️ 1️⃣"), "❤ 1");
        assert_eq!(sanitize("🏳️‍🌈"), "🏳🌈");
        assert_eq!(
            sanitize("🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}"),
            "🏴"
        );
        // A skin tone on its own is a swatch, not a modifier: kept.
        assert_eq!(sanitize("🏽"), "🏽");
        // Text without sequences is untouched: CJK, single emoji, accents.
        assert_eq!(sanitize("日本語 😀 café"), "日本語 😀 café");
        // The width of the original cluster is the width of what is drawn.
        for cluster in ["🇫🇷", "👨‍👩‍👧", "👍🏽", "❤️", "\t", "a"] {
            assert_eq!(
                display_width(cluster),
                width(&sanitize(cluster)),
                "{cluster:?}"
            );
        }
        // The input box wraps by what is drawn: `[FR]` is four cells.
        assert_eq!(hard_wrap("🇫🇷🇫🇷", 5), [0..8, 8..16]);
    }

    #[test]
    fn truncation_marks_the_cut() {
        assert_eq!(truncate("alexandria", 6), "alexa…");
        assert_eq!(truncate("bob", 6), "bob");
    }
}
