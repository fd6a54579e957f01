//! The runtime's image previews: each picture in view is downloaded, decoded and encoded for the
//! terminal off the UI thread, kept while it is likely to be seen again, and drawn over the rows
//! the pane left blank for it.
//!
//! Only a small copy of each picture is kept (the largest preview's pixels), so a resize
//! re-encodes without downloading again, and memory stays bounded: at most [`KEPT`] pictures.

use crate::graphics::Graphics;
use crate::model::{Connection, Model};
use crate::msg::Msg;
use crate::preview::{CellPixels, MAX_BYTES, MAX_COLS, MAX_ROWS};
use crate::transfer::{self, ApiBase, FetchError};
use crate::view::PreviewPlace;
use chat_protocol::{Attachment, FileId};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder};
use ratatui::layout::Size;
use ratatui::Frame;
use ratatui_image::picker::{Picker, ProtocolType};
use ratatui_image::sliced::{SignedPosition, SlicedImage, SlicedProtocol};
use ratatui_image::Resize;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};

/// Pictures kept decoded and encoded (about a megabyte each at most); the least recently
/// drawn go first.
const KEPT: usize = 24;
/// Pictures made at once: scrolling fast through a room of photos does not start a download
/// for each one passed; the rest are made as these finish, if still in view.
const MAKING_AT_ONCE: usize = 4;
/// After a failure that may pass (the server down, a broken connection), wait this long
/// before asking again.
const RETRY_AFTER: Duration = Duration::from_secs(30);
/// The decoder refuses images that would take more memory than this.
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// A preview made (or not) by a task.
pub struct Made {
    file: FileId,
    size: (u16, u16),
    result: Result<(Arc<DynamicImage>, SlicedProtocol), FetchError>,
}

struct Kept {
    picture: Arc<DynamicImage>,
    /// The picture encoded for the terminal at `size` (columns, rows).
    encoded: SlicedProtocol,
    size: (u16, u16),
    last_drawn: u64,
}

pub struct Previews {
    picker: Picker,
    cell: CellPixels,
    /// What transparent pixels are drawn on, for coloured blocks (which have no transparency).
    background: [u8; 3],
    /// Whether the model was connected at the last [`Previews::make_wanted`]: pictures are
    /// fetched only then, and failures are forgotten when the connection comes back.
    connected: bool,
    kept: HashMap<FileId, Kept>,
    /// Being downloaded, decoded or encoded.
    making: HashSet<FileId>,
    /// Failures that may pass, and when to try again.
    retry_at: HashMap<FileId, Instant>,
    /// Places drawn in the last frame without a picture ready: to be made.
    wanted: Vec<PreviewPlace>,
    frame: u64,
    made_tx: UnboundedSender<Made>,
}

impl Previews {
    pub fn new(graphics: Graphics, background: [u8; 3]) -> (Previews, UnboundedReceiver<Made>) {
        let (made_tx, made_rx) = mpsc::unbounded_channel();
        let previews = Previews {
            picker: graphics.picker,
            cell: graphics.cell,
            background,
            connected: false,
            kept: HashMap::new(),
            making: HashSet::new(),
            retry_at: HashMap::new(),
            wanted: Vec::new(),
            frame: 0,
            made_tx,
        };
        (previews, made_rx)
    }

    /// Draw the pictures ready for `places`; note the others, for [`Previews::make_wanted`].
    pub fn draw(&mut self, places: &[PreviewPlace], frame: &mut Frame<'_>) {
        self.frame += 1;
        self.wanted.clear();
        for place in places {
            let size = (place.spot.cols, place.spot.rows);
            match self.kept.get_mut(&place.spot.file.id) {
                Some(kept) if kept.size == size => {
                    kept.last_drawn = self.frame;
                    let position = SignedPosition {
                        x: 0,
                        y: i16::try_from(place.spot.row).unwrap_or(i16::MIN),
                    };
                    frame.render_widget(SlicedImage::new(&kept.encoded, position), place.band);
                }
                _ => self.wanted.push(place.clone()),
            }
        }
    }

