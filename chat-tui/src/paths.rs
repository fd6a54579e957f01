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
