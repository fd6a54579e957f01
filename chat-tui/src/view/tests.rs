//! The screen as a user sees it, drawn into ratatui's TestBackend. Times are UTC here
//! (`utc_offset_secs` is 0 in the fixture), so the expected rows are fixed.

use super::view;
use crate::model::{Connection, Scroll};
use crate::msg::Msg;
use crate::update::tests::{connected_model, message, user, DIRECT, GENERAL};
use crate::update::update;
use chat_protocol::{Receipt, ServerFrame, Typing};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;

/// The frame `view` draws for `model`, and the places it leaves for pictures.
pub(crate) fn draw(model: &crate::model::Model) -> (Buffer, Vec<super::PreviewPlace>) {
    let (w, h) = model.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    let mut places = Vec::new();
    terminal.draw(|f| places = view(model, f)).expect("draw");
    (terminal.backend().buffer().clone(), places)
}

/// A frame's rows as text, each wide character once.
pub(crate) fn rows_of(buffer: &Buffer) -> Vec<String> {
    let area = buffer.area;
    (0..area.height)
        .map(|y| {
            let mut row = String::new();
            let mut skip = 0;
            for x in 0..area.width {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                let symbol = buffer[(x, y)].symbol();
                skip = crate::wrap::width(symbol).saturating_sub(1);
                row.push_str(symbol);
            }
            row.trim_end().to_string()
        })
        .collect()
}

pub(crate) fn render(model: &crate::model::Model) -> Vec<String> {
    rows_of(&draw(model).0)
}

/// Type `text` into the input and press Enter.
fn enter(model: &mut crate::model::Model, text: &str) -> Vec<crate::msg::Effect> {
    crate::update::tests::type_text(model, text);
    update(
        model,
        Msg::Key(ratatui::crossterm::event::KeyEvent::from(
            ratatui::crossterm::event::KeyCode::Enter,
        )),
    )
}

fn find<'a>(rows: &'a [String], text: &str) -> &'a str {
    rows.iter()
        .find(|r| r.contains(text))
        .unwrap_or_else(|| panic!("no row with {text:?}:\n{}", rows.join("\n")))
}

#[test]
fn the_chat_screen_shows_rooms_messages_and_state() {
    let mut model = connected_model();
    model.conn = Connection::Connected {
        since: model.now,
        rtt_ms: Some(12),
        ping_sent: None,
    };
    update(
        &mut model,
        Msg::Server(ServerFrame::Event(message(
            DIRECT,
            1,
            &user(2, "bob"),
            "psst",
        ))),
    );
    update(
        &mut model,
        Msg::Server(ServerFrame::Receipt(Receipt {
            room_id: GENERAL,
            user_id: 2,
            delivered_seq: 3,
            read_seq: 3,
        })),
    );
    update(
        &mut model,
        Msg::Server(ServerFrame::Typing(Typing {
            room_id: GENERAL,
            user: user(2, "bob"),
            typing: true,
        })),
    );
    let rows = render(&model);
    // Sidebar: the open room, and the direct room with bob online and one unread.
    assert!(
        rows[0].starts_with(" Conversations            │ #general"),
        "{}",
        rows[0]
    );
    assert!(rows[1].starts_with("   #general"), "{}", rows[1]);
    assert!(rows[2].starts_with(" ● bob"), "{}", rows[2]);
    assert!(
        rows[2][..27].trim_end().ends_with("1 │") || rows[2].contains(" 1 "),
        "{}",
        rows[2]
    );
    // Header and messages: a day separator, then time, name, text; mine marked read.
    assert!(rows[0].contains("#general · 2 members"), "{}", rows[0]);
    assert!(find(&rows, "Tuesday, 14 November 2023").contains("───"));
    assert!(find(&rows, "hi").contains("22:13          bob  hi"));
    assert!(find(&rows, "hello bob").contains("22:13        alice  hello bob ✓✓ read"));
    assert!(find(&rows, "bob is typing…").contains("│ bob is typing…"));
    assert!(find(&rows, "● connected · 12 ms").contains("alice @ ws://127.0.0.1:7800"));
}

