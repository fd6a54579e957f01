//! Client settings: the `[client]` table of config.toml, and `[profiles.NAME]` tables that
//! override it per profile. config.example.toml documents every one.

use crate::graphics::ImageMode;
use crate::keymap::{Action, KeyMap};
use crate::model::{DesktopNotify, Settings, DEFAULT_TIME_FORMAT};
use crate::view::theme::Theme;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const DEFAULT_SERVER: &str = "ws://127.0.0.1:7800";

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    /// Server to connect to.
    pub server: String,
    /// Username to fill in on the login screen.
    pub user: Option<String>,
    /// Ring the terminal bell on a direct message or a mention.
    pub bell: bool,
    /// Desktop notification escape: "off", "osc9" or "osc777".
    pub desktop_notifications: DesktopNotify,
    /// Conversations listed first in the sidebar.
    pub pinned: Vec<String>,
    /// Capture the mouse for the wheel and clicks (hold Shift to select text in most terminals).
    pub mouse: bool,
    /// How emoji sequences (flags, ZWJ families, skin tones) are drawn.
    pub emoji: EmojiMode,
    /// Colours for a dark or a light terminal background (`NO_COLOR` turns colour off).
    pub theme: Theme,
    /// How message times are written: chrono's strftime, e.g. "%H:%M" or "%-I:%M %p".
    pub time_format: String,
    /// Rebound keys: an action and its key or keys (`switcher = "ctrl-g"`).
    pub keys: HashMap<Action, OneOrMore>,
    /// Where `s` saves files (unset: the desktop's download folder, else the home folder).
    pub download_dir: Option<String>,
    /// Image previews: "auto" (where the terminal draws pictures), "blocks" or "off".
    pub images: ImageMode,
}

/// One key, or a list of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMore {
    One(String),
    More(Vec<String>),
}

impl ClientConfig {
    fn key_map(&self) -> Result<KeyMap, String> {
        let custom = self
            .keys
            .iter()
            .map(|(action, keys)| {
                let keys = match keys {
                    OneOrMore::One(key) => vec![key.clone()],
                    OneOrMore::More(keys) => keys.clone(),
                };
                (*action, keys)
            })
            .collect();
        KeyMap::new(&custom)
    }
}

/// Emoji sequences are drawn in safe pieces (`safe`, the default) or as sent (`full`, for a
/// terminal that measures them as Unicode does, such as kitty or WezTerm outside tmux).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmojiMode {
    #[default]
    Safe,
    Full,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            server: DEFAULT_SERVER.into(),
            user: None,
            bell: true,
            desktop_notifications: DesktopNotify::Off,
            pinned: Vec::new(),
            mouse: true,
            emoji: EmojiMode::Safe,
            theme: Theme::Dark,
            time_format: DEFAULT_TIME_FORMAT.into(),
            keys: HashMap::new(),
            download_dir: None,
            images: ImageMode::Auto,
        }
    }
}

/// A profile: another server or another account, with its own login and cache.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProfileConfig {
    pub server: Option<String>,
    pub user: Option<String>,
    pub pinned: Option<Vec<String>>,
}

/// The file; it may hold other tables (the server's `[server]`), which the client ignores.
#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    client: ClientConfig,
    #[serde(default)]
    profiles: HashMap<String, ProfileConfig>,
}

/// The cause is part of the message and deliberately not a `source`: printed with its chain
/// (`{:#}`), it would appear twice.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {cause}")]
    Read { path: String, cause: std::io::Error },
    #[error("invalid config {path}: {cause}")]
    Parse {
        path: String,
        cause: toml::de::Error,
    },
}

/// Settings for one profile, after the profile's table is applied.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub server: String,
    pub user: Option<String>,
    pub mouse: bool,
    pub emoji: EmojiMode,
    pub settings: Settings,
    /// Where saved files go.
    pub download_dir: PathBuf,
    pub images: ImageMode,
}

