//! What we can tell about an uploaded photo, safely.
//!
//! Pure functions over bytes the caller already holds (a bounded prefix or the whole
//! object): the real file type from its magic bytes, the pixel size from the header
//! alone, the EXIF capture time and GPS position, and a metadata-free public copy.
//! Nothing here does I/O, and nothing allocates per pixel before the size has been
//! checked against [`MediaLimits`].

pub mod fixtures;

use std::fmt;
use std::io::Cursor;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use image::codecs::jpeg::JpegEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, RgbImage};

use crate::domain::sla::SHANGHAI;
use crate::error::Msg;

/// The photo formats evidence may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageKind {
    /// JPEG, what almost every phone camera and WeChat send.
    Jpeg,
    /// PNG, mostly screenshots.
    Png,
    /// WebP, from some Android cameras and apps.
    Webp,
    /// HEIC/HEIF, the iPhone default (not converted by WeChat when sent as original).
    Heic,
}

impl ImageKind {
    /// The MIME type, e.g. `image/jpeg`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Heic => "image/heic",
        }
    }

    /// The kind a client declares with a `Content-Type`. Case and parameters
    /// (`; charset=…`) are ignored; the common aliases `image/jpg`, `image/pjpeg` and
    /// `image/heif` are accepted. Anything else is `None`.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "image/jpeg" | "image/jpg" | "image/pjpeg" => Some(Self::Jpeg),
            "image/png" => Some(Self::Png),
            "image/webp" => Some(Self::Webp),
            "image/heic" | "image/heif" => Some(Self::Heic),
            _ => None,
        }
    }
}

impl fmt::Display for ImageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// ISO-BMFF brands that mean an HEVC-coded HEIF image (HEIC).
const HEVC_BRANDS: [&[u8; 4]; 7] = [
    b"heic", b"heix", b"hevc", b"heim", b"heis", b"hevm", b"hevs",
];
/// Generic HEIF brands: an image (`mif1`) or image sequence (`msf1`) of any codec.
const HEIF_BRANDS: [&[u8; 4]; 2] = [b"mif1", b"msf1"];
/// AVIF brands: HEIF too, but AV1-coded, which we do not accept.
const AVIF_BRANDS: [&[u8; 4]; 2] = [b"avif", b"avis"];

/// The real type of a file from its first bytes, whatever the client declared.
///
/// 12 bytes are enough for every kind; for HEIC, give the whole `ftyp` box (the
/// first 64 bytes or so) so the compatible brands are seen too. A generic HEIF
/// file (`mif1`/`msf1`) that also names an AVIF brand and no HEVC brand is AVIF,
/// not HEIC, and gets `None`.
pub fn sniff(prefix: &[u8]) -> Option<ImageKind> {
    if prefix.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(ImageKind::Jpeg);
    }
    if prefix.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(ImageKind::Png);
    }
    if prefix.len() >= 12 && &prefix[..4] == b"RIFF" && &prefix[8..12] == b"WEBP" {
        return Some(ImageKind::Webp);
    }
    if prefix.len() >= 12 && &prefix[4..8] == b"ftyp" {
        // Box: size (4), "ftyp", major brand (4), minor version (4), compatible brands.
        let size = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        let end = if size >= 16 {
            size.min(prefix.len())
        } else {
            12
        };
        let major = &prefix[8..12];
        let compatible = prefix.get(16..end).unwrap_or_default().chunks_exact(4);
        let brands: Vec<&[u8]> = std::iter::once(major).chain(compatible).collect();
        let has = |set: &[&[u8; 4]]| brands.iter().any(|b| set.iter().any(|s| *b == &s[..]));
        if has(&HEVC_BRANDS) {
            return Some(ImageKind::Heic);
        }
        if has(&HEIF_BRANDS) && !has(&AVIF_BRANDS) {
            return Some(ImageKind::Heic);
        }
    }
    None
}

/// The kind the bytes really are, when it is what the client declared.
pub fn verify_type(declared: ImageKind, prefix: &[u8]) -> Result<ImageKind, MediaError> {
    match sniff(prefix) {
        None => Err(MediaError::UnknownType),
        Some(actual) if actual != declared => Err(MediaError::TypeMismatch { declared, actual }),
        Some(actual) => Ok(actual),
    }
}

/// How big a photo the server accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaLimits {
    /// Largest object, in bytes (default 20 MiB).
    pub max_bytes: u64,
    /// Most pixels, width × height (default 100 megapixels).
    pub max_pixels: u64,
    /// Longest side, in pixels (default 20 000).
    pub max_side: u32,
}

/// Default [`MediaLimits::max_side`]; also the decoder's hard limit for derivatives.
const DEFAULT_MAX_SIDE: u32 = 20_000;

impl Default for MediaLimits {
    fn default() -> Self {
        Self {
            max_bytes: 20 * 1024 * 1024,
            max_pixels: 100_000_000,
            max_side: DEFAULT_MAX_SIDE,
        }
    }
}