    /// Start making the pictures the last frame wanted and did not have.
    pub fn make_wanted(&mut self, model: &Model) {
        let connected = matches!(model.conn, Connection::Connected { .. });
        if connected && !self.connected {
            // The server is back: what failed while it was away may work now.
            self.retry_at.clear();
        }
        self.connected = connected;
        let now = Instant::now();
        self.retry_at.retain(|_, at| *at > now);
        for place in std::mem::take(&mut self.wanted) {
            let file = place.spot.file;
            let size = (place.spot.cols, place.spot.rows);
            if self.making.contains(&file.id) || self.retry_at.contains_key(&file.id) {
                continue;
            }
            if self.making.len() >= MAKING_AT_ONCE {
                break;
            }
            let kept = self.kept.get(&file.id).map(|k| k.picture.clone());
            // Without the server there is nothing to download: wait for it.
            if kept.is_none() && !connected {
                continue;
            }
            self.making.insert(file.id);
            let look = Look {
                picker: self.picker.clone(),
                cell: self.cell,
                background: self.background,
            };
            let done = self.made_tx.clone();
            match kept {
                // The window changed size: encode the kept copy again.
                Some(picture) => {
                    tokio::task::spawn_blocking(move || {
                        let result = encode(&look, picture, size);
                        let _ = done.send(Made {
                            file: file.id,
                            size,
                            result,
                        });
                    });
                }
                None => {
                    let server = model.server_url.clone();
                    let token = model.token.clone().unwrap_or_default();
                    tokio::spawn(async move {
                        let id = file.id;
                        let result = make(server, token, file, look, size).await;
                        let _ = done.send(Made {
                            file: id,
                            size,
                            result,
                        });
                    });
                }
            }
        }
    }

    /// Keep what a task made. A file that will never preview is told to `update`, which shows
    /// it by name only from then on.
    pub fn made(&mut self, made: Made) -> Option<Msg> {
        self.making.remove(&made.file);
        match made.result {
            Ok((picture, encoded)) => {
                self.kept.insert(
                    made.file,
                    Kept {
                        picture,
                        encoded,
                        size: made.size,
                        last_drawn: self.frame,
                    },
                );
                self.forget_least_recent();
                None
            }
            Err(FetchError::Failed(reason)) => {
                tracing::info!("no preview of file {} for now: {reason}", made.file);
                self.retry_at
                    .insert(made.file, Instant::now() + RETRY_AFTER);
                None
            }
            Err(FetchError::Refused(reason)) => {
                tracing::info!("no preview of file {}: {reason}", made.file);
                self.kept.remove(&made.file);
                Some(Msg::NoPreview { file_id: made.file })
            }
        }
    }

    fn forget_least_recent(&mut self) {
        while self.kept.len() > KEPT {
            let oldest = self
                .kept
                .iter()
                .min_by_key(|(_, kept)| kept.last_drawn)
                .map(|(id, _)| *id);
            match oldest {
                Some(id) => self.kept.remove(&id),
                None => break,
            };
        }
    }
}

/// How pictures are drawn: the encoder, the cell size, and the background for blocks.
struct Look {
    picker: Picker,
    cell: CellPixels,
    background: [u8; 3],
}

/// Download, decode, shrink and encode one picture.
async fn make(
    server: String,
    token: String,
    file: Attachment,
    look: Look,
    size: (u16, u16),
) -> Result<(Arc<DynamicImage>, SlicedProtocol), FetchError> {
    let base = ApiBase::of(&server).map_err(FetchError::Refused)?;
    let bytes = transfer::fetch(&base, &token, &file, MAX_BYTES).await?;
    tokio::task::spawn_blocking(move || {
        let picture = Arc::new(decode(&bytes, look.cell)?);
        encode(&look, picture, size)
    })
    .await
    .map_err(|e| FetchError::Refused(format!("the decoder stopped: {e}")))?
}

