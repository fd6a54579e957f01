//! The runtime: feeds terminal input, network messages and ticks into `update`, carries out the
//! effects it returns, and redraws after each batch of messages (never in a busy loop).

use crate::backoff::Rng;
use crate::cache::{Cache, CacheWorker};
use crate::config::Resolved;
use crate::graphics::ImageMode;
use crate::model::{DesktopNotify, Model, Settings};
use crate::msg::{CacheOp, Effect, Msg, RequestError};
use crate::net::{Connection, Envelope};
use crate::session::{self, ProfilePaths, Session};
use crate::terminal;
use crate::update::{start, update};
use crate::view::theme::Theme;
use crate::view::view;
use chat_protocol::{ClientFrame, RoomId, SetReceipt};
use previews::Previews;
use ratatui::crossterm::event::{self, Event};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc::{self, UnboundedSender};

mod files;
mod previews;

pub struct Options {
    pub profile: String,
    pub paths: ProfilePaths,
    pub config: Resolved,
}

/// How this client names itself to the server, which labels the login's token with it:
/// `chat-tui/0.1.0 on laptop (profile work)`, so `chat-server token list` tells devices apart.
pub fn client_name(profile: &str) -> String {
    format!(
        "chat-tui/{} on {} (profile {profile})",
        env!("CARGO_PKG_VERSION"),
        session::hostname()
    )
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn utc_offset_secs() -> i32 {
    chrono::Local::now().offset().local_minus_utc()
}

/// The saved login, if it is for the server (and the user, when one was asked for) of this run.
pub fn saved_login(options: &Options) -> Option<Session> {
    let config = &options.config;
    session::load(&options.paths.session).filter(|s| {
        s.server == config.server && config.user.as_ref().is_none_or(|u| *u == s.username)
    })
}

/// Build the model from the saved login and its account's cache: this is what shows before
/// any network.
pub fn initial_model(options: &Options, cache: &Cache) -> anyhow::Result<Model> {
    let config = &options.config;
    let saved = saved_login(options);
    let mut model = Model::new(
        config.server.clone(),
        config.user.clone(),
        config.settings.clone(),
        Rng::from_os(),
    );
    model.now = now_ms();
    model.utc_offset_secs = utc_offset_secs();
    model.home = crate::paths::home();
    if let Some(saved) = saved {
        model.token = Some(saved.token);
        model.login.username = saved.username;
        crate::update::install_account(&mut model, cache.load()?);
    }
    Ok(model)
}

struct Runtime {
    msgs: UnboundedSender<Envelope>,
    connection: Option<Connection>,
    generation: u64,
    cache: CacheWorker,
    /// Where the cache worker sends what it reads.
    cache_msgs: UnboundedSender<Msg>,
    /// The (server, user) whose cache file the worker has open; none before a login (an
    /// in-memory cache then holds what there is, which belongs to nobody yet).
    account: Option<(String, String)>,
    paths: ProfilePaths,
    client_name: String,
    /// Where saved files go.
    download_dir: PathBuf,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let saved = saved_login(&options);
    let legacy_owner_server = saved
        .as_ref()
        .map_or(options.config.server.as_str(), |s| s.server.as_str());
    if let Err(e) = crate::cache::adopt_legacy(&options.paths, legacy_owner_server) {
        tracing::error!("cannot adopt the profile's old cache: {e}");
    }
    let account = saved.map(|s| (s.server, s.username));
    let cache = match &account {
        Some((server, username)) => Cache::open(&options.paths.cache_for(server, username))?,
        None => Cache::in_memory()?,
    };
    let mut model = initial_model(&options, &cache)?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Envelope>();
    let (cache_tx, mut cache_rx) = mpsc::unbounded_channel::<Msg>();
    let worker = CacheWorker::spawn(cache, cache_tx.clone());
    let mut runtime = Runtime {
        msgs: tx.clone(),
        connection: None,
        generation: 0,
        cache: worker,
        cache_msgs: cache_tx,
        account,
        paths: options.paths.clone(),
        client_name: client_name(&options.profile),
        download_dir: options.config.download_dir.clone(),
    };

    let (mut terminal, guard) = terminal::enter(options.config.mouse)?;
    let size = terminal.size()?;
    model.size = (size.width, size.height);
    // Before the input thread: the terminal's answers must not be read as keys.
    let theme = model.settings.theme;
    let graphics = match options.config.images {
        // Blocks are made of colour: without it they would be meaningless marks.
        ImageMode::Blocks if theme == Theme::NoColor => None,
        mode => crate::graphics::detect(mode),
    };
    model.cell_pixels = graphics.as_ref().map(|g| g.cell);
    let (mut previews, mut made_rx) = match graphics {
        Some(graphics) => {
            let background = match theme {
                Theme::Light => [255, 255, 255],
                Theme::Dark | Theme::NoColor => [0, 0, 0],
            };
            let (previews, made_rx) = Previews::new(graphics, background);
            (Some(previews), made_rx)
        }
        // Never sent to: the loop's arm for it stays idle.
        None => (None, mpsc::unbounded_channel().1),
    };
    spawn_input(tx.clone());
    spawn_ticks(tx.clone());

    let effects = start(&mut model);
    runtime.perform(&mut model, effects, &mut terminal);
    draw(&mut terminal, &model, &mut previews)?;
    while !model.quit {
        let first = tokio::select! {
            Some(envelope) = rx.recv() => envelope,
            Some(msg) = cache_rx.recv() => (None, msg),
            Some(made) = made_rx.recv() => {
                match previews.as_mut().and_then(|p| p.made(made)) {
                    Some(msg) => (None, msg),
                    None => {
                        draw(&mut terminal, &model, &mut previews)?;
                        continue;
                    }
                }
            }
            else => break,
        };
        let mut effects = Vec::new();
        let mut batch = vec![first];
        // Everything already waiting is handled before the next redraw.
        while let Ok(next) = rx.try_recv() {
            batch.push(next);
            if batch.len() >= 512 {
                break;
            }
        }
        while let Ok(msg) = cache_rx.try_recv() {
            batch.push((None, msg));
        }
        for (generation, msg) in batch {
            if !runtime.accepts(generation) {
                continue;
            }
            if let Msg::Connected(welcome) = &msg {
                // Each account has its own cache: what came before goes to the old one.
                let username = welcome.user.username.clone();
                runtime.perform(&mut model, std::mem::take(&mut effects), &mut terminal);
                if let Some(loaded) = runtime.open_account(&model.server_url, &username) {
                    model.now = now_ms();
                    effects.extend(update(&mut model, loaded));
                }
            }
            let ends_connection =
                matches!(msg, Msg::ConnectFailed { .. } | Msg::Disconnected { .. });
            model.now = now_ms();
            effects.extend(update(&mut model, msg));
            if ends_connection {
                runtime.connection = None;
            }
        }
        runtime.perform(&mut model, effects, &mut terminal);
        if model.quit {
            break;
        }
        draw(&mut terminal, &model, &mut previews)?;
    }
    drop(guard);
    runtime.connection = None;
    runtime.cache.finish();
    Ok(())
}

/// Draw the model, and the pictures ready for its previews; start making the others.
fn draw(
    terminal: &mut terminal::Term,
    model: &Model,
    previews: &mut Option<Previews>,
) -> std::io::Result<()> {
    terminal.draw(|f| {
        let places = view(model, f);
        if let Some(previews) = previews.as_mut() {
            previews.draw(&places, f);
        }
    })?;
    if let Some(previews) = previews.as_mut() {
        previews.make_wanted(model);
    }
    Ok(())
}

impl Runtime {
    /// Switch the cache worker to the cache of (`server`, `username`), after finishing every
    /// write queued for the previous one; what that cache holds comes back as the message
    /// that installs it. None when it is the account already open.
    fn open_account(&mut self, server: &str, username: &str) -> Option<Msg> {
        let key = (server.to_string(), username.to_string());
        if self.account.as_ref() == Some(&key) {
            return None;
        }
        self.cache.finish();
        let path = self.paths.cache_for(server, username);
        let opened = Cache::open(&path).and_then(|cache| Ok((cache.load()?, cache)));
        let (cached, cache) = match opened {
            Ok(opened) => opened,
            Err(e) => {
                // Never write into another account's file: this run keeps its state in memory.
                tracing::error!("cannot open the cache {}: {e}", path.display());
                let cache = Cache::in_memory().ok()?;
                (Default::default(), cache)
            }
        };
        self.cache = CacheWorker::spawn(cache, self.cache_msgs.clone());
        self.account = Some(key);
        Some(Msg::AccountLoaded(Box::new(cached)))
    }

    /// Messages from a connection other than the current one are stale.
    fn accepts(&self, generation: Option<u64>) -> bool {
        match generation {
            None => true,
            Some(g) => self.connection.as_ref().is_some_and(|c| c.generation == g),
        }
    }

    fn perform(&mut self, model: &mut Model, effects: Vec<Effect>, terminal: &mut terminal::Term) {
        let mut cache_ops = Vec::new();
        for effect in coalesce_receipts(effects) {
            match effect {
                Effect::Connect { url, auth } => {
                    self.generation += 1;
                    self.connection = Some(Connection::spawn(
                        self.generation,
                        url,
                        auth,
                        self.client_name.clone(),
                        self.msgs.clone(),
                    ));
                }
                Effect::Disconnect => self.connection = None,
                Effect::Request { tag, frame } => match &self.connection {
                    Some(connection) => connection.request(tag, frame),
                    None => {
                        let result = Err(RequestError {
                            code: None,
                            message: "not connected".into(),
                        });
                        let _ = self.msgs.send((None, Msg::Response { tag, result }));
                    }
                },
                Effect::SaveSession {
                    server,
                    username,
                    token,
                } => {
                    let session = Session {
                        server,
                        username,
                        token,
                    };
                    if let Err(e) = session::save(&self.paths.session, &session) {
                        tracing::error!("cannot save the login: {e}");
                    }
                }
                Effect::ForgetSession => {
                    if let Err(e) = session::forget(&self.paths.session) {
                        tracing::error!("cannot remove the saved login: {e}");
                    }
                    // Logged out: the next login, whoever it is, reads its cache afresh (what
                    // the logout kept of this one included).
                    self.account = None;
                }
                Effect::Cache(op) => cache_ops.push(op),
                Effect::LoadOlder { room_id, before } => {
                    // Writes queued so far go first, so the read sees them.
                    self.cache.write(std::mem::take(&mut cache_ops));
                    self.cache.load_older(room_id, before);
                }
                Effect::Notify { title, body } => notify(&model.settings, &title, &body),
                Effect::Redraw => {
                    // `Terminal::clear` asks the terminal for the cursor position, whose answer
                    // the input thread swallows; `resize` clears the screen and forgets what
                    // was drawn without asking, so the next draw repaints every cell.
                    match terminal.size() {
                        Ok(size) => {
                            if let Err(e) = terminal.resize(size.into()) {
                                tracing::warn!("cannot clear the screen: {e}");
                            }
                        }
                        Err(e) => tracing::warn!("cannot read the terminal size: {e}"),
                    }
                }
                Effect::Copy(text) => copy_to_clipboard(&text),
                Effect::Upload {
                    id,
                    path,
                    max_bytes,
                } => {
                    let job = files::Job::new(model, id, self.msgs.clone());
                    tokio::spawn(job.upload(path, max_bytes));
                }
                Effect::Download { id, file, open } => {
                    let job = files::Job::new(model, id, self.msgs.clone());
                    let folder = if open {
                        self.paths.dir.join("files")
                    } else {
                        self.download_dir.clone()
                    };
                    tokio::spawn(job.download(file, folder, open));
                }
                Effect::ListPaths { typed } => {
                    let candidates =
                        crate::paths::complete(&typed, crate::paths::home().as_deref());
                    let _ = self
                        .msgs
                        .send((None, Msg::PathCandidates { typed, candidates }));
                }
                Effect::Quit => model.quit = true,
            }
        }
        if !cache_ops.is_empty() {
            self.cache.write(merge_cache_ops(cache_ops));
        }
    }
}

/// OSC 52: the terminal puts the text on the system clipboard (tmux too, with
/// `set-clipboard on`), over SSH as well.
fn copy_to_clipboard(text: &str) {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    let mut out = std::io::stdout();
    let _ = out.write_all(format!("\x1b]52;c;{encoded}\x07").as_bytes());
    let _ = out.flush();
}

/// The bell and the desktop notification escape, as configured.
fn notify(settings: &Settings, title: &str, body: &str) {
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_control() && *c != ';')
            .take(200)
            .collect()
    };
    let mut out = std::io::stdout();
    if settings.bell {
        let _ = out.write_all(b"\x07");
    }
    let sequence = match settings.desktop {
        DesktopNotify::Off => None,
        DesktopNotify::Osc9 => Some(format!("\x1b]9;{}: {}\x07", clean(title), clean(body))),
        DesktopNotify::Osc777 => Some(format!(
            "\x1b]777;notify;{};{}\x07",
            clean(title),
            clean(body)
        )),
    };
    if let Some(sequence) = sequence {
        let _ = out.write_all(sequence.as_bytes());
    }
    let _ = out.flush();
}