#[test]
fn consecutive_messages_are_grouped_and_long_ones_wrap_by_cell_width() {
    let mut model = connected_model();
    model.size = (70, 20);
    let bob = user(2, "bob");
    let long =
        "日本語のテキストはとても長いので折り返されます、そして絵文字も😀😀😀😀 入っています";
    update(
        &mut model,
        Msg::Server(ServerFrame::Event(message(GENERAL, 4, &bob, long))),
    );
    let rows = render(&model);
    let start = rows
        .iter()
        .position(|r| r.contains("日本語"))
        .expect("message shown");
    // The name is not repeated for bob's second message in a row; continuation rows are
    // indented to the text column and no row is wider than the pane.
    assert!(!rows[start].contains("bob"), "{}", rows[start]);
    let text_column = rows[start].find('日').unwrap();
    assert!(rows[start + 1].len() > text_column);
    for row in &rows {
        assert!(crate::wrap::width(row) <= 70, "{row}");
    }
}

#[test]
fn reconnecting_and_the_queue_show_in_the_status_bar() {
    let mut model = connected_model();
    model.size = (120, 30);
    model.conn = Connection::Waiting {
        attempt: 1,
        retry_at: model.now + 2_500,
        reason: "connection refused".into(),
    };
    enter(&mut model, "later");
    let rows = render(&model);
    let status = rows.last().unwrap();
    assert!(
        status.contains(
            "○ offline · 1 queued · connection refused · reconnecting in 3 s · attempt 2"
        ),
        "{status}"
    );
    assert!(find(&rows, "later").contains("later ◷ sending"));
    assert!(find(&rows, "offline: messages wait here").contains('›'));

    // Narrow windows give up the address and the details before the state and the queue.
    for (width, expected) in [
        (60, " ○ offline · 1 queued · connection refused"),
        (40, " ○ offline · 1 queued   alice · F1 help"),
        (30, " ○ offline · 1 queued"),
    ] {
        model.size = (width, 12);
        let rows = render(&model);
        let status = rows.last().unwrap();
        assert!(status.starts_with(expected), "{width} columns: {status:?}");
    }
}

#[test]
fn a_ping_without_answer_makes_the_round_trip_unknown() {
    let mut model = connected_model();
    update(&mut model, Msg::Rtt(3));
    let status = render(&model).last().cloned().unwrap();
    assert!(status.contains("● connected · 3 ms"), "{status}");
    update(&mut model, Msg::PingSent);
    model.now += 1_000;
    let status = render(&model).last().cloned().unwrap();
    assert!(
        status.contains("● connected · 3 ms"),
        "a ping in flight: {status}"
    );
    model.now += 3_000;
    let status = render(&model).last().cloned().unwrap();
    assert!(
        status.contains("● connected · no answer for 4 s"),
        "{status}"
    );
    assert!(!status.contains("ms"), "{status}");
    update(&mut model, Msg::Rtt(7));
    let status = render(&model).last().cloned().unwrap();
    assert!(status.contains("● connected · 7 ms"), "{status}");
}

#[test]
fn scrolled_up_shows_how_much_is_below() {
    let mut model = connected_model();
    model.size = (80, 12);
    let bob = user(2, "bob");
    for seq in 4..40 {
        update(
            &mut model,
            Msg::Server(ServerFrame::Event(message(
                GENERAL,
                seq,
                &bob,
                &format!("m{seq}"),
            ))),
        );
    }
    update(
        &mut model,
        Msg::Key(ratatui::crossterm::event::KeyEvent::from(
            ratatui::crossterm::event::KeyCode::PageUp,
        )),
    );
    assert!(matches!(model.rooms[&GENERAL].scroll, Scroll::At { .. }));
    update(
        &mut model,
        Msg::Server(ServerFrame::Event(message(GENERAL, 40, &bob, "m40"))),
    );
    let rows = render(&model);
    assert!(find(&rows, "new below").contains("↓ 1 new below · Esc to jump"));
    assert!(!rows.iter().any(|r| r.contains("m40")));
}

