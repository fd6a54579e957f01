//! Everything the client knows, in one value: `update` changes it, `view` draws it.

use crate::backoff::Rng;
use crate::editor::Editor;
use crate::outbox::Outbox;
use crate::timeline::Timeline;
use chat_protocol::{
    ChannelInfo, EventContent, Limits, MessageId, Millis, NotifyLevel, Role, RoomEvent, RoomId,
    RoomKind, RoomSummary, SearchHit, Seq, UserId, UserRef,
};
use std::collections::{BTreeMap, HashMap, HashSet};

/// How to alert the user to a direct message or a mention in a room that is not in view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DesktopNotify {
    /// Only the terminal bell (if enabled).
    #[default]
    Off,
    /// OSC 9 (iTerm2, Windows Terminal, WezTerm, kitty).
    Osc9,
    /// OSC 777 (rxvt-unicode, foot, Ghostty, VTE-based terminals).
    Osc777,
}

pub const DEFAULT_TIME_FORMAT: &str = "%H:%M";

#[derive(Debug, Clone)]
pub struct Settings {
    pub bell: bool,
    pub desktop: DesktopNotify,
    /// Room titles (or a direct room's peer) listed first in the sidebar, in this order.
    pub pinned: Vec<String>,
    pub theme: crate::view::theme::Theme,
    /// How message times are written (chrono's strftime), `%H:%M` by default.
    pub time_format: String,
    pub keys: crate::keymap::KeyMap,
}

impl Settings {
    /// Cells the widest time in `time_format` takes (a late December evening, a long month).
    pub fn time_width(&self) -> usize {
        let sample = chrono::NaiveDate::from_ymd_opt(2026, 12, 30)
            .and_then(|d| d.and_hms_opt(23, 59, 59))
            .map(|t| t.format(&self.time_format).to_string())
            .unwrap_or_default();
        crate::wrap::width(&sample)
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            bell: true,
            desktop: DesktopNotify::Off,
            pinned: Vec::new(),
            theme: crate::view::theme::Theme::Dark,
            time_format: DEFAULT_TIME_FORMAT.into(),
            keys: crate::keymap::KeyMap::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Login,
    Chat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginField {
    Server,
    Username,
    Password,
}

#[derive(Debug, Clone)]
pub struct LoginForm {
    pub server: String,
    pub username: String,
    pub password: String,
    pub focus: LoginField,
    /// Create the account instead of logging in.
    pub register: bool,
    pub error: Option<String>,
}

/// The connection state machine. The status bar always shows which state it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// Not trying: nobody is logged in.
    Offline,
    Connecting {
        attempt: u32,
    },
    Connected {
        since: Millis,
        rtt_ms: Option<u32>,
        /// When the unanswered ping went out.
        ping_sent: Option<Millis>,
    },
    /// Lost or failed; the next attempt starts at `retry_at`.
    Waiting {
        attempt: u32,
        retry_at: Millis,
        reason: String,
    },
}

/// Where the message pane is scrolled to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scroll {
    /// Following the newest message.
    #[default]
    Bottom,
    /// The event with `seq` is at the bottom edge, with `rows_below` of its rows hidden under it.
    At { seq: Seq, rows_below: usize },
}

#[derive(Debug, Clone)]
pub struct Room {
    pub summary: RoomSummary,
    pub timeline: Timeline,
    /// Delivered and read seq of each member, for the marks on my own messages.
    pub receipts: HashMap<UserId, (Seq, Seq)>,
    /// Member names, for @completion; filled when the room is first opened.
    pub members: Vec<UserRef>,
    /// Members' roles, from the same answer.
    pub roles: HashMap<UserId, Role>,
    pub members_loaded: bool,
    /// Who is typing, and until when we believe it without hearing again.
    pub typing: Vec<(UserRef, Millis)>,
    /// A message mentioning me arrived since I last looked.
    pub mention: bool,
    pub scroll: Scroll,
    /// Messages that arrived while scrolled up.
    pub unseen_below: u32,
    /// The "new messages" line goes above this seq (the first unread when the room was opened).
    pub marker: Option<Seq>,
    /// Opened with unread messages older than what is loaded: older pages are being fetched
    /// to find the first unread, and nothing is marked read until it is found.
    pub finding_first_unread: bool,
    pub loading_older: bool,
    pub fetching_after: bool,
    pub read_sent: Seq,
    pub delivered_sent: Seq,
    /// My reactions, as (message, emoji): reaction counts name only the first few users.
    pub my_reactions: HashSet<(MessageId, String)>,
    /// Opening at this message (from /mentions): older pages are fetched until it is loaded.
    pub jump_to: Option<Seq>,
}

