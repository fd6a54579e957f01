//! Files: /upload and its path completion, a pasted file, transfers ending, save and open.

use super::*;
use crate::model::TransferKind;
use chat_protocol::{Attachment, ChatMessage};
use std::path::PathBuf;

fn attachment(id: i64, name: &str) -> Attachment {
    Attachment {
        id,
        name: name.into(),
        size: 2_100_000,
        media_type: "application/pdf".into(),
        width: None,
        height: None,
    }
}

fn uploads(fx: &[Effect]) -> Vec<(u64, String)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Upload { id, path, .. } => Some((*id, path.clone())),
            _ => None,
        })
        .collect()
}

fn downloads(fx: &[Effect]) -> Vec<(i64, bool)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Download { file, open, .. } => Some((file.id, *open)),
            _ => None,
        })
        .collect()
}

#[test]
fn an_upload_is_sent_as_a_message_with_the_file_once_it_is_up() {
    let mut model = connected_model();
    type_text(&mut model, "/upload ~/My Files/report.pdf");
    let fx = update(&mut model, key(KeyCode::Enter));
    let started = uploads(&fx);
    assert_eq!(started.len(), 1);
    let (id, path) = started[0].clone();
    assert_eq!(path, "~/My Files/report.pdf");
    assert_eq!(model.transfers[0].name, "report.pdf");
    assert_eq!(
        model.transfers[0].kind,
        TransferKind::Upload { room_id: GENERAL }
    );
    update(
        &mut model,
        Msg::TransferProgress {
            id,
            done: 1_000_000,
            total: 2_000_000,
        },
    );
    let status = crate::view::connection_text(&model).1.join(" · ");
    assert!(status.contains("⇡ report.pdf 50% of 2.0 MB"), "{status}");
    // Another room is opened meanwhile: the file still goes where /upload was typed.
    select_room(&mut model, DIRECT, &mut Vec::new());
    let fx = update(
        &mut model,
        Msg::Uploaded {
            id,
            result: Ok(attachment(7, "report.pdf")),
        },
    );
    assert!(model.transfers.is_empty());
    let sent: Vec<_> = requests(&fx)
        .into_iter()
        .filter_map(|f| match f {
            ClientFrame::SendMessage(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].room_id, sent[0].attachments.clone()),
        (GENERAL, vec![7])
    );
    assert!(sent[0].text.is_empty());
    let queued = model.outbox.items()[0].clone();
    assert_eq!(queued.attachments, [attachment(7, "report.pdf")]);
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Cache(CacheOp::OutboxPut(i)) if i.attachments.len() == 1)));
    // The acknowledgement puts it in the timeline with its file, not as an empty message.
    let ack = MessageSent {
        request_id: 0,
        room_id: GENERAL,
        message_id: 40,
        seq: 4,
        ts: model.now,
        client_id: queued.client_id.clone(),
    };
    update(
        &mut model,
        Msg::Response {
            tag: Tag::Send {
                client_id: queued.client_id.clone(),
            },
            result: Ok(ServerFrame::MessageSent(ack)),
        },
    );
    let room = &model.rooms[&GENERAL];
    let mine = room.timeline.events().last().unwrap();
    match &mine.content {
        EventContent::Message(m) => assert_eq!(m.attachments, [attachment(7, "report.pdf")]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failed_upload_says_why_and_sends_nothing() {
    let mut model = connected_model();
    type_text(&mut model, "/upload /tmp/huge.iso");
    let fx = update(&mut model, key(KeyCode::Enter));
    let (id, _) = uploads(&fx)[0].clone();
    let fx = update(
        &mut model,
        Msg::Uploaded {
            id,
            result: Err("it is 4.2 GB; the server takes files up to 50 MiB".into()),
        },
    );
    assert!(sends(&fx).is_empty());
    let notice = model.notice.clone().unwrap();
    assert!(notice.error);
    assert!(
        notice.text.starts_with("huge.iso not sent: it is 4.2 GB"),
        "{}",
        notice.text
    );
}

#[test]
fn tab_completes_the_path_of_an_upload() {
    let mut model = connected_model();
    type_text(&mut model, "/upload ~/rep");
    let fx = update(&mut model, key(KeyCode::Tab));
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::ListPaths { typed } if typed == "~/rep")));
    // What every candidate starts with comes first.
    let candidates = vec![
        "~/report-2025.pdf".to_string(),
        "~/report-2026.pdf".to_string(),
    ];
    update(
        &mut model,
        Msg::PathCandidates {
            typed: "~/rep".into(),
            candidates: candidates.clone(),
        },
    );
    assert_eq!(model.input.text(), "/upload ~/report-202");
    // Nothing more in common: the first, and Tab goes on to the next.
    update(&mut model, key(KeyCode::Tab));
    update(
        &mut model,
        Msg::PathCandidates {
            typed: "~/report-202".into(),
            candidates,
        },
    );
    assert_eq!(model.input.text(), "/upload ~/report-2025.pdf");
    let fx = update(&mut model, key(KeyCode::Tab));
    assert_eq!(model.input.text(), "/upload ~/report-2026.pdf");
    assert!(!fx.iter().any(|e| matches!(e, Effect::ListPaths { .. })));
    // An answer for what is no longer typed is ignored.
    update(
        &mut model,
        Msg::PathCandidates {
            typed: "~/old".into(),
            candidates: vec!["~/older".into()],
        },
    );
    assert_eq!(model.input.text(), "/upload ~/report-2026.pdf");
}