/// One receipt per room per batch: a burst of messages moves the marks once, not per message.
fn coalesce_receipts(effects: Vec<Effect>) -> Vec<Effect> {
    let mut merged: HashMap<RoomId, SetReceipt> = HashMap::new();
    let mut out = Vec::with_capacity(effects.len());
    for effect in effects {
        match effect {
            Effect::Request {
                frame: ClientFrame::SetReceipt(r),
                ..
            } => {
                let entry = merged.entry(r.room_id).or_insert_with(|| r.clone());
                entry.delivered_seq = entry.delivered_seq.max(r.delivered_seq);
                entry.read_seq = entry.read_seq.max(r.read_seq);
            }
            other => out.push(other),
        }
    }
    let mut receipts: Vec<SetReceipt> = merged.into_values().collect();
    receipts.sort_by_key(|r| r.room_id);
    out.extend(receipts.into_iter().map(|r| Effect::Request {
        tag: crate::msg::Tag::Quiet,
        frame: ClientFrame::SetReceipt(r),
    }));
    out
}

/// Room summaries change with every event; only the last write of each room matters.
fn merge_cache_ops(ops: Vec<CacheOp>) -> Vec<CacheOp> {
    let last_room_write: HashMap<RoomId, usize> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| match op {
            CacheOp::Room { summary, .. } => Some((summary.id, i)),
            _ => None,
        })
        .collect();
    ops.into_iter()
        .enumerate()
        .filter(|(i, op)| match op {
            CacheOp::Room { summary, .. } => last_room_write.get(&summary.id) == Some(i),
            _ => true,
        })
        .map(|(_, op)| op)
        .collect()
}

