//! GPS tracks, packed: one uploaded batch becomes one blob of delta-encoded points,
//! and a patrol's track is the merge of its batches in time order, whatever order they
//! arrived in and however often one was replayed.
//!
//! Points are quantised once, on the way in (1e-7° ≈ 1 cm, milliseconds, decimetres of
//! accuracy), so what is stored, merged and measured is the same for every upload order.
//! Blob layout, version 1: `0x01`, varint count, then per point zigzag-varint deltas of
//! time (ms), latitude and longitude (1e-7°) from the previous point, and a varint of
//! accuracy in decimetres plus one (0: none).

use chrono::{DateTime, Duration, Utc};

use crate::domain::geo::haversine_m;

/// One point of a track, quantised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TrackPoint {
    /// Client time, milliseconds since the Unix epoch.
    pub t_ms: i64,
    /// Latitude in 1e-7 degrees (WGS-84).
    pub lat_e7: i32,
    /// Longitude in 1e-7 degrees (WGS-84).
    pub lng_e7: i32,
    /// Horizontal accuracy in decimetres, when the device gave one.
    pub acc_dm: Option<u32>,
}

impl TrackPoint {
    /// Quantises a point (coordinates already validated WGS-84 degrees).
    pub fn new(at: DateTime<Utc>, lat: f64, lng: f64, accuracy_m: Option<f64>) -> Self {
        Self {
            t_ms: at.timestamp_millis(),
            lat_e7: (lat * 1e7).round() as i32,
            lng_e7: (lng * 1e7).round() as i32,
            acc_dm: accuracy_m.map(|a| (a * 10.0).round().clamp(0.0, 4e9) as u32),
        }
    }

    /// Latitude in degrees.
    pub fn lat(&self) -> f64 {
        f64::from(self.lat_e7) / 1e7
    }

    /// Longitude in degrees.
    pub fn lng(&self) -> f64 {
        f64::from(self.lng_e7) / 1e7
    }

    /// Accuracy in metres.
    pub fn accuracy_m(&self) -> Option<f64> {
        self.acc_dm.map(|d| f64::from(d) / 10.0)
    }

    /// The client time.
    pub fn at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.t_ms).unwrap_or_default()
    }

    fn same_fix(&self, other: &Self) -> bool {
        self.t_ms == other.t_ms && self.lat_e7 == other.lat_e7 && self.lng_e7 == other.lng_e7
    }
}

const VERSION: u8 = 1;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn get_varint(data: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut v: u64 = 0;
    let mut shift = 0;
    loop {
        let b = *data.get(*pos).ok_or("truncated track blob")?;
        *pos += 1;
        if shift >= 64 {
            return Err("overlong varint in track blob".into());
        }
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
        shift += 7;
    }
}

/// Sorts points in time order and drops exact repeats (same time and place).
pub fn normalise(mut points: Vec<TrackPoint>) -> Vec<TrackPoint> {
    points.sort();
    points.dedup_by(|b, a| a.same_fix(b));
    points
}

/// Packs points (normalised first).
pub fn encode(points: &[TrackPoint]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + points.len() * 8);
    out.push(VERSION);
    put_varint(&mut out, points.len() as u64);
    let (mut t, mut la, mut lo) = (0i64, 0i64, 0i64);
    for p in points {
        put_varint(&mut out, zigzag(p.t_ms.wrapping_sub(t)));
        put_varint(&mut out, zigzag(i64::from(p.lat_e7) - la));
        put_varint(&mut out, zigzag(i64::from(p.lng_e7) - lo));
        put_varint(&mut out, p.acc_dm.map_or(0, |a| u64::from(a) + 1));
        (t, la, lo) = (p.t_ms, i64::from(p.lat_e7), i64::from(p.lng_e7));
    }
    out
}

/// Unpacks a blob written by [`encode`].
pub fn decode(data: &[u8]) -> Result<Vec<TrackPoint>, String> {
    if data.first() != Some(&VERSION) {
        return Err("unknown track blob version".into());
    }
    let mut pos = 1;
    let n = get_varint(data, &mut pos)?;
    let n = usize::try_from(n).map_err(|_| "track blob count too large")?;
    if n > data.len() {
        return Err("track blob count exceeds its size".into());
    }
    let mut out = Vec::with_capacity(n);
    let (mut t, mut la, mut lo) = (0i64, 0i64, 0i64);
    for _ in 0..n {
        t = t.wrapping_add(unzigzag(get_varint(data, &mut pos)?));
        la += unzigzag(get_varint(data, &mut pos)?);
        lo += unzigzag(get_varint(data, &mut pos)?);
        let acc = get_varint(data, &mut pos)?;
        out.push(TrackPoint {
            t_ms: t,
            lat_e7: i32::try_from(la).map_err(|_| "latitude out of range in track blob")?,
            lng_e7: i32::try_from(lo).map_err(|_| "longitude out of range in track blob")?,
            acc_dm: match acc {
                0 => None,
                a => Some(u32::try_from(a - 1).map_err(|_| "accuracy out of range")?),
            },
        });
    }
    if pos != data.len() {
        return Err("trailing bytes in track blob".into());
    }
    Ok(out)
}

