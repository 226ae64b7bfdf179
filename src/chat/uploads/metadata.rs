//! An image's bytes without its metadata, the pixels untouched. Cameras and phones put the
//! place (GPS), the time, the device and its owner in EXIF, XMP, IPTC, comments, text chunks,
//! second images (Multi-Picture) and trailers after the image (motion photos); all of it goes.
//! Each format keeps only what is needed to show the image (a whitelist, not a blacklist), and
//! anything that cannot be walked is refused rather than kept as it came. When the image is
//! to be turned, a minimal EXIF holding only the orientation is put back, so browsers still
//! show it upright.
//!
//! JPEG and GIF are walked here (img-parts keeps a JPEG's data after its first scan as one
//! block, trailers included, and reads no GIF); PNG and WebP chunks through img-parts.

use bytes::Bytes;
use image::ImageFormat;
use image::metadata::Orientation;
use img_parts::ImageEXIF as _;

/// Why an image could not be cleaned.
#[derive(Debug, PartialEq, Eq)]
pub struct Unreadable;

/// The image without metadata (a minimal orientation EXIF kept when it is turned).
pub fn strip(
    bytes: &[u8],
    format: ImageFormat,
    orientation: Orientation,
) -> Result<Vec<u8>, Unreadable> {
    let upright = orientation_exif(orientation);
    match format {
        ImageFormat::Jpeg => jpeg(bytes, upright.as_deref()),
        ImageFormat::Png => {
            let mut png = img_parts::png::Png::from_bytes(Bytes::copy_from_slice(bytes))
                .map_err(|_| Unreadable)?;
            png.chunks_mut().retain(|c| PNG_KEEP.contains(&c.kind()));
            png.set_exif(upright.map(Bytes::from));
            Ok(png.encoder().bytes().to_vec())
        }
        ImageFormat::WebP => {
            let mut webp = img_parts::webp::WebP::from_bytes(Bytes::copy_from_slice(bytes))
                .map_err(|_| Unreadable)?;
            webp.chunks_mut().retain(|c| WEBP_KEEP.contains(&c.id()));
            webp.set_exif(upright.map(Bytes::from));
            Ok(webp.encoder().bytes().to_vec())
        }
        ImageFormat::Gif => gif(bytes),
        _ => Err(Unreadable),
    }
}

/// The PNG chunks that draw the image (APNG's frames included); text, EXIF, times and private
/// chunks go.
const PNG_KEEP: [[u8; 4]; 16] = [
    *b"IHDR", *b"PLTE", *b"IDAT", *b"IEND", *b"tRNS", *b"gAMA", *b"cHRM", *b"sRGB", *b"iCCP",
    *b"sBIT", *b"bKGD", *b"cICP", *b"pHYs", *b"acTL", *b"fcTL", *b"fdAT",
];

/// The WebP chunks that draw the image (animation included); EXIF, XMP and unknown ones go.
const WEBP_KEEP: [[u8; 4]; 7] = [
    *b"VP8X", *b"VP8 ", *b"VP8L", *b"ALPH", *b"ANIM", *b"ANMF", *b"ICCP",
];

/// A JPEG's first image only, from its start to its end marker: every marker segment is kept
/// but application segments other than JFIF, an ICC profile and Adobe's colour transform,
/// and comments; a second image or a trailer after the end marker goes.
fn jpeg(b: &[u8], upright: Option<&[u8]>) -> Result<Vec<u8>, Unreadable> {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return Err(Unreadable);
    }
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    let mut exif_placed = upright.is_none();
    let mut i = 2;
    loop {
        // A marker: 0xFF (fill bytes allowed), then its code.
        if b.get(i) != Some(&0xFF) {
            return Err(Unreadable);
        }
        while b.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        let code = *b.get(i + 1).ok_or(Unreadable)?;
        if code == 0xD9 {
            out.extend_from_slice(&[0xFF, 0xD9]);
            return Ok(out);
        }
        if (0xD0..=0xD7).contains(&code) || code == 0x01 {
            out.extend_from_slice(&[0xFF, code]);
            i += 2;
            continue;
        }
        let len = u16::from_be_bytes([
            *b.get(i + 2).ok_or(Unreadable)?,
            *b.get(i + 3).ok_or(Unreadable)?,
        ]) as usize;
        let segment = b.get(i..i + 2 + len).ok_or(Unreadable)?;
        if len < 2 {
            return Err(Unreadable);
        }
        let payload = &segment[4..];
        let keep = match code {
            0xE0 => payload.starts_with(b"JFIF\0") || payload.starts_with(b"JFXX\0"),
            0xE2 => payload.starts_with(b"ICC_PROFILE\0"),
            0xEE => payload.starts_with(b"Adobe"),
            0xE1 | 0xE3..=0xED | 0xEF | 0xFE => false,
            _ => true,
        };
        // The orientation goes right after the JFIF segment (or the start), before the frame.
        if !exif_placed && code != 0xE0 {
            let exif = upright.expect("not placed means there is one");
            let mut app1 = vec![0xFF, 0xE1];
            app1.extend_from_slice(&((exif.len() + 8) as u16).to_be_bytes());
            app1.extend_from_slice(b"Exif\0\0");
            app1.extend_from_slice(exif);
            out.extend_from_slice(&app1);
            exif_placed = true;
        }
        if keep {
            out.extend_from_slice(segment);
        }
        i += 2 + len;
        if code == 0xDA {
            // Entropy-coded data runs to the next marker that is not a stuffed 0xFF or a
            // restart marker.
            let start = i;
            loop {
                match (b.get(i), b.get(i + 1)) {
                    (Some(0xFF), Some(&next)) if next != 0x00 && !(0xD0..=0xD7).contains(&next) => {
                        break;
                    }
                    (Some(_), Some(_)) => i += 1,
                    _ => return Err(Unreadable),
                }
            }
            out.extend_from_slice(&b[start..i]);
        }
    }
}

