//! Server settings: defaults, overridden by the `[server]` table of a TOML file, overridden by
//! command-line flags. config.example.toml documents every one.

use crate::store::Durability;
use chat_protocol::Limits;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// The default address: loopback, so a fresh install is not exposed until asked to be.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7800";

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    pub allow_registration: bool,
    pub durability: Durability,
    pub max_frame_bytes: usize,
    pub max_message_chars: usize,
    pub max_title_chars: usize,
    pub max_topic_chars: usize,
    pub max_reaction_chars: usize,
    pub max_history_page: u32,
    pub requests_per_second: u32,
    pub request_burst: u32,
    pub outbound_queue_frames: usize,
    pub outbound_queue_bytes: usize,
    pub outbound_total_bytes: usize,
    pub typing_timeout_ms: u64,
    pub presence_grace_ms: u64,
    pub presence_max_room_members: usize,
    pub handshake_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    pub ping_interval_ms: u64,
    pub revocation_poll_ms: u64,
    pub read_connections: usize,
    pub shutdown_grace_ms: u64,
    pub max_connections_per_user: usize,
    pub max_connections_per_address: usize,
    pub password_hash_workers: usize,
    pub password_hash_queue: usize,
    pub login_free_failures_per_account: u32,
    pub login_free_failures_per_address: u32,
    pub login_lockout_base_ms: u64,
    pub login_lockout_max_ms: u64,
    pub registrations_per_address_per_hour: u32,
    /// Largest file an upload may be, in bytes.
    pub max_upload_bytes: u64,
    /// Most rooms one account may be in.
    pub max_rooms_per_user: u32,
    /// Most work one search may take, in milliseconds.
    pub max_search_ms: u32,
    /// Serve `GET /metrics` to any address, not only loopback.
    pub metrics_public: bool,
    /// Longest `wait` a long-poll for events may ask for, in seconds.
    pub long_poll_max_secs: u64,
    /// Serve the WebSocket echo endpoint for conformance testing instead of chat. Set only by
    /// the hidden `--conformance-echo` flag, never from a config file.
    #[serde(skip)]
    pub conformance_echo: bool,
}

