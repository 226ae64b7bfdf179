//! The upload scenario: what files cost the server, on whatever store it runs (local disk or
//! S3). Four measurements, one after the other:
//!
//! 1. throughput: `--uploaders` concurrent users each upload files of each `--upload-sizes`
//!    (MiB; `--upload-mib-each` per uploader and size, at least one file), bytes never seen before (no
//!    deduplication helps): MiB/s over all, and each upload's time;
//! 2. one `--big-upload-mib` upload (default 1 GiB) while the server's resident memory is
//!    sampled every 50 ms (with `--server-pid`): it should stay flat;
//! 3. images: a 12-megapixel JPEG photo uploaded `--images` times one after the other, against
//!    a file of the same size that is not an image: the difference is what decoding,
//!    thumbnailing and stripping metadata cost (thumbnail time);
//! 4. serving: a 1 MiB image in a room, read by `--readers` concurrent readers for
//!    `--duration` seconds: requests and MiB per second, and each read's time.
//!
//! Uploads are made with bodies generated on the fly, so the bench holds no file in memory;
//! everything uploaded is deleted at the end (the server's collector then frees the blobs).

use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use futures_util::StreamExt as _;
use serde::Serialize;
use serde_json::{Value, json};

use super::{Api, BenchArgs, Percentiles, ServerMemory, histogram, proc_kib, publish};

/// The size of each generated chunk of an upload body.
const CHUNK: usize = 256 * 1024;

#[derive(Debug, Serialize)]
pub struct Throughput {
    pub size_mib: u64,
    pub files: u64,
    pub secs: f64,
    pub mib_per_sec: f64,
    pub upload_ms: Percentiles,
}

#[derive(Debug, Serialize)]
pub struct Images {
    pub width: u32,
    pub height: u32,
    pub jpeg_bytes: usize,
    /// Uploading the photo (decoded, thumbnailed, metadata stripped, stored).
    pub image_upload_ms: Percentiles,
    /// Uploading the same number of bytes that are not an image (only stored).
    pub plain_upload_ms: Percentiles,
    /// The medians' difference: decoding, the thumbnail and the metadata.
    pub thumbnail_ms_p50: f64,
    pub thumbnail_ms_p99: f64,
}

#[derive(Debug, Serialize)]
pub struct BigUpload {
    pub mib: u64,
    pub secs: f64,
    pub mib_per_sec: f64,
    pub rss_before_kib: Option<u64>,
    /// The most resident memory seen while it uploaded (sampled every 50 ms).
    pub rss_max_kib: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct Serving {
    pub readers: usize,
    pub file_bytes: usize,
    pub secs: f64,
    pub requests: u64,
    pub requests_per_sec: f64,
    pub mib_per_sec: f64,
    pub read_ms: Percentiles,
}

#[derive(Debug, Serialize)]
pub struct UploadSummary {
    pub uploaders: usize,
    pub throughput: Vec<Throughput>,
    pub images: Images,
    pub big_upload: Option<BigUpload>,
    pub serving: Serving,
    pub server_memory: ServerMemory,
}

/// Uploads over HTTP, with a client that never times out (a large upload takes a while).
struct Uploader {
    http: reqwest::Client,
    url: String,
}

impl Uploader {
    /// Uploads `body` as `name`; the upload's id and the time it took.
    async fn upload(
        &self,
        token: &str,
        name: &str,
        body: reqwest::Body,
    ) -> anyhow::Result<(String, Duration)> {
        let started = Instant::now();
        let res = self
            .http
            .post(format!("{}/api/v1/uploads?filename={name}", self.url))
            .bearer_auth(token)
            .body(body)
            .send()
            .await?;
        let status = res.status();
        let answer: Value = res.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "upload {name}: {status} {answer}");
        let id = answer["upload"]["id"].as_str().context("upload id")?;
        Ok((id.to_owned(), started.elapsed()))
    }
}

/// A body of `mib` MiB made on the fly, unique to `seed`: each chunk starts with the seed and
/// its number, then a shared block of noise.
fn generated(seed: u64, mib: u64, noise: Bytes) -> reqwest::Body {
    let chunks = mib * 1024 * 1024 / CHUNK as u64;
    let stream = futures_util::stream::iter(0..chunks).map(move |i| {
        let mut chunk = Vec::with_capacity(CHUNK);
        chunk.extend_from_slice(&seed.to_le_bytes());
        chunk.extend_from_slice(&i.to_le_bytes());
        chunk.extend_from_slice(&noise[16..]);
        Ok::<_, std::io::Error>(Bytes::from(chunk))
    });
    reqwest::Body::wrap_stream(stream)
}