impl Room {
    pub fn new(summary: RoomSummary, timeline: Timeline) -> Room {
        Room {
            read_sent: summary.read_seq,
            delivered_sent: 0,
            summary,
            timeline,
            receipts: HashMap::new(),
            members: Vec::new(),
            roles: HashMap::new(),
            members_loaded: false,
            typing: Vec::new(),
            mention: false,
            scroll: Scroll::Bottom,
            unseen_below: 0,
            marker: None,
            finding_first_unread: false,
            loading_older: false,
            fetching_after: false,
            my_reactions: HashSet::new(),
            jump_to: None,
        }
    }

    /// Muted (`/notify none`): dimmed, never rings.
    pub fn muted(&self) -> bool {
        self.summary.settings.notify == NotifyLevel::None
    }

    /// The message with `message_id`, if it is loaded.
    pub fn message(&self, message_id: MessageId) -> Option<&RoomEvent> {
        self.timeline
            .events()
            .iter()
            .rev()
            .find(|e| matches!(&e.content, EventContent::Message(m) if m.message_id == message_id))
    }

    pub fn id(&self) -> RoomId {
        self.summary.id
    }

    /// How the room is named in the sidebar and header.
    pub fn display_name(&self) -> String {
        match self.summary.kind {
            RoomKind::Direct => self
                .summary
                .peer
                .as_ref()
                .map_or_else(|| self.summary.title.clone(), |p| p.username.clone()),
            RoomKind::Channel | RoomKind::Announcement => format!("#{}", self.summary.title),
            RoomKind::Group => self.summary.title.clone(),
        }
    }

    /// The name as drawn: sanitised for the terminal (see [`crate::wrap::sanitize`]).
    pub fn shown_name(&self) -> String {
        crate::wrap::sanitize(&self.display_name())
    }

    /// Whether every event after what I have read is loaded (so what is on screen can be
    /// marked read without skipping messages never shown).
    pub fn unread_loaded(&self) -> bool {
        self.timeline.reached_start()
            || self
                .timeline
                .first_seq()
                .is_some_and(|first| first <= self.summary.read_seq + 1)
    }

    /// Server time of the newest event we hold, for ordering the sidebar.
    pub fn last_activity(&self) -> Millis {
        self.timeline.events().last().map_or(0, |e| e.ts)
    }
}

/// A list overlay with a filter typed into it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Picker {
    pub query: String,
    pub selected: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    Help,
    /// Ctrl-K: jump to a room by typing part of its name.
    Switcher(Picker),
    /// /channels: the public directory (`None` while loading).
    Channels {
        picker: Picker,
        channels: Option<Vec<ChannelInfo>>,
    },
    /// /unsent: messages the server refused or whose room went away, the selected one first.
    Unsent {
        selected: usize,
    },
    /// /names, /members: the members of a room.
    Members {
        room_id: RoomId,
    },
    /// Reacting to a message: the usual emoji, or any short text typed in.
    React {
        room_id: RoomId,
        message_id: MessageId,
        picker: Picker,
    },
    /// "Delete this message?", answered with y or n.
    ConfirmDelete {
        room_id: RoomId,
        message_id: MessageId,
    },
    /// A message and its replies (`None` while loading); r replies to it.
    Thread {
        room_id: RoomId,
        parent: MessageId,
        loaded: Option<Box<(RoomEvent, Vec<RoomEvent>)>>,
    },
    /// Who of the members has read a message, and who not yet.
    ReadBy {
        room_id: RoomId,
        seq: Seq,
    },
    /// /mentions: messages that mention me, newest first (`None` while loading).
    Mentions {
        selected: usize,
        events: Option<Vec<RoomEvent>>,
    },
    /// Pasted paths of existing files (files dropped on the terminal, one drop or several):
    /// upload them (Enter), or paste the text (Esc).
    ConfirmUpload {
        files: Vec<PastedFile>,
        /// Everything pasted while it asks, put in the input if the upload is declined.
        text: String,
        /// What else was pasted while it asks (text, not files): put in the input whatever
        /// the answer.
        also: String,
    },
    /// The files of a message with more than one: open or save each.
    Files {
        files: Vec<chat_protocol::Attachment>,
        selected: usize,
    },
    /// /search or Ctrl-F: the query being typed, then its hits (`None` while typing or
    /// loading).
    Search {
        picker: Picker,
        hits: Option<Vec<SearchHit>>,
        /// The query the hits are for (the picker's may have changed since).
        searched: String,
    },
}

