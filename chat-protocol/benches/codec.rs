//! Encode and decode speed of the frames on the hot path: a message event (encoded once per
//! message by the server) and a send_message request (decoded once per message). Prints
//! figures; asserts nothing. Run with `cargo bench -p chat-protocol --bench codec`.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use chat_protocol::{
    to_json, ClientFrame, EventContent, RoomEvent, SendMessage, ServerFrame, UserRef,
};
use std::hint::black_box;
use std::time::Instant;

const ROUNDS: usize = 200_000;

fn measure(name: &str, bytes: usize, mut op: impl FnMut()) {
    for _ in 0..ROUNDS / 10 {
        op(); // warm-up
    }
    let start = Instant::now();
    for _ in 0..ROUNDS {
        op();
    }
    let secs = start.elapsed().as_secs_f64();
    let ns = secs * 1e9 / ROUNDS as f64;
    let mb_s = bytes as f64 * ROUNDS as f64 / secs / 1e6;
    println!("{name:<28} {ns:>8.0} ns/frame {mb_s:>8.0} MB/s ({bytes} bytes)");
}

fn main() {
    let text =
        "lunch at noon? the usual place, unless someone has a better idea for today".to_string();
    let event = ServerFrame::Event(RoomEvent {
        room_id: 42,
        seq: 123_456,
        ts: 1_763_712_000_123,
        sender: UserRef {
            id: 7,
            username: "alice".into(),
        },
        content: EventContent::Message(chat_protocol::ChatMessage {
            message_id: 9_876_543,
            client_id: "laptop-000017".into(),
            text: text.clone(),
            ..Default::default()
        }),
    });
    let event_json = to_json(&event);
    let send = ClientFrame::SendMessage(SendMessage {
        request_id: 17,
        room_id: 42,
        client_id: "laptop-000017".into(),
        text,
        reply_to: None,
        action: false,
        attachments: Vec::new(),
    });
    let send_json = to_json(&send);

    measure("encode event", event_json.len(), || {
        black_box(to_json(black_box(&event)));
    });
    measure("decode event", event_json.len(), || {
        black_box(serde_json::from_str::<ServerFrame>(black_box(&event_json)).unwrap());
    });
    measure("encode send_message", send_json.len(), || {
        black_box(to_json(black_box(&send)));
    });
    measure("decode send_message", send_json.len(), || {
        black_box(serde_json::from_str::<ClientFrame>(black_box(&send_json)).unwrap());
    });
}
