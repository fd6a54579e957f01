//! `chat-server`: run the chat server, or administer its database.

use anyhow::{bail, Context};
use chat_server::config::Config;
use chat_server::{admin, store};
use clap::{Args, Parser, Subcommand};
use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A self-hosted real-time chat server: WebSocket + JSON protocol, SQLite storage.
///
/// Without a subcommand it serves clients. The `user` and `token` subcommands administer the
/// same database file, also while the server is running.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// SQLite database file. Serving creates it (readable by its owner only) if missing; the
    /// user and token subcommands need an existing one.
    #[arg(long, env = "CHAT_DB", value_name = "PATH")]
    db: PathBuf,

    /// Address to listen on [default: 127.0.0.1:7800, or `listen` from the config file].
    /// Use 0.0.0.0:7800 to accept connections from other machines.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,

    /// TOML config file; its [server] table overrides the defaults (see config.example.toml).
    #[arg(long, env = "CHAT_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Echo every text message instead of serving chat: an endpoint for WebSocket
    /// conformance suites (tests/reliability/autobahn.sh). Never on a real server.
    #[arg(long, hide = true)]
    conformance_echo: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve clients (the default).
    Serve,
    /// Create, list and reset the passwords of user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Create, list and revoke access tokens (for bots and scripts).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Show a room's edited and deleted messages with their earlier texts, who changed them
    /// and when (UTC). Clients never see these texts again.
    Audit {
        /// The room's id, or its exact title.
        room: String,
    },
    /// Uploaded files (stored beside the database, in DB.files).
    #[command(subcommand)]
    Files(FilesCommand),
}

