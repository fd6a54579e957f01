//! Where a profile keeps its files, and the saved login (server, username, token).
//!
//! Each profile has its own folder in the platform data directory
//! (`~/.local/share/chat-tui/profiles/NAME` on Linux): `session.json` (owner-only: it holds the
//! token), `cache.sqlite` and `chat-tui.log`.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub server: String,
    pub username: String,
    pub token: String,
}

#[derive(Debug, Clone)]
pub struct ProfilePaths {
    pub dir: PathBuf,
    pub session: PathBuf,
    pub cache: PathBuf,
    pub log: PathBuf,
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "chat-tui")
}

/// The default config file: config.toml in the platform config directory.
pub fn default_config_path() -> Option<PathBuf> {
    project_dirs().map(|d| d.config_dir().join("config.toml"))
}

/// A profile name becomes a folder name, so it is kept to letters, digits, `-` and `_`.
pub fn valid_profile_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub fn profile_paths(profile: &str) -> Option<ProfilePaths> {
    let dir = project_dirs()?.data_dir().join("profiles").join(profile);
    Some(ProfilePaths {
        session: dir.join("session.json"),
        cache: dir.join("cache.sqlite"),
        log: dir.join("chat-tui.log"),
        dir,
    })
}

/// Create the profile folder, readable by its owner only.
pub fn ensure_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The saved login, if there is a readable one.
pub fn load(path: &Path) -> Option<Session> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// Save the login with owner-only permissions (written to a temporary file, then renamed, so a
/// crash never leaves half a file).
pub fn save(path: &Path, session: &Session) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        ensure_dir(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(serde_json::to_string_pretty(session)?.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// This machine's name, for the label of its login tokens.
pub fn hostname() -> String {
    let from_file = |path: &str| std::fs::read_to_string(path).ok();
    from_file("/proc/sys/kernel/hostname")
        .or_else(|| from_file("/etc/hostname"))
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "an unnamed host".into())
}

pub fn forget(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_saved_login_is_owner_only_and_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p").join("session.json");
        let session = Session {
            server: "ws://127.0.0.1:1".into(),
            username: "alice".into(),
            token: "secret".into(),
        };
        save(&path, &session).expect("save");
        assert_eq!(load(&path), Some(session));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        forget(&path).expect("forget");
        assert_eq!(load(&path), None);
        forget(&path).expect("forgetting twice is fine");
    }

    #[test]
    fn profile_names_are_plain() {
        assert!(valid_profile_name("work-2"));
        assert!(!valid_profile_name("../etc"));
        assert!(!valid_profile_name(""));
    }
}