/// A GIF without comments and application extensions other than the looping ones: the
/// header, colour tables, images and their control extensions stay, anything after the
/// trailer goes.
fn gif(b: &[u8]) -> Result<Vec<u8>, Unreadable> {
    if b.len() < 13 || !(b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a")) {
        return Err(Unreadable);
    }
    let table = |flags: u8| {
        if flags & 0x80 != 0 {
            3usize << ((flags & 7) + 1)
        } else {
            0
        }
    };
    let mut i = 13 + table(b[10]);
    let mut out = b.get(..i).ok_or(Unreadable)?.to_vec();
    // The length of the sub-blocks starting at `at`, their terminator included.
    let blocks = |mut at: usize| -> Result<usize, Unreadable> {
        let start = at;
        loop {
            let n = *b.get(at).ok_or(Unreadable)? as usize;
            at += 1 + n;
            if n == 0 {
                return Ok(at - start);
            }
        }
    };
    loop {
        match *b.get(i).ok_or(Unreadable)? {
            0x3B => {
                out.push(0x3B);
                return Ok(out);
            }
            0x21 => {
                let label = *b.get(i + 1).ok_or(Unreadable)?;
                let len = 2 + blocks(i + 2)?;
                let keep = match label {
                    0xF9 | 0x01 => true,
                    0xFF => {
                        let id = b.get(i + 3..i + 14).ok_or(Unreadable)?;
                        id == b"NETSCAPE2.0" || id == b"ANIMEXTS1.0"
                    }
                    _ => false,
                };
                if keep {
                    out.extend_from_slice(b.get(i..i + len).ok_or(Unreadable)?);
                }
                i += len;
            }
            0x2C => {
                let flags = *b.get(i + 9).ok_or(Unreadable)?;
                let head = 10 + table(flags) + 1;
                let len = head + blocks(i + head)?;
                out.extend_from_slice(b.get(i..i + len).ok_or(Unreadable)?);
                i += len;
            }
            _ => return Err(Unreadable),
        }
    }
}

