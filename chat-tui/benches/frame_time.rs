//! How long a frame takes in a room of 100,000 messages: at the bottom, and while paging up
//! through it. Prints figures; asserts nothing about time.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use chat_protocol::{EventContent, Role, RoomEvent, RoomKind, RoomSummary, UserRef};
use chat_tui::backoff::Rng;
use chat_tui::model::{Connection, Model, Room, Screen, Settings};
use chat_tui::msg::Msg;
use chat_tui::timeline::Timeline;
use chat_tui::update::update;
use chat_tui::view::view;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::Terminal;
use std::time::{Duration, Instant};

const MESSAGES: i64 = 100_000;

fn model() -> Model {
    let mut model = Model::new("ws://bench".into(), None, Settings::default(), Rng::new(1));
    model.size = (120, 40);
    model.screen = Screen::Chat;
    model.conn = Connection::Connected {
        since: 0,
        rtt_ms: Some(1),
        ping_sent: None,
    };
    let users: Vec<UserRef> = (1..=5)
        .map(|id| UserRef {
            id,
            username: format!("user{id}"),
        })
        .collect();
    model.me = Some(users[0].clone());
    let words = "lorem ipsum dolor sit amet 日本語 consectetur adipiscing elit 😀 sed do";
    let events: Vec<RoomEvent> = (1..=MESSAGES)
        .map(|seq| RoomEvent {
            room_id: 1,
            seq,
            ts: 1_700_000_000_000 + seq * 20_000,
            sender: users[(seq % 5) as usize].clone(),
            content: EventContent::Message(chat_protocol::ChatMessage {
                message_id: seq,
                client_id: format!("c{seq}"),
                // Lengths vary so that some messages wrap over several rows.
                text: words.repeat((seq % 7) as usize + 1),
                ..Default::default()
            }),
        })
        .collect();
    let summary = RoomSummary {
        id: 1,
        kind: RoomKind::Channel,
        title: "big".into(),
        topic: String::new(),
        role: Role::Member,
        member_count: 5,
        last_seq: MESSAGES,
        read_seq: MESSAGES,
        unread: 0,
        mentions: 0,
        archived: false,
        peer: None,
        settings: Default::default(),
    };
    model.rooms.insert(
        1,
        Room::new(summary, Timeline::from_cache(events, MESSAGES)),
    );
    model.selected = Some(1);
    model
}

fn stats(label: &str, mut times: Vec<Duration>) {
    times.sort();
    let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
    println!(
        "{label:<44} n={:<5} p50={:>8.3?} p99={:>8.3?} max={:>8.3?}",
        times.len(),
        pct(0.5),
        pct(0.99),
        times[times.len() - 1]
    );
}

fn main() {
    let started = Instant::now();
    let mut model = model();
    println!(
        "built a room of {MESSAGES} messages in {:.0?}",
        started.elapsed()
    );
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();

    let mut bottom = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        terminal
            .draw(|f| {
                view(&model, f);
            })
            .unwrap();
        bottom.push(t.elapsed());
    }
    stats("draw at the newest message", bottom);

    // Page up 2,000 times (about 70,000 rows), timing the key's update plus the redraw.
    let mut paging = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        update(&mut model, Msg::Key(KeyEvent::from(KeyCode::PageUp)));
        terminal
            .draw(|f| {
                view(&model, f);
            })
            .unwrap();
        paging.push(t.elapsed());
    }
    stats("PgUp + draw, paging through history", paging);
    let depth = match model.rooms[&1].scroll {
        chat_tui::model::Scroll::At { seq, .. } => MESSAGES - seq,
        chat_tui::model::Scroll::Bottom => 0,
    };
    println!("scrolled {depth} messages up from the newest");

    let mut wheel = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        update(&mut model, Msg::Key(KeyEvent::from(KeyCode::PageDown)));
        terminal
            .draw(|f| {
                view(&model, f);
            })
            .unwrap();
        wheel.push(t.elapsed());
    }
    stats("PgDn + draw, back down", wheel);
}