#[test]
fn a_pasted_file_is_offered_for_upload_or_pasted_as_text() {
    let mut model = connected_model();
    let pasted = dropped(&["/tmp/cat photo.png"]);
    update(&mut model, pasted.clone());
    assert!(matches!(model.overlay, Some(Overlay::ConfirmUpload { .. })));
    let fx = update(&mut model, key(KeyCode::Enter));
    assert_eq!(uploads(&fx)[0].1, "/tmp/cat photo.png");
    assert!(model.overlay.is_none());
    // Declined: the paste is text in the input.
    update(&mut model, pasted.clone());
    let fx = update(&mut model, key(KeyCode::Esc));
    assert!(uploads(&fx).is_empty());
    assert_eq!(model.input.text(), "'/tmp/cat photo.png'");
    // While writing, a path is part of the text: no question.
    update(&mut model, pasted);
    assert!(model.overlay.is_none());
    assert_eq!(
        model.input.text(),
        "'/tmp/cat photo.png''/tmp/cat photo.png'"
    );
}

/// What a terminal pastes for `paths` dropped on it (GNOME's quoting), as chat-tui reads it.
fn dropped(paths: &[&str]) -> Msg {
    let quoted: Vec<String> = paths.iter().map(|p| format!("'{p}'")).collect();
    Msg::PastedFiles {
        text: quoted.join(" "),
        files: paths
            .iter()
            .map(|p| crate::model::PastedFile {
                path: PathBuf::from(p),
                size: 48_200,
            })
            .collect(),
    }
}

#[test]
fn files_dropped_while_the_offer_is_open_join_it() {
    let mut model = connected_model();
    update(&mut model, dropped(&["/tmp/a.png", "/tmp/b.png"]));
    // A second drop (one of them again) before answering: one question for all three.
    update(&mut model, dropped(&["/tmp/b.png", "/tmp/c.pdf"]));
    let Some(Overlay::ConfirmUpload { files, .. }) = &model.overlay else {
        panic!("{:?}", model.overlay);
    };
    assert_eq!(files.len(), 3);
    let fx = update(&mut model, key(KeyCode::Enter));
    let paths: Vec<String> = uploads(&fx).into_iter().map(|(_, p)| p).collect();
    assert_eq!(paths, ["/tmp/a.png", "/tmp/b.png", "/tmp/c.pdf"]);
    // Declined, both pastes are the text.
    update(&mut model, dropped(&["/tmp/a.png"]));
    update(&mut model, dropped(&["/tmp/d.png"]));
    update(&mut model, key(KeyCode::Esc));
    assert_eq!(model.input.text(), "'/tmp/a.png' '/tmp/d.png'");
}