/// The picture in `bytes`, no larger than the largest preview: the copy kept, from which a
/// preview of any size is made.
fn decode(bytes: &[u8], cell: CellPixels) -> Result<DynamicImage, FetchError> {
    let undecodable =
        |e: image::ImageError| FetchError::Refused(format!("cannot decode the image: {e}"));
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| FetchError::Refused(format!("cannot read the image: {e}")))?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    if decoder.total_bytes() > MAX_DECODE_BYTES {
        return Err(FetchError::Refused(format!(
            "the image is too large to decode ({} bytes of pixels)",
            decoder.total_bytes()
        )));
    }
    // A phone's photo is stored sideways with an Exif note saying how to turn it; the server
    // gives its size as shown, so the preview is turned the same way.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut picture = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    picture.apply_orientation(orientation);
    let (max_w, max_h) = (
        u32::from(MAX_COLS) * u32::from(cell.width),
        u32::from(MAX_ROWS) * u32::from(cell.height),
    );
    Ok(if picture.width() > max_w || picture.height() > max_h {
        picture.thumbnail(max_w, max_h)
    } else {
        picture
    })
}

/// `picture` encoded for the terminal to fill at most `size` cells.
fn encode(
    look: &Look,
    picture: Arc<DynamicImage>,
    (cols, rows): (u16, u16),
) -> Result<(Arc<DynamicImage>, SlicedProtocol), FetchError> {
    let fitted = if look.picker.protocol_type() == ProtocolType::Halfblocks {
        blocks_ready(&picture, look, (cols, rows))
    } else {
        // Pixel graphics keep the picture's shape and its transparency.
        (*picture).clone()
    };
    let encoded = SlicedProtocol::new_with_resize(
        &look.picker,
        fitted,
        Size::new(cols, rows),
        Resize::Fit(None),
    )
    .map_err(|e| FetchError::Refused(format!("cannot draw the image: {e}")))?;
    Ok((picture, encoded))
}