impl MediaLimits {
    /// Whether an image of this size is allowed.
    pub fn check(&self, width: u32, height: u32) -> Result<(), MediaError> {
        let pixels = u64::from(width) * u64::from(height);
        if width > self.max_side || height > self.max_side || pixels > self.max_pixels {
            return Err(MediaError::TooLarge { width, height });
        }
        Ok(())
    }
}

/// Width and height in pixels, read from the header only (nothing is decoded), and
/// checked against `limits`.
///
/// `prefix` must start at byte 0 and reach the size: a few dozen bytes for PNG and
/// WebP, but for JPEG the size comes after the EXIF and ICC segments (often 20–70 KiB
/// in, at most a few hundred KiB), and for HEIC after the `meta` box. Pass 256 KiB or
/// the whole object; when the size lies beyond the prefix the answer is
/// [`MediaError::Unreadable`]. The size is as stored: EXIF orientation is not applied.
pub fn dimensions(
    prefix: &[u8],
    kind: ImageKind,
    limits: &MediaLimits,
) -> Result<(u32, u32), MediaError> {
    verify_type(kind, prefix)?;
    let size = imagesize::blob_size(prefix).map_err(|e| {
        MediaError::Unreadable(format!(
            "no image size in the first {} bytes: {e}",
            prefix.len()
        ))
    })?;
    let width = u32::try_from(size.width).unwrap_or(u32::MAX);
    let height = u32::try_from(size.height).unwrap_or(u32::MAX);
    if width == 0 || height == 0 {
        return Err(MediaError::Unreadable(format!(
            "the header claims an empty image ({width}×{height})"
        )));
    }
    limits.check(width, height)?;
    Ok((width, height))
}

/// What the photo's EXIF says about when and where it was taken.
///
/// Personal data: `Debug` says whether there is a position but never prints it, so
/// logging this value cannot leak where someone was.
#[derive(Clone, Copy, PartialEq, Default)]
pub struct ExifInfo {
    /// When the shutter was pressed (`DateTimeOriginal`).
    pub taken_at: Option<DateTime<Utc>>,
    /// Where, as `(lat, lng)` in signed decimal degrees (south and west negative),
    /// in the datum the camera wrote (WGS-84 for phone GPS, like the server stores).
    pub gps: Option<(f64, f64)>,
}

impl fmt::Debug for ExifInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExifInfo")
            .field("taken_at", &self.taken_at)
            .field("gps", &self.gps.map(|_| "<redacted>"))
            .finish()
    }
}

/// The capture time and GPS position recorded in a photo's EXIF.
///
/// Works for JPEG (APP1), PNG (`eXIf`), WebP (`EXIF` chunk) and HEIC (the `Exif`
/// item); pass the whole object. No EXIF, or EXIF that cannot be read, gives
/// [`ExifInfo::default()`]: a photo without metadata is not an error, only less
/// evidence. Damaged fields are skipped one by one so the rest still counts.
///
/// - `taken_at` is `DateTimeOriginal`, a wall-clock time, placed in the zone given by
///   `OffsetTimeOriginal` (EXIF 2.31+). Without that field the time is assumed to be
///   Asia/Shanghai (UTC+8): phones record local time and our users are in China.
///   Impossible dates (month 13, …) give `None`; sub-seconds are ignored.
/// - `gps` needs latitude and longitude with their N/S and E/W references, each
///   within range. It is `None` when the receiver marked the fix void
///   (`GPSStatus` = `V`) or the position is exactly 0°, 0° (what some phones write
///   when they have no fix).
pub fn read_exif(bytes: &[u8]) -> ExifInfo {
    let parsed = exif::Reader::new()
        .continue_on_error(true)
        .read_from_container(&mut Cursor::new(bytes))
        .or_else(|e| e.distill_partial_result(|_ignored| {}));
    let Ok(exif) = parsed else {
        return ExifInfo::default();
    };
    ExifInfo {
        taken_at: taken_at(&exif),
        gps: gps(&exif),
    }
}

/// The first ASCII string of a primary-image field.
fn ascii(exif: &exif::Exif, tag: exif::Tag) -> Option<&[u8]> {
    match &exif.get_field(tag, exif::In::PRIMARY)?.value {
        exif::Value::Ascii(strings) => strings.first().map(Vec::as_slice),
        _ => None,
    }
}