/// The usual reactions, offered first by the picker (1 to 8 pick one).
pub const QUICK_REACTIONS: &[&str] = &["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀"];

/// What the input is writing, when it is not a new message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compose {
    /// A reply to a message (its sender and first line, for the line above the input).
    Reply {
        room_id: RoomId,
        message_id: MessageId,
        sender: String,
        excerpt: String,
    },
    /// A new text for a message of mine: stored, or still in the outbox.
    Edit { room_id: RoomId, target: EditTarget },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditTarget {
    Sent(MessageId),
    /// Not sent yet: the queued copy is changed instead.
    Queued(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    pub error: bool,
    pub at: Millis,
}

/// Tab completion in progress: pressing Tab again cycles through `candidates`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub start: usize,
    pub candidates: Vec<String>,
    pub index: usize,
}

#[derive(Debug, Clone)]
pub struct Model {
    /// Wall-clock time in ms, stamped by the runtime before each update.
    pub now: Millis,
    /// Local time zone offset for timestamps and day separators.
    pub utc_offset_secs: i32,
    pub settings: Settings,
    pub server_url: String,
    pub screen: Screen,
    pub login: LoginForm,
    pub me: Option<UserRef>,
    pub token: Option<String>,
    pub conn: Connection,
    pub rooms: BTreeMap<RoomId, Room>,
    pub selected: Option<RoomId>,
    pub online: HashMap<UserId, bool>,
    /// When offline contacts were last online (from the welcome and presence frames).
    pub last_seen: HashMap<UserId, Millis>,
    /// Contacts (and I) away, with their messages.
    pub away: HashMap<UserId, String>,
    pub input: Editor,
    pub completion: Option<Completion>,
    pub outbox: Outbox,
    pub overlay: Option<Overlay>,
    /// Rows the help overlay is scrolled down by.
    pub help_scroll: u16,
    pub notice: Option<Notice>,
    pub rng: Rng,
    pub quit: bool,
    /// Terminal size in cells (columns, rows).
    pub size: (u16, u16),
    /// The room I last told the server I am typing in, and when.
    pub typing_sent: Option<(RoomId, Millis)>,
    /// The server's limits, from its welcome (checked before sending, for a clear message).
    pub limits: Limits,
    /// After a "slow down" answer, the outbox waits until then.
    pub outbox_retry_at: Millis,
    /// /logout was typed once while messages were still queued.
    pub confirm_logout: bool,
    /// /logout asked the server to revoke the token; the connection's end is expected.
    pub logging_out: bool,
    /// Unsent text of the rooms not in view (the one in view is in `input`).
    pub drafts: HashMap<RoomId, String>,
    /// The draft last written to the cache for the room in view.
    pub draft_saved: String,
    /// Message selection mode: the seq of the selected message in the room in view.
    pub selection: Option<Seq>,
    /// A reply or an edit being written in the input.
    pub compose: Option<Compose>,
    /// The last search, offered again when the search opens.
    pub last_search: String,
    /// Files going up or down, oldest first.
    pub transfers: Vec<Transfer>,
    /// The id of the next transfer.
    pub next_transfer: u64,
    /// Files saved while others of the same `s` are still coming.
    pub saved: Vec<std::path::PathBuf>,
    /// The home folder, to write saved paths as `~/…`.
    pub home: Option<std::path::PathBuf>,
    /// A terminal cell in pixels when images are previewed (the terminal draws pictures, or
    /// coloured blocks were asked for); none shows files by name only.
    pub cell_pixels: Option<crate::preview::CellPixels>,
    /// Images whose preview could not be made (not an image after all, cut off, refused):
    /// shown by name only, so they take no rows.
    pub no_preview: HashSet<chat_protocol::FileId>,
}