#[test]
fn text_pasted_while_the_upload_question_is_open_is_kept() {
    let mut model = connected_model();
    update(&mut model, dropped(&["/tmp/a.png"]));
    update(&mut model, Msg::Paste("meeting notes".into()));
    assert!(matches!(model.overlay, Some(Overlay::ConfirmUpload { .. })));
    // Uploaded: the text is in the input.
    let fx = update(&mut model, key(KeyCode::Enter));
    assert_eq!(uploads(&fx).len(), 1);
    assert_eq!(model.input.text(), "meeting notes");
    // Declined: all of it, in the order pasted.
    let mut model = connected_model();
    update(&mut model, dropped(&["/tmp/a.png"]));
    update(&mut model, Msg::Paste(" and more".into()));
    update(&mut model, key(KeyCode::Esc));
    assert_eq!(model.input.text(), "'/tmp/a.png' and more");
}

/// Drop `/tmp/1.png` … `/tmp/6.png` and say yes: the uploads started.
fn upload_six(model: &mut Model) -> Vec<(u64, String)> {
    let six: Vec<String> = (1..=6).map(|i| format!("/tmp/{i}.png")).collect();
    let six: Vec<&str> = six.iter().map(String::as_str).collect();
    update(model, dropped(&six));
    uploads(&update(model, key(KeyCode::Enter)))
}

#[test]
fn uploads_beyond_what_the_server_takes_at_once_wait_their_turn() {
    let mut model = connected_model();
    let started = upload_six(&mut model);
    assert_eq!(started.len(), 4, "the server takes 4 at once from one user");
    assert_eq!(model.transfers.len(), 6);
    assert_eq!(transfers_text(&model)[0], "⇡ 2 waiting");
    // One is up: the first waiting one goes.
    let fx = update(
        &mut model,
        Msg::Uploaded {
            id: started[0].0,
            result: Ok(attachment(7, "1.png")),
        },
    );
    assert_eq!(uploads(&fx)[0].1, "/tmp/5.png");
    assert_eq!(sends(&fx).len(), 1, "the one that is up is sent");
    // One fails: the last goes all the same.
    let fx = update(
        &mut model,
        Msg::Uploaded {
            id: started[1].0,
            result: Err("no such file".into()),
        },
    );
    assert_eq!(uploads(&fx)[0].1, "/tmp/6.png");
    assert!(model.transfers.iter().all(|t| t.waiting.is_none()));
    assert!(!transfers_text(&model).iter().any(|t| t.contains("waiting")));
}

#[test]
fn files_given_together_are_sent_in_their_order_whichever_is_up_first() {
    let mut model = connected_model();
    let mut ids: Vec<u64> = upload_six(&mut model)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    ids.extend(model.transfers[4..].iter().map(|t| t.id));
    let up = |model: &mut Model, n: usize, result: Result<i64, &str>| {
        let result = result
            .map(|file| attachment(file, &format!("{n}.png")))
            .map_err(str::to_string);
        update(
            model,
            Msg::Uploaded {
                id: ids[n - 1],
                result,
            },
        );
    };
    // The messages queued to be sent (one at a time, in order), by their files.
    let queued = |model: &Model| -> Vec<String> {
        let items = model.outbox.items().iter();
        items
            .flat_map(|m| m.attachments.iter().map(|a| a.name.clone()))
            .collect()
    };
    // 2 is up first: held for 1, and shown as up.
    up(&mut model, 2, Ok(2));
    assert!(transfers_text(&model).contains(&"⇡ 2.png ✓".to_string()));
    assert!(queued(&model).is_empty());
    // 1 fails: 2 goes.
    up(&mut model, 1, Err("no such file"));
    assert_eq!(queued(&model), ["2.png"]);
    up(&mut model, 5, Ok(5));
    up(&mut model, 3, Ok(3));
    up(&mut model, 6, Ok(6));
    assert_eq!(queued(&model), ["2.png", "3.png"], "5 and 6 wait for 4");
    up(&mut model, 4, Ok(4));
    assert_eq!(
        queued(&model),
        ["2.png", "3.png", "4.png", "5.png", "6.png"]
    );
    assert!(model.transfers.is_empty());
    assert!(model
        .notice
        .as_ref()
        .unwrap()
        .text
        .contains("1.png not sent"));
}