#[test]
fn the_login_screen_masks_the_password_and_shows_errors() {
    let mut model = crate::model::Model::new(
        "ws://127.0.0.1:7800".into(),
        Some("alice".into()),
        Default::default(),
        crate::backoff::Rng::new(1),
    );
    model.size = (80, 24);
    crate::update::start(&mut model);
    for c in "hunter2".chars() {
        update(
            &mut model,
            Msg::Key(ratatui::crossterm::event::KeyEvent::from(
                ratatui::crossterm::event::KeyCode::Char(c),
            )),
        );
    }
    model.login.error = Some("cannot connect: connection refused".into());
    let rows = render(&model);
    assert!(find(&rows, "Username").contains("alice"));
    assert!(find(&rows, "Password").contains("•••••••"));
    assert!(!rows.iter().any(|r| r.contains("hunter2")));
    assert!(find(&rows, "cannot connect").contains("connection refused"));
    assert!(find(&rows, "Ctrl-R").contains("create an account"));

    // At 40 columns nothing is cut: the error wraps and the hints flow over rows.
    model.size = (40, 16);
    model.login.error = Some(
        "logged out on this device, but the server did not confirm: the login may stay valid until revoked (chat-server token revoke)".into(),
    );
    let rows = render(&model);
    let text: String = rows.join(" ");
    assert!(text.contains("Ctrl-R create an account"), "{rows:#?}");
    assert!(text.contains("F1 help"), "{rows:#?}");
    assert!(text.contains("(chat-server token"), "{rows:#?}");
}

#[test]
fn help_lists_every_command() {
    let mut model = connected_model();
    model.size = (110, 90);
    model.overlay = Some(crate::model::Overlay::Help);
    let rows = render(&model).join("\n");
    for (name, _, _) in crate::commands::COMMANDS {
        assert!(
            rows.contains(&format!("/{name}")),
            "/{name} missing from help"
        );
    }
    assert!(rows.contains("Ctrl-K"));
}

