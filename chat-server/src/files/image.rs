//! What is known of an uploaded image without decoding it: its media type and its size in
//! pixels as it is shown. A phone stores a portrait photo as a landscape JPEG with an Exif
//! note to turn it; the size given is the turned one, so that clients reserve the right shape.

use image::metadata::Orientation;
use std::io::Read;
use std::path::Path;

/// The most of a JPEG read for its Exif segment, which comes before the picture's data and
/// is at most 64 KiB (behind an optional JFIF segment).
const JPEG_HEAD_BYTES: u64 = 128 * 1024;

/// The media type and the size in pixels as shown, or none for a file that is not an image of
/// a kind people preview (or claims no pixels).
pub fn image_info(path: &Path) -> Option<(&'static str, u32, u32)> {
    use imagesize::ImageType;
    let mut header = [0u8; 64];
    let n = std::fs::File::open(path).ok()?.read(&mut header).ok()?;
    let media_type = match imagesize::image_type(&header[..n]).ok()? {
        ImageType::Png => "image/png",
        ImageType::Jpeg => "image/jpeg",
        ImageType::Gif => "image/gif",
        ImageType::Webp => "image/webp",
        ImageType::Bmp => "image/bmp",
        _ => return None,
    };
    let size = imagesize::size(path).ok()?;
    let width = u32::try_from(size.width).ok()?;
    let height = u32::try_from(size.height).ok()?;
    if width == 0 || height == 0 {
        return None;
    }
    let turned = media_type == "image/jpeg" && jpeg_orientation(path).is_some_and(turns_sideways);
    Some(if turned {
        (media_type, height, width)
    } else {
        (media_type, width, height)
    })
}

/// Orientations that turn the picture a quarter, so its width is shown as its height.
fn turns_sideways(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// The orientation in a JPEG's Exif (APP1) segment, if it has one.
fn jpeg_orientation(path: &Path) -> Option<Orientation> {
    let mut head = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(JPEG_HEAD_BYTES)
        .read_to_end(&mut head)
        .ok()?;
    let exif = exif_segment(&head)?;
    Orientation::from_exif_chunk(exif)
}

/// The Exif data (from its TIFF header on) of the JPEG that starts with `head`: the segments
/// are walked from the start of the file up to the picture's data. Of several Exif segments
/// the last is taken, as the decoder clients preview with (zune-jpeg, in the image crate)
/// does, so the size given and the picture drawn agree.
fn exif_segment(head: &[u8]) -> Option<&[u8]> {
    const START_OF_SCAN: u8 = 0xDA;
    const APP1: u8 = 0xE1;
    if !head.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut at = 2;
    let mut exif = None;
    while at + 4 <= head.len() {
        if head[at] != 0xFF {
            break;
        }
        let marker = head[at + 1];
        if marker == 0xFF {
            // A fill byte before a marker.
            at += 1;
            continue;
        }
        if marker == START_OF_SCAN {
            break;
        }
        let length = usize::from(u16::from_be_bytes([head[at + 2], head[at + 3]]));
        let Some(body) = head.get(at + 4..(at + 2 + length).min(head.len())) else {
            break;
        };
        if marker == APP1 {
            if let Some(tiff) = body.strip_prefix(b"Exif\0\0") {
                exif = Some(tiff);
            }
        }
        at += 2 + length;
    }
    exif
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest JPEG head imagesize reads: start, an Exif segment with `orientation` (if
    /// any), and a frame header saying `width`×`height`.
    fn jpeg(width: u16, height: u16, orientation: Option<u16>) -> Vec<u8> {
        jpeg_with_exifs(width, height, orientation.as_slice())
    }

    /// The same with an Exif segment for each of `orientations`, in order.
    fn jpeg_with_exifs(width: u16, height: u16, orientations: &[u16]) -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xD8];
        // A JFIF segment first, as most cameras write.
        bytes.extend_from_slice(b"\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00");
        for &orientation in orientations {
            let mut exif = b"Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".to_vec();
            exif.extend_from_slice(&orientation.to_le_bytes());
            exif.extend_from_slice(&[0; 6]);
            bytes.extend_from_slice(&[0xFF, 0xE1]);
            bytes.extend_from_slice(&(exif.len() as u16 + 2).to_be_bytes());
            bytes.extend_from_slice(&exif);
        }
        bytes.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
        bytes.extend_from_slice(&height.to_be_bytes());
        bytes.extend_from_slice(&width.to_be_bytes());
        bytes.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        bytes.extend_from_slice(&[0xFF, 0xD9]);
        bytes
    }

    fn info_of(bytes: &[u8]) -> Option<(&'static str, u32, u32)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("upload");
        std::fs::write(&path, bytes).unwrap();
        image_info(&path)
    }

    #[test]
    fn a_photo_stored_sideways_is_given_the_size_it_is_shown_at() {
        let (wide, tall) = (
            Some(("image/jpeg", 4032, 3024)),
            Some(("image/jpeg", 3024, 4032)),
        );
        // None: no Exif; 1 upright; 2–4 flipped or upside down; 5–8 turned a quarter; 42 nonsense.
        let cases = [
            (None, wide),
            (Some(1), wide),
            (Some(2), wide),
            (Some(3), wide),
            (Some(4), wide),
            (Some(5), tall),
            (Some(6), tall),
            (Some(7), tall),
            (Some(8), tall),
            (Some(42), wide),
        ];
        for (orientation, shown) in cases {
            let info = info_of(&jpeg(4032, 3024, orientation));
            assert_eq!(info, shown, "orientation {orientation:?}");
        }
    }

    #[test]
    fn of_two_exif_segments_the_last_counts_as_for_the_clients_decoder() {
        let info = info_of(&jpeg_with_exifs(400, 200, &[6, 1]));
        assert_eq!(info, Some(("image/jpeg", 400, 200)));
        let info = info_of(&jpeg_with_exifs(400, 200, &[1, 6]));
        assert_eq!(info, Some(("image/jpeg", 200, 400)));
    }

    #[test]
    fn a_cut_exif_segment_is_ignored() {
        let mut cut = jpeg(640, 480, Some(6));
        // The segment claims more than the file holds.
        cut[22] = 0x7F;
        cut.truncate(40);
        let tiff = exif_segment(&cut).expect("the part that is there");
        assert_eq!(tiff.len(), 10);
        assert_eq!(Orientation::from_exif_chunk(tiff), None);
        assert!(info_of(&cut).is_none(), "no frame header: not an image");
    }

    #[test]
    fn an_image_of_no_pixels_is_not_an_image() {
        assert_eq!(info_of(&jpeg(0, 480, None)), None);
        assert_eq!(info_of(&jpeg(640, 0, None)), None);
    }
}
