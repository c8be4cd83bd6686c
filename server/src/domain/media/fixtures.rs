//! Photos made up for tests and benchmarks.
//!
//! Ordinary public functions (not `cfg(test)`) so the integration tests and
//! benchmarks can use them too. They are cheap: a 3000×2000 JPEG takes well under a
//! second in a release build. The EXIF bytes are written by hand from the TIFF/EXIF
//! 2.32 layout, not with the EXIF library under test, so a bug in how we read EXIF
//! cannot hide behind the same bug in how we write it.
//!
//! They panic on a zero width or height, the only input the encoder refuses.

use chrono::{DateTime, Utc};
use image::RgbImage;
use image::codecs::jpeg::JpegEncoder;

use crate::domain::sla::SHANGHAI;

/// A JPEG of `width`×`height` showing a colour gradient (so it does not compress to
/// nothing). With `exif = Some((taken_at, lat, lng))` it carries an EXIF APP1
/// segment right after SOI, as a phone writes it: `DateTimeOriginal` in
/// Asia/Shanghai wall-clock time with `OffsetTimeOriginal` `+08:00`, and GPS
/// latitude/longitude as degrees, minutes and seconds with their N/S and E/W
/// references (south and west for negative values).
pub fn test_jpeg(width: u32, height: u32, exif: Option<(DateTime<Utc>, f64, f64)>) -> Vec<u8> {
    let (w, h) = (width.max(1), height.max(1));
    let picture = RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x + y) % 256) as u8,
        ])
    });
    let jpeg = encode_jpeg(&picture, 85);
    match exif {
        None => jpeg,
        Some((taken_at, lat, lng)) => {
            let local = taken_at
                .with_timezone(&SHANGHAI)
                .format("%Y:%m:%d %H:%M:%S")
                .to_string();
            let tiff = exif_tiff(&ExifFields {
                taken_local: Some(&local),
                offset: Some("+08:00"),
                gps: Some((lat, lng)),
                ..ExifFields::default()
            });
            with_exif(&jpeg, &tiff)
        }
    }
}

/// A PNG whose header claims `width`×`height` RGB pixels but which holds almost no
/// data: the signature, an IHDR with that size (and a correct CRC), a tiny IDAT and
/// IEND. It is what a decompression bomb looks like to a header check; decoding it
/// fails (or would first allocate `width × height × 3` bytes).
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    // Bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    // A zlib stream holding one stored block with a single zero byte (a filter
    // byte for the first row, and nothing else).
    let idat = [
        0x78, 0x01, 0x01, 0x01, 0x00, 0xFE, 0xFF, 0x00, 0x00, 0x01, 0x00, 0x01,
    ];
    png_chunk(&mut out, b"IDAT", &idat);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A valid JPEG of roughly `target_bytes` (within about 10 % above a few KiB),
/// filled with noise so it is as large as its pixel count makes it; 4:3, like a
/// phone photo. For upload and hashing benchmarks (e.g. 4 MB).
pub fn big_jpeg(target_bytes: usize) -> Vec<u8> {
    const QUALITY: u8 = 90;
    // Noise compresses at a steady rate, so measure it on a sample and scale.
    let sample = encode_jpeg(&noise(256, 192, 1), QUALITY);
    let bytes_per_pixel = sample.len() as f64 / f64::from(256 * 192);
    let pixels = (target_bytes as f64 / bytes_per_pixel).max(12.0);
    let width = ((pixels * 4.0 / 3.0).sqrt().round() as u32).max(4);
    let height = (width * 3 / 4).max(3);
    encode_jpeg(&noise(width, height, 2), QUALITY)
}

/// What [`exif_tiff`] writes; every field is optional.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExifFields<'a> {
    /// `DateTimeOriginal`, `YYYY:MM:DD HH:MM:SS` (any text, to test bad values).
    pub taken_local: Option<&'a str>,
    /// `OffsetTimeOriginal`, e.g. `+08:00`.
    pub offset: Option<&'a str>,
    /// GPS `(lat, lng)` in signed degrees.
    pub gps: Option<(f64, f64)>,
    /// `GPSStatus`: `A` (measurement active) or `V` (void).
    pub gps_status: Option<&'a str>,
    /// `Orientation` (1–8) in IFD0.
    pub orientation: Option<u16>,
}