/// Terminal input on a thread of its own: it blocks in `read`, using no CPU while idle.
fn spawn_input(tx: UnboundedSender<Envelope>) {
    std::thread::spawn(move || loop {
        let msg = match event::read() {
            Ok(Event::Key(key)) => Msg::Key(key),
            Ok(Event::Paste(text)) => files::pasted(text),
            Ok(Event::Mouse(mouse)) => Msg::Mouse(mouse),
            Ok(Event::Resize(w, h)) => Msg::Resize(w, h),
            Ok(_) => continue,
            Err(e) => {
                tracing::error!("terminal input failed: {e}");
                return;
            }
        };
        if tx.send((None, msg)).is_err() {
            return;
        }
    });
}

fn spawn_ticks(tx: UnboundedSender<Envelope>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if tx.send((None, Msg::Tick)).is_err() {
                return;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::update::tests::{summary, GENERAL};
    use chat_protocol::RoomKind;

    #[test]
    fn a_restart_reopens_the_room_i_was_in_with_its_draft() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = ProfilePaths::in_dir(dir.path().to_path_buf());
        let config = Config::default().resolve("default");
        let session = Session {
            server: config.server.clone(),
            username: "alice".into(),
            token: "t".into(),
        };
        session::save(&paths.session, &session).expect("save");
        let mut cache = Cache::open(&paths.cache_for(&config.server, "alice")).expect("cache");
        let mut quiet = summary(GENERAL, RoomKind::Channel, "general", 3);
        quiet.title = "quiet".into();
        let busy = summary(GENERAL + 1, RoomKind::Channel, "busy", 9);
        cache
            .apply(&[
                CacheOp::Room {
                    summary: quiet,
                    synced_to: 3,
                },
                CacheOp::Room {
                    summary: busy,
                    synced_to: 9,
                },
                CacheOp::Selected(GENERAL),
                CacheOp::Draft {
                    room_id: GENERAL,
                    text: "where was I".into(),
                },
            ])
            .expect("write");
        let options = Options {
            profile: "default".into(),
            paths,
            config,
        };
        let model = initial_model(&options, &cache).expect("model");
        assert_eq!(
            model.selected,
            Some(GENERAL),
            "not the most recently active room"
        );
        assert_eq!(model.input.text(), "where was I");
    }
}
