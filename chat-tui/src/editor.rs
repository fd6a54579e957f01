//! The input line: multi-line text with a cursor, and the history of what was sent.

use unicode_segmentation::UnicodeSegmentation;

#[derive(Debug, Clone, Default)]
pub struct Editor {
    text: String,
    /// Byte offset into `text`, always on a grapheme boundary.
    cursor: usize,
    history: Vec<String>,
    /// Which history entry is shown while browsing with Up/Down; `None` when editing a draft.
    browsing: Option<usize>,
    /// The draft put aside while browsing history.
    draft: String,
}

const HISTORY_LIMIT: usize = 500;

impl Editor {
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub fn set(&mut self, text: impl Into<String>) {
        self.text = text.into();
        self.cursor = self.text.len();
    }

    /// Replace the bytes `range` with `with` and put the cursor after it (for completion).
    pub fn replace_range(&mut self, range: std::ops::Range<usize>, with: &str) {
        self.text.replace_range(range.clone(), with);
        self.cursor = range.start + with.len();
    }

    pub fn insert_str(&mut self, s: &str) {
        // Terminals send CR for Enter inside pastes; keep one newline convention.
        let s = s.replace("\r\n", "\n").replace('\r', "\n");
        self.text.insert_str(self.cursor, &s);
        self.cursor += s.len();
        self.browsing = None;
    }

    pub fn insert_char(&mut self, c: char) {
        self.text.insert(self.cursor, c);
        self.cursor += c.len_utf8();
        self.browsing = None;
    }

    pub fn backspace(&mut self) {
        if let Some(start) = self.prev_boundary() {
            self.text.replace_range(start..self.cursor, "");
            self.cursor = start;
        }
    }

    pub fn delete(&mut self) {
        if let Some(end) = self.next_boundary() {
            self.text.replace_range(self.cursor..end, "");
        }
    }

    pub fn left(&mut self) {
        if let Some(p) = self.prev_boundary() {
            self.cursor = p;
        }
    }

    pub fn right(&mut self) {
        if let Some(n) = self.next_boundary() {
            self.cursor = n;
        }
    }

    /// Start of the current line.
    pub fn home(&mut self) {
        self.cursor = self.line_start();
    }

    /// End of the current line.
    pub fn end(&mut self) {
        self.cursor = self.text[self.cursor..]
            .find('\n')
            .map_or(self.text.len(), |i| self.cursor + i);
    }

    /// Delete the word before the cursor (Ctrl-W).
    pub fn delete_word(&mut self) {
        let before = &self.text[..self.cursor];
        let trimmed = before.trim_end();
        let start = trimmed.rfind(char::is_whitespace).map_or(0, |i| {
            i + trimmed[i..].chars().next().map_or(1, char::len_utf8)
        });
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    /// Delete from the start of the line to the cursor (Ctrl-U).
    pub fn delete_to_line_start(&mut self) {
        let start = self.line_start();
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    /// Move up a line; false when already on the first line (the caller then browses history).
    pub fn up(&mut self) -> bool {
        let start = self.line_start();
        if start == 0 {
            return false;
        }
        let column = self.text[start..self.cursor].graphemes(true).count();
        let prev_start = self.text[..start - 1].rfind('\n').map_or(0, |i| i + 1);
        self.cursor = advance_graphemes(&self.text, prev_start, start - 1, column);
        true
    }

    /// Move down a line; false when already on the last line.
    pub fn down(&mut self) -> bool {
        let Some(nl) = self.text[self.cursor..].find('\n').map(|i| self.cursor + i) else {
            return false;
        };
        let column = self.text[self.line_start()..self.cursor]
            .graphemes(true)
            .count();
        let next_end = self.text[nl + 1..]
            .find('\n')
            .map_or(self.text.len(), |i| nl + 1 + i);
        self.cursor = advance_graphemes(&self.text, nl + 1, next_end, column);
        true
    }

    /// Show the previous history entry (Up on the first line).
    pub fn history_prev(&mut self) {
        if self.history.is_empty() {
            return;
        }
        let next = match self.browsing {
            None => {
                self.draft = std::mem::take(&mut self.text);
                self.history.len() - 1
            }
            Some(0) => 0,
            Some(i) => i - 1,
        };
        self.browsing = Some(next);
        self.text = self.history[next].clone();
        self.cursor = self.text.len();
    }

    /// Show the next history entry, or the draft after the newest (Down on the last line).
    pub fn history_next(&mut self) {
        let Some(i) = self.browsing else { return };
        if i + 1 < self.history.len() {
            self.browsing = Some(i + 1);
            self.text = self.history[i + 1].clone();
        } else {
            self.browsing = None;
            self.text = std::mem::take(&mut self.draft);
        }
        self.cursor = self.text.len();
    }

    /// Take the text out for sending; it joins the history.
    pub fn take(&mut self) -> String {
        let text = std::mem::take(&mut self.text);
        self.cursor = 0;
        self.browsing = None;
        self.draft.clear();
        if !text.trim().is_empty() && self.history.last() != Some(&text) {
            self.history.push(text.clone());
            if self.history.len() > HISTORY_LIMIT {
                self.history.remove(0);
            }
        }
        text
    }

    fn line_start(&self) -> usize {
        self.text[..self.cursor].rfind('\n').map_or(0, |i| i + 1)
    }

    fn prev_boundary(&self) -> Option<usize> {
        self.text[..self.cursor]
            .grapheme_indices(true)
            .next_back()
            .map(|(i, _)| i)
    }

    fn next_boundary(&self) -> Option<usize> {
        self.text[self.cursor..]
            .graphemes(true)
            .next()
            .map(|g| self.cursor + g.len())
    }
}

/// The byte offset `column` graphemes after `from`, stopping at `limit`.
fn advance_graphemes(text: &str, from: usize, limit: usize, column: usize) -> usize {
    text[from..limit]
        .grapheme_indices(true)
        .nth(column)
        .map_or(limit, |(i, _)| from + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(s: &str) -> Editor {
        let mut e = Editor::default();
        for c in s.chars() {
            e.insert_char(c);
        }
        e
    }

    #[test]
    fn editing_moves_by_whole_characters() {
        let mut e = typed("héllo 👍🏽");
        e.backspace();
        assert_eq!(
            e.text(),
            "héllo ",
            "the emoji with its skin tone goes at once"
        );
        e.home();
        e.right();
        e.right();
        e.delete();
        assert_eq!(e.text(), "hélo ");
        e.delete_word();
        assert_eq!(e.text(), "lo ");
    }

    #[test]
    fn up_and_down_move_between_lines_then_browse_history() {
        let mut e = typed("first");
        assert_eq!(e.take(), "first");
        let mut_e = &mut e;
        mut_e.insert_str("one\ntwo");
        assert!(mut_e.up(), "from the second line to the first");
        assert_eq!(&mut_e.text()[..mut_e.cursor()], "one");
        assert!(!mut_e.up());
        mut_e.history_prev();
        assert_eq!(mut_e.text(), "first");
        mut_e.history_next();
        assert_eq!(mut_e.text(), "one\ntwo", "the draft comes back");
    }

    #[test]
    fn pasted_line_breaks_are_normalised() {
        let mut e = Editor::default();
        e.insert_str("a\r\nb\rc");
        assert_eq!(e.text(), "a\nb\nc");
    }
}