/// Fastest plausible movement between two consecutive points: 120 km/h.
pub const MAX_SPEED_MPS: f64 = 120.0 / 3.6;

/// Clock skew allowed before a client time counts as "in the future".
pub const FUTURE_SKEW: Duration = Duration::minutes(2);

/// What a merged track adds up to.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackSummary {
    /// Distinct points.
    pub points: usize,
    /// Metres along the track, in time order (haversine).
    pub distance_m: f64,
    /// First point's time.
    pub first: Option<DateTime<Utc>>,
    /// Last point's time.
    pub last: Option<DateTime<Utc>>,
    /// Two consecutive points are further apart than 120 km/h allows (beyond what
    /// their stated accuracy explains).
    pub too_fast: bool,
    /// A point's time lies after `now` plus [`FUTURE_SKEW`].
    pub in_future: bool,
}

/// Sums up a merged, time-ordered track.
pub fn summarise(track: &[TrackPoint], now: DateTime<Utc>) -> TrackSummary {
    let mut distance = 0.0;
    let mut too_fast = false;
    for w in track.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let d = haversine_m(a.lat(), a.lng(), b.lat(), b.lng());
        distance += d;
        // A jump no larger than the two fixes' stated accuracy is noise, not speed.
        let slack = a.accuracy_m().unwrap_or(0.0) + b.accuracy_m().unwrap_or(0.0);
        let moved = (d - slack).max(0.0);
        let secs = (b.t_ms - a.t_ms) as f64 / 1000.0;
        if moved > 0.0 && (secs <= 0.0 || moved / secs > MAX_SPEED_MPS) {
            too_fast = true;
        }
    }
    let limit = (now + FUTURE_SKEW).timestamp_millis();
    TrackSummary {
        points: track.len(),
        distance_m: distance,
        first: track.first().map(TrackPoint::at),
        last: track.last().map(TrackPoint::at),
        too_fast,
        in_future: track.iter().any(|p| p.t_ms > limit),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(t: i64, lat: f64, lng: f64) -> TrackPoint {
        TrackPoint::new(
            DateTime::from_timestamp_millis(1_800_000_000_000 + t).unwrap(),
            lat,
            lng,
            Some(5.0),
        )
    }

    #[test]
    fn blobs_round_trip_and_stay_small() {
        let pts: Vec<_> = (0..1000)
            .map(|i| p(i * 3000, 35.6 + i as f64 * 1e-5, 112.3 - i as f64 * 2e-5))
            .collect();
        let blob = encode(&pts);
        assert_eq!(decode(&blob).unwrap(), pts);
        assert!(blob.len() < pts.len() * 10, "{} bytes", blob.len());
        let with_none = vec![TrackPoint {
            acc_dm: None,
            ..pts[0]
        }];
        assert_eq!(decode(&encode(&with_none)).unwrap(), with_none);
    }

    #[test]
    fn broken_blobs_are_errors_not_panics() {
        let blob = encode(&[p(0, 35.6, 112.3), p(1000, 35.6, 112.3)]);
        for cut in 0..blob.len() {
            assert!(decode(&blob[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = blob.clone();
        extra.push(0);
        assert!(decode(&extra).is_err());
        assert!(decode(&[2, 0]).is_err());
        assert!(decode(&[1, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    }

    #[test]
    fn merging_ignores_order_and_repeats() {
        let a = vec![p(0, 35.6, 112.3), p(1000, 35.6001, 112.3)];
        let b = vec![p(2000, 35.6002, 112.3), p(1000, 35.6001, 112.3)];
        let mut shuffled = b.clone();
        shuffled.extend(a.clone());
        shuffled.extend(b.clone());
        let mut ordered = a;
        ordered.extend(b);
        assert_eq!(normalise(shuffled), normalise(ordered.clone()));
        assert_eq!(normalise(ordered).len(), 3);
    }

    #[test]
    fn speed_and_future_are_flagged() {
        let now = DateTime::from_timestamp_millis(1_800_000_000_000 + 10_000_000).unwrap();
        // About 11 m/s: walking pace is far below, a car on a county road is fine.
        let slow = [p(0, 35.6, 112.3), p(10_000, 35.601, 112.3)];
        let s = summarise(&slow, now);
        assert!(!s.too_fast && !s.in_future, "{s:?}");
        assert!((s.distance_m - 111.2).abs() < 1.0, "{s:?}");
        // 1.1 km in 10 s: 400 km/h.
        let fast = [p(0, 35.6, 112.3), p(10_000, 35.61, 112.3)];
        assert!(summarise(&fast, now).too_fast);
        // Two fixes at the same instant a few metres apart, within accuracy: noise.
        let jitter = [p(0, 35.6, 112.3), p(0, 35.60005, 112.3)];
        assert!(!summarise(&jitter, now).too_fast);
        let future = [p(10_000_000 + 3 * 60_000, 35.6, 112.3)];
        assert!(summarise(&future, now).in_future);
        let skew = [p(10_000_000 + 60_000, 35.6, 112.3)];
        assert!(!summarise(&skew, now).in_future);
    }
}
