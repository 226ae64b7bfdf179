//! Avatar images: the real type is read from the bytes (never from the name or header),
//! the image is decoded within limits, and square PNG thumbnails are drawn from its pixels
//! alone, so no metadata (EXIF, location, comments) survives.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};

use super::{Error, Result};

/// Largest upload accepted.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// The square sizes stored, largest first.
pub const SIZES: [u32; 2] = [256, 64];
/// Larger images are refused rather than decoded (a decompression bomb stays small on the wire).
const MAX_SIDE: u32 = 8192;

/// The thumbnails of an accepted image and the hash that names them.
pub struct Thumbnails {
    pub hash: String,
    pub sizes: Vec<(u32, Vec<u8>)>,
}

/// Checks, decodes and thumbnails an uploaded image (CPU-heavy: call on the blocking pool).
pub fn thumbnails(bytes: &[u8]) -> Result<Thumbnails> {
    if bytes.len() > MAX_BYTES {
        return Err(Error::TooLarge("an avatar may be at most 5 MiB"));
    }
    let format = image::guess_format(bytes)
        .ok()
        .filter(|f| {
            matches!(
                f,
                ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif
            )
        })
        .ok_or(Error::Unsupported(
            "an avatar must be a PNG, JPEG, WebP or GIF image",
        ))?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|_| Error::Unsupported("the image could not be read"))?;
    let side = image.width().min(image.height());
    let square = image.crop_imm(
        (image.width() - side) / 2,
        (image.height() - side) / 2,
        side,
        side,
    );
    let mut sizes = Vec::with_capacity(SIZES.len());
    for size in SIZES {
        let thumb = square
            .resize_exact(size, size, FilterType::Lanczos3)
            .to_rgba8();
        let mut png = Vec::new();
        thumb
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .map_err(|e| Error::Internal(anyhow::anyhow!("encoding avatar: {e}")))?;
        sizes.push((size, png));
    }
    let hash = hex::encode(&Sha256::digest(&sizes[0].1)[..16]);
    Ok(Thumbnails { hash, sizes })
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

    #[test]
    fn text_is_not_an_image() {
        assert!(matches!(
            thumbnails(b"hello, I am text"),
            Err(Error::Unsupported(_))
        ));
    }
}