/// A little-endian TIFF/EXIF block ("II*\0", IFD0 with pointers to an Exif IFD and
/// a GPS IFD), ready to go after `Exif\0\0` in a JPEG APP1 segment.
pub fn exif_tiff(fields: &ExifFields<'_>) -> Vec<u8> {
    let mut exif_ifd = Vec::new();
    if let Some(taken) = fields.taken_local {
        exif_ifd.push(Entry::ascii(0x9003, taken)); // DateTimeOriginal
    }
    if let Some(offset) = fields.offset {
        exif_ifd.push(Entry::ascii(0x9011, offset)); // OffsetTimeOriginal
    }
    let mut gps_ifd = Vec::new();
    if let Some((lat, lng)) = fields.gps {
        gps_ifd.push(Entry {
            tag: 0x0000, // GPSVersionID 2.3.0.0
            kind: BYTE,
            count: 4,
            data: vec![2, 3, 0, 0],
        });
        gps_ifd.push(Entry::ascii(0x0001, if lat < 0.0 { "S" } else { "N" }));
        gps_ifd.push(Entry::dms(0x0002, lat));
        gps_ifd.push(Entry::ascii(0x0003, if lng < 0.0 { "W" } else { "E" }));
        gps_ifd.push(Entry::dms(0x0004, lng));
    }
    if let Some(status) = fields.gps_status {
        gps_ifd.push(Entry::ascii(0x0009, status));
    }

    // IFD0 holds only inline values, so its length is known before the offsets.
    let mut ifd0 = Vec::new();
    if let Some(orientation) = fields.orientation {
        ifd0.push(Entry {
            tag: 0x0112,
            kind: SHORT,
            count: 1,
            data: orientation.to_le_bytes().to_vec(),
        });
    }
    let pointers = usize::from(!exif_ifd.is_empty()) + usize::from(!gps_ifd.is_empty());
    let ifd0_len = 2 + 12 * (ifd0.len() + pointers) + 4;
    let exif_at = 8 + ifd0_len as u32;
    let exif_bytes = if exif_ifd.is_empty() {
        Vec::new()
    } else {
        ifd(&exif_ifd, exif_at)
    };
    let gps_at = exif_at + exif_bytes.len() as u32;
    let gps_bytes = if gps_ifd.is_empty() {
        Vec::new()
    } else {
        ifd(&gps_ifd, gps_at)
    };
    if !exif_ifd.is_empty() {
        ifd0.push(Entry::long(0x8769, exif_at)); // ExifIFDPointer
    }
    if !gps_ifd.is_empty() {
        ifd0.push(Entry::long(0x8825, gps_at)); // GPSInfoIFDPointer
    }

    let mut out = b"II*\0".to_vec();
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&ifd(&ifd0, 8));
    out.extend_from_slice(&exif_bytes);
    out.extend_from_slice(&gps_bytes);
    out
}

/// `jpeg` with an APP1 `Exif\0\0` segment holding `tiff` inserted right after SOI.
/// `tiff` may be any bytes (up to 65 527), to test broken EXIF.
pub fn with_exif(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
    let (soi, rest) = jpeg.split_at(2.min(jpeg.len()));
    let segment_len = (2 + 6 + tiff.len()) as u16;
    let mut out = Vec::with_capacity(jpeg.len() + 4 + 6 + tiff.len());
    out.extend_from_slice(soi);
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&segment_len.to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(tiff);
    out.extend_from_slice(rest);
    out
}

/// `png` with an `eXIf` chunk holding `tiff` inserted just before IEND (the PNG
/// 1.5 extension where phones and editors put EXIF).
pub fn png_with_exif(png: &[u8], tiff: &[u8]) -> Vec<u8> {
    // IEND is always the last 12 bytes: length 0, "IEND", CRC.
    let (body, iend) = png.split_at(png.len().saturating_sub(12));
    let mut out = body.to_vec();
    png_chunk(&mut out, b"eXIf", tiff);
    out.extend_from_slice(iend);
    out
}

const BYTE: u16 = 1;
const ASCII: u16 = 2;
const SHORT: u16 = 3;
const LONG: u16 = 4;
const RATIONAL: u16 = 5;

/// One TIFF IFD entry with its value bytes (little-endian).
struct Entry {
    tag: u16,
    kind: u16,
    count: u32,
    data: Vec<u8>,
}

impl Entry {
    fn ascii(tag: u16, text: &str) -> Self {
        let mut data = text.as_bytes().to_vec();
        data.push(0);
        Self {
            tag,
            kind: ASCII,
            count: data.len() as u32,
            data,
        }
    }

    fn long(tag: u16, value: u32) -> Self {
        Self {
            tag,
            kind: LONG,
            count: 1,
            data: value.to_le_bytes().to_vec(),
        }
    }

