//! Image previews in the pane: the rows left for a picture under its file's name, where the
//! runtime is told to draw it, and the name alone where there is no picture to draw.

use super::PreviewPlace;
use crate::model::Model;
use crate::msg::Msg;
use crate::preview::CellPixels;
use crate::update::tests::{connected_model, message, user, GENERAL};
use crate::update::update;
use chat_protocol::{Attachment, EventContent, ServerFrame};

const CELL: CellPixels = CellPixels {
    width: 10,
    height: 20,
};

/// The screen's rows, and the places left for pictures.
fn draw(model: &Model) -> (Vec<String>, Vec<PreviewPlace>) {
    let (buffer, places) = super::tests::draw(model);
    (super::tests::rows_of(&buffer), places)
}

fn row_of(rows: &[String], text: &str) -> usize {
    rows.iter()
        .position(|r| r.contains(text))
        .unwrap_or_else(|| panic!("no row with {text:?}:\n{}", rows.join("\n")))
}

fn photo(id: i64) -> Attachment {
    Attachment {
        id,
        name: "cat.png".into(),
        size: 48_213,
        media_type: "image/png".into(),
        width: Some(640),
        height: Some(480),
    }
}

/// carol sends a photo without words; then bob says `after`, and `more` messages follow.
fn photo_then(model: &mut Model, more: i64) {
    let mut sent = message(GENERAL, 4, &user(3, "carol"), "");
    if let EventContent::Message(m) = &mut sent.content {
        m.attachments = vec![photo(9)];
    }
    update(model, Msg::Server(ServerFrame::Event(sent)));
    let bob = user(2, "bob");
    update(
        model,
        Msg::Server(ServerFrame::Event(message(GENERAL, 5, &bob, "after"))),
    );
    for seq in 6..6 + more {
        let text = format!("m{seq}");
        update(
            model,
            Msg::Server(ServerFrame::Event(message(GENERAL, seq, &bob, &text))),
        );
    }
}

/// A `size` screen that previews pictures, with carol's photo and `more` messages after it.
fn with_photo(size: (u16, u16), more: i64) -> Model {
    let mut model = connected_model();
    model.size = size;
    model.cell_pixels = Some(CELL);
    photo_then(&mut model, more);
    model
}

#[test]
fn a_picture_gets_rows_under_its_name_and_a_place_to_be_drawn() {
    let model = with_photo((100, 35), 0);
    let (rows, places) = draw(&model);
    let label = row_of(&rows, "📎 cat.png  48.2 kB  640×480");
    // 640×480 in a box of 48×12 cells of 10×20 px: the rows bound it, 320×240 px.
    assert_eq!(row_of(&rows, "after"), label + 1 + 12, "{rows:#?}");
    for row in &rows[label + 1..label + 13] {
        assert!(
            row.chars().skip(27 + 20).all(|c| c == ' '),
            "left blank for the picture: {row:?}"
        );
    }
    let [place] = &places[..] else {
        panic!("one place: {places:?}");
    };
    assert_eq!(place.spot.file.id, 9);
    assert_eq!((place.spot.cols, place.spot.rows), (32, 12));
    // The pane starts under the header, right of the sidebar; the picture after time and name.
    assert_eq!(place.band.y, 1);
    assert_eq!(place.band.x, 27 + 20);
    assert_eq!(place.band.y as usize + place.spot.row as usize, label + 1);
}

#[test]
fn a_picture_scrolled_half_out_of_view_is_placed_above_the_pane() {
    // 20 rows: a pane of 16, pictures at most 8 rows high (half the pane).
    // Ten rows of messages under the picture: 6 of its 8 rows remain in view.
    let model = with_photo((100, 20), 9);
    let (rows, places) = draw(&model);
    assert!(!rows.iter().any(|r| r.contains("cat.png")), "{rows:#?}");
    let [place] = &places[..] else {
        panic!("one place: {places:?}");
    };
    assert_eq!((place.spot.cols, place.spot.rows), (21, 8));
    assert_eq!(place.spot.row, -2, "two rows cut off at the top");
    assert_eq!(row_of(&rows, "after"), 1 + 6);
}

#[test]
fn no_picture_is_drawn_under_a_window_or_without_graphics() {
    let mut model = connected_model();
    model.size = (100, 35);
    photo_then(&mut model, 0);
    let (rows, places) = draw(&model);
    assert!(places.is_empty());
    let label = row_of(&rows, "📎 cat.png");
    assert_eq!(row_of(&rows, "after"), label + 1, "names only");

    model.cell_pixels = Some(CELL);
    update(
        &mut model,
        Msg::Key(ratatui::crossterm::event::KeyEvent::from(
            ratatui::crossterm::event::KeyCode::F(1),
        )),
    );
    assert!(model.overlay.is_some(), "the help is open");
    assert!(draw(&model).1.is_empty(), "a picture would cover the help");
}

#[test]
fn a_picture_that_cannot_be_previewed_gives_its_rows_back() {
    let mut model = with_photo((100, 35), 0);
    update(&mut model, Msg::NoPreview { file_id: 9 });
    let (rows, places) = draw(&model);
    assert!(places.is_empty());
    let label = row_of(&rows, "📎 cat.png");
    assert_eq!(row_of(&rows, "after"), label + 1);
}

#[test]
fn a_short_window_shows_names_only() {
    let model = with_photo((40, 10), 0);
    let (rows, places) = draw(&model);
    assert!(places.is_empty());
    // The name and size wrap onto a second row in 40 columns; nothing more is left.
    assert_eq!(row_of(&rows, "640×480"), row_of(&rows, "📎 cat.png") + 1);
    assert_eq!(
        row_of(&rows, "after"),
        row_of(&rows, "640×480") + 1,
        "{rows:#?}"
    );
}

#[test]
fn a_picture_at_the_bottom_of_a_scrolled_pane_keeps_its_last_row_beside_the_hint() {
    let mut model = with_photo((120, 35), 30);
    // Scrolled up so the photo's message is the last one in view.
    if let Some(room) = model.rooms.get_mut(&GENERAL) {
        room.scroll = crate::model::Scroll::At {
            seq: 4,
            rows_below: 0,
        };
    }
    let (rows, places) = draw(&model);
    let pane = crate::layout::areas(&model).messages;
    assert!(rows[usize::from(pane.bottom() - 1)].contains("more below"));
    let [place] = &places[..] else {
        panic!("one place: {places:?}");
    };
    assert_eq!(
        place.spot.row + i32::from(place.spot.rows),
        i32::from(pane.height),
        "the picture ends on the pane's last row"
    );
    assert_eq!(
        place.band.height, pane.height,
        "the hint is far to the right"
    );
}