#[test]
fn every_help_description_is_read_whole_in_a_wide_window() {
    let mut model = connected_model();
    model.size = (120, 200);
    model.overlay = Some(crate::model::Overlay::Help);
    // Each row without its border and key column, joined: the descriptions' own words.
    let text: String = render(&model)
        .iter()
        .filter_map(|r| r.split('│').nth(1))
        .map(|r| r.get(36..).unwrap_or_default().trim().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let descriptions = crate::commands::COMMANDS
        .iter()
        .map(|(_, _, what)| *what)
        .chain(crate::view::overlay::KEYS.iter().map(|(_, what)| *what))
        .chain(crate::view::SELECTION_KEYS.iter().map(|(_, what)| *what));
    for what in descriptions {
        let words = what.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(text.contains(&words), "cut: {what:?}");
    }
}

#[test]
fn read_marks_show_once_per_run_and_count_readers_in_groups() {
    let mut model = connected_model();
    let alice = user(1, "alice");
    for (seq, text) in [(4, "one"), (5, "two"), (6, "three")] {
        update(
            &mut model,
            Msg::Server(ServerFrame::Event(message(GENERAL, seq, &alice, text))),
        );
    }
    // #general has bob, carol and dave besides alice; dave never comes back.
    let room = model.rooms.get_mut(&GENERAL).unwrap();
    room.receipts.insert(2, (6, 6));
    room.receipts.insert(3, (6, 5));
    room.receipts.insert(4, (0, 0));
    let rows = render(&model);
    for quiet in ["one", "two"] {
        let row = find(&rows, &format!("  {quiet}"));
        assert!(!row.contains('✓'), "one mark per run, on its last: {row}");
    }
    assert!(
        find(&rows, "three").ends_with("three ✓✓ read by 1"),
        "{rows:#?}"
    );
    // One absent member does not hold the run at "sent".
    let room = model.rooms.get_mut(&GENERAL).unwrap();
    room.receipts.insert(2, (6, 0));
    room.receipts.insert(3, (0, 0));
    assert!(find(&render(&model), "three").ends_with("three ✓✓"));
    // Everyone read it.
    let room = model.rooms.get_mut(&GENERAL).unwrap();
    for id in [2, 3, 4] {
        room.receipts.insert(id, (6, 6));
    }
    assert!(find(&render(&model), "three").ends_with("three ✓✓ read by all"));
}

#[test]
fn no_color_draws_without_colour_and_marks_highlights_in_reverse() {
    use crate::view::theme::Theme;
    use ratatui::style::{Color, Modifier};
    let mut model = connected_model();
    model.settings.theme = Theme::Dark.with_env(Some("1"));
    let (buffer, _) = draw(&model);
    assert!(buffer
        .content
        .iter()
        .all(|c| c.fg == Color::Reset && c.bg == Color::Reset));
    // The selected room in the sidebar is still told apart.
    assert!(buffer[(3, 1)].modifier.contains(Modifier::REVERSED));
    assert_eq!(
        Theme::Light.with_env(Some("")),
        Theme::Light,
        "an empty NO_COLOR is unset"
    );
}

#[test]
fn the_light_theme_keeps_text_readable_on_a_light_background() {
    use crate::view::theme::Theme;
    use ratatui::style::Color;
    let mut model = connected_model();
    model.settings.theme = Theme::Light;
    let (buffer, _) = draw(&model);
    assert!(
        buffer
            .content
            .iter()
            .filter(|c| c.bg == Color::Reset)
            .all(|c| !matches!(c.fg, Color::White | Color::Yellow | Color::Gray)),
        "no white, yellow or grey text on the background"
    );
}

#[test]
fn names_lists_members_online_first_with_roles_and_who_read_my_last_message() {
    use chat_protocol::{Member, Members, Role};
    let mut model = connected_model();
    let fx = enter(&mut model, "/names");
    assert!(fx.iter().any(|e| matches!(
        e,
        crate::msg::Effect::Request {
            frame: chat_protocol::ClientFrame::ListMembers(_),
            ..
        }
    )));
    let member = |id, name: &str, role, online, read_seq| Member {
        user: user(id, name),
        role,
        online,
        delivered_seq: read_seq,
        read_seq,
    };
    update(
        &mut model,
        Msg::Response {
            tag: crate::msg::Tag::Members { room_id: GENERAL },
            result: Ok(ServerFrame::Members(Members {
                request_id: 1,
                room_id: GENERAL,
                members: vec![
                    member(1, "alice", Role::Owner, true, 3),
                    member(2, "bob", Role::Member, true, 2),
                    member(3, "carol", Role::Admin, false, 1),
                ],
            })),
        },
    );
    let rows = render(&model);
    // The overlay's rows: the name padded to its column.
    let row_of = |name: &str| {
        rows.iter()
            .position(|r| r.contains(&format!("{name:<20}")) && r.matches('│').count() >= 2)
            .unwrap_or_else(|| panic!("no member row for {name}:\n{}", rows.join("\n")))
    };
    let bob = &rows[row_of("bob")];
    assert!(
        bob.contains("● bob") && bob.contains("✓✓ read your last message"),
        "{bob}"
    );
    let carol = &rows[row_of("carol")];
    assert!(carol.contains("○ carol"), "{carol}");
    // How far each has read.
    assert!(bob.contains("1 unread"), "{bob}");
    assert!(carol.contains("2 unread"), "{carol}");
    assert!(
        carol.contains("admin") && carol.contains("not read"),
        "{carol}"
    );
    let order: Vec<usize> = ["alice", "bob", "carol"]
        .iter()
        .map(|n| row_of(n))
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "online first: {order:?}"
    );
    // Any key closes it.
    update(
        &mut model,
        Msg::Key(ratatui::crossterm::event::KeyEvent::from(
            ratatui::crossterm::event::KeyCode::Esc,
        )),
    );
    assert_eq!(model.overlay, None);

    // /whois says what is known.
    enter(&mut model, "/whois carol");
    let notice = model.notice.clone().unwrap().text;
    assert!(
        notice.starts_with("carol: offline · in #general"),
        "{notice}"
    );
}

#[test]
fn a_twelve_hour_time_format_widens_the_time_column() {
    let mut model = connected_model();
    model.settings.time_format = "%-I:%M %p".into();
    let rows = render(&model);
    let row = find(&rows, "hello bob");
    assert!(row.contains("10:13 PM        alice  hello bob"), "{row}");
}