/// Noise that neither compresses nor repeats within a chunk.
fn noise(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// A JPEG of `w` x `h` pixels: gradients with `grain` levels of noise over them (a phone
/// photo of 12 megapixels is 3-5 MB; pure noise would be four times that).
fn jpeg(w: u32, h: u32, quality: u8, grain: u8) -> anyhow::Result<Vec<u8>> {
    let noise = noise((w * h * 3) as usize, 0x9e37_79b9_7f4a_7c15);
    let image = image::RgbImage::from_fn(w, h, |x, y| {
        let at = ((y * w + x) * 3) as usize;
        let n = |i: usize| noise[at + i] % grain.max(1);
        image::Rgb([
            ((x * 255 / w) as u8).saturating_add(n(0)),
            ((y * 255 / h) as u8).saturating_add(n(1)),
            (((x + y) * 127 / (w + h)) as u8).saturating_add(n(2)),
        ])
    });
    let mut out = Vec::new();
    image.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
        &mut Cursor::new(&mut out),
        quality,
    ))?;
    Ok(out)
}

pub async fn run(args: &BenchArgs) -> anyhow::Result<UploadSummary> {
    let api = Api::new(args)?;
    let url = args.urls[0].clone();
    let uploaders = args.uploaders.max(1);
    let tokens = api.accounts(args, uploaders + 1).await?;
    let memory = ServerMemory::before(args.server_pid);
    let client = Uploader {
        http: reqwest::Client::builder().build()?,
        url: url.clone(),
    };
    let client = Arc::new(client);
    let shared = Bytes::from(noise(CHUNK, 0x2545_f491_4f6c_dd1d));
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos() as u64;
    let mut made: Vec<(String, String)> = Vec::new();

    // 1. Throughput.
    let mut throughput = Vec::new();
    for &size in &args.upload_sizes {
        let files = (args.upload_mib_each / size.max(1)).max(1);
        eprintln!("bench: {uploaders} uploaders × {files} files of {size} MiB");
        let started = Instant::now();
        let tasks: Vec<_> = tokens[..uploaders]
            .iter()
            .enumerate()
            .map(|(u, token)| {
                let (client, token, shared) = (client.clone(), token.clone(), shared.clone());
                tokio::spawn(async move {
                    let mut done = Vec::new();
                    for f in 0..files {
                        let seed = run_id ^ ((u as u64) << 40) ^ (size << 20) ^ f;
                        let body = generated(seed, size, shared.clone());
                        let (id, took) = client.upload(&token, "bench.bin", body).await?;
                        done.push((token.clone(), id, took));
                    }
                    anyhow::Ok(done)
                })
            })
            .collect();
        let mut times = histogram();
        let mut count = 0;
        for task in tasks {
            for (token, id, took) in task.await?? {
                times.saturating_record(took.as_micros() as u64);
                made.push((token, id));
                count += 1;
            }
        }
        let secs = started.elapsed().as_secs_f64();
        throughput.push(Throughput {
            size_mib: size,
            files: count,
            secs,
            mib_per_sec: (count * size) as f64 / secs,
            upload_ms: Percentiles::of(&times),
        });
    }

    // 2. One big upload, memory sampled.
    let big_upload = if args.big_upload_mib > 0 {
        eprintln!("bench: one upload of {} MiB", args.big_upload_mib);
        let max = Arc::new(AtomicU64::new(0));
        let sampler = args.server_pid.map(|pid| {
            let max = max.clone();
            tokio::spawn(async move {
                loop {
                    if let Some(kib) = proc_kib(pid, "VmRSS:") {
                        max.fetch_max(kib, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        });
        let before = args.server_pid.and_then(|p| proc_kib(p, "VmRSS:"));
        let body = generated(run_id ^ 0xb16, args.big_upload_mib, shared.clone());
        let (id, took) = client.upload(&tokens[0], "big.bin", body).await?;
        made.push((tokens[0].clone(), id));
        if let Some(s) = sampler {
            s.abort();
        }
        Some(BigUpload {
            mib: args.big_upload_mib,
            secs: took.as_secs_f64(),
            mib_per_sec: args.big_upload_mib as f64 / took.as_secs_f64(),
            rss_before_kib: before,
            rss_max_kib: args.server_pid.map(|_| max.load(Ordering::Relaxed)),
        })
    } else {
        None
    };

    // 3. Images: the photo, and as many plain bytes.
    eprintln!("bench: a 12-megapixel photo, {} times", args.images);
    let (w, h) = (4000, 3000);
    let photo = Bytes::from(jpeg(w, h, 85, 24)?);
    let token = &tokens[0];
    let (mut image_times, mut plain_times) = (histogram(), histogram());
    for i in 0..args.images.max(1) {
        let (id, took) = client
            .upload(token, "photo.jpg", reqwest::Body::from(photo.clone()))
            .await?;
        image_times.saturating_record(took.as_micros() as u64);
        made.push((token.clone(), id));
        // Not an image (a zip's first bytes), the same size, bytes never seen before.
        let mut plain = b"PK\x03\x04".to_vec();
        plain.extend_from_slice(&(run_id ^ i as u64).to_le_bytes());
        plain.extend_from_slice(&photo[plain.len()..]);
        let (id, took) = client
            .upload(token, "plain.zip", reqwest::Body::from(plain))
            .await?;
        plain_times.saturating_record(took.as_micros() as u64);
        made.push((token.clone(), id));
    }
    let image_ms = Percentiles::of(&image_times);
    let plain_ms = Percentiles::of(&plain_times);
    let images = Images {
        width: w,
        height: h,
        jpeg_bytes: photo.len(),
        thumbnail_ms_p50: image_ms.p50 - plain_ms.p50,
        thumbnail_ms_p99: image_ms.p99 - plain_ms.p99,
        image_upload_ms: image_ms,
        plain_upload_ms: plain_ms,
    };

    // 4. Serving a 1 MiB image to concurrent readers, members of the room that holds it.
    let image = Bytes::from(jpeg(1280, 960, 90, 64)?);
    let reader = tokens[uploaders].clone();
    let room = format!("bench-files-{}", run_id % 1_000_000);
    let created = api
        .post(
            &url,
            token,
            "/rooms",
            json!({"name": room, "visibility": "public"}),
        )
        .await?;
    let room_id = created["room"]["id"]
        .as_str()
        .context("room id")?
        .to_owned();
    api.post(&url, &reader, "/rooms/join", json!({"name": room}))
        .await?;
    let (id, _) = client
        .upload(token, "served.jpg", reqwest::Body::from(image.clone()))
        .await?;
    let sent = api
        .post(
            &url,
            token,
            &format!("/rooms/{room_id}/messages"),
            json!({"client_id": format!("bench-{run_id}"), "body": "", "attachments": [id]}),
        )
        .await?;
    let file_url = format!(
        "{url}{}",
        sent["message"]["attachments"][0]["url"]
            .as_str()
            .context("file url")?
    );
    eprintln!(
        "bench: {} readers of a {} KiB image for {} s",
        args.readers,
        image.len() / 1024,
        args.duration
    );
    let readers = reqwest::Client::builder()
        .pool_max_idle_per_host(args.readers)
        .build()?;
    let until = Instant::now() + Duration::from_secs(args.duration.max(1));
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.readers.max(1))
        .map(|_| {
            let (readers, file_url, reader) = (readers.clone(), file_url.clone(), reader.clone());
            tokio::spawn(async move {
                let mut times = histogram();
                let mut bytes = 0usize;
                while Instant::now() < until {
                    let started = Instant::now();
                    let res = readers.get(&file_url).bearer_auth(&reader).send().await?;
                    anyhow::ensure!(res.status().is_success(), "read: {}", res.status());
                    bytes += res.bytes().await?.len();
                    times.saturating_record(started.elapsed().as_micros() as u64);
                }
                anyhow::Ok((times, bytes))
            })
        })
        .collect();
    let mut times = histogram();
    let mut bytes = 0;
    for task in tasks {
        let (t, b) = task.await??;
        times.add(t)?;
        bytes += b;
    }
    let secs = started.elapsed().as_secs_f64();
    let serving = Serving {
        readers: args.readers,
        file_bytes: image.len(),
        secs,
        requests: times.len(),
        requests_per_sec: times.len() as f64 / secs,
        mib_per_sec: bytes as f64 / 1024.0 / 1024.0 / secs,
        read_ms: Percentiles::of(&times),
    };
    // Tidy: the room goes (with the served file), and every unsent upload is discarded.
    let _ = api
        .call(
            reqwest::Method::DELETE,
            &url,
            token,
            &format!("/rooms/{room_id}"),
            None,
        )
        .await;
    for (token, id) in &made {
        let _ = api
            .call(
                reqwest::Method::DELETE,
                &url,
                token,
                &format!("/uploads/{id}"),
                None,
            )
            .await;
    }
    let summary = UploadSummary {
        uploaders,
        throughput,
        images,
        big_upload,
        serving,
        server_memory: memory.after(args.server_pid),
    };
    publish(args, &summary)?;
    Ok(summary)
}