fn taken_at(exif: &exif::Exif) -> Option<DateTime<Utc>> {
    let mut local = exif::DateTime::from_ascii(ascii(exif, exif::Tag::DateTimeOriginal)?).ok()?;
    let offset_minutes = match ascii(exif, exif::Tag::OffsetTimeOriginal) {
        Some(raw) if local.parse_offset(raw).is_ok() => local.offset,
        _ => None,
    };
    let zone = match offset_minutes {
        Some(minutes) => FixedOffset::east_opt(i32::from(minutes) * 60)?,
        None => SHANGHAI,
    };
    let naive = NaiveDate::from_ymd_opt(
        i32::from(local.year),
        u32::from(local.month),
        u32::from(local.day),
    )?
    .and_hms_opt(
        u32::from(local.hour),
        u32::from(local.minute),
        u32::from(local.second),
    )?;
    Some(
        zone.from_local_datetime(&naive)
            .single()?
            .with_timezone(&Utc),
    )
}

fn gps(exif: &exif::Exif) -> Option<(f64, f64)> {
    if ascii(exif, exif::Tag::GPSStatus).is_some_and(|s| s.eq_ignore_ascii_case(b"V")) {
        return None;
    }
    let lat = coordinate(
        exif,
        exif::Tag::GPSLatitude,
        exif::Tag::GPSLatitudeRef,
        (b'N', b'S'),
        90.0,
    )?;
    let lng = coordinate(
        exif,
        exif::Tag::GPSLongitude,
        exif::Tag::GPSLongitudeRef,
        (b'E', b'W'),
        180.0,
    )?;
    if lat == 0.0 && lng == 0.0 {
        return None;
    }
    Some((lat, lng))
}

/// One signed coordinate from degrees/minutes/seconds rationals and a hemisphere
/// reference. Writers that give only degrees, or degrees and decimal minutes, are
/// read too.
fn coordinate(
    exif: &exif::Exif,
    value_tag: exif::Tag,
    ref_tag: exif::Tag,
    (positive, negative): (u8, u8),
    max: f64,
) -> Option<f64> {
    let parts: Vec<f64> = match &exif.get_field(value_tag, exif::In::PRIMARY)?.value {
        exif::Value::Rational(v) => v
            .iter()
            .map(|r| (r.denom != 0).then(|| r.to_f64()))
            .collect::<Option<_>>()?,
        exif::Value::SRational(v) => v
            .iter()
            .map(|r| (r.denom != 0).then(|| r.to_f64()))
            .collect::<Option<_>>()?,
        _ => return None,
    };
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let magnitude: f64 = parts
        .iter()
        .zip([1.0, 60.0, 3600.0])
        .map(|(part, per_degree)| part / per_degree)
        .sum();
    if !magnitude.is_finite() || !(0.0..=max).contains(&magnitude) {
        return None;
    }
    let sign = match ascii(exif, ref_tag)?.first()?.to_ascii_uppercase() {
        r if r == positive => 1.0,
        r if r == negative => -1.0,
        _ => return None,
    };
    Some(sign * magnitude)
}

/// Most memory the decoder may hold for one derivative (the decoded pixels count).
/// At 3 bytes a pixel this admits about 89 megapixels of RGB.
const DERIVATIVE_MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// JPEG quality of public derivatives: small files, no visible blocking at 1280 px.
const DERIVATIVE_QUALITY: u8 = 80;

/// A copy of the photo that is safe to show the public: upright (EXIF orientation
/// applied), at most `max_side` pixels on its longer side (e.g. 1280; smaller photos
/// keep their size; 0 counts as 1), transparent areas on white, as a JPEG of
/// quality 80 with no EXIF, XMP, ICC or other metadata: only pixels survive.
///
/// The size is checked from the header against [`MediaLimits::default()`] before
/// the decoder starts, and the decoder itself runs with a 20 000 px side limit and
/// at most 256 MiB of allocations, so a decompression bomb fails with
/// [`MediaError::TooLarge`] instead of exhausting memory. Photos over about
/// 89 megapixels therefore get no derivative.
///
/// JPEG, PNG and WebP only: HEIC gives [`MediaError::Unsupported`], because decoding
/// HEVC needs a native codec (libheif/libde265) that we do not ship. Clients that
/// show HEIC evidence publicly need the app to upload a JPEG instead.
///
/// CPU-heavy (about 0.2 s of one core for a 12 MP photo in a release build, mostly
/// decoding and downscaling): call it from a blocking task, not on the async runtime.
pub fn public_derivative(
    bytes: &[u8],
    kind: ImageKind,
    max_side: u32,
) -> Result<Vec<u8>, MediaError> {
    let format = match kind {
        ImageKind::Jpeg => ImageFormat::Jpeg,
        ImageKind::Png => ImageFormat::Png,
        ImageKind::Webp => ImageFormat::WebP,
        ImageKind::Heic => {
            return Err(MediaError::Unsupported(
                "HEIC derivatives need an HEVC decoder, which is not built in",
            ));
        }
    };
    let (width, height) = dimensions(bytes, kind, &MediaLimits::default())?;
    let too_large = MediaError::TooLarge { width, height };

    let mut limits = image::Limits::default();
    limits.max_image_width = Some(DEFAULT_MAX_SIDE);
    limits.max_image_height = Some(DEFAULT_MAX_SIDE);
    limits.max_alloc = Some(DERIVATIVE_MAX_ALLOC);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits.clone());
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| decode_error(e, &too_large))?;
    // Read before decoding consumes the decoder; a broken EXIF only loses the rotation.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    // `ImageReader::decode` makes this check itself; `into_decoder` leaves it to us.
    limits
        .reserve(decoder.total_bytes())
        .map_err(|_| too_large.clone())?;
    let mut picture =
        DynamicImage::from_decoder(decoder).map_err(|e| decode_error(e, &too_large))?;
    picture.apply_orientation(orientation);

    let max_side = max_side.max(1);
    if picture.width() > max_side || picture.height() > max_side {
        // Box filter: every source pixel lands in exactly one target pixel, which is
        // both fast and alias-free for the large factors photos need.
        picture = picture.thumbnail(max_side, max_side);
    }
    let rgb = flatten_on_white(picture);

    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, DERIVATIVE_QUALITY)
        .encode_image(&rgb)
        .map_err(|e| MediaError::Unreadable(format!("re-encoding failed: {e}")))?;
    Ok(out)
}

