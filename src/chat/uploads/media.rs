//! What an upload is, read from its bytes: the type (never the name's), and for images their
//! size, a thumbnail and a copy without metadata; for video and audio their length, size and
//! a poster frame, from `ffprobe` and `ffmpeg` when they are installed.

use std::io::Cursor;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use image::codecs::jpeg::JpegEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageFormat};

use crate::chat::avatar::{self, DecodeLimits};
use crate::chat::{Error, Result};

/// The largest image file decoded for a thumbnail; a larger one is refused.
pub const MAX_IMAGE_BYTES: u64 = 64 * 1024 * 1024;
/// An upload's decode limits: a 32-megapixel photo fits (about 400 MiB at worst, and one
/// image is decoded at a time); a decompression bomb is refused at its header.
pub const IMAGE_LIMITS: DecodeLimits = DecodeLimits {
    max_decoded: 128 * 1024 * 1024,
    max_estimate: 400 * 1024 * 1024,
};
/// The box a thumbnail fits in.
pub const THUMB_SIDE: u32 = 640;
/// The containers `ffprobe` and `ffmpeg` may open (video and audio ones, never playlists,
/// images or anything that reads other files or the network); files are opened only as
/// local files.
const FORMATS: &str = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,ogg,mp3,wav,flac,aac";
/// How long `ffprobe` or `ffmpeg` may take on one file.
const TOOL_TIMEOUT: Duration = Duration::from_secs(30);

/// What kind of file the bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A PNG, JPEG, WebP or GIF image: decoded, thumbnailed, its metadata removed.
    Image,
    Video,
    Audio,
    Other,
}

/// The type of a file from its first bytes (at least 8 KiB of them when it is that long).
pub fn sniff(head: &[u8]) -> (String, Kind) {
    if let Some(format) = avatar::image_format(head) {
        return (format.to_mime_type().to_owned(), Kind::Image);
    }
    if let Some(t) = infer::get(head) {
        let kind = match t.matcher_type() {
            infer::MatcherType::Video => Kind::Video,
            infer::MatcherType::Audio => Kind::Audio,
            _ => Kind::Other,
        };
        // An image type the page would show is only for bytes the decoder's check knows
        // (above): infer takes four bytes for a PNG, and such a broken image would otherwise
        // be served inline as a file of no kind (found by fuzz/fuzz_targets/upload_type.rs).
        if kind == Kind::Other && inline(t.mime_type()) {
            return ("application/octet-stream".to_owned(), Kind::Other);
        }
        return (t.mime_type().to_owned(), kind);
    }
    // Text: valid UTF-8 up to a character the sample may have cut, and no NUL.
    let text = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    if text && !head.is_empty() && !head.contains(&0) {
        return ("text/plain; charset=utf-8".to_owned(), Kind::Other);
    }
    ("application/octet-stream".to_owned(), Kind::Other)
}

/// Whether a file of this type is shown in the page (an `<img>`, `<video>` or `<audio>`)
/// rather than downloaded. Everything else is served as an attachment.
pub fn inline(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png"
            | "image/jpeg"
            | "image/webp"
            | "image/gif"
            | "video/mp4"
            | "video/webm"
            | "video/ogg"
            | "audio/mpeg"
            | "audio/ogg"
            | "audio/webm"
            | "audio/wav"
            | "audio/x-wav"
            | "audio/mp4"
            | "audio/m4a"
            | "audio/x-m4a"
            | "audio/aac"
            | "audio/x-flac"
            | "audio/flac"
            | "audio/opus"
    )
}

/// What an image is: its size as shown, a thumbnail, and its bytes without metadata when
/// they had any (`uploads::metadata`).
pub struct ImageInfo {
    pub width: u32,
    pub height: u32,
    pub thumb: Vec<u8>,
    pub clean: Option<Vec<u8>>,
}

/// Decodes an image within [`IMAGE_LIMITS`], draws its thumbnail (orientation applied) and
/// removes its metadata (CPU-heavy: call on the blocking pool, one at a time).
pub fn image(bytes: &[u8]) -> Result<ImageInfo> {
    let decoded = avatar::decode(bytes, IMAGE_LIMITS)?;
    let turned = matches!(
        decoded.orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    );
    let (w, h) = (decoded.image.width(), decoded.image.height());
    if w == 0 || h == 0 {
        return Err(Error::Unsupported("the image is empty"));
    }
    let mut thumb = if w > THUMB_SIDE || h > THUMB_SIDE {
        decoded.image.thumbnail(THUMB_SIDE, THUMB_SIDE)
    } else {
        decoded.image
    };
    thumb.apply_orientation(decoded.orientation);
    let thumb = encode_thumbnail(&thumb)?;
    let clean = super::metadata::strip(bytes, decoded.format, decoded.orientation)
        .map_err(|_| Error::Unsupported("the image could not be read"))?;
    let clean = (clean != bytes).then_some(clean);
    let (width, height) = if turned { (h, w) } else { (w, h) };
    Ok(ImageInfo {
        width,
        height,
        thumb,
        clean,
    })
}

/// A JPEG (or a PNG, for an image with transparency) of the thumbnail's pixels alone.
fn encode_thumbnail(image: &DynamicImage) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let failed =
        |e: image::ImageError| Error::Internal(anyhow::anyhow!("encoding a thumbnail: {e}"));
    if image.color().has_alpha() {
        image
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .map_err(failed)?;
    } else {
        image
            .to_rgb8()
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, 82))
            .map_err(failed)?;
    }
    Ok(out)
}

