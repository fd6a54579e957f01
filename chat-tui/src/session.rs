//! Where a profile keeps its files, and the saved login (server, username, token).
//!
//! Each profile has its own folder in the platform data directory
//! (`~/.local/share/chat-tui/profiles/NAME` on Linux): `session.json` (owner-only: it holds the
//! token), one cache per account (`cache-USER-HASH.sqlite`, see [`ProfilePaths::cache_for`]),
//! `chat-tui.log`, and `lock`, held by the one client running on the profile.

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
    /// The one cache of every account, as versions before per-account caches kept it; adopted
    /// by its account at start (`cache::adopt_legacy`).
    pub legacy_cache: PathBuf,
    pub log: PathBuf,
}

impl ProfilePaths {
    pub fn in_dir(dir: PathBuf) -> ProfilePaths {
        ProfilePaths {
            session: dir.join("session.json"),
            legacy_cache: dir.join("cache.sqlite"),
            log: dir.join("chat-tui.log"),
            dir,
        }
    }

    /// The cache (rooms, history, outbox, drafts) of one account: each (server, user) pair has
    /// its own file, so logging in as someone else never sees, clears or sends another's
    /// queued messages, and they are there again when that user returns.
    pub fn cache_for(&self, server: &str, username: &str) -> PathBuf {
        let readable: String = username
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(32)
            .collect();
        let key = fnv1a(format!("{server}\n{username}").as_bytes());
        self.dir.join(format!("cache-{readable}-{key:016x}.sqlite"))
    }
}

/// FNV-1a: a hash whose value never changes between builds (file names depend on it).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The advisory lock a running client holds on its profile folder: two clients on one profile
/// would overwrite each other's saved login and cache.
#[derive(Debug)]
pub struct ProfileLock {
    _file: std::fs::File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another chat-tui is using profile {profile:?} ({holder}); run a second one with \
         --profile NAME (e.g. chat-tui --profile bob --user bob)"
    )]
    Busy { profile: String, holder: String },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl ProfileLock {
    /// Lock the profile folder `dir` (which must exist) for as long as the value lives; the
    /// lock file says which process holds it, for the refusal of the next one.
    pub fn acquire(dir: &Path, profile: &str) -> Result<ProfileLock, LockError> {
        let path = dir.join("lock");
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        // Not truncated on open: the file may be the running client's, with its pid.
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0).map_err(io)?;
                file.write_all(format!("{}\n", std::process::id()).as_bytes())
                    .map_err(io)?;
                Ok(ProfileLock { _file: file })
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let pid = std::fs::read_to_string(&path).unwrap_or_default();
                let holder = match pid.trim() {
                    "" => format!("it holds {}", path.display()),
                    pid => format!("process {pid}"),
                };
                Err(LockError::Busy {
                    profile: profile.to_string(),
                    holder,
                })
            }
            Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
        }
    }
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
    Some(ProfilePaths::in_dir(dir))
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
    fn a_second_client_on_a_profile_is_refused_until_the_first_is_gone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = ProfileLock::acquire(dir.path(), "default").expect("first");
        let refused = ProfileLock::acquire(dir.path(), "default").expect_err("second");
        let said = refused.to_string();
        assert!(said.contains("--profile NAME"), "{said}");
        assert!(said.contains("\"default\""), "{said}");
        assert!(
            said.contains(&format!("process {}", std::process::id())),
            "{said}"
        );
        drop(first);
        ProfileLock::acquire(dir.path(), "default").expect("free again");
    }

    #[test]
    fn each_server_and_user_has_its_own_cache() {
        let paths = ProfilePaths::in_dir(PathBuf::from("/p"));
        let alice = paths.cache_for("ws://a:1", "alice");
        assert_eq!(alice, paths.cache_for("ws://a:1", "alice"), "stable");
        assert_ne!(alice, paths.cache_for("ws://a:1", "bob"));
        assert_ne!(alice, paths.cache_for("ws://b:1", "alice"));
        assert_ne!(alice, paths.legacy_cache);
        assert_eq!(alice.parent(), Some(Path::new("/p")));
        let odd = paths.cache_for("ws://a:1", "../x y");
        assert_eq!(odd.parent(), Some(Path::new("/p")), "{odd:?}");
        // The name must not change between versions: caches are found by it.
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn profile_names_are_plain() {
        assert!(valid_profile_name("work-2"));
        assert!(!valid_profile_name("../etc"));
        assert!(!valid_profile_name(""));
    }
}
