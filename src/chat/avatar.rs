//! Avatar images: the real type is read from the bytes (never from the name or header),
//! the image is decoded within limits, and square PNG thumbnails are drawn from its pixels
//! alone, so no metadata (EXIF, location, comments) survives. [`decode`] (the type from the
//! bytes, decoding within limits) is shared with uploaded images.

use std::io::Cursor;

use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};

use super::{Error, Result};

/// Largest upload accepted.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// The square sizes stored, largest first.
pub const SIZES: [u32; 2] = [256, 64];
/// Largest decoded image (width x height x bytes per pixel, read from the header before any
/// pixel is decoded): a 12-megapixel phone photo (36 MB as RGB) or a 4000 x 3000 PNG with
/// alpha fits; a decompression bomb (an 8192 x 8192 16-bit RGBA PNG is 512 MiB decoded from
/// 510 KiB on the wire) is refused at its header.
pub const MAX_DECODED_BYTES: u64 = 48 * 1024 * 1024;
/// The most one decode may allocate by [`decode_estimate`]: a 12-megapixel JPEG or WebP fits.
pub const MAX_DECODE_ESTIMATE: u64 = 160 * 1024 * 1024;

/// What decoding may allocate at worst, from the header alone. PNG and GIF decode into the
/// output under [`DECODE_BUDGET`]. The JPEG and WebP decoders take no allocation limit, so
/// their extra buffers are counted here: a progressive JPEG keeps 16-bit coefficients for up
/// to 4 components (CMYK) beside its output; an animated WebP keeps a canvas and a frame
/// beside its output, 4 bytes a pixel each.
pub fn decode_estimate(format: ImageFormat, width: u32, height: u32, output: u64) -> u64 {
    let pixels = u64::from(width) * u64::from(height);
    match format {
        ImageFormat::Jpeg => output.max(pixels * 4) + pixels * 4 * 2,
        ImageFormat::WebP => pixels * 4 * 3,
        _ => output,
    }
}
/// Larger squares are first shrunk to this by area averaging (fast, no large intermediate
/// buffer), then filtered to each size.
const FIRST_PASS: u32 = 1024;

/// The thumbnails of an accepted image and the hash that names them.
pub struct Thumbnails {
    pub hash: String,
    pub sizes: Vec<(u32, Vec<u8>)>,
}

/// How much decoding one image may take.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Largest decoded image, read from the header before any pixel is decoded.
    pub max_decoded: u64,
    /// The most one decode may allocate by [`decode_estimate`].
    pub max_estimate: u64,
}

/// An avatar's limits: a 12-megapixel photo fits.
pub const AVATAR_LIMITS: DecodeLimits = DecodeLimits {
    max_decoded: MAX_DECODED_BYTES,
    max_estimate: MAX_DECODE_ESTIMATE,
};

/// A decoded image, with what its header said.
pub struct Decoded {
    pub image: DynamicImage,
    pub format: ImageFormat,
    /// How the pixels are to be turned for display (EXIF orientation).
    pub orientation: image::metadata::Orientation,
}

/// The image formats decoded, read from the bytes.
pub fn image_format(bytes: &[u8]) -> Option<ImageFormat> {
    image::guess_format(bytes).ok().filter(|f| {
        matches!(
            f,
            ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif
        )
    })
}

/// Decodes an image within `limits` (CPU-heavy: call on the blocking pool, at most a few at a
/// time). The type comes from the bytes; the size from the header, and an image too large to
/// decode within the limits is refused before decoding.
pub fn decode(bytes: &[u8], limits: DecodeLimits) -> Result<Decoded> {
    let format = image_format(bytes).ok_or(Error::Unsupported(
        "the image must be a PNG, JPEG, WebP or GIF image",
    ))?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut budget = Limits::default();
    budget.max_alloc = Some(limits.max_decoded + 16 * 1024 * 1024);
    reader.limits(budget);
    let unreadable = |_| Error::Unsupported("the image could not be read");
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let (width, height) = decoder.dimensions();
    if format == ImageFormat::WebP {
        // The decoder sizes its buffers by each frame's own header and compares it with the
        // canvas only after decoding the frame: refuse a frame larger than the canvas first.
        let frames =
            webp_frame_sizes(bytes).ok_or(Error::Unsupported("the image could not be read"))?;
        if frames.iter().any(|&(w, h)| w > width || h > height) {
            return Err(Error::Unsupported("the image could not be read"));
        }
    }
    let estimate = decode_estimate(format, width, height, decoder.total_bytes());
    if decoder.total_bytes() > limits.max_decoded || estimate > limits.max_estimate {
        return Err(Error::TooLarge(
            "the image has too many pixels to be shown (send it in a zip file instead)",
        ));
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        ImageError::Limits(_) => Error::TooLarge("the image needs too much memory to decode"),
        _ => Error::Unsupported("the image could not be read"),
    })?;
    Ok(Decoded {
        image,
        format,
        orientation,
    })
}