/// The folder saved files go to: the configured one (`~` is home), else the desktop's
/// download folder, else home, else the working folder.
fn download_dir(configured: Option<&str>) -> PathBuf {
    let home = crate::paths::home();
    if let Some(dir) = configured {
        return crate::paths::expand(dir, home.as_deref());
    }
    directories::UserDirs::new()
        .and_then(|d| d.download_dir().map(Path::to_path_buf))
        .or(home)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A strftime format chrono can write, and not an empty one.
fn check_time_format(format: &str) -> Result<(), String> {
    use chrono::format::{Item, StrftimeItems};
    if format.trim().is_empty() {
        return Err("time_format is empty".into());
    }
    if StrftimeItems::new(format).any(|item| matches!(item, Item::Error)) {
        return Err(format!(
            "time_format {format:?} is not a strftime format (for example \"%H:%M\")"
        ));
    }
    Ok(())
}

#[derive(Debug, Default)]
pub struct Config {
    file: ConfigFile,
}

impl Config {
    /// Read `path`; a missing file is fine unless it was asked for by name.
    pub fn load(path: &Path, must_exist: bool) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
                return Ok(Config::default())
            }
            Err(cause) => {
                return Err(ConfigError::Read {
                    path: path.display().to_string(),
                    cause,
                })
            }
        };
        Config::parse(&text).map_err(|cause| ConfigError::Parse {
            path: path.display().to_string(),
            cause,
        })
    }

    pub fn parse(text: &str) -> Result<Config, toml::de::Error> {
        let file: ConfigFile = toml::from_str(text)?;
        if let Err(e) = check_time_format(&file.client.time_format) {
            return Err(serde::de::Error::custom(e));
        }
        if let Err(e) = file.client.key_map() {
            return Err(serde::de::Error::custom(format!("[client.keys]: {e}")));
        }
        Ok(Config { file })
    }

    pub fn resolve(&self, profile: &str) -> Resolved {
        let client = &self.file.client;
        let overrides = self.file.profiles.get(profile).cloned().unwrap_or_default();
        Resolved {
            server: overrides.server.unwrap_or_else(|| client.server.clone()),
            user: overrides.user.or_else(|| client.user.clone()),
            mouse: client.mouse,
            emoji: client.emoji,
            settings: Settings {
                bell: client.bell,
                desktop: client.desktop_notifications,
                pinned: overrides.pinned.unwrap_or_else(|| client.pinned.clone()),
                theme: client
                    .theme
                    .with_env(std::env::var("NO_COLOR").ok().as_deref()),
                time_format: client.time_format.clone(),
                keys: client.key_map().unwrap_or_default(),
            },
            download_dir: download_dir(client.download_dir.as_deref()),
            images: client.images,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_gives_the_defaults() {
        let text = include_str!("../../config.example.toml");
        let config = Config::parse(text).expect("config.example.toml parses");
        let resolved = config.resolve("default");
        let defaults = ClientConfig::default();
        assert_eq!(resolved.server, defaults.server);
        assert_eq!(resolved.user, defaults.user);
        assert_eq!(resolved.settings.bell, defaults.bell);
        assert_eq!(resolved.settings.desktop, defaults.desktop_notifications);
        assert_eq!(resolved.mouse, defaults.mouse);
        assert_eq!(resolved.emoji, defaults.emoji);
        assert_eq!(resolved.settings.time_format, defaults.time_format);
        assert_eq!(resolved.images, defaults.images);
        assert_eq!(config.file.client.theme, defaults.theme);
        assert!(resolved.settings.pinned.is_empty());
        let work = config.resolve("work");
        assert_eq!(work.server, "wss://chat.example.com");
        assert_eq!(work.user.as_deref(), Some("alice"));
    }

    #[test]
    fn profiles_override_the_client_table() {
        let config = Config::parse(
            "[client]\nserver = \"ws://a\"\nbell = false\n[profiles.b]\nserver = \"ws://b\"\n",
        )
        .expect("parses");
        assert_eq!(config.resolve("x").server, "ws://a");
        assert_eq!(config.resolve("b").server, "ws://b");
        assert!(!config.resolve("b").settings.bell);
    }

    #[test]
    fn a_config_error_says_its_cause_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[client]\nservr = 1\n").expect("write");
        let error = anyhow::Error::new(Config::load(&path, true).expect_err("invalid"));
        let shown = format!("{error:#}");
        assert_eq!(shown.matches("unknown field").count(), 1, "{shown}");
    }

    #[test]
    fn time_formats_are_checked_and_measured() {
        let twelve = Config::parse("[client]\ntime_format = \"%-I:%M %p\"\n").expect("parses");
        let settings = twelve.resolve("default").settings;
        assert_eq!(settings.time_width(), 8, "11:59 PM");
        let error = Config::parse("[client]\ntime_format = \"%Q\"\n").expect_err("bad");
        assert!(
            error.to_string().contains("not a strftime format"),
            "{error}"
        );
    }

    #[test]
    fn keys_can_be_rebound_and_bad_bindings_are_refused() {
        let config = Config::parse(
            "[client.keys]\nswitcher = \"ctrl-g\"\nnext_room = [\"alt-j\", \"ctrl-n\"]\n",
        )
        .expect("parses");
        let keys = config.resolve("default").settings.keys;
        assert_eq!(keys.describe(Action::Switcher), "Ctrl-G");
        assert_eq!(keys.describe(Action::NextRoom), "Alt-J, Ctrl-N");
        let error = Config::parse("[client.keys]\nhelp = \"q\"\n").expect_err("plain key");
        assert!(error.to_string().contains("would be typed"), "{error}");
        assert!(Config::parse("[client.keys]\nfly = \"ctrl-f\"\n").is_err());
    }

    #[test]
    fn unknown_client_settings_are_an_error() {
        assert!(Config::parse("[client]\nservr = \"ws://a\"").is_err());
        assert!(Config::parse("[client]\ndesktop_notifications = \"loud\"").is_err());
    }
}
