//! A half-written message belongs to its room.

use super::*;

#[test]
fn each_room_keeps_its_own_draft() {
    let mut model = connected_model();
    type_text(&mut model, "for general");
    let fx = update(&mut model, ctrl('n'));
    assert_eq!(model.selected, Some(DIRECT));
    assert_eq!(model.input.text(), "", "the draft does not follow me");
    assert!(fx.contains(&Effect::Cache(CacheOp::Draft {
        room_id: GENERAL,
        text: "for general".into()
    })));
    assert!(fx.contains(&Effect::Cache(CacheOp::Selected(DIRECT))));
    type_text(&mut model, "for bob");
    update(&mut model, ctrl('p'));
    assert_eq!(model.input.text(), "for general");
    update(&mut model, ctrl('n'));
    assert_eq!(model.input.text(), "for bob");
}

#[test]
fn the_draft_in_view_is_saved_on_a_tick_and_cleared_by_sending() {
    let mut model = connected_model();
    type_text(&mut model, "typing…");
    let fx = update(&mut model, Msg::Tick);
    assert!(fx.contains(&Effect::Cache(CacheOp::Draft {
        room_id: GENERAL,
        text: "typing…".into()
    })));
    assert!(
        !update(&mut model, Msg::Tick)
            .iter()
            .any(|e| matches!(e, Effect::Cache(CacheOp::Draft { .. }))),
        "written once, not every second"
    );
    update(&mut model, key(KeyCode::Enter));
    let fx = update(&mut model, Msg::Tick);
    assert!(fx.contains(&Effect::Cache(CacheOp::Draft {
        room_id: GENERAL,
        text: String::new()
    })));
}