/// Checks, decodes and thumbnails an uploaded avatar (CPU-heavy: call on the blocking pool,
/// at most a few at a time).
pub fn thumbnails(bytes: &[u8]) -> Result<Thumbnails> {
    if bytes.len() > MAX_BYTES {
        return Err(Error::TooLarge("an avatar may be at most 5 MiB"));
    }
    let Decoded {
        mut image,
        orientation,
        ..
    } = decode(bytes, AVATAR_LIMITS)?;
    image.apply_orientation(orientation);
    let side = image.width().min(image.height());
    if side == 0 {
        return Err(Error::Unsupported("the image is empty"));
    }
    // A view, not a copy: the square is read straight from the decoded pixels.
    let square = imageops::crop_imm(
        &image,
        (image.width() - side) / 2,
        (image.height() - side) / 2,
        side,
        side,
    );
    let first = if side > FIRST_PASS {
        imageops::thumbnail(&*square, FIRST_PASS, FIRST_PASS)
    } else {
        square.to_image()
    };
    drop(image);
    let mut sizes = Vec::with_capacity(SIZES.len());
    for size in SIZES {
        let thumb = imageops::resize(&first, size, size, FilterType::Lanczos3);
        let mut png = Vec::new();
        thumb
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .map_err(|e| Error::Internal(anyhow::anyhow!("encoding avatar: {e}")))?;
        sizes.push((size, png));
    }
    let hash = hex::encode(&Sha256::digest(&sizes[0].1)[..16]);
    Ok(Thumbnails { hash, sizes })
}

/// The size of every frame in a WebP file (the lone `VP8 `/`VP8L` image, or each frame of an
/// animation), read from its RIFF chunks; `None` when they cannot be read.
fn webp_frame_sizes(bytes: &[u8]) -> Option<Vec<(u32, u32)>> {
    if bytes.get(0..4)? != b"RIFF" || bytes.get(8..12)? != b"WEBP" {
        return None;
    }
    let mut sizes = Vec::new();
    webp_chunks(&bytes[12..], &mut sizes, 0)?;
    Some(sizes)
}

