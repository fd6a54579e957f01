//! Image previews in the message pane: which attachments get one and how many cells it takes.
//!
//! The size comes from the attachment's width and height (the server reads them from the file),
//! so the rows are reserved before the image is downloaded: the pane never jumps when it
//! arrives, and scrolling counts the same rows before and after.

use chat_protocol::Attachment;

/// Images drawn larger than this many pixels are not worth decoding for a preview.
pub const MAX_PIXELS: u64 = 50_000_000;
/// Nor are files larger than this many bytes (a preview downloads the whole file).
pub const MAX_BYTES: u64 = 25 * 1024 * 1024;
/// The largest preview, in cells: a glance at the picture, not the picture (`o` opens it).
pub const MAX_COLS: u16 = 48;
pub const MAX_ROWS: u16 = 12;
/// Below this many rows a preview shows too little to be worth the room it takes.
const MIN_ROWS: u16 = 4;

/// The kinds chat-tui decodes.
const DECODED: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// One terminal cell in pixels, as the terminal reported it (or a guess for coloured blocks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellPixels {
    pub width: u16,
    pub height: u16,
}

/// The box a preview must fit in, in cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviewBox {
    pub cell: CellPixels,
    pub max_cols: u16,
    pub max_rows: u16,
}

impl PreviewBox {
    /// The box for a pane `text_width` cells wide in a terminal `screen_rows` high; none where
    /// a preview would not fit (a tiny window shows the file's name only).
    pub fn new(cell: CellPixels, text_width: usize, screen_rows: u16) -> Option<PreviewBox> {
        // The pane is the screen less the header, typing, input and status rows; a preview
        // takes at most half of it, so the message it belongs to stays in view with it.
        let pane = screen_rows.saturating_sub(4);
        let max_rows = (pane / 2).min(MAX_ROWS);
        let max_cols = u16::try_from(text_width).unwrap_or(u16::MAX).min(MAX_COLS);
        (max_rows >= MIN_ROWS && max_cols >= MIN_ROWS * 2 && cell.width > 0 && cell.height > 0)
            .then_some(PreviewBox {
                cell,
                max_cols,
                max_rows,
            })
    }

    /// The cells (columns, rows) `file`'s preview takes; none for a file without one.
    pub fn cells(&self, file: &Attachment) -> Option<(u16, u16)> {
        if !previewable(file) {
            return None;
        }
        let (width, height) = (f64::from(file.width?), f64::from(file.height?));
        let (cell_w, cell_h) = (f64::from(self.cell.width), f64::from(self.cell.height));
        // Never enlarged: a small picture stays small.
        let scale = (f64::from(self.max_cols) * cell_w / width)
            .min(f64::from(self.max_rows) * cell_h / height)
            .min(1.0);
        // The nearest whole cells: rounding up would leave up to a cell of padding (or stretch a
        // picture drawn in blocks), rounding down only shrinks it by less than a cell.
        let cols = (width * scale / cell_w)
            .round()
            .clamp(1.0, f64::from(self.max_cols));
        let rows = (height * scale / cell_h)
            .round()
            .clamp(1.0, f64::from(self.max_rows));
        Some((cols as u16, rows as u16))
    }
}

/// Whether chat-tui draws a preview of `file`: a kind it decodes, with its size known and
/// within bounds.
pub fn previewable(file: &Attachment) -> bool {
    let pixels = match (file.width, file.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => u64::from(w) * u64::from(h),
        _ => return false,
    };
    DECODED.contains(&file.media_type.as_str()) && pixels <= MAX_PIXELS && file.size <= MAX_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: u32, height: u32) -> Attachment {
        Attachment {
            id: 7,
            name: "cat.png".into(),
            size: 48_000,
            media_type: "image/png".into(),
            width: Some(width),
            height: Some(height),
        }
    }

    const CELL: CellPixels = CellPixels {
        width: 10,
        height: 20,
    };

    #[test]
    fn a_large_picture_fits_the_box_keeping_its_shape() {
        let b = PreviewBox::new(CELL, 80, 35).expect("room for previews");
        assert_eq!((b.max_cols, b.max_rows), (48, 12));
        // Landscape, but the rows bound it: 240 px of 3000 high is 320 px of 4000 wide.
        assert_eq!(b.cells(&image(4000, 3000)), Some((32, 12)));
        // Wide banner: all 48 columns, few rows (40 px high: exactly 2).
        assert_eq!(b.cells(&image(4800, 400)), Some((48, 2)));
        // A thinner one: 24 px high is nearer one row than two.
        assert_eq!(b.cells(&image(2000, 100)), Some((48, 1)));
        // Portrait: the rows bound it.
        assert_eq!(b.cells(&image(1000, 4000)), Some((6, 12)));
    }

    #[test]
    fn a_small_picture_is_not_enlarged() {
        let b = PreviewBox::new(CELL, 80, 35).expect("room");
        assert_eq!(b.cells(&image(64, 64)), Some((6, 3)));
        assert_eq!(b.cells(&image(1, 1)), Some((1, 1)));
    }

    #[test]
    fn a_narrow_or_short_window_has_no_previews() {
        assert!(PreviewBox::new(CELL, 80, 10).is_none(), "40×10: names only");
        assert!(PreviewBox::new(CELL, 6, 35).is_none());
        let short = PreviewBox::new(CELL, 80, 14).expect("5 rows");
        assert_eq!(short.max_rows, 5);
    }

    #[test]
    fn only_decodable_images_of_known_size_get_one() {
        let b = PreviewBox::new(CELL, 80, 35).expect("room");
        let mut pdf = image(100, 100);
        pdf.media_type = "application/pdf".into();
        assert_eq!(b.cells(&pdf), None);
        let mut unknown = image(100, 100);
        unknown.height = None;
        assert_eq!(b.cells(&unknown), None);
        let mut huge = image(100_000, 100_000);
        huge.size = 1_000;
        assert_eq!(b.cells(&huge), None, "a decompression bomb");
        let mut heavy = image(100, 100);
        heavy.size = MAX_BYTES + 1;
        assert_eq!(b.cells(&heavy), None);
    }
}
