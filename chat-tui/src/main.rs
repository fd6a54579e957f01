//! `chat-tui`: the terminal chat client.

use anyhow::Context;
use chat_tui::app::{self, Options};
use chat_tui::config::Config;
use chat_tui::session;
use clap::Parser;
use std::path::PathBuf;

/// Terminal client for the chat server.
///
/// The first run shows a login screen (Ctrl-R there to create an account); the login is saved,
/// so later runs connect at once. Inside, F1 lists every key and /command.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Server address, e.g. ws://127.0.0.1:7800 (default: from the config file, else that).
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Username to log in as (fills in the login screen; a saved login for another user is
    /// not used).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Profile: its own server, login and cache, from [profiles.NAME] in the config file. One
    /// chat-tui runs per profile: a second user on this machine runs with --profile NAME.
    #[arg(long, value_name = "NAME", default_value = "default")]
    profile: String,
    /// Config file (default: config.toml in the platform config directory, e.g.
    /// ~/.config/chat-tui/config.toml).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

fn main() {
    if let Err(e) = run() {
        // The terminal is restored by now; print the cause chain, not a backtrace.
        #[allow(clippy::print_stderr)]
        {
            eprintln!("error: {e:#}");
        }
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    if !session::valid_profile_name(&args.profile) {
        anyhow::bail!(
            "profile names use letters, digits, - and _ only: {:?}",
            args.profile
        );
    }
    let config = match &args.config {
        Some(path) => Config::load(path, true)?,
        None => match session::default_config_path() {
            Some(path) => Config::load(&path, false)?,
            None => Config::default(),
        },
    };
    let mut resolved = config.resolve(&args.profile);
    if let Some(server) = args.server {
        resolved.server = server;
    }
    if let Some(user) = args.user {
        resolved.user = Some(user);
    }
    chat_tui::wrap::set_full_emoji(resolved.emoji == chat_tui::config::EmojiMode::Full);
    let paths = session::profile_paths(&args.profile)
        .context("cannot find a home directory for the profile's data")?;
    session::ensure_dir(&paths.dir)
        .with_context(|| format!("cannot create {}", paths.dir.display()))?;
    // Held until the process ends; refused before the terminal is touched.
    let _lock = session::ProfileLock::acquire(&paths.dir, &args.profile)?;
    init_logging(&paths.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(app::run(Options {
        profile: args.profile,
        paths,
        config: resolved,
    }))
}

/// Logs go to a file in the profile folder: the terminal belongs to the UI.
fn init_logging(path: &std::path::Path) -> anyhow::Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open the log file {}", path.display()))?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .init();
    Ok(())
}
