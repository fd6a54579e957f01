//! Text measured in terminal cells: wrapping, truncation and sanitising.
//!
//! Widths come from `unicode-width` per grapheme cluster, the same rule ratatui renders with,
//! so CJK (two cells) and emoji sequences line up with what the terminal draws.

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Cells `s` takes on screen.
pub fn width(s: &str) -> usize {
    s.graphemes(true).map(grapheme_width).sum()
}

fn grapheme_width(g: &str) -> usize {
    UnicodeWidthStr::width(g)
}

/// Text from other people may carry control characters; written to the terminal raw they could
/// move the cursor or change colours. Tabs become spaces, other controls a visible mark.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push('\n'),
            '\t' => out.push_str("    "),
            '\r' => {}
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Word-wrap to `width` cells. Explicit line breaks are kept; a word longer than a line is
/// broken inside. Always at least one line.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut line_width = 0;
        for word in paragraph.split_word_bounds() {
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

/// Break into rows of exactly `width` cells (for the input box, where every character counts
/// and the cursor must be placed): returns each row's byte range in `text`.
pub fn hard_wrap(text: &str, width: usize) -> Vec<std::ops::Range<usize>> {
    let width = width.max(1);
    let mut rows = Vec::new();
    let mut start = 0;
    let mut row_width = 0;
    for (i, g) in text.grapheme_indices(true) {
        if g == "\n" || g == "\r\n" {
            rows.push(start..i);
            start = i + g.len();
            row_width = 0;
            continue;
        }
        let gw = grapheme_width(g);
        if row_width + gw > width {
            rows.push(start..i);
            start = i;
            row_width = 0;
        }
        row_width += gw;
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn hard_wrap_covers_every_byte() {
        let text = "abcdef\ngh";
        let rows = hard_wrap(text, 4);
        assert_eq!(rows, [0..4, 4..6, 7..9]);
        assert_eq!(hard_wrap("", 4), vec![0..0]);
    }

    #[test]
    fn truncation_marks_the_cut() {
        assert_eq!(truncate("alexandria", 6), "alexa…");
        assert_eq!(truncate("bob", 6), "bob");
    }
}