/// A TIFF structure holding one tag, the orientation (`None` for upright images).
fn orientation_exif(orientation: Orientation) -> Option<Vec<u8>> {
    let value = orientation.to_exif();
    if value == 1 {
        return None;
    }
    let mut tiff = Vec::with_capacity(26);
    tiff.extend_from_slice(b"MM\0\x2a\0\0\0\x08"); // big-endian, first directory at 8
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // one value
    tiff.extend_from_slice(&u16::from(value).to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // padding to four bytes
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next directory
    Some(tiff)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::ImageDecoder as _;

    use super::*;

    fn encoded(format: ImageFormat) -> Vec<u8> {
        let image = image::RgbaImage::from_fn(40, 30, |x, y| {
            image::Rgba([x as u8 * 6, y as u8 * 8, 90, 255])
        });
        let image = if format == ImageFormat::Jpeg {
            image::DynamicImage::ImageRgba8(image).to_rgb8().into()
        } else {
            image::DynamicImage::ImageRgba8(image)
        };
        let mut out = Vec::new();
        image.write_to(&mut Cursor::new(&mut out), format).unwrap();
        out
    }

    fn pixels(bytes: &[u8]) -> Vec<u8> {
        image::load_from_memory(bytes)
            .unwrap()
            .to_rgba8()
            .into_raw()
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn a_jpeg_loses_exif_comments_second_images_and_trailers_but_not_a_pixel() {
        let plain = encoded(ImageFormat::Jpeg);
        // After the start: an EXIF with a place, an XMP, a comment, a Multi-Picture segment;
        // after the end: a second JPEG and a motion photo's MP4.
        let mut b = plain[..2].to_vec();
        for (code, payload) in [
            (0xE1u8, &b"Exif\0\0MM\0*GPS secret-place"[..]),
            (
                0xE1,
                b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>secret-owner",
            ),
            (0xFE, b"secret-comment"),
            (0xE2, b"MPF\0secret-mpf"),
            (0xED, b"Photoshop 3.0\0secret-iptc"),
        ] {
            b.extend_from_slice(&[0xFF, code]);
            b.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
            b.extend_from_slice(payload);
        }
        b.extend_from_slice(&plain[2..]);
        b.extend_from_slice(&plain);
        b.extend_from_slice(b"ftypmp42 secret-video");
        let clean = strip(&b, ImageFormat::Jpeg, Orientation::NoTransforms).unwrap();
        assert!(!contains(&clean, b"secret"), "metadata left");
        assert_eq!(
            clean, plain,
            "the same bytes as the image without its metadata"
        );
        assert_eq!(pixels(&clean), pixels(&plain));
    }

    #[test]
    fn a_turned_jpeg_keeps_only_its_orientation() {
        let plain = encoded(ImageFormat::Jpeg);
        let clean = strip(&plain, ImageFormat::Jpeg, Orientation::Rotate90).unwrap();
        let mut decoder = image::codecs::jpeg::JpegDecoder::new(Cursor::new(&clean)).unwrap();
        assert_eq!(decoder.orientation().unwrap(), Orientation::Rotate90);
        assert_eq!(pixels(&clean), pixels(&plain));
    }

    #[test]
    fn png_and_webp_keep_only_the_chunks_that_draw() {
        for format in [ImageFormat::Png, ImageFormat::WebP] {
            let plain = encoded(format);
            let dirty = match format {
                ImageFormat::Png => {
                    let mut png = img_parts::png::Png::from_bytes(plain.clone().into()).unwrap();
                    for kind in [*b"tEXt", *b"iTXt", *b"zTXt", *b"eXIf", *b"prVt"] {
                        let chunk = img_parts::png::PngChunk::new(
                            kind,
                            Bytes::from_static(b"secret-place"),
                        );
                        png.chunks_mut().insert(1, chunk);
                    }
                    let mut out = png.encoder().bytes().to_vec();
                    out.extend_from_slice(b"secret-trailer");
                    out
                }
                _ => {
                    let mut webp = img_parts::webp::WebP::from_bytes(plain.clone().into()).unwrap();
                    webp.set_exif(Some(Bytes::from_static(b"MM\0*secret-place")));
                    let xmp = img_parts::riff::RiffChunk::new(
                        *b"XMP ",
                        img_parts::riff::RiffContent::Data(Bytes::from_static(b"secret-owner")),
                    );
                    webp.chunks_mut().push(xmp);
                    webp.encoder().bytes().to_vec()
                }
            };
            assert!(contains(&dirty, b"secret"));
            let clean = strip(&dirty, format, Orientation::NoTransforms).unwrap();
            assert!(!contains(&clean, b"secret"), "{format:?}");
            assert_eq!(pixels(&clean), pixels(&plain), "{format:?}");
        }
    }

    #[test]
    fn a_gif_loses_comments_and_foreign_extensions_but_keeps_looping() {
        let plain = encoded(ImageFormat::Gif);
        let mut b = plain[..plain.len() - 1].to_vec();
        b.extend_from_slice(&[0x21, 0xFE, 14]);
        b.extend_from_slice(b"secret-comment");
        b.push(0);
        b.extend_from_slice(&[0x21, 0xFF, 11]);
        b.extend_from_slice(b"XMP DataXMP");
        b.extend_from_slice(&[12]);
        b.extend_from_slice(b"secret-owner");
        b.push(0);
        b.extend_from_slice(&[0x21, 0xFF, 11]);
        b.extend_from_slice(b"NETSCAPE2.0");
        b.extend_from_slice(&[3, 1, 0, 0, 0]);
        b.push(0x3B);
        b.extend_from_slice(b"secret-trailer");
        let clean = strip(&b, ImageFormat::Gif, Orientation::NoTransforms).unwrap();
        assert!(!contains(&clean, b"secret"));
        assert!(contains(&clean, b"NETSCAPE2.0"));
        assert_eq!(pixels(&clean), pixels(&plain));
    }

    #[test]
    fn what_cannot_be_walked_is_refused_never_kept() {
        let plain = encoded(ImageFormat::Jpeg);
        assert_eq!(
            strip(
                &plain[..plain.len() / 2],
                ImageFormat::Jpeg,
                Orientation::NoTransforms
            ),
            Err(Unreadable)
        );
        let gif = encoded(ImageFormat::Gif);
        assert_eq!(
            strip(
                &gif[..gif.len() - 4],
                ImageFormat::Gif,
                Orientation::NoTransforms
            ),
            Err(Unreadable)
        );
        assert!(
            strip(
                b"\x89PNG\r\n\x1a\n\0\0",
                ImageFormat::Png,
                Orientation::NoTransforms
            )
            .is_err()
        );
    }
}
