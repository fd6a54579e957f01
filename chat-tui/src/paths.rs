//! Paths the user types or pastes: `~` expansion, the forms a terminal gives a file dropped on
//! it (quoted, backslash-escaped, or a `file://` URI), and Tab completion of a partial path.

use std::path::{Path, PathBuf};

/// At most this many completions are offered (a folder of thousands is not browsed by Tab).
const MAX_CANDIDATES: usize = 200;

/// `~` and `~/…` with the home folder; other paths as they are.
pub fn expand(path: &str, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix('~'), home) {
        (Some(""), Some(home)) => home.to_path_buf(),
        (Some(rest), Some(home)) if rest.starts_with('/') => {
            home.join(rest.trim_start_matches('/'))
        }
        _ => PathBuf::from(path),
    }
}

pub fn home() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf())
}

/// The path a paste names, if it is one line that looks like a path: what terminals and file
/// managers paste for a dropped file (`'/tmp/my file.png'`, `/tmp/my\ file.png`,
/// `file:///tmp/my%20file.png`). Whether the file exists is for the caller to see.
pub fn pasted_path(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() || text.contains('\n') {
        return None;
    }
    let unquoted = ['\'', '"']
        .iter()
        .find_map(|q| text.strip_prefix(*q)?.strip_suffix(*q))
        .map(str::to_string);
    let path = if let Some(path) = unquoted {
        path
    } else if let Some(uri) = text.strip_prefix("file://") {
        // `file:///path` or `file://localhost/path`.
        let path = uri.strip_prefix("localhost").unwrap_or(uri);
        percent_decode(path)?
    } else {
        unescape(text)
    };
    let looks_like_path = path.starts_with('/') || path.starts_with("~/");
    looks_like_path.then_some(path)
}

/// The paths a paste names when several files are dropped at once: one per line (kitty, and a
/// file manager's `text/uri-list`), or on one line, each quoted or escaped as a shell takes
/// them (`'/tmp/a b.png' '/tmp/c.png'`, `/tmp/a\ b.png /tmp/c.png`). None unless every one
/// looks like a path.
pub fn pasted_paths(text: &str) -> Option<Vec<String>> {
    let text = text.trim();
    let parts: Vec<&str> = if text.contains('\n') {
        text.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect()
    } else {
        shell_words(text)?
    };
    let paths = parts
        .into_iter()
        .map(pasted_path)
        .collect::<Option<Vec<_>>>()?;
    (!paths.is_empty()).then_some(paths)
}

/// A line cut at the spaces outside quotes and escapes, each word as it was written (quotes
/// and escapes kept, for [`pasted_path`] to read). None when a quote is left open.
fn shell_words(line: &str) -> Option<Vec<&str>> {
    let mut words = Vec::new();
    let mut start = None;
    let mut quote = None;
    let mut chars = line.char_indices();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (Some(open), c) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '\\') => {
                start.get_or_insert(i);
                chars.next();
            }
            (None, '\'' | '"') => {
                start.get_or_insert(i);
                quote = Some(c);
            }
            (None, c) if c.is_whitespace() => {
                if let Some(from) = start.take() {
                    words.push(&line[from..i]);
                }
            }
            (None, _) => {
                start.get_or_insert(i);
            }
        }
    }
    if quote.is_some() {
        return None;
    }
    words.extend(start.map(|from| &line[from..]));
    Some(words)
}