#[test]
fn away_shows_in_the_sidebar_header_whois_and_my_status_bar() {
    use chat_protocol::PresenceInfo;
    let mut model = connected_model();
    let fx = enter(&mut model, "/away at lunch");
    assert!(fx.iter().any(|e| matches!(
        e,
        crate::msg::Effect::Request {
            frame: chat_protocol::ClientFrame::SetAway(chat_protocol::SetAway { message: Some(m), .. }),
            ..
        } if m == "at lunch"
    )));
    // The server echoes my presence to all my devices, and tells me bob's.
    let away = |id, name: &str, message: &str| {
        Msg::Server(ServerFrame::Presence(PresenceInfo::online_away(
            user(id, name),
            Some(message.into()),
        )))
    };
    update(&mut model, away(1, "alice", "at lunch"));
    update(&mut model, away(2, "bob", "in a meeting"));
    crate::update::select_room(&mut model, DIRECT, &mut Vec::new());
    let rows = render(&model);
    assert!(rows[0].contains("bob · away: in a meeting"), "{}", rows[0]);
    assert!(rows.last().unwrap().contains("away: at lunch"), "{rows:#?}");
    enter(&mut model, "/whois bob");
    assert!(model
        .notice
        .clone()
        .unwrap()
        .text
        .starts_with("bob: away (in a meeting)"));
    // Back.
    update(
        &mut model,
        Msg::Server(ServerFrame::Presence(PresenceInfo::online(user(2, "bob")))),
    );
    assert!(render(&model)[0].contains("bob · online"));
}

#[test]
fn a_narrow_window_without_sidebar_says_where_there_is_something_new() {
    let mut model = connected_model();
    update(
        &mut model,
        Msg::Server(ServerFrame::Event(message(
            DIRECT,
            1,
            &user(2, "bob"),
            "psst",
        ))),
    );
    model.size = (60, 15);
    let status = render(&model).last().cloned().unwrap();
    assert!(status.contains("new: bob 1"), "{status}");
    model.size = (120, 30);
    let status = render(&model).last().cloned().unwrap();
    assert!(!status.contains("new:"), "the sidebar shows it: {status}");
}

#[test]
fn the_help_fits_a_small_window_scrolls_and_shows_login_keys_on_the_login_screen() {
    use ratatui::crossterm::event::{KeyCode, KeyEvent};
    let mut model = connected_model();
    model.size = (40, 10);
    update(&mut model, Msg::Key(KeyEvent::from(KeyCode::F(1))));
    let rows = render(&model);
    assert!(
        rows.iter().any(|r| r.contains("scroll · other keys close")),
        "{rows:#?}"
    );
    assert!(find(&rows, "next conversation")
        .trim_start()
        .starts_with("│    next"));
    // Scrolling reaches the commands; the help stays open meanwhile.
    let mut seen_quit = false;
    for _ in 0..150 {
        update(&mut model, Msg::Key(KeyEvent::from(KeyCode::Down)));
        seen_quit |= render(&model).iter().any(|r| r.contains("/quit"));
    }
    assert_eq!(model.overlay, Some(crate::model::Overlay::Help));
    assert!(seen_quit, "the commands are reachable");

    let mut model = connected_model();
    model.screen = crate::model::Screen::Login;
    update(&mut model, Msg::Key(KeyEvent::from(KeyCode::F(1))));
    let rows = render(&model);
    assert!(find(&rows, "Ctrl-R").contains("Ctrl-R"));
}

#[test]
fn a_new_direct_conversation_starts_with_one_line_not_three() {
    use chat_protocol::{EventContent, Role, RoomEvent, RoomKind};
    let mut model = connected_model();
    let bob = user(2, "bob");
    let event = |seq, content| RoomEvent {
        room_id: DIRECT,
        seq,
        ts: 1_700_000_000_000,
        sender: bob.clone(),
        content,
    };
    for e in [
        event(
            1,
            EventContent::RoomCreated {
                room_kind: RoomKind::Direct,
                title: "bob".into(),
            },
        ),
        event(
            2,
            EventContent::MemberJoined {
                user: bob.clone(),
                role: Role::Owner,
            },
        ),
        event(
            3,
            EventContent::MemberAdded {
                user: user(1, "alice"),
                role: Role::Member,
            },
        ),
    ] {
        update(&mut model, Msg::Server(ServerFrame::Event(e)));
    }
    crate::update::select_room(&mut model, DIRECT, &mut Vec::new());
    let rows = render(&model);
    assert!(rows
        .iter()
        .any(|r| r.contains("bob started this conversation")));
    assert!(
        !rows
            .iter()
            .any(|r| r.contains("joined") || r.contains("added")),
        "{rows:#?}"
    );
}