#[test]
fn a_selected_message_saves_and_opens_its_files() {
    let mut model = connected_model();
    let bob = user(2, "bob");
    let mut event = message(GENERAL, 4, &bob, "");
    if let EventContent::Message(m) = &mut event.content {
        *m = ChatMessage {
            attachments: vec![attachment(7, "a.pdf"), attachment(8, "b.pdf")],
            ..m.clone()
        };
    }
    update(&mut model, Msg::Server(ServerFrame::Event(event)));
    update(&mut model, key(KeyCode::Esc));
    assert_eq!(model.selection, Some(4));
    assert!(selection_rights(&model).unwrap().files);
    let fx = update(&mut model, key(KeyCode::Char('s')));
    assert_eq!(downloads(&fx), [(7, false), (8, false)]);
    assert_eq!(model.transfers.len(), 2);
    // s again before they are down: nothing twice.
    let fx = update(&mut model, key(KeyCode::Char('s')));
    assert!(downloads(&fx).is_empty());
    assert!(model
        .notice
        .as_ref()
        .unwrap()
        .text
        .contains("on its way already"));
    // Both saves are told of together, when the last is done.
    let ids: Vec<u64> = model.transfers.iter().map(|t| t.id).collect();
    for (id, name) in ids.into_iter().zip(["a.pdf", "b.pdf"]) {
        update(
            &mut model,
            Msg::Downloaded {
                id,
                result: Ok(PathBuf::from("/dl").join(name)),
            },
        );
    }
    assert_eq!(
        model.notice.as_ref().unwrap().text,
        "saved 2 files to /dl: a.pdf, b.pdf"
    );
    // Two files: `o` asks which.
    let fx = update(&mut model, key(KeyCode::Char('o')));
    assert!(downloads(&fx).is_empty());
    assert!(matches!(model.overlay, Some(Overlay::Files { .. })));
    update(&mut model, key(KeyCode::Down));
    let fx = update(&mut model, key(KeyCode::Enter));
    assert_eq!(downloads(&fx), [(8, true)]);
    let id = model.transfers.last().unwrap().id;
    update(
        &mut model,
        Msg::Downloaded {
            id,
            result: Ok(PathBuf::from("/profile/files/8-b.pdf")),
        },
    );
    assert_eq!(model.notice.as_ref().unwrap().text, "opened b.pdf");
    // A message without files says so.
    update(&mut model, key(KeyCode::Esc));
    update(&mut model, key(KeyCode::Up));
    let fx = update(&mut model, key(KeyCode::Char('o')));
    assert!(downloads(&fx).is_empty());
    assert!(model.notice.as_ref().unwrap().text.contains("no file"));
}

#[test]
fn editing_a_message_of_files_never_deletes_it_by_emptying_it() {
    let mut model = connected_model();
    let me = user(1, "alice");
    let mut photo = message(GENERAL, 4, &me, "");
    let mut captioned = message(GENERAL, 5, &me, "the report");
    for (event, id) in [(&mut photo, 7), (&mut captioned, 8)] {
        if let EventContent::Message(m) = &mut event.content {
            m.attachments = vec![attachment(id, "a.pdf")];
        }
    }
    for event in [photo, captioned] {
        update(&mut model, Msg::Server(ServerFrame::Event(event)));
    }
    // The photo, without words: e, then Enter on the empty text changes nothing.
    update(&mut model, key(KeyCode::Esc));
    update(&mut model, key(KeyCode::Up));
    assert_eq!(model.selection, Some(4));
    update(&mut model, key(KeyCode::Char('e')));
    assert!(model.compose.is_some(), "editing");
    let fx = update(&mut model, key(KeyCode::Enter));
    assert!(
        model.overlay.is_none(),
        "no delete prompt: {:?}",
        model.overlay
    );
    assert!(model.compose.is_none());
    assert!(requests(&fx).is_empty());
    // The captioned one, its text cleared: told how to delete, still editing.
    update(&mut model, key(KeyCode::Esc));
    assert_eq!(model.selection, Some(5));
    update(&mut model, key(KeyCode::Char('e')));
    update(&mut model, ctrl('u'));
    assert_eq!(model.input.text(), "");
    update(&mut model, key(KeyCode::Enter));
    assert!(model.overlay.is_none());
    assert!(model.compose.is_some());
    assert!(model.notice.as_ref().unwrap().text.contains("press d"));
}