/// A file going up to the server or down from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: u64,
    pub name: String,
    /// The file downloaded (none for an upload).
    pub file_id: Option<chat_protocol::FileId>,
    pub kind: TransferKind,
    /// Bytes moved so far, of `total` (0 until the size is known).
    pub done: u64,
    pub total: u64,
    /// An upload waiting for its turn, with the path to read then: the server takes a few at
    /// once from each user ([`UPLOADS_AT_ONCE`]).
    pub waiting: Option<String>,
    /// An upload that is up, its message held until the uploads asked for before it in its
    /// room are sent: messages go in the order the files were given, not the order they
    /// finish.
    pub up: Option<chat_protocol::Attachment>,
}

impl Transfer {
    /// An upload holding one of the server's slots.
    pub fn is_uploading(&self) -> bool {
        matches!(self.kind, TransferKind::Upload { .. })
            && self.waiting.is_none()
            && self.up.is_none()
    }
}

/// Uploads that go at once; more wait their turn. The server refuses a fifth at once from one
/// user (PROTOCOL.md, "Files").
pub const UPLOADS_AT_ONCE: usize = 4;

/// A file a paste names (a file dropped on the terminal), and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastedFile {
    pub path: std::path::PathBuf,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferKind {
    /// Sent as a message in the room once it is up.
    Upload { room_id: RoomId },
    /// Saved to the download folder.
    Save,
    /// Opened with the desktop's program once it is down.
    Open,
}

impl Model {
    pub fn new(
        server_url: String,
        username: Option<String>,
        settings: Settings,
        rng: Rng,
    ) -> Model {
        Model {
            now: 0,
            utc_offset_secs: 0,
            settings,
            login: LoginForm {
                server: server_url.clone(),
                focus: if username.is_some() {
                    LoginField::Password
                } else {
                    LoginField::Username
                },
                username: username.unwrap_or_default(),
                password: String::new(),
                register: false,
                error: None,
            },
            server_url,
            screen: Screen::Login,
            me: None,
            token: None,
            conn: Connection::Offline,
            rooms: BTreeMap::new(),
            selected: None,
            online: HashMap::new(),
            last_seen: HashMap::new(),
            away: HashMap::new(),
            input: Editor::default(),
            completion: None,
            outbox: Outbox::default(),
            overlay: None,
            help_scroll: 0,
            notice: None,
            rng,
            quit: false,
            size: (80, 24),
            typing_sent: None,
            limits: Limits::default(),
            outbox_retry_at: 0,
            confirm_logout: false,
            logging_out: false,
            drafts: HashMap::new(),
            draft_saved: String::new(),
            selection: None,
            compose: None,
            last_search: String::new(),
            transfers: Vec::new(),
            next_transfer: 1,
            saved: Vec::new(),
            cell_pixels: None,
            no_preview: Default::default(),
            home: None,
        }
    }

    pub fn selected_room(&self) -> Option<&Room> {
        self.selected.and_then(|id| self.rooms.get(&id))
    }

    /// Sidebar order: rooms pinned on the server first (by position), then those pinned in
    /// the config file (in its order), then the most recently active, then by name. Rooms
    /// archived for me (`/archive`) are left out, unless open.
    pub fn room_order(&self) -> Vec<RoomId> {
        let pin_rank = |room: &Room| {
            let name = room.display_name();
            let bare = name.trim_start_matches('#');
            self.settings
                .pinned
                .iter()
                .position(|p| p.trim_start_matches('#').eq_ignore_ascii_case(bare))
        };
        let mut rooms: Vec<&Room> = self
            .rooms
            .values()
            .filter(|r| !r.summary.settings.hidden || self.selected == Some(r.id()))
            .collect();
        rooms.sort_by_cached_key(|r| {
            (
                r.summary.settings.pinned.unwrap_or(u32::MAX),
                pin_rank(r).unwrap_or(usize::MAX),
                std::cmp::Reverse(r.last_activity()),
                r.display_name().to_lowercase(),
            )
        });
        rooms.into_iter().map(Room::id).collect()
    }