#[derive(Debug, Subcommand)]
enum FilesCommand {
    /// Remove the files no message shares any more (their messages were deleted, or they were
    /// uploaded and never sent), once older than --unshared-hours. Safe while the server runs.
    Gc {
        /// Keep unshared uploads this long: a file uploaded and not yet sent.
        #[arg(long, default_value_t = 24)]
        unshared_hours: u64,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account. Asks for the password (or reads one line from stdin when piped).
    Add {
        username: String,
        /// A bot account: no password; it authenticates with tokens from `token create`.
        #[arg(long)]
        bot: bool,
    },
    /// List every account.
    List,
    /// Set a new password; every token of the user is revoked, so all devices log in again.
    Passwd { username: String },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print it (it is shown only once).
    Create(TokenCreate),
    /// List tokens (never the tokens themselves: only their ids and labels).
    List {
        /// Only this user's tokens.
        username: Option<String>,
    },
    /// Revoke a token; a running server closes its connections within a second.
    Revoke { id: i64 },
}

#[derive(Debug, Args)]
struct TokenCreate {
    username: String,
    /// What the token is for, shown by `token list`.
    #[arg(long, default_value = "cli")]
    label: String,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Serving logs what it does; admin commands say only what matters.
    let default_level = if matches!(cli.command, None | Some(Command::Serve)) {
        "info"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        // Colour escapes only on a terminal, not in log files or pipes.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // `chat-server token list | head`: the reader has all it wanted.
        Err(e) if is_broken_pipe(&e) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln_note(&format!("error: {}", describe(&e)));
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None | Some(Command::Serve) => serve(
            &cli.db,
            cli.listen,
            cli.config.as_deref(),
            cli.conformance_echo,
        ),
        Some(Command::User(cmd)) => user(&cli.db, cmd),
        Some(Command::Token(cmd)) => token(&cli.db, cmd),
        Some(Command::Audit { room }) => audit(&cli.db, &room),
        Some(Command::Files(FilesCommand::Gc { unshared_hours })) => {
            files_gc(&cli.db, unshared_hours)
        }
    }
}

fn files_gc(db: &Path, unshared_hours: u64) -> anyhow::Result<()> {
    let conn = open(db)?;
    let keep = Duration::from_secs(unshared_hours.saturating_mul(3600));
    let keep_ms = keep.as_millis() as i64;
    let before = store::now_ms().saturating_sub(keep_ms);
    let forgotten = store::files::forget_unshared(&conn, before)?;
    let referenced = store::files::referenced_hashes(&conn)?;
    let blobs = chat_server::files::BlobStore::beside(db);
    let (removed, bytes) = blobs.sweep(&referenced, keep.min(chat_server::files::GC_GRACE))?;
    say(format!(
        "{forgotten} unshared upload(s) forgotten; {removed} stored file(s) removed ({bytes} bytes freed); {} kept",
        referenced.len()
    ))
}

fn serve(
    db: &Path,
    listen: Option<SocketAddr>,
    config_path: Option<&Path>,
    conformance_echo: bool,
) -> anyhow::Result<()> {
    let mut config = match config_path {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    config.conformance_echo = conformance_echo;
    if conformance_echo {
        tracing::warn!("conformance echo endpoint: this server echoes frames and serves no chat");
    }
    if let Some(addr) = listen {
        config.listen = addr;
    }
    chat_server::server::run_until_signal(config, db)
        .with_context(|| format!("cannot serve with database {}", db.display()))
}

/// The admin subcommands work on an existing database only: a mistyped --db must not
/// create an empty one and write there.
fn open(db: &Path) -> anyhow::Result<rusqlite::Connection> {
    Ok(store::open_existing(db)?)
}

/// Ask for a password on the terminal (twice), or read one line from piped stdin.
fn read_password(prompt: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(prompt)?;
        let again = rpassword::prompt_password("again: ")?;
        if first != again {
            bail!("the passwords differ");
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

fn say(line: impl std::fmt::Display) -> anyhow::Result<()> {
    writeln!(std::io::stdout(), "{line}")?;
    Ok(())
}

fn when(ms: Option<i64>) -> String {
    match ms {
        None => "-".into(),
        Some(ms) => format!("{}s ago", (store::now_ms() - ms).max(0) / 1000),
    }
}

fn user(db: &Path, cmd: UserCommand) -> anyhow::Result<()> {
    let conn = open(db)?;
    match cmd {
        UserCommand::Add { username, bot } => {
            let password = if bot {
                None
            } else {
                Some(read_password(&format!("password for {username}: "))?)
            };
            let user = admin::create_user(&conn, &username, password.as_deref())?;
            let kind = if bot { "bot account" } else { "user" };
            say(format!("created {kind} {} (id {})", user.username, user.id))?;
            if bot {
                say(format!(
                    "create its token with: chat-server --db {} token create {}",
                    db.display(),
                    user.username
                ))?;
            }
        }
        UserCommand::List => {
            say(format!(
                "{:>5}  {:<32} {:<5} {:<14} last seen",
                "id", "username", "kind", "created"
            ))?;
            for u in admin::list_users(&conn)? {
                let kind = if u.bot { "bot" } else { "user" };
                say(format!(
                    "{:>5}  {:<32} {:<5} {:<14} {}",
                    u.id,
                    u.username,
                    kind,
                    when(Some(u.created_at)),
                    when(u.last_seen)
                ))?;
            }
        }
        UserCommand::Passwd { username } => {
            let password = read_password(&format!("new password for {username}: "))?;
            let revoked = admin::reset_password(&conn, &username, &password)?;
            say(format!(
                "password of {username} changed; {revoked} token(s) revoked"
            ))?;
        }
    }
    Ok(())
}

fn token(db: &Path, cmd: TokenCommand) -> anyhow::Result<()> {
    let conn = open(db)?;
    match cmd {
        TokenCommand::Create(TokenCreate { username, label }) => {
            let (id, token) = admin::create_token(&conn, &username, &label)?;
            say(&token)?;
            eprintln_note(&format!(
                "token {id} for {username} ({label}); it is shown only this once"
            ));
        }
        TokenCommand::List { username } => {
            // The label is last: it is free text of any length (client and device names).
            say(format!(
                "{:>5}  {:<32} {:<14} {:<14} label",
                "id", "username", "created", "revoked"
            ))?;
            for t in admin::list_tokens(&conn, username.as_deref())? {
                say(format!(
                    "{:>5}  {:<32} {:<14} {:<14} {}",
                    t.id,
                    t.username,
                    when(Some(t.created_at)),
                    when(t.revoked_at),
                    t.label,
                ))?;
            }
        }
        TokenCommand::Revoke { id } => {
            admin::revoke_token(&conn, id)?;
            say(format!("token {id} revoked"))?;
        }
    }
    Ok(())
}

fn audit(db: &Path, room: &str) -> anyhow::Result<()> {
    let conn = open(db)?;
    let (room_id, title) = admin::audit::find_room(&conn, room)?;
    let rows = admin::audit::audit(&conn, room_id)?;
    // Quoted and escaped like the texts: a title is anyone's input, control characters too.
    say(format!(
        "room {room_id} {}: {} edit(s) and deletion(s)",
        quoted(&title),
        rows.len()
    ))?;
    if rows.is_empty() {
        return Ok(());
    }
    say(format!(
        "{:<19}  {:>6}  {:<6}  {:<16} {:>8}  {:<16} earlier text",
        "when (UTC)", "seq", "action", "by", "message", "sent by"
    ))?;
    for row in rows {
        // Quoted on one line: line breaks and control characters escaped.
        say(format!(
            "{:<19}  {:>6}  {:<6}  {:<16} {:>8}  {:<16} {}",
            admin::audit::utc(row.at),
            row.seq,
            row.action,
            row.actor,
            row.message_id,
            row.sender,
            quoted(&row.old_text)
        ))?;
    }
    Ok(())
}

/// Text in double quotes on one line, as a terminal can show it safely: quotes, backslashes,
/// control characters and bidirectional overrides escaped; emoji sequences (ZWJ, VS16,
/// keycaps) left as they are, so they read as sent.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || bidi => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The error and its causes, without a backtrace (these are user-facing errors), and without
/// repeating a cause whose words the message already holds.
fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Notes go to stderr so that `token create` prints only the token on stdout (scriptable).
fn eprintln_note(note: &str) {
    let _ = writeln!(std::io::stderr(), "{note}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn audit_quotes_keep_emoji_and_escape_what_a_terminal_would_obey() {
        assert_eq!(
            quoted("👨\u{200d}👩\u{200d}👧 ❤\u{fe0f} 1\u{fe0f}\u{20e3}"),
            "\"👨\u{200d}👩\u{200d}👧 ❤\u{fe0f} 1\u{fe0f}\u{20e3}\""
        );
        assert_eq!(
            quoted("a\"b\\c\nd\u{1b}[2J\u{202e}x"),
            r#""a\"b\\c\nd\u{1b}[2J\u{202e}x""#
        );
    }

    #[test]
    fn causes_already_in_the_message_are_not_repeated() {
        let inner = std::io::Error::new(std::io::ErrorKind::AddrInUse, "address in use");
        let error = anyhow::Error::new(inner).context("cannot listen: address in use");
        assert_eq!(describe(&error), "cannot listen: address in use");
        let error = anyhow::anyhow!("disk full").context("cannot write");
        assert_eq!(describe(&error), "cannot write: disk full");
        let pipe = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "pipe");
        assert!(is_broken_pipe(&anyhow::Error::new(pipe).context("writing")));
    }

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
        assert_eq!(chat_server::config::DEFAULT_LISTEN, "127.0.0.1:7800");
    }
}