/// For coloured blocks, which have neither transparency nor half a block: the picture made
/// exactly `size` cells (the cells were chosen to its shape, to the nearest cell), on the
/// background. Otherwise the margin and transparent pixels are drawn black, and the last half
/// row blends with that black.
fn blocks_ready(picture: &DynamicImage, look: &Look, (cols, rows): (u16, u16)) -> DynamicImage {
    let (width, height) = (
        u32::from(cols) * u32::from(look.cell.width),
        u32::from(rows) * u32::from(look.cell.height),
    );
    let filter = image::imageops::FilterType::Triangle;
    // The cells were chosen to the shape the server read, so the picture fits them but for
    // rounding, and is stretched that little. Should its own shape differ by more than a cell
    // (an Exif turn in a format the server does not read turns for), it is fitted and centred.
    let fitted = picture.resize(width, height, filter);
    let fitted = if width - fitted.width() < u32::from(look.cell.width)
        && height - fitted.height() < u32::from(look.cell.height)
    {
        picture.resize_exact(width, height, filter)
    } else {
        fitted
    };
    let [r, g, b] = look.background;
    let mut exact = image::RgbaImage::from_pixel(width, height, image::Rgba([r, g, b, 255]));
    let (left, top) = ((width - fitted.width()) / 2, (height - fitted.height()) / 2);
    image::imageops::overlay(&mut exact, &fitted, i64::from(left), i64::from(top));
    DynamicImage::ImageRgba8(exact)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui_image::picker::ProtocolType;

    const CELL: CellPixels = CellPixels {
        width: 10,
        height: 20,
    };

    fn previews() -> (Previews, UnboundedReceiver<Made>) {
        Previews::new(
            Graphics {
                picker: Picker::halfblocks(),
                cell: CELL,
            },
            [0, 0, 0],
        )
    }

    fn encoded(picture: &image::RgbImage, format: image::ImageFormat) -> Vec<u8> {
        let mut bytes = Vec::new();
        picture
            .write_to(&mut std::io::Cursor::new(&mut bytes), format)
            .expect("encode");
        bytes
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        let picture = image::RgbImage::from_pixel(width, height, image::Rgb([0, 128, 255]));
        encoded(&picture, image::ImageFormat::Png)
    }

    fn look(picker: &Picker) -> Look {
        Look {
            picker: picker.clone(),
            cell: CELL,
            background: [0, 0, 0],
        }
    }

    #[test]
    fn blocks_fill_their_cells_exactly_on_the_background() {
        // Left half red, right half transparent; on a light theme's white.
        let picture = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(64, 64, |x, _| {
            if x < 32 {
                image::Rgba([255, 0, 0, 255])
            } else {
                image::Rgba([0, 0, 0, 0])
            }
        }));
        let look = Look {
            background: [255, 255, 255],
            ..look(&Picker::halfblocks())
        };
        let ready = blocks_ready(&picture, &look, (6, 3)).to_rgba8();
        assert_eq!(ready.dimensions(), (60, 60), "6×3 cells of 10×20");
        assert_eq!(
            ready.get_pixel(0, 59).0,
            [255, 0, 0, 255],
            "no dark bottom edge"
        );
        assert_eq!(
            ready.get_pixel(59, 0).0,
            [255, 255, 255, 255],
            "transparent: white"
        );
    }

    #[test]
    fn a_picture_of_another_shape_than_its_cells_is_fitted_and_centred_in_blocks() {
        // A tall red picture in cells of a wide shape: red in the middle, background beside.
        let picture =
            DynamicImage::ImageRgb8(image::RgbImage::from_pixel(20, 80, image::Rgb([255, 0, 0])));
        let ready = blocks_ready(&picture, &look(&Picker::halfblocks()), (8, 2)).to_rgba8();
        assert_eq!(ready.dimensions(), (80, 40));
        assert_eq!(ready.get_pixel(40, 20).0, [255, 0, 0, 255], "the middle");
        assert_eq!(ready.get_pixel(5, 20).0, [0, 0, 0, 255], "the left margin");
        assert_eq!(
            ready.get_pixel(75, 20).0,
            [0, 0, 0, 255],
            "the right margin"
        );
    }

    /// A JPEG of `width`×`height`, top half red and bottom half blue, with an Exif orientation.
    fn jpeg_with_orientation(width: u32, height: u32, orientation: u16) -> Vec<u8> {
        jpeg_with_exifs(width, height, &[orientation])
    }

    /// The same with an Exif segment for each of `orientations`, in order.
    fn jpeg_with_exifs(width: u32, height: u32, orientations: &[u16]) -> Vec<u8> {
        let picture = image::RgbImage::from_fn(width, height, |_, y| {
            if y < height / 2 {
                image::Rgb([255, 0, 0])
            } else {
                image::Rgb([0, 0, 255])
            }
        });
        let mut jpeg = encoded(&picture, image::ImageFormat::Jpeg);
        for &orientation in orientations.iter().rev() {
            // APP1: "Exif\0\0", then a little-endian TIFF header with one IFD0 entry, 0x0112.
            let mut exif = b"Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".to_vec();
            exif.extend_from_slice(&orientation.to_le_bytes());
            exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            let mut app1 = vec![0xFF, 0xE1];
            app1.extend_from_slice(&(exif.len() as u16 + 2).to_be_bytes());
            app1.extend_from_slice(&exif);
            jpeg.splice(2..2, app1);
        }
        jpeg
    }

    #[test]
    fn a_photo_stored_sideways_is_turned_as_its_exif_says() {
        // Stored 60 wide, 20 high; orientation 6 means "turn 90° clockwise to show".
        let turned = decode(&jpeg_with_orientation(60, 20, 6), CELL).expect("decodes");
        assert_eq!((turned.width(), turned.height()), (20, 60));
        let turned = turned.to_rgb8();
        // The stored top (red) is now on the right, the bottom (blue) on the left.
        let [r, _, b] = turned.get_pixel(17, 30).0;
        assert!(
            r > 200 && b < 60,
            "right is red: {:?}",
            turned.get_pixel(17, 30)
        );
        let [r, _, b] = turned.get_pixel(2, 30).0;
        assert!(
            b > 200 && r < 60,
            "left is blue: {:?}",
            turned.get_pixel(2, 30)
        );
        let upright = decode(&jpeg_with_orientation(60, 20, 1), CELL).expect("decodes");
        assert_eq!((upright.width(), upright.height()), (60, 20));
        // Of two Exif segments the last counts (the server reads them the same way).
        let two = decode(&jpeg_with_exifs(60, 20, &[6, 1]), CELL).expect("decodes");
        assert_eq!((two.width(), two.height()), (60, 20));
        let two = decode(&jpeg_with_exifs(60, 20, &[1, 6]), CELL).expect("decodes");
        assert_eq!((two.width(), two.height()), (20, 60));
    }

    #[tokio::test]
    async fn pictures_are_fetched_only_while_connected_and_failures_retried_on_return() {
        let (mut previews, _rx) = previews();
        let mut model = crate::update::tests::connected_model();
        model.conn = Connection::Offline;
        let place = PreviewPlace {
            spot: crate::pane::PreviewSpot {
                file: Attachment {
                    id: 5,
                    name: "p.png".into(),
                    size: 100,
                    media_type: "image/png".into(),
                    width: Some(80),
                    height: Some(80),
                },
                row: 0,
                cols: 8,
                rows: 4,
            },
            band: ratatui::layout::Rect::new(0, 0, 8, 4),
        };
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(10, 5)).expect("terminal");
        let mut frame = |previews: &mut Previews| {
            terminal
                .draw(|f| previews.draw(std::slice::from_ref(&place), f))
                .expect("draw");
        };
        frame(&mut previews);
        previews.make_wanted(&model);
        assert!(
            previews.making.is_empty(),
            "nothing to fetch from while offline"
        );
        // A failure while the server was going away is not retried for a while…
        previews.made(Made {
            file: 5,
            size: (8, 4),
            result: Err(FetchError::Failed("connection refused".into())),
        });
        frame(&mut previews);
        previews.make_wanted(&model);
        assert!(previews.making.is_empty());
        // …unless the connection comes back.
        model.conn = Connection::Connected {
            since: model.now,
            rtt_ms: None,
            ping_sent: None,
        };
        frame(&mut previews);
        previews.make_wanted(&model);
        assert!(previews.making.contains(&5), "asked again at once");
    }

    fn made(file: FileId, picker: &Picker) -> Made {
        let picture = Arc::new(decode(&png(40, 40), CELL).expect("decodes"));
        Made {
            file,
            size: (4, 2),
            result: encode(&look(picker), picture, (4, 2)),
        }
    }

    #[test]
    fn a_large_picture_is_kept_at_the_largest_preview_size() {
        let picture = decode(&png(4000, 1000), CELL).expect("decodes");
        assert_eq!((picture.width(), picture.height()), (480, 120));
        let small = decode(&png(64, 32), CELL).expect("decodes");
        assert_eq!((small.width(), small.height()), (64, 32), "not enlarged");
        let mut cut = png(300, 200);
        cut.truncate(60);
        assert!(matches!(decode(&cut, CELL), Err(FetchError::Refused(_))));
        assert!(matches!(
            decode(b"GIF89a not really", CELL),
            Err(FetchError::Refused(_))
        ));
    }

    #[test]
    fn a_refused_picture_is_named_and_a_failed_one_tried_again_later() {
        let (mut previews, _rx) = previews();
        let refused = Made {
            file: 1,
            size: (4, 2),
            result: Err(FetchError::Refused("404".into())),
        };
        assert!(matches!(
            previews.made(refused),
            Some(Msg::NoPreview { file_id: 1 })
        ));
        let failed = Made {
            file: 2,
            size: (4, 2),
            result: Err(FetchError::Failed("server down".into())),
        };
        assert!(previews.made(failed).is_none());
        assert!(
            previews.retry_at.contains_key(&2),
            "not asked again at once"
        );
    }

    /// The buffer after drawing file 1's picture (8×4 cells) at `row` of a 20×6 band at (2, 1).
    fn drawn_at(protocol: ProtocolType, row: i32) -> ratatui::buffer::Buffer {
        // The constructor that takes a cell size; the terminal is not asked here.
        #[allow(deprecated)]
        let mut picker = Picker::from_fontsize((10, 20).into());
        picker.set_protocol_type(protocol);
        let (mut previews, _rx) = Previews::new(
            Graphics {
                picker: picker.clone(),
                cell: CELL,
            },
            [0, 0, 0],
        );
        let picture = Arc::new(decode(&png(80, 80), CELL).expect("decodes"));
        let made = Made {
            file: 1,
            size: (8, 4),
            result: encode(&look(&picker), picture, (8, 4)),
        };
        assert!(previews.made(made).is_none());
        let spot = crate::pane::PreviewSpot {
            file: Attachment {
                id: 1,
                name: "p.png".into(),
                size: 100,
                media_type: "image/png".into(),
                width: Some(80),
                height: Some(80),
            },
            row,
            cols: 8,
            rows: 4,
        };
        let place = PreviewPlace {
            spot,
            band: ratatui::layout::Rect::new(2, 1, 20, 6),
        };
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(30, 10)).expect("terminal");
        terminal
            .draw(|f| previews.draw(std::slice::from_ref(&place), f))
            .expect("draw");
        assert!(previews.wanted.is_empty(), "it was ready");
        terminal.backend().buffer().clone()
    }

    #[test]
    fn sixel_and_kitty_pictures_are_drawn_in_their_band_even_when_cut_off_above() {
        // Sixel: the picture's data sits in its top-left cell.
        let whole = drawn_at(ProtocolType::Sixel, 1);
        assert!(
            whole[(2, 2)].symbol().contains("\x1bP"),
            "a DCS at the spot"
        );
        // Two of its four rows above the band: the rest starts at the band's top.
        let cut = drawn_at(ProtocolType::Sixel, -2);
        assert!(cut[(2, 1)].symbol().contains("\x1bP"));
        assert!(
            !cut[(2, 0)].symbol().contains("\x1bP"),
            "nothing above the band"
        );
        // Below the band: nothing drawn.
        let below = drawn_at(ProtocolType::Sixel, 6);
        let any_sixel = below.content().iter().any(|c| c.symbol().contains("\x1bP"));
        assert!(!any_sixel);
        // Kitty: placeholder characters in every cell of the picture's rows in view.
        let kitty = drawn_at(ProtocolType::Kitty, -2);
        for y in 1..3 {
            assert!(
                kitty[(3, y)].symbol().starts_with('\u{10EEEE}'),
                "row {y}: {:?}",
                kitty[(3, y)].symbol()
            );
        }
        assert!(
            !kitty[(3, 3)].symbol().starts_with('\u{10EEEE}'),
            "only 2 rows left"
        );
    }

    #[test]
    fn only_the_most_recently_drawn_pictures_are_kept() {
        let (mut previews, _rx) = previews();
        let picker = previews.picker.clone();
        for file in 0..KEPT as FileId + 6 {
            previews.frame += 1;
            assert!(previews.made(made(file, &picker)).is_none());
        }
        assert_eq!(previews.kept.len(), KEPT);
        assert!(!previews.kept.contains_key(&0), "the oldest went first");
        assert!(previews.kept.contains_key(&(KEPT as FileId + 5)));
    }
}