    /// Degrees, minutes and seconds of `|value|`, the seconds to a millionth.
    fn dms(tag: u16, value: f64) -> Self {
        let value = value.abs();
        let degrees = value.trunc();
        let minutes = ((value - degrees) * 60.0).trunc();
        let micro_seconds = (((value - degrees) * 60.0 - minutes) * 60.0 * 1e6).round();
        let mut data = Vec::with_capacity(24);
        for (num, denom) in [
            (degrees as u32, 1u32),
            (minutes as u32, 1),
            (micro_seconds as u32, 1_000_000),
        ] {
            data.extend_from_slice(&num.to_le_bytes());
            data.extend_from_slice(&denom.to_le_bytes());
        }
        Self {
            tag,
            kind: RATIONAL,
            count: 3,
            data,
        }
    }
}

/// An IFD placed at offset `at` of the TIFF block: the entries (sorted by tag, as
/// TIFF requires), a zero next-IFD pointer, then the values too long to fit inline.
fn ifd(entries: &[Entry], at: u32) -> Vec<u8> {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.tag);
    let values_at = at + 2 + 12 * sorted.len() as u32 + 4;
    let mut head = (sorted.len() as u16).to_le_bytes().to_vec();
    let mut values = Vec::new();
    for e in sorted {
        head.extend_from_slice(&e.tag.to_le_bytes());
        head.extend_from_slice(&e.kind.to_le_bytes());
        head.extend_from_slice(&e.count.to_le_bytes());
        if e.data.len() <= 4 {
            let mut inline = [0u8; 4];
            inline[..e.data.len()].copy_from_slice(&e.data);
            head.extend_from_slice(&inline);
        } else {
            head.extend_from_slice(&(values_at + values.len() as u32).to_le_bytes());
            values.extend_from_slice(&e.data);
            if values.len() % 2 == 1 {
                values.push(0); // keep every offset on a word boundary
            }
        }
    }
    head.extend_from_slice(&0u32.to_le_bytes());
    head.extend_from_slice(&values);
    head
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// CRC-32 (ISO-HDLC, as PNG uses), bit by bit: fixtures are tiny.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Deterministic RGB noise (xorshift), so benchmarks are repeatable.
fn noise(width: u32, height: u32, seed: u64) -> RgbImage {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ seed;
    let mut raw = vec![0u8; width as usize * height as usize * 3];
    for chunk in raw.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let bytes = state.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    RgbImage::from_fn(width, height, |x, y| {
        let i = (y as usize * width as usize + x as usize) * 3;
        image::Rgb([raw[i], raw[i + 1], raw[i + 2]])
    })
}

#[expect(
    clippy::expect_used,
    reason = "test fixtures: encoding an in-memory RGB buffer into a Vec fails only for a zero-sized image"
)]
fn encode_jpeg(picture: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(picture)
        .expect("a non-empty RGB image always encodes");
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_png_iend_constant() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn png_claiming_is_a_well_formed_png_header() {
        let png = png_claiming(64, 64);
        let mut decoder = png_header(&png);
        assert_eq!(decoder, (64, 64));
        decoder = png_header(&png_claiming(50_000, 50_000));
        assert_eq!(decoder, (50_000, 50_000));
    }

    fn png_header(bytes: &[u8]) -> (u32, u32) {
        // Checks the IHDR CRC too: the decoder refuses a header with a bad CRC.
        let decoder = image::codecs::png::PngDecoder::with_limits(
            std::io::Cursor::new(bytes),
            image::Limits::no_limits(),
        )
        .unwrap();
        image::ImageDecoder::dimensions(&decoder)
    }

    #[test]
    fn exif_tiff_layout() {
        let tiff = exif_tiff(&ExifFields {
            taken_local: Some("2024:05:17 14:03:09"),
            offset: Some("+08:00"),
            gps: Some((30.5, 114.25)),
            ..ExifFields::default()
        });
        assert!(tiff.starts_with(b"II*\0\x08\0\0\0"));
        // IFD0: two pointers, sorted, each to a word boundary.
        assert_eq!(&tiff[8..10], &2u16.to_le_bytes());
        assert_eq!(&tiff[10..12], &0x8769u16.to_le_bytes());
        assert_eq!(&tiff[22..24], &0x8825u16.to_le_bytes());
        let exif_at = u32::from_le_bytes(tiff[18..22].try_into().unwrap());
        let gps_at = u32::from_le_bytes(tiff[30..34].try_into().unwrap());
        assert_eq!(exif_at, 8 + 30);
        assert_eq!(exif_at % 2, 0);
        assert_eq!(gps_at % 2, 0);
        assert!(tiff.windows(19).any(|w| w == b"2024:05:17 14:03:09"));
    }
}