#[test]
fn a_member_of_an_announcement_room_is_told_it_is_read_only() {
    use chat_protocol::RoomKind;
    let mut model = connected_model();
    if let Some(room) = model.rooms.get_mut(&GENERAL) {
        room.summary.kind = RoomKind::Announcement;
    }
    let rows = render(&model);
    assert!(
        find(&rows, "›").contains("read-only: only admins post"),
        "{rows:#?}"
    );
}

#[test]
fn edits_deletes_reactions_replies_and_threads_are_drawn_on_their_messages() {
    use chat_protocol::{
        EventContent, MessageDeleted, MessageEdited, ReactionChange, ReplyQuote, RoomEvent,
    };
    let mut model = connected_model();
    let (alice, bob, carol) = (user(1, "alice"), user(2, "bob"), user(3, "carol"));
    let change = |seq, from: &chat_protocol::UserRef, content| RoomEvent {
        room_id: GENERAL,
        seq,
        ts: 1_700_000_000_000 + seq * 1000,
        sender: from.clone(),
        content,
    };
    let mut events = vec![
        message(GENERAL, 10, &bob, "lunch at noon?"),
        message(GENERAL, 11, &carol, "secret plans"),
    ];
    let mut reply = message(GENERAL, 12, &alice, "works for me");
    if let EventContent::Message(m) = &mut reply.content {
        m.reply_to = Some(ReplyQuote {
            message_id: 10,
            sender: bob.clone(),
            excerpt: "lunch at noon?".into(),
            deleted: false,
        });
    }
    events.push(reply);
    events.push(change(
        13,
        &bob,
        EventContent::MessageEdited(MessageEdited {
            message_id: 10,
            text: "lunch at one?".into(),
            edited_at: 1_700_000_013_000,
            mentions: vec![],
            mentions_room: false,
        }),
    ));
    events.push(change(
        14,
        &bob,
        EventContent::MessageDeleted(MessageDeleted {
            message_id: 11,
            by_moderator: true,
        }),
    ));
    events.push(change(
        15,
        &carol,
        EventContent::ReactionAdded(ReactionChange {
            message_id: 10,
            emoji: "👍".into(),
            count: 2,
            users: vec![alice.clone(), carol.clone()],
        }),
    ));
    for event in events {
        update(&mut model, Msg::Server(ServerFrame::Event(event)));
    }
    let rows = render(&model);
    let screen = rows.join("\n");
    assert!(
        find(&rows, "lunch at one?").contains("(edited)"),
        "{screen}"
    );
    assert!(
        !screen.contains("lunch at noon"),
        "the old text is gone:\n{screen}"
    );
    assert!(!screen.contains("secret plans"), "{screen}");
    find(&rows, "message deleted by bob");
    let quote = find(&rows, "↳ bob: lunch at one?");
    assert!(
        quote.contains("alice"),
        "the quote opens the reply, under its sender's name: {quote}"
    );
    find(&rows, "👍 2");
    find(&rows, "└ 1 reply");
    // The change events themselves take no rows: nothing is drawn as an empty "—" line.
    assert!(
        !rows.iter().any(|r| r.trim_end().ends_with('—')),
        "{screen}"
    );
}