/// RGB pixels, with any transparency composited over white (JPEG has no alpha, and
/// dropping it would show whatever colour the transparent pixels happen to hold).
fn flatten_on_white(picture: DynamicImage) -> RgbImage {
    if !picture.color().has_alpha() {
        return picture.into_rgb8();
    }
    let rgba = picture.into_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over_white = |c: u8| {
            let (c, a) = (u16::from(c), u16::from(a));
            // (c·a + 255·(255 − a)) / 255, rounded; always ≤ 255.
            ((c * a + 255 * (255 - a) + 127) / 255) as u8
        };
        image::Rgb([over_white(r), over_white(g), over_white(b)])
    })
}

fn decode_error(e: ImageError, too_large: &MediaError) -> MediaError {
    match e {
        ImageError::Limits(_) => too_large.clone(),
        ImageError::Unsupported(_) => {
            MediaError::Unsupported("this variant of the format is not supported by the decoder")
        }
        other => MediaError::Unreadable(other.to_string()),
    }
}

/// Why a photo was refused or could not be processed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The bytes are not a JPEG, PNG, WebP or HEIC image.
    #[error("not a JPEG, PNG, WebP or HEIC image")]
    UnknownType,
    /// The client declared one type and sent another.
    #[error("declared as {declared} but the content is {actual}")]
    TypeMismatch {
        /// What the client said it would send.
        declared: ImageKind,
        /// What the bytes are.
        actual: ImageKind,
    },
    /// More pixels, or a longer side, than the server accepts.
    #[error("the image is {width}×{height} pixels, larger than allowed")]
    TooLarge {
        /// Claimed width in pixels.
        width: u32,
        /// Claimed height in pixels.
        height: u32,
    },
    /// Truncated or corrupt (the detail is for logs).
    #[error("the image cannot be read: {0}")]
    Unreadable(String),
    /// A valid image we cannot process (e.g. a HEIC derivative).
    #[error("not supported: {0}")]
    Unsupported(&'static str),
}

