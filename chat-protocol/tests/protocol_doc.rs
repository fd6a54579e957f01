//! Every JSON example in PROTOCOL.md parses into the typed frames and serialises back to the
//! same JSON, and every frame type is documented.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use chat_protocol::{ClientFrame, ServerFrame};
use serde_json::Value;
use std::collections::BTreeSet;

fn examples() -> Vec<String> {
    let doc = include_str!("../../PROTOCOL.md");
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```json") => current = Some(String::new()),
            (Some(block), "```") => {
                out.push(std::mem::take(block));
                current = None;
            }
            (Some(block), text) => {
                block.push_str(text);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    out
}

/// Parse as either side's frame and re-encode; returns the frame type.
fn round_trip(json: &str) -> Result<String, String> {
    let original: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let encoded = match serde_json::from_str::<ClientFrame>(json) {
        Ok(frame) => serde_json::to_value(frame),
        Err(client_err) => match serde_json::from_str::<ServerFrame>(json) {
            Ok(frame) => serde_json::to_value(frame),
            Err(server_err) => {
                return Err(format!(
                    "as client frame: {client_err}; as server frame: {server_err}"
                ))
            }
        },
    }
    .map_err(|e| e.to_string())?;
    if encoded != original {
        return Err(format!(
            "does not round-trip:\n  doc:  {original}\n  code: {encoded}"
        ));
    }
    Ok(original["type"].as_str().unwrap_or_default().to_string())
}

#[test]
fn every_example_round_trips_through_the_typed_frames() {
    let examples = examples();
    assert!(
        examples.len() > 30,
        "found only {} examples",
        examples.len()
    );
    let failures: Vec<String> = examples
        .iter()
        .filter_map(|e| round_trip(e).err().map(|why| format!("{e}\n=> {why}")))
        .collect();
    assert!(
        failures.is_empty(),
        "PROTOCOL.md examples that do not match the code:\n\n{}",
        failures.join("\n\n")
    );
}

#[test]
fn every_frame_type_has_an_example() {
    let documented: BTreeSet<String> = examples()
        .iter()
        .filter_map(|e| round_trip(e).ok())
        .collect();
    // Every frame type of the protocol crate needs a documented example.
    let all: Vec<&str> = ClientFrame::TYPES
        .iter()
        .chain(ServerFrame::TYPES)
        .copied()
        .collect();
    let missing: Vec<&str> = all
        .iter()
        .copied()
        .filter(|t| !documented.contains(*t))
        .collect();
    assert!(
        missing.is_empty(),
        "frame types without an example in PROTOCOL.md: {missing:?}"
    );
}
