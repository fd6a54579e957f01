//! Slash commands: what the user can type, parsed into what the client should do.

use chat_protocol::{NotifyLevel, RoomKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Join a public channel by title (with or without `#`) or by id.
    Join(String),
    Create {
        kind: RoomKind,
        title: String,
        members: Vec<String>,
    },
    Dm(String),
    Leave,
    Invite(String),
    Kick(String),
    Topic(String),
    Rename(String),
    Channels,
    Reconnect,
    Unsent,
    /// The members of the room in view: presence, role, who has read my last message.
    Names,
    /// What is known of someone: presence, last seen, rooms in common.
    Whois(String),
    /// Away with a message, or back (none).
    Away(Option<String>),
    /// Messages that mention me, across rooms.
    Mentions,
    /// How much of the room in view reaches me (`/mute` is `none`, `/unmute` is `all`).
    Notify(NotifyLevel),
    /// Pin the room in view to the top of the list (true) or unpin it.
    Pin(bool),
    /// Archive the room in view for me alone (true), or bring it back.
    Archive(bool),
    /// An action: `/me waves` is drawn as `* alice waves`.
    Me(String),
    /// Search messages (no query: the search box, with the last query).
    Search(String),
    /// Send a file: its path as typed (`~` is home).
    Upload(String),
    Logout,
    Help,
    Quit,
}

/// Every command with its usage and a one-line description, for /help and completion.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "join",
        "/join #channel",
        "join a public channel (see /channels)",
    ),
    (
        "create",
        "/create KIND TITLE [@user…]",
        "create a channel, group or announcement room",
    ),
    ("dm", "/dm USER", "open a direct conversation"),
    ("leave", "/leave", "leave the current room"),
    ("invite", "/invite USER", "add someone to the current room"),
    ("kick", "/kick USER", "remove someone from the current room"),
    ("topic", "/topic TEXT", "set the current room's topic"),
    ("rename", "/rename TITLE", "rename the current room"),
    (
        "channels",
        "/channels",
        "browse the public channel directory",
    ),
    (
        "names",
        "/names, /members",
        "who is in this room: online, role, who read your last message",
    ),
    (
        "whois",
        "/whois USER",
        "someone's presence, last seen and rooms in common",
    ),
    (
        "away",
        "/away [MESSAGE]",
        "tell contacts you are away (no message: back)",
    ),
    (
        "mentions",
        "/mentions",
        "messages that mention you; Enter jumps to one",
    ),
    ("me", "/me ACTION", "send an action, drawn as * you ACTION"),
    (
        "upload",
        "/upload PATH",
        "send a file (Tab completes the path; dropping or pasting files offers them too)",
    ),
    (
        "search",
        "/search [QUERY]",
        "search messages: \"phrases\", pre*, -not, in:#room, from:user, before:/after:DATE",
    ),
    (
        "mute",
        "/mute",
        "mute this room: dimmed, no alerts but direct @you",
    ),
    ("unmute", "/unmute", "hear from this room again"),
    (
        "notify",
        "/notify all|mentions|none",
        "what of this room alerts you (on all your devices)",
    ),
    (
        "pin",
        "/pin",
        "keep this room at the top (on all your devices)",
    ),
    ("unpin", "/unpin", "unpin this room"),
    (
        "archive",
        "/archive",
        "hide this room for you alone until someone writes in it",
    ),
    (
        "unarchive",
        "/unarchive",
        "list a room you archived again (Ctrl-K finds it)",
    ),
    ("reconnect", "/reconnect", "connect again now"),
    (
        "unsent",
        "/unsent",
        "messages not sent: copy one to the input, retry or discard it",
    ),
    ("logout", "/logout", "end this login here and on the server"),
    ("help", "/help", "show keys and commands"),
    ("quit", "/quit", "leave chat-tui (queued messages are kept)"),
];