/// `a\ b` → `a b`: the shell quoting terminals use for a dropped file.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The completions of a partial path, as the user would type them: entries of its folder
/// that start with what was typed of the name (hidden ones only when a `.` was typed),
/// folders with a `/` after them, sorted.
pub fn complete(typed: &str, home: Option<&Path>) -> Vec<String> {
    if typed == "~" {
        return vec!["~/".into()];
    }
    let (folder_typed, prefix) = match typed.rfind('/') {
        Some(i) => typed.split_at(i + 1),
        None => ("", typed),
    };
    let folder = if folder_typed.is_empty() {
        PathBuf::from(".")
    } else {
        expand(folder_typed, home)
    };
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return Vec::new();
    };
    let mut found: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            if !name.starts_with(prefix) || (name.starts_with('.') && !prefix.starts_with('.')) {
                return None;
            }
            // Through symbolic links: a link to a folder completes as a folder.
            let is_dir = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir());
            let slash = if is_dir { "/" } else { "" };
            Some(format!("{folder_typed}{name}{slash}"))
        })
        .take(MAX_CANDIDATES)
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_files_are_recognised_in_every_form() {
        assert_eq!(pasted_path("/tmp/a.png"), Some("/tmp/a.png".into()));
        assert_eq!(
            pasted_path("'/tmp/my photo.png' "),
            Some("/tmp/my photo.png".into())
        );
        assert_eq!(
            pasted_path(r"/tmp/my\ photo.png"),
            Some("/tmp/my photo.png".into())
        );
        assert_eq!(
            pasted_path("file:///tmp/my%20photo%C3%A9.png"),
            Some("/tmp/my photoé.png".into())
        );
        assert_eq!(pasted_path("~/notes.txt"), Some("~/notes.txt".into()));
        assert_eq!(pasted_path("hello there"), None);
        assert_eq!(pasted_path("/a\n/b"), None, "two lines are text");
        assert_eq!(pasted_path("file:///bad%zz"), None);
    }

    #[test]
    fn several_dropped_files_are_recognised_in_every_form() {
        let two = || Some(vec!["/tmp/a b.png".to_string(), "/tmp/c.png".to_string()]);
        assert_eq!(pasted_paths("'/tmp/a b.png' '/tmp/c.png' "), two(), "GNOME");
        assert_eq!(pasted_paths(r"/tmp/a\ b.png /tmp/c.png"), two(), "iTerm2");
        assert_eq!(pasted_paths("/tmp/a b.png\n/tmp/c.png\n"), two(), "kitty");
        assert_eq!(
            pasted_paths("# from Files\r\nfile:///tmp/a%20b.png\r\nfile:///tmp/c.png\r\n"),
            two(),
            "text/uri-list"
        );
        assert_eq!(
            pasted_paths(r#""/tmp/it's.png" ~/d.png"#),
            Some(vec!["/tmp/it's.png".to_string(), "~/d.png".to_string()])
        );
        assert_eq!(pasted_paths("/tmp/a.png and some words"), None);
        assert_eq!(pasted_paths("'/tmp/open quote.png"), None);
        assert_eq!(pasted_paths("first line\n/tmp/c.png"), None);
        assert_eq!(pasted_paths("  "), None);
    }

    #[test]
    fn tilde_is_home() {
        let home = Path::new("/home/ann");
        assert_eq!(expand("~", Some(home)), PathBuf::from("/home/ann"));
        assert_eq!(expand("~/a/b", Some(home)), PathBuf::from("/home/ann/a/b"));
        assert_eq!(expand("~bob/a", Some(home)), PathBuf::from("~bob/a"));
        assert_eq!(expand("rel/a", Some(home)), PathBuf::from("rel/a"));
    }

    #[test]
    fn paths_complete_from_their_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("report.pdf"), b"x").unwrap();
        std::fs::write(dir.path().join("reply.txt"), b"x").unwrap();
        std::fs::write(dir.path().join(".hidden"), b"x").unwrap();
        std::fs::create_dir(dir.path().join("repos")).unwrap();
        let base = format!("{}/", dir.path().display());
        let found = complete(&format!("{base}rep"), None);
        assert_eq!(
            found,
            [
                format!("{base}reply.txt"),
                format!("{base}report.pdf"),
                format!("{base}repos/")
            ]
        );
        assert_eq!(complete(&base, None).len(), 3, "hidden files stay hidden");
        assert_eq!(complete(&format!("{base}.h"), None).len(), 1);
        assert!(complete("/no/such/folder/x", None).is_empty());
        assert_eq!(complete("~", None), ["~/"]);
        let home = dir.path();
        assert_eq!(complete("~/repo", Some(home)), ["~/report.pdf", "~/repos/"]);
    }
}