impl Default for Config {
    fn default() -> Self {
        let limits = Limits::default();
        Config {
            // A constant that parses; checked by a unit test.
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 7800))),
            allow_registration: true,
            durability: Durability::Full,
            max_frame_bytes: limits.max_frame_bytes,
            max_message_chars: limits.max_message_chars,
            max_title_chars: limits.max_title_chars,
            max_topic_chars: limits.max_topic_chars,
            max_reaction_chars: limits.max_reaction_chars,
            max_history_page: limits.max_history_page,
            requests_per_second: limits.requests_per_second,
            request_burst: limits.request_burst,
            outbound_queue_frames: 4096,
            outbound_queue_bytes: 4 * 1024 * 1024,
            outbound_total_bytes: 64 * 1024 * 1024,
            typing_timeout_ms: limits.typing_timeout_ms,
            presence_grace_ms: 3000,
            presence_max_room_members: 100,
            handshake_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            ping_interval_ms: 20_000,
            revocation_poll_ms: 1000,
            read_connections: 4,
            shutdown_grace_ms: 5000,
            max_connections_per_user: 32,
            max_connections_per_address: 256,
            password_hash_workers: 2,
            password_hash_queue: 32,
            login_free_failures_per_account: 5,
            login_free_failures_per_address: 20,
            login_lockout_base_ms: 1000,
            login_lockout_max_ms: 60_000,
            registrations_per_address_per_hour: 20,
            max_upload_bytes: 50 * 1024 * 1024,
            max_rooms_per_user: limits.max_rooms_per_user,
            max_search_ms: limits.max_search_ms,
            metrics_public: false,
            long_poll_max_secs: 60,
            conformance_echo: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid config {path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// The file may hold other tables (the terminal client's `[client]`); only `[server]` is read.
#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    server: Config,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text).map_err(|e| match e {
            ConfigError::Parse { source, .. } => ConfigError::Parse {
                path: path.display().to_string(),
                source,
            },
            other => other,
        })
    }

    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let file: ConfigFile = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: String::new(),
            source,
        })?;
        file.server.validate()?;
        Ok(file.server)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("max_frame_bytes", self.max_frame_bytes as u64),
            ("max_message_chars", self.max_message_chars as u64),
            ("max_title_chars", self.max_title_chars as u64),
            ("max_reaction_chars", self.max_reaction_chars as u64),
            ("max_history_page", u64::from(self.max_history_page)),
            ("requests_per_second", u64::from(self.requests_per_second)),
            ("request_burst", u64::from(self.request_burst)),
            ("outbound_queue_frames", self.outbound_queue_frames as u64),
            ("outbound_queue_bytes", self.outbound_queue_bytes as u64),
            ("outbound_total_bytes", self.outbound_total_bytes as u64),
            ("typing_timeout_ms", self.typing_timeout_ms),
            ("handshake_timeout_ms", self.handshake_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
            ("ping_interval_ms", self.ping_interval_ms),
            ("revocation_poll_ms", self.revocation_poll_ms),
            ("read_connections", self.read_connections as u64),
            (
                "max_connections_per_user",
                self.max_connections_per_user as u64,
            ),
            (
                "max_connections_per_address",
                self.max_connections_per_address as u64,
            ),
            ("password_hash_workers", self.password_hash_workers as u64),
            ("password_hash_queue", self.password_hash_queue as u64),
            ("login_lockout_base_ms", self.login_lockout_base_ms),
            ("login_lockout_max_ms", self.login_lockout_max_ms),
            ("long_poll_max_secs", self.long_poll_max_secs),
            ("max_upload_bytes", self.max_upload_bytes),
            ("max_rooms_per_user", u64::from(self.max_rooms_per_user)),
            ("max_search_ms", u64::from(self.max_search_ms)),
            (
                "registrations_per_address_per_hour",
                u64::from(self.registrations_per_address_per_hour),
            ),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(ConfigError::Invalid(format!(
                "{name} must be greater than 0"
            )));
        }
        if self.ping_interval_ms >= self.idle_timeout_ms {
            return Err(ConfigError::Invalid(
                "ping_interval_ms must be shorter than idle_timeout_ms, or live clients time out"
                    .into(),
            ));
        }
        if self.presence_max_room_members < 2 {
            return Err(ConfigError::Invalid(
                "presence_max_room_members must be at least 2, so direct rooms share presence"
                    .into(),
            ));
        }
        // A message must fit in a frame with room for the JSON around it (4 bytes per char max).
        if self.max_frame_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "max_frame_bytes must be at least 1024".into(),
            ));
        }
        Ok(())
    }

    /// The limits announced to clients.
    pub fn limits(&self) -> Limits {
        Limits {
            max_frame_bytes: self.max_frame_bytes,
            max_message_chars: self.max_message_chars,
            max_title_chars: self.max_title_chars,
            max_topic_chars: self.max_topic_chars,
            max_history_page: self.max_history_page,
            requests_per_second: self.requests_per_second,
            request_burst: self.request_burst,
            typing_timeout_ms: self.typing_timeout_ms,
            max_reaction_chars: self.max_reaction_chars,
            max_upload_bytes: self.max_upload_bytes,
            max_rooms_per_user: self.max_rooms_per_user,
            max_search_ms: self.max_search_ms,
        }
    }

    pub fn login_guard(&self) -> crate::login_guard::GuardConfig {
        crate::login_guard::GuardConfig {
            free_failures_per_account: self.login_free_failures_per_account,
            free_failures_per_address: self.login_free_failures_per_address,
            lockout_base: Duration::from_millis(self.login_lockout_base_ms),
            lockout_max: Duration::from_millis(self.login_lockout_max_ms),
            registrations_per_hour: self.registrations_per_address_per_hour,
        }
    }

    pub fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_listen_on_loopback() {
        let config = Config::default();
        config.validate().unwrap();
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
    }

    #[test]
    fn the_example_file_parses_to_the_defaults() {
        let text = include_str!("../../config.example.toml");
        let parsed = Config::parse(text).unwrap();
        assert_eq!(format!("{parsed:?}"), format!("{:?}", Config::default()));
    }

    #[test]
    fn typos_and_bad_values_are_rejected() {
        assert!(matches!(
            Config::parse("[server]\nlisten_addr = \"x\""),
            Err(ConfigError::Parse { .. })
        ));
        assert!(matches!(
            Config::parse("[server]\nmax_message_chars = 0"),
            Err(ConfigError::Invalid(_))
        ));
        assert!(
            Config::parse("[client]\nanything = 1").is_ok(),
            "other tables are not the server's business"
        );
    }
}