#[test]
fn selection_compose_lines_and_message_overlays_are_drawn() {
    use crate::model::{Compose, EditTarget, Overlay, Picker};
    use ratatui::crossterm::event::KeyCode;
    use ratatui::style::Modifier;
    let mut model = connected_model();
    model.size = (100, 24);
    // Esc from the empty input: the newest message in reverse video, the keys below.
    update(&mut model, crate::update::tests::key(KeyCode::Esc));
    let rows = render(&model);
    let text = rows.join("\n");
    // Bob's message, and I am a member: no edit, no delete offered.
    assert!(text.contains(" r reply  + react  t thread"), "{text}");
    assert!(!text.contains("e edit"), "{text}");
    let (buffer, _) = draw(&model);
    let row = rows
        .iter()
        .position(|r| r.contains("how are you?"))
        .unwrap() as u16;
    let x = rows[usize::from(row)].find("how").unwrap() as u16;
    assert!(buffer[(x, row)].modifier.contains(Modifier::REVERSED));
    // A "new messages" rule above the selected message is not part of it.
    model.rooms.get_mut(&GENERAL).unwrap().marker = Some(3);
    let rows = render(&model);
    let (buffer, _) = draw(&model);
    let rule = rows
        .iter()
        .position(|r| r.contains("new messages"))
        .unwrap() as u16;
    let line = &rows[usize::from(rule)];
    let x = line[..line.find("new").unwrap()].chars().count() as u16;
    assert!(!buffer[(x, rule)].modifier.contains(Modifier::REVERSED));
    model.rooms.get_mut(&GENERAL).unwrap().marker = None;

    model.selection = None;
    model.compose = Some(Compose::Reply {
        room_id: GENERAL,
        message_id: 3,
        sender: "bob".into(),
        excerpt: "how are you?".into(),
    });
    assert!(render(&model)
        .join("\n")
        .contains("↳ replying to bob: how are you? · Esc cancels"));
    model.compose = Some(Compose::Edit {
        room_id: GENERAL,
        target: EditTarget::Queued("c1".into()),
    });
    assert!(render(&model)
        .join("\n")
        .contains("editing your unsent message"));
    model.compose = None;

    model.overlay = Some(Overlay::React {
        room_id: GENERAL,
        message_id: 3,
        picker: Picker::default(),
    });
    let text = render(&model).join("\n");
    assert!(text.contains("1 👍 2 ❤ "), "drawn without VS16: {text}");
    model.overlay = Some(Overlay::ConfirmDelete {
        room_id: GENERAL,
        message_id: 3,
    });
    assert!(render(&model)
        .join("\n")
        .contains("Delete this message for everyone?"));
    let parent = model.rooms[&GENERAL].timeline.events()[2].clone();
    let reply = message(GENERAL, 4, &user(1, "alice"), "fine, thanks");
    model.overlay = Some(Overlay::Thread {
        room_id: GENERAL,
        parent: 3,
        loaded: Some(Box::new((parent, vec![reply.clone()]))),
    });
    let text = render(&model).join("\n");
    assert!(text.contains("1 reply"), "{text}");
    assert!(text.contains("alice fine, thanks"), "{text}");
    model.overlay = Some(Overlay::Mentions {
        selected: 0,
        events: Some(vec![reply]),
    });
    let text = render(&model).join("\n");
    assert!(text.contains("alice fine, thanks · #general"), "{text}");
    model.overlay = None;

    // A muted room is listed without its count, but a mention of me still shows.
    let general = model.rooms.get_mut(&GENERAL).unwrap();
    general.summary.settings.notify = chat_protocol::NotifyLevel::None;
    general.summary.unread = 7;
    let muted_row = |model: &crate::model::Model| {
        render(model)
            .into_iter()
            .find(|r| r.trim_start().starts_with("#general"))
            .unwrap()
    };
    assert!(!muted_row(&model).contains(" 7 "), "{}", muted_row(&model));
    model.rooms.get_mut(&GENERAL).unwrap().summary.mentions = 1;
    assert!(muted_row(&model).contains("@1"), "{}", muted_row(&model));
}