/// What `ffprobe` says of a video or audio file.
#[derive(Debug, Clone, Default)]
pub struct AvInfo {
    pub duration_ms: Option<i64>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub has_video: bool,
}

/// Whether `ffprobe` and `ffmpeg` run here; checked once, and said once in the log when not.
pub async fn tools_available() -> bool {
    static AVAILABLE: tokio::sync::OnceCell<bool> = tokio::sync::OnceCell::const_new();
    *AVAILABLE
        .get_or_init(|| async {
            let runs = |tool: &'static str| async move {
                tokio::process::Command::new(tool)
                    .arg("-version")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .await
                    .is_ok_and(|s| s.success())
            };
            let found = runs("ffprobe").await && runs("ffmpeg").await;
            if !found {
                tracing::warn!(
                    "ffprobe/ffmpeg not found: videos and audio upload and play, but without \
                     their length, size or a poster frame (install Debian's ffmpeg package)"
                );
            }
            found
        })
        .await
}

/// Runs a tool with a deadline; its standard output when it succeeds.
async fn run(tool: &str, args: &[&std::ffi::OsStr]) -> Option<Vec<u8>> {
    let child = tokio::process::Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let out = tokio::time::timeout(TOOL_TIMEOUT, child.wait_with_output())
        .await
        .ok()?
        .ok()?;
    out.status.success().then_some(out.stdout)
}

/// The length, size and kind of streams of a video or audio file (`None`: unreadable).
pub async fn probe(path: &Path) -> Option<AvInfo> {
    let args: [&std::ffi::OsStr; 12] = [
        "-v".as_ref(),
        "error".as_ref(),
        "-protocol_whitelist".as_ref(),
        "file".as_ref(),
        "-format_whitelist".as_ref(),
        FORMATS.as_ref(),
        "-print_format".as_ref(),
        "json".as_ref(),
        "-show_format".as_ref(),
        "-show_streams".as_ref(),
        "--".as_ref(),
        path.as_os_str(),
    ];
    let out = run("ffprobe", &args).await?;
    let json: serde_json::Value = serde_json::from_slice(&out).ok()?;
    let mut info = AvInfo {
        duration_ms: json["format"]["duration"]
            .as_str()
            .and_then(|d| d.parse::<f64>().ok())
            .filter(|d| d.is_finite() && *d >= 0.0)
            .map(|d| (d * 1000.0).round() as i64),
        ..Default::default()
    };
    let streams = json["streams"].as_array()?;
    // A cover picture in an audio file is a video stream marked as attached.
    if let Some(video) = streams.iter().find(|s| {
        s["codec_type"] == "video" && s["disposition"]["attached_pic"].as_i64() != Some(1)
    }) {
        info.has_video = true;
        let (w, h) = (video["width"].as_i64()?, video["height"].as_i64()?);
        // Phones record upright video as landscape frames with a rotation to apply.
        let rotation = video["side_data_list"]
            .as_array()
            .and_then(|list| list.iter().find_map(|d| d["rotation"].as_i64()))
            .unwrap_or(0);
        let (w, h) = if rotation.rem_euclid(180) == 90 {
            (h, w)
        } else {
            (w, h)
        };
        info.width = Some(w);
        info.height = Some(h);
    } else if !streams.iter().any(|s| s["codec_type"] == "audio") {
        return None;
    }
    Some(info)
}

/// A JPEG frame of a video (a second in, or its middle if shorter), at most
/// [`THUMB_SIDE`] wide, turned as the video plays.
pub async fn poster(path: &Path, duration_ms: Option<i64>) -> Option<Vec<u8>> {
    let at = duration_ms.map_or(0.0, |d| (d as f64 / 2000.0).min(1.0));
    let at = format!("{at:.3}");
    let scale = format!("scale='min({THUMB_SIDE},iw)':-2");
    let args: [&std::ffi::OsStr; 18] = [
        "-v".as_ref(),
        "error".as_ref(),
        "-protocol_whitelist".as_ref(),
        "file".as_ref(),
        "-format_whitelist".as_ref(),
        FORMATS.as_ref(),
        "-ss".as_ref(),
        at.as_ref(),
        "-i".as_ref(),
        path.as_os_str(),
        "-frames:v".as_ref(),
        "1".as_ref(),
        "-vf".as_ref(),
        scale.as_ref(),
        "-f".as_ref(),
        "mjpeg".as_ref(),
        "-q:v".as_ref(),
        "4".as_ref(),
    ];
    let mut all: Vec<&std::ffi::OsStr> = args.to_vec();
    all.push("pipe:1".as_ref());
    let out = run("ffmpeg", &all).await?;
    // Its own bytes are decoded like any image, so nothing odd gets through as a thumbnail.
    (!out.is_empty() && avatar::image_format(&out) == Some(ImageFormat::Jpeg)).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_checked_images_get_an_image_type() {
        // A PNG's first four signature bytes and no more (infer calls it image/png): found by
        // fuzz/fuzz_targets/upload_type.rs.
        let broken = b"\x89PNG\r\n\0\0\0\x09pHYs\0\0\0\x01";
        assert_eq!(
            sniff(broken),
            ("application/octet-stream".to_owned(), Kind::Other)
        );
        let text = sniff(b"plain words");
        assert_eq!(text.0, "text/plain; charset=utf-8");
        assert!(!inline(&text.0));
    }
}