fn webp_chunks(mut data: &[u8], sizes: &mut Vec<(u32, u32)>, depth: u8) -> Option<()> {
    while data.len() >= 8 {
        let len = u32::from_le_bytes(data[4..8].try_into().ok()?) as usize;
        let body = data.get(8..8usize.checked_add(len)?)?;
        match &data[0..4] {
            // Frame tag (3 bytes), start code (3), then 14-bit width and height.
            b"VP8 " => {
                let b = body.get(6..10)?;
                let w = u16::from_le_bytes([b[0], b[1]]) & 0x3fff;
                let h = u16::from_le_bytes([b[2], b[3]]) & 0x3fff;
                sizes.push((w.into(), h.into()));
            }
            // Signature byte, then 14-bit width - 1 and height - 1.
            b"VP8L" => {
                let bits = u32::from_le_bytes(body.get(1..5)?.try_into().ok()?);
                sizes.push(((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1));
            }
            // An animation frame: a 16-byte header, then its own chunks (not nested further).
            b"ANMF" if depth == 0 => webp_chunks(body.get(16..)?, sizes, depth + 1)?,
            _ => {}
        }
        data = data.get(8 + len + (len & 1)..).unwrap_or(&[]);
    }
    Some(())
}

/// The generated avatar of a user without one: initials on a colour derived from the name.
pub fn generated_svg(username: &str) -> String {
    let initials: String = username
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(2)
        .collect::<String>()
        .to_uppercase();
    let hue = Sha256::digest(username.to_lowercase().as_bytes())[0] as u32 * 360 / 256;
    // Initials are ASCII letters and digits only, so nothing in them needs escaping.
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 64 64\" width=\"256\" height=\"256\">\
         <rect width=\"64\" height=\"64\" fill=\"hsl({hue},55%,45%)\"/>\
         <text x=\"32\" y=\"41\" font-family=\"sans-serif\" font-size=\"26\" fill=\"#fff\" \
         text-anchor=\"middle\">{initials}</text></svg>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_avatars_are_stable_and_safe() {
        let a = generated_svg("ana.b");
        assert_eq!(a, generated_svg("ana.b"));
        assert!(a.contains(">AN<"));
        assert!(generated_svg("<script>").contains(">SC<"));
        assert!(!generated_svg("<script>").contains("<script>"));
    }

    /// A valid PNG of `side` x `side` black 16-bit RGBA pixels: tiny on the wire,
    /// `side`² x 8 bytes decoded.
    fn bomb(side: u32) -> Vec<u8> {
        use std::io::Write as _;
        let mut png = Vec::new();
        let mut encoder = png::Encoder::new(&mut png, side, side);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Sixteen);
        let mut writer = encoder.write_header().unwrap();
        let mut stream = writer.stream_writer().unwrap();
        let row = vec![0u8; side as usize * 8];
        for _ in 0..side {
            stream.write_all(&row).unwrap();
        }
        stream.finish().unwrap();
        writer.finish().unwrap();
        png
    }

    #[test]
    fn a_decompression_bomb_is_refused_at_its_header() {
        // 2,600² x 8 bytes = 54 MB decoded, from a few dozen KiB.
        let bomb = bomb(2600);
        assert!(bomb.len() < 256 * 1024, "{}", bomb.len());
        assert!(matches!(thumbnails(&bomb), Err(Error::TooLarge(_))));
    }

    #[test]
    fn jpeg_and_webp_count_their_decoders_buffers() {
        // 12 megapixels: accepted as a JPEG or WebP photo...
        let photo = decode_estimate(ImageFormat::Jpeg, 4000, 3000, 36_000_000);
        assert!(photo <= MAX_DECODE_ESTIMATE, "{photo}");
        assert!(decode_estimate(ImageFormat::WebP, 4000, 3000, 36_000_000) <= MAX_DECODE_ESTIMATE);
        // ...but 16 megapixels of progressive CMYK would need ~190 MB beside its 48 MB output.
        let cmyk = decode_estimate(ImageFormat::Jpeg, 4000, 4000, 48_000_000);
        assert!(cmyk > MAX_DECODE_ESTIMATE, "{cmyk}");
    }

    #[test]
    fn a_webp_frame_larger_than_its_canvas_is_refused() {
        // RIFF/WEBP, a 1 x 1 canvas (VP8X), and a lossy frame claiming 16383 x 16383.
        let mut vp8x = vec![0u8; 10];
        vp8x[0] = 0x10; // alpha flag, any
        let mut frame = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
        frame.extend_from_slice(&0x3fffu16.to_le_bytes());
        frame.extend_from_slice(&0x3fffu16.to_le_bytes());
        frame.extend_from_slice(&[0u8; 64]);
        let mut chunks = Vec::new();
        for (kind, body) in [(b"VP8X", &vp8x), (b"VP8 ", &frame)] {
            chunks.extend_from_slice(kind);
            chunks.extend_from_slice(&(body.len() as u32).to_le_bytes());
            chunks.extend_from_slice(body);
        }
        let mut webp = b"RIFF".to_vec();
        webp.extend_from_slice(&(chunks.len() as u32 + 4).to_le_bytes());
        webp.extend_from_slice(b"WEBP");
        webp.extend_from_slice(&chunks);
        assert_eq!(webp_frame_sizes(&webp), Some(vec![(16383, 16383)]));
        assert!(thumbnails(&webp).is_err());
        // A real WebP's frame is its canvas.
        let image = image::RgbaImage::from_pixel(40, 30, image::Rgba([1, 2, 3, 255]));
        let mut real = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut real), ImageFormat::WebP)
            .unwrap();
        assert_eq!(webp_frame_sizes(&real), Some(vec![(40, 30)]));
        assert!(thumbnails(&real).is_ok());
    }

    #[test]
    fn a_real_photo_size_is_accepted() {
        let image = image::RgbImage::from_pixel(1600, 1200, image::Rgb([200, 30, 60]));
        let mut jpeg = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap();
        let thumbs = thumbnails(&jpeg).unwrap();
        assert_eq!(thumbs.sizes.len(), 2);
    }

    #[test]
    fn text_is_not_an_image() {
        assert!(matches!(
            thumbnails(b"hello, I am text"),
            Err(Error::Unsupported(_))
        ));
    }
}