#[test]
fn attachments_are_drawn_with_their_names_and_sizes() {
    use chat_protocol::{Attachment, EventContent};
    let mut model = connected_model();
    let bob = user(2, "bob");
    let file = |id, name: &str, size, pixels: Option<(u32, u32)>| Attachment {
        id,
        name: name.into(),
        size,
        media_type: "application/octet-stream".into(),
        width: pixels.map(|p| p.0),
        height: pixels.map(|p| p.1),
    };
    let mut with_text = message(GENERAL, 10, &bob, "the Q3 numbers");
    let mut files_only = message(GENERAL, 11, &user(3, "carol"), "");
    if let EventContent::Message(m) = &mut with_text.content {
        m.attachments = vec![file(1, "report.pdf", 2_100_000, None)];
    }
    if let EventContent::Message(m) = &mut files_only.content {
        m.attachments = vec![
            file(2, "cat.png", 48_213, Some((640, 480))),
            file(3, "notes.txt", 512, None),
        ];
    }
    for event in [with_text, files_only] {
        update(&mut model, Msg::Server(ServerFrame::Event(event)));
    }
    let rows = render(&model);
    find(&rows, "the Q3 numbers");
    find(&rows, "📎 report.pdf  2.1 MB");
    assert!(
        find(&rows, "📎 cat.png  48.2 kB  640×480").contains("carol"),
        "a file without words is on the message's first row: {rows:#?}"
    );
    find(&rows, "📎 notes.txt  512 B");
    // Where a message is shown on one row (the delete prompt, threads, mentions), a file
    // without words is shown by its name.
    let message_id = match &model.rooms[&GENERAL]
        .timeline
        .events()
        .last()
        .unwrap()
        .content
    {
        EventContent::Message(m) => m.message_id,
        other => panic!("{other:?}"),
    };
    model.overlay = Some(crate::model::Overlay::ConfirmDelete {
        room_id: GENERAL,
        message_id,
    });
    let rows = render(&model);
    let prompt = find(&rows, "Delete this message");
    let at = rows.iter().position(|r| r == prompt).unwrap();
    assert!(rows[at + 1].contains("carol 📎 cat.png"), "{rows:#?}");
}

#[test]
fn a_long_notice_is_wrapped_above_the_input_and_read_whole() {
    let mut model = connected_model();
    model.size = (60, 20);
    model.notice = Some(crate::model::Notice {
        text: "report-2026-final.pdf not sent: it is 80.0 MB; the server takes files up to \
               50 MiB (ask an admin to raise max_upload_bytes)"
            .into(),
        error: true,
        at: model.now,
    });
    let rows = render(&model);
    let input = rows
        .iter()
        .position(|r| r.contains('›'))
        .expect("the input row");
    // At 60 columns the notice takes the three rows above the input, each after a space.
    let notice: Vec<&str> = rows[input - 3..input].iter().map(|r| &r[1..]).collect();
    assert!(
        notice[0].starts_with("report-2026-final.pdf not sent"),
        "{rows:#?}"
    );
    assert!(notice[2].ends_with("max_upload_bytes)"), "{rows:#?}");
    // Gone, the row is one again and the pane has its rows back.
    model.notice = None;
    let rows = render(&model);
    assert!(!rows.iter().any(|r| r.contains("not sent")));
    let pane_rows = |model: &crate::model::Model| crate::layout::areas(model).messages.height;
    assert_eq!(
        pane_rows(&model),
        20 - 1 - 1 - 1 - 1,
        "header, typing, input, status"
    );
}

#[test]
fn a_notice_too_long_for_its_rows_ends_in_an_ellipsis() {
    let mut model = connected_model();
    model.size = (40, 10);
    model.notice = Some(crate::model::Notice {
        text: "word ".repeat(60),
        error: false,
        at: model.now,
    });
    let rows = render(&model);
    let input = rows.iter().position(|r| r.contains('›')).expect("input");
    // A 10-row window gives a notice at most 3 rows (a third of its body).
    assert!(rows[input - 1].trim_end().ends_with('…'), "{rows:#?}");
    assert!(rows[input - 3].contains("word"), "{rows:#?}");
    assert!(!rows[input - 4].contains("word word"), "{rows:#?}");
}

#[test]
fn many_dropped_files_are_listed_as_far_as_the_window_goes() {
    let mut model = connected_model();
    model.size = (60, 12);
    let files = (1..=12)
        .map(|i| crate::model::PastedFile {
            path: format!("/tmp/photo-{i}.jpg").into(),
            size: 1_000_000,
        })
        .collect();
    model.overlay = Some(crate::model::Overlay::ConfirmUpload {
        files,
        text: String::new(),
        also: String::new(),
    });
    let rows = render(&model);
    find(&rows, "Send 12 files (12.0 MB) to #general?");
    find(&rows, "📎 photo-1.jpg  1.0 MB");
    find(&rows, "📎 photo-5.jpg");
    find(&rows, "and 7 more");
    find(&rows, "Enter, y: upload them");
    assert!(!rows.iter().any(|r| r.contains("photo-6.jpg")), "{rows:#?}");
}