/// Parse `/name args`. The error is a message for the user.
pub fn parse(input: &str) -> Result<Command, String> {
    let input = input.trim();
    let body = input.strip_prefix('/').ok_or("commands start with /")?;
    let (name, rest) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
    let rest = rest.trim();
    let usage = |name: &str| {
        COMMANDS
            .iter()
            .find(|c| c.0 == name)
            .map_or(String::new(), |c| format!("usage: {}", c.1))
    };
    let one_name = |name: &str| -> Result<String, String> {
        let arg = rest.trim_start_matches('@');
        if arg.is_empty() || arg.contains(char::is_whitespace) {
            Err(usage(name))
        } else {
            Ok(arg.to_string())
        }
    };
    let text = |name: &str| -> Result<String, String> {
        if rest.is_empty() {
            Err(usage(name))
        } else {
            Ok(rest.to_string())
        }
    };
    let no_args = |name: &str, cmd: Command| -> Result<Command, String> {
        if rest.is_empty() {
            Ok(cmd)
        } else {
            Err(format!("/{name} takes no arguments"))
        }
    };
    match name.to_ascii_lowercase().as_str() {
        "join" => {
            let arg = rest.trim_start_matches('#');
            if arg.is_empty() {
                Err(usage("join"))
            } else {
                Ok(Command::Join(arg.to_string()))
            }
        }
        "create" => parse_create(rest).ok_or_else(|| usage("create")),
        "dm" | "msg" | "query" => one_name("dm").map(Command::Dm),
        "leave" | "part" => no_args("leave", Command::Leave),
        "invite" => one_name("invite").map(Command::Invite),
        "kick" => one_name("kick").map(Command::Kick),
        "topic" => text("topic").map(Command::Topic),
        "rename" => text("rename").map(Command::Rename),
        "channels" | "list" => no_args("channels", Command::Channels),
        "reconnect" => no_args("reconnect", Command::Reconnect),
        "logout" => no_args("logout", Command::Logout),
        "unsent" => no_args("unsent", Command::Unsent),
        "names" | "who" | "members" => no_args("names", Command::Names),
        "mentions" => no_args("mentions", Command::Mentions),
        "search" | "find" => Ok(Command::Search(rest.to_string())),
        "me" => text("me").map(Command::Me),
        "upload" | "attach" | "file" => text("upload").map(Command::Upload),
        "mute" => no_args("mute", Command::Notify(NotifyLevel::None)),
        "unmute" => no_args("unmute", Command::Notify(NotifyLevel::All)),
        "notify" => NotifyLevel::parse(&rest.to_ascii_lowercase())
            .map(Command::Notify)
            .ok_or_else(|| usage("notify")),
        "pin" => no_args("pin", Command::Pin(true)),
        "unpin" => no_args("unpin", Command::Pin(false)),
        "archive" => no_args("archive", Command::Archive(true)),
        "unarchive" => no_args("unarchive", Command::Archive(false)),
        "whois" => one_name("whois").map(Command::Whois),
        "away" => Ok(Command::Away((!rest.is_empty()).then(|| rest.to_string()))),
        "back" => no_args("away", Command::Away(None)),
        "help" => Ok(Command::Help),
        "quit" | "exit" => Ok(Command::Quit),
        "" => Err("type a command after /, or /help".into()),
        other => Err(format!("unknown command /{other}; /help lists them")),
    }
}

fn parse_create(rest: &str) -> Option<Command> {
    let mut words = rest.split_whitespace();
    let kind = match RoomKind::parse(&words.next()?.to_ascii_lowercase())? {
        RoomKind::Direct => return None,
        kind => kind,
    };
    let mut title = Vec::new();
    let mut members = Vec::new();
    for word in words {
        match word.strip_prefix('@') {
            Some(name) if !name.is_empty() => members.push(name.to_string()),
            _ => title.push(word),
        }
    }
    if title.is_empty() {
        return None;
    }
    Some(Command::Create {
        kind,
        title: title.join(" ").trim_start_matches('#').to_string(),
        members,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_their_arguments() {
        assert_eq!(parse("/join #general"), Ok(Command::Join("general".into())));
        assert_eq!(parse("/dm @bob"), Ok(Command::Dm("bob".into())));
        assert_eq!(
            parse("/create group Team Rocket @alice @bob"),
            Ok(Command::Create {
                kind: RoomKind::Group,
                title: "Team Rocket".into(),
                members: vec!["alice".into(), "bob".into()],
            })
        );
        assert_eq!(
            parse("/topic  ship it  "),
            Ok(Command::Topic("ship it".into()))
        );
        assert_eq!(parse("/QUIT"), Ok(Command::Quit));
        assert_eq!(parse("/me waves 👋"), Ok(Command::Me("waves 👋".into())));
        assert_eq!(parse("/mute"), Ok(Command::Notify(NotifyLevel::None)));
        assert_eq!(
            parse("/notify Mentions"),
            Ok(Command::Notify(NotifyLevel::Mentions))
        );
        assert_eq!(parse("/unpin"), Ok(Command::Pin(false)));
        assert_eq!(parse("/archive"), Ok(Command::Archive(true)));
        assert_eq!(parse("/members"), Ok(Command::Names));
        assert_eq!(
            parse("/upload ~/My Files/report 2.pdf"),
            Ok(Command::Upload("~/My Files/report 2.pdf".into()))
        );
        assert!(parse("/upload").unwrap_err().starts_with("usage: /upload"));
    }

    #[test]
    fn bad_input_gets_a_message_not_a_crash() {
        assert_eq!(
            parse("/frobnicate"),
            Err("unknown command /frobnicate; /help lists them".into())
        );
        assert!(parse("/dm").unwrap_err().starts_with("usage: /dm"));
        assert!(parse("/dm two names").is_err());
        assert!(parse("/create direct x").is_err());
        assert!(parse("/create channel").is_err());
        assert!(parse("/create @bob").is_err());
        assert_eq!(parse("/leave now"), Err("/leave takes no arguments".into()));
        assert!(parse("/").is_err());
        assert!(parse("/notify loud")
            .unwrap_err()
            .starts_with("usage: /notify"));
        assert!(parse("/me").unwrap_err().starts_with("usage: /me"));
    }
}