impl MediaError {
    /// A stable reason code for clients and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownType => "NOT_AN_IMAGE",
            Self::TypeMismatch { .. } => "TYPE_MISMATCH",
            Self::TooLarge { .. } => "DIMENSIONS_TOO_LARGE",
            Self::Unreadable(_) => "UNREADABLE",
            Self::Unsupported(_) => "UNSUPPORTED",
        }
    }

    /// The reason in Chinese, for the person who uploaded the photo.
    pub fn message_zh(&self) -> String {
        match self {
            Self::UnknownType => "文件不是 JPEG、PNG、WebP 或 HEIC 格式的图片".to_owned(),
            Self::TypeMismatch { declared, actual } => {
                format!("文件类型不符：声明为 {declared}，实际为 {actual}")
            }
            Self::TooLarge { width, height } => {
                format!("图片尺寸 {width}×{height} 像素超出允许范围")
            }
            Self::Unreadable(_) => "图片已损坏或不完整，无法读取".to_owned(),
            Self::Unsupported(_) => "暂不支持对此图片进行该处理".to_owned(),
        }
    }

    /// The reason in both languages the API speaks.
    pub fn msg(&self) -> Msg {
        Msg::new(self.message_zh(), self.to_string())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::time::{Duration, Instant};

    use chrono::TimeZone;
    use image::{ImageEncoder, RgbaImage};

    use super::fixtures::{self, big_jpeg, png_claiming, test_jpeg};
    use super::*;

    fn shot() -> DateTime<Utc> {
        // 2024-05-17 14:03:09 in Shanghai.
        Utc.with_ymd_and_hms(2024, 5, 17, 6, 3, 9).unwrap()
    }

    fn png(width: u32, height: u32, alpha: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let encoder = image::codecs::png::PngEncoder::new(&mut out);
        if alpha {
            let img = RgbaImage::from_fn(width, height, |x, _| {
                image::Rgba([0, 0, 0, (x % 256) as u8])
            });
            encoder
                .write_image(&img, width, height, image::ExtendedColorType::Rgba8)
                .unwrap();
        } else {
            let img = RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 7]));
            encoder
                .write_image(&img, width, height, image::ExtendedColorType::Rgb8)
                .unwrap();
        }
        out
    }

    fn webp(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let img = RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 99]));
        image::codecs::webp::WebPEncoder::new_lossless(&mut out)
            .write_image(&img, width, height, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let size = 16 + 4 * compatible.len();
        let mut b = (size as u32).to_be_bytes().to_vec();
        b.extend_from_slice(b"ftyp");
        b.extend_from_slice(major);
        b.extend_from_slice(&[0, 0, 0, 0]);
        for c in compatible {
            b.extend_from_slice(*c);
        }
        b.extend_from_slice(b"\0\0\0\x08free");
        b
    }

    #[test]
    fn sniff_table() {
        let jpeg = test_jpeg(16, 16, None);
        let cases: Vec<(&str, Vec<u8>, Option<ImageKind>)> = vec![
            ("jpeg", jpeg.clone(), Some(ImageKind::Jpeg)),
            ("png", png(4, 4, false), Some(ImageKind::Png)),
            ("webp", webp(4, 4), Some(ImageKind::Webp)),
            (
                "iphone heic",
                ftyp(b"heic", &[b"mif1", b"heic"]),
                Some(ImageKind::Heic),
            ),
            ("heix", ftyp(b"heix", &[]), Some(ImageKind::Heic)),
            (
                "hevc sequence",
                ftyp(b"hevc", &[b"msf1"]),
                Some(ImageKind::Heic),
            ),
            (
                "generic heif",
                ftyp(b"mif1", &[b"heic"]),
                Some(ImageKind::Heic),
            ),
            ("msf1 only", ftyp(b"msf1", &[]), Some(ImageKind::Heic)),
            ("avif", ftyp(b"avif", &[b"mif1", b"miaf"]), None),
            ("avif as mif1", ftyp(b"mif1", &[b"avif", b"miaf"]), None),
            ("mp4 video", ftyp(b"isom", &[b"iso2", b"mp41"]), None),
            ("text", b"hello, this is not a photo".to_vec(), None),
            ("html", b"<!doctype html><html>".to_vec(), None),
            ("empty", Vec::new(), None),
            ("truncated jpeg", jpeg[..2].to_vec(), None),
            ("truncated png", b"\x89PNG\r\n".to_vec(), None),
            ("truncated webp", b"RIFF\0\0\0\0WEB".to_vec(), None),
            ("riff but wave", b"RIFF\0\0\0\0WAVEfmt ".to_vec(), None),
            ("truncated heic", b"\0\0\0\x18ftyphe".to_vec(), None),
        ];
        for (name, bytes, want) in cases {
            assert_eq!(sniff(&bytes), want, "{name}");
        }
    }

    #[test]
    fn declared_type_must_match_content() {
        let png = png(4, 4, false);
        assert_eq!(
            verify_type(ImageKind::Jpeg, &png),
            Err(MediaError::TypeMismatch {
                declared: ImageKind::Jpeg,
                actual: ImageKind::Png
            })
        );
        assert_eq!(verify_type(ImageKind::Png, &png), Ok(ImageKind::Png));
        assert_eq!(
            verify_type(ImageKind::Png, b"GIF89a......"),
            Err(MediaError::UnknownType)
        );
        let err = dimensions(&png, ImageKind::Jpeg, &MediaLimits::default()).unwrap_err();
        assert_eq!(err.code(), "TYPE_MISMATCH");
        assert_eq!(
            err.message_zh(),
            "文件类型不符：声明为 image/jpeg，实际为 image/png"
        );
        assert_eq!(
            err.to_string(),
            "declared as image/jpeg but the content is image/png"
        );
    }

    #[test]
    fn content_types() {
        for kind in [
            ImageKind::Jpeg,
            ImageKind::Png,
            ImageKind::Webp,
            ImageKind::Heic,
        ] {
            assert_eq!(ImageKind::from_content_type(kind.as_str()), Some(kind));
        }
        assert_eq!(
            ImageKind::from_content_type("IMAGE/JPG; charset=binary"),
            Some(ImageKind::Jpeg)
        );
        assert_eq!(
            ImageKind::from_content_type("image/heif"),
            Some(ImageKind::Heic)
        );
        assert_eq!(ImageKind::from_content_type("image/gif"), None);
        assert_eq!(ImageKind::from_content_type("text/html"), None);
        assert_eq!(ImageKind::from_content_type(""), None);
    }

    #[test]
    fn dimensions_from_headers() {
        let limits = MediaLimits::default();
        let jpeg = test_jpeg(123, 45, Some((shot(), 30.5, 114.3)));
        assert_eq!(dimensions(&jpeg, ImageKind::Jpeg, &limits), Ok((123, 45)));
        assert_eq!(
            dimensions(&png(77, 5, false), ImageKind::Png, &limits),
            Ok((77, 5))
        );
        assert_eq!(
            dimensions(&webp(31, 17), ImageKind::Webp, &limits),
            Ok((31, 17))
        );
        // A prefix that ends before the JPEG's frame header.
        let err = dimensions(&jpeg[..40], ImageKind::Jpeg, &limits).unwrap_err();
        assert_eq!(err.code(), "UNREADABLE", "{err}");
    }

    #[test]
    fn dimensions_of_a_minimal_heic_header() {
        // ftyp, then meta › iprp › ipco › ispe (4000×3000) as an iPhone writes it.
        let mut b = ftyp(b"heic", &[b"mif1", b"heic"]);
        b.truncate(b.len() - 8); // drop the trailing `free` box
        let ispe = [
            &20u32.to_be_bytes()[..],
            b"ispe",
            &[0; 4],
            &4000u32.to_be_bytes(),
            &3000u32.to_be_bytes(),
        ]
        .concat();
        let ipco = [&(8 + ispe.len() as u32).to_be_bytes()[..], b"ipco", &ispe].concat();
        let iprp = [&(8 + ipco.len() as u32).to_be_bytes()[..], b"iprp", &ipco].concat();
        let meta = [
            &(12 + iprp.len() as u32).to_be_bytes()[..],
            b"meta",
            &[0; 4],
            &iprp,
        ]
        .concat();
        b.extend_from_slice(&meta);
        b.extend_from_slice(b"\0\0\0\x08mdat");
        assert_eq!(sniff(&b), Some(ImageKind::Heic));
        assert_eq!(
            dimensions(&b, ImageKind::Heic, &MediaLimits::default()),
            Ok((4000, 3000))
        );
        let small = MediaLimits {
            max_pixels: 10_000_000,
            ..MediaLimits::default()
        };
        assert_eq!(
            dimensions(&b, ImageKind::Heic, &small),
            Err(MediaError::TooLarge {
                width: 4000,
                height: 3000
            })
        );
    }

    #[test]
    fn decompression_bomb_is_refused_from_the_header() {
        let started = Instant::now();
        let bomb = png_claiming(50_000, 50_000);
        assert!(bomb.len() < 100, "the bomb itself is tiny");
        let too_large = MediaError::TooLarge {
            width: 50_000,
            height: 50_000,
        };
        assert_eq!(
            dimensions(&bomb, ImageKind::Png, &MediaLimits::default()),
            Err(too_large.clone())
        );
        assert_eq!(
            public_derivative(&bomb, ImageKind::Png, 1280),
            Err(too_large.clone())
        );
        assert_eq!(too_large.code(), "DIMENSIONS_TOO_LARGE");
        // Under the side limit but over 100 megapixels.
        assert!(matches!(
            dimensions(
                &png_claiming(15_000, 15_000),
                ImageKind::Png,
                &MediaLimits::default()
            ),
            Err(MediaError::TooLarge { .. })
        ));
        // One side too long on its own.
        assert!(matches!(
            dimensions(
                &png_claiming(20_001, 1),
                ImageKind::Png,
                &MediaLimits::default()
            ),
            Err(MediaError::TooLarge { .. })
        ));
        // Within limits, the header is believed (the pixels are never looked at).
        assert_eq!(
            dimensions(
                &png_claiming(4000, 3000),
                ImageKind::Png,
                &MediaLimits::default()
            ),
            Ok((4000, 3000))
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn exif_round_trips_time_and_gps() {
        let jpeg = test_jpeg(64, 48, Some((shot(), 30.123_456_7, 114.765_432_1)));
        let info = read_exif(&jpeg);
        assert_eq!(info.taken_at, Some(shot()));
        let (lat, lng) = info.gps.unwrap();
        assert!((lat - 30.123_456_7).abs() < 1e-6, "{lat}");
        assert!((lng - 114.765_432_1).abs() < 1e-6, "{lng}");
    }

    #[test]
    fn exif_southern_and_western_hemispheres_are_negative() {
        let jpeg = test_jpeg(8, 8, Some((shot(), -33.856_784, -70.654_321)));
        let (lat, lng) = read_exif(&jpeg).gps.unwrap();
        assert!((lat + 33.856_784).abs() < 1e-6, "{lat}");
        assert!((lng + 70.654_321).abs() < 1e-6, "{lng}");
    }

    #[test]
    fn exif_time_without_offset_is_shanghai_and_with_offset_is_honoured() {
        let plain = test_jpeg(8, 8, None);
        let without = fixtures::with_exif(
            &plain,
            &fixtures::exif_tiff(&fixtures::ExifFields {
                taken_local: Some("2024:05:17 14:03:09"),
                offset: None,
                ..Default::default()
            }),
        );
        assert_eq!(read_exif(&without).taken_at, Some(shot()));
        assert_eq!(read_exif(&without).gps, None);

        let tokyo = fixtures::with_exif(
            &plain,
            &fixtures::exif_tiff(&fixtures::ExifFields {
                taken_local: Some("2024:05:17 15:03:09"),
                offset: Some("+09:00"),
                ..Default::default()
            }),
        );
        assert_eq!(read_exif(&tokyo).taken_at, Some(shot()));

        let impossible = fixtures::with_exif(
            &plain,
            &fixtures::exif_tiff(&fixtures::ExifFields {
                taken_local: Some("2024:13:45 25:61:00"),
                ..Default::default()
            }),
        );
        assert_eq!(read_exif(&impossible).taken_at, None);
    }

    #[test]
    fn exif_null_island_and_void_fix_are_no_position() {
        let plain = test_jpeg(8, 8, None);
        let null_island = fixtures::with_exif(
            &plain,
            &fixtures::exif_tiff(&fixtures::ExifFields {
                gps: Some((0.0, 0.0)),
                ..Default::default()
            }),
        );
        assert_eq!(read_exif(&null_island).gps, None);
        let void = fixtures::with_exif(
            &plain,
            &fixtures::exif_tiff(&fixtures::ExifFields {
                gps: Some((30.5, 114.3)),
                gps_status: Some("V"),
                ..Default::default()
            }),
        );
        assert_eq!(read_exif(&void).gps, None);
        let active = fixtures::with_exif(
            &plain,
            &fixtures::exif_tiff(&fixtures::ExifFields {
                gps: Some((30.5, 114.3)),
                gps_status: Some("A"),
                ..Default::default()
            }),
        );
        assert!(read_exif(&active).gps.is_some());
    }

    #[test]
    fn exif_in_a_png_container() {
        let tiff = fixtures::exif_tiff(&fixtures::ExifFields {
            taken_local: Some("2024:05:17 14:03:09"),
            offset: Some("+08:00"),
            gps: Some((30.5, 114.25)),
            ..Default::default()
        });
        let tagged = fixtures::png_with_exif(&png(4, 4, false), &tiff);
        assert_eq!(
            dimensions(&tagged, ImageKind::Png, &MediaLimits::default()),
            Ok((4, 4))
        );
        let info = read_exif(&tagged);
        assert_eq!(info.taken_at, Some(shot()));
        assert_eq!(info.gps, Some((30.5, 114.25)));
        // And the public copy of it has none.
        let public = public_derivative(&tagged, ImageKind::Png, 1280).unwrap();
        assert_eq!(read_exif(&public), ExifInfo::default());
    }

    #[test]
    fn debug_output_never_shows_the_position() {
        let info = read_exif(&test_jpeg(8, 8, Some((shot(), 30.123_456, 114.654_321))));
        let shown = format!("{info:?}");
        assert!(shown.contains("redacted"), "{shown}");
        assert!(
            !shown.contains("30.12") && !shown.contains("114.65"),
            "{shown}"
        );
    }

    #[test]
    fn missing_or_broken_exif_is_default() {
        assert_eq!(read_exif(&test_jpeg(8, 8, None)), ExifInfo::default());
        assert_eq!(read_exif(b"definitely not an image"), ExifInfo::default());
        assert_eq!(read_exif(&[]), ExifInfo::default());
        assert_eq!(read_exif(&png(4, 4, false)), ExifInfo::default());
        // An APP1 that says Exif but holds garbage.
        let broken = fixtures::with_exif(&test_jpeg(8, 8, None), b"II*\0\xff\xff\xff\xffjunk");
        assert_eq!(read_exif(&broken), ExifInfo::default());
        // Truncated in the middle of the EXIF segment.
        let jpeg = test_jpeg(8, 8, Some((shot(), 30.5, 114.3)));
        assert_eq!(read_exif(&jpeg[..60]), ExifInfo::default());
    }

    #[test]
    fn public_derivative_shrinks_and_strips_metadata() {
        let original = test_jpeg(3000, 2000, Some((shot(), 30.5, 114.3)));
        assert!(read_exif(&original).gps.is_some());
        let public = public_derivative(&original, ImageKind::Jpeg, 1280).unwrap();
        assert_eq!(sniff(&public), Some(ImageKind::Jpeg));
        let (w, h) = dimensions(&public, ImageKind::Jpeg, &MediaLimits::default()).unwrap();
        assert_eq!((w, h), (1280, 853));
        assert_eq!(read_exif(&public), ExifInfo::default());
        // No APP1 (EXIF/XMP) or APP2 (ICC) segment at all.
        assert!(
            !public
                .windows(2)
                .any(|m| m == [0xFF, 0xE1] || m == [0xFF, 0xE2])
        );
        assert!(public.len() < original.len());
    }

    #[test]
    fn public_derivative_keeps_small_photos_and_handles_png_and_webp() {
        let small = test_jpeg(200, 100, Some((shot(), 30.5, 114.3)));
        let public = public_derivative(&small, ImageKind::Jpeg, 1280).unwrap();
        assert_eq!(
            dimensions(&public, ImageKind::Jpeg, &MediaLimits::default()),
            Ok((200, 100))
        );
        assert_eq!(read_exif(&public), ExifInfo::default());

        let transparent = public_derivative(&png(300, 40, true), ImageKind::Png, 100).unwrap();
        assert_eq!(
            dimensions(&transparent, ImageKind::Jpeg, &MediaLimits::default()),
            Ok((100, 13))
        );
        let decoded = image::load_from_memory(&transparent).unwrap().into_rgb8();
        // Fully transparent black at x = 0 becomes white, not black.
        assert!(decoded.get_pixel(0, 6).0.iter().all(|&c| c > 200));

        let from_webp = public_derivative(&webp(50, 60), ImageKind::Webp, 30).unwrap();
        assert_eq!(
            dimensions(&from_webp, ImageKind::Jpeg, &MediaLimits::default()),
            Ok((25, 30))
        );
    }

    #[test]
    fn public_derivative_turns_the_photo_upright() {
        // Orientation 6: stored landscape, shown rotated 90° clockwise (portrait).
        let stored = test_jpeg(120, 80, None);
        let rotated = fixtures::with_exif(
            &stored,
            &fixtures::exif_tiff(&fixtures::ExifFields {
                orientation: Some(6),
                ..Default::default()
            }),
        );
        let public = public_derivative(&rotated, ImageKind::Jpeg, 1280).unwrap();
        assert_eq!(
            dimensions(&public, ImageKind::Jpeg, &MediaLimits::default()),
            Ok((80, 120))
        );
    }

    #[test]
    fn public_derivative_refuses_what_it_cannot_read() {
        let heic = ftyp(b"heic", &[b"mif1", b"heic"]);
        let err = public_derivative(&heic, ImageKind::Heic, 1280).unwrap_err();
        assert!(matches!(err, MediaError::Unsupported(_)));
        assert_eq!(err.code(), "UNSUPPORTED");

        assert_eq!(
            public_derivative(b"plain text, not a picture", ImageKind::Jpeg, 1280),
            Err(MediaError::UnknownType)
        );
        let jpeg = test_jpeg(64, 64, None);
        let truncated = public_derivative(&jpeg[..jpeg.len() / 3], ImageKind::Jpeg, 1280);
        // zune-jpeg pads a truncated scan with grey rather than failing, so a cut-off
        // photo may still give a derivative; what matters is that nothing panics.
        if let Err(e) = truncated {
            assert_eq!(e.code(), "UNREADABLE", "{e}");
        }
        let header_only = public_derivative(&jpeg[..200], ImageKind::Jpeg, 1280);
        assert!(header_only.is_err());
        // A PNG whose IHDR is within limits but whose pixel data is missing.
        let err = public_derivative(&png_claiming(64, 64), ImageKind::Png, 1280).unwrap_err();
        assert_eq!(err.code(), "UNREADABLE", "{err}");
    }

    #[test]
    fn big_jpeg_is_roughly_the_size_asked_for() {
        let target = 400_000;
        let big = big_jpeg(target);
        assert_eq!(sniff(&big), Some(ImageKind::Jpeg));
        assert!(
            big.len() > target * 3 / 4 && big.len() < target * 5 / 4,
            "{} bytes",
            big.len()
        );
        assert!(dimensions(&big, ImageKind::Jpeg, &MediaLimits::default()).is_ok());
    }

    #[test]
    fn messages_exist_in_both_languages() {
        let all = [
            MediaError::UnknownType,
            MediaError::TypeMismatch {
                declared: ImageKind::Png,
                actual: ImageKind::Heic,
            },
            MediaError::TooLarge {
                width: 1,
                height: 2,
            },
            MediaError::Unreadable("x".into()),
            MediaError::Unsupported("y"),
        ];
        let codes: Vec<_> = all.iter().map(MediaError::code).collect();
        assert_eq!(
            codes,
            [
                "NOT_AN_IMAGE",
                "TYPE_MISMATCH",
                "DIMENSIONS_TOO_LARGE",
                "UNREADABLE",
                "UNSUPPORTED"
            ]
        );
        for e in &all {
            let msg = e.msg();
            assert!(!msg.zh.is_empty() && !msg.en.is_empty());
            assert!(
                msg.zh
                    .chars()
                    .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
            );
        }
    }
}