    /// Whether the other person of a direct room is online (false for other rooms).
    pub fn peer_online(&self, room: &Room) -> bool {
        room.summary
            .peer
            .as_ref()
            .and_then(|p| self.online.get(&p.id))
            .copied()
            .unwrap_or(false)
    }

    /// The away message of the other person of a direct room, if they are online and away.
    pub fn peer_away(&self, room: &Room) -> Option<&str> {
        let peer = room.summary.peer.as_ref()?;
        self.peer_online(room)
            .then(|| self.away.get(&peer.id).map(String::as_str))
            .flatten()
    }

    /// Take in what a presence frame or the welcome says of someone.
    pub fn note_presence(&mut self, p: &chat_protocol::PresenceInfo) {
        self.online.insert(p.user.id, p.online);
        if let Some(at) = p.last_seen {
            self.last_seen.insert(p.user.id, at);
        }
        match (&p.away, p.online) {
            (Some(message), true) => self.away.insert(p.user.id, message.clone()),
            _ => self.away.remove(&p.user.id),
        };
    }

    pub fn is_me(&self, user: &UserRef) -> bool {
        self.me.as_ref().is_some_and(|me| me.id == user.id)
    }

    /// Whether a room's newest messages are on screen right now.
    pub fn is_watching(&self, room_id: RoomId) -> bool {
        self.screen == Screen::Chat
            && self.overlay.is_none()
            && self.selected == Some(room_id)
            && self
                .rooms
                .get(&room_id)
                .is_some_and(|r| r.scroll == Scroll::Bottom)
    }

    /// Whether `text` mentions me as `@username` (case-insensitive, whole name, starting a
    /// word), read exactly as the server reads mentions.
    pub fn mentions_me(&self, text: &str) -> bool {
        let Some(me) = &self.me else { return false };
        chat_protocol::text::mention_spans(text)
            .iter()
            .any(|span| span.name.eq_ignore_ascii_case(&me.username))
    }
}

/// The outcome of my own message, shown next to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Pending,
    Failed(String),
    Sent,
    /// The other person's device has it; in a group, someone's device does (one member who
    /// never comes back must not hold every message at "sent").
    Delivered,
    /// Some of the other members of a group have read it.
    ReadBy(usize),
    /// Every other member has read it.
    Read,
}

/// The delivery mark of my message `seq` in `room`, from the other members' receipts.
pub fn delivery(room: &Room, me: UserId, seq: Seq) -> Delivery {
    let others: Vec<&(Seq, Seq)> = room
        .receipts
        .iter()
        .filter(|(id, _)| **id != me)
        .map(|(_, r)| r)
        .collect();
    let read = others.iter().filter(|(_, read)| *read >= seq).count();
    let delivered = others
        .iter()
        .filter(|(delivered, _)| *delivered >= seq)
        .count();
    if others.is_empty() {
        Delivery::Sent
    } else if read == others.len() {
        Delivery::Read
    } else if read > 0 {
        Delivery::ReadBy(read)
    } else if delivered == others.len() || (delivered > 0 && room.summary.kind != RoomKind::Direct)
    {
        Delivery::Delivered
    } else {
        Delivery::Sent
    }
}

/// "alice is typing…", "alice and bob are typing…", "several people are typing…".
pub fn typing_text(names: &[&str]) -> Option<String> {
    match names {
        [] => None,
        [one] => Some(format!("{one} is typing…")),
        [a, b] => Some(format!("{a} and {b} are typing…")),
        _ => Some("several people are typing…".into()),
    }
}

/// A room event's text for previews and notifications.
pub fn message_text(event: &RoomEvent) -> Option<&str> {
    match &event.content {
        EventContent::Message(chat_protocol::ChatMessage { text, .. }) => Some(text),
        _ => None,
    }
}
