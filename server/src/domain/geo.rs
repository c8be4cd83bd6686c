//! Coordinates: validated WGS-84 points and the GCJ-02 datum used by Chinese map SDKs.
//!
//! Everything is stored in WGS-84. Clients that send GCJ-02 (WeChat `wx.getLocation`
//! with `type: 'gcj02'`, Amap and Tencent map pickers) are converted back with an
//! iterative inverse that is accurate to well under a centimetre; the usual one-step
//! inverse is off by several metres, enough to put a report in the wrong village.

use crate::error::{AppError, Msg};

/// A latitude in degrees, finite and within [-90, 90].
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Lat(f64);

/// A longitude in degrees, finite and within [-180, 180].
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Lng(f64);

impl Lat {
    /// The value in degrees.
    pub fn degrees(self) -> f64 {
        self.0
    }
}

impl Lng {
    /// The value in degrees.
    pub fn degrees(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Lat {
    type Error = AppError;
    fn try_from(v: f64) -> Result<Self, AppError> {
        if v.is_finite() && (-90.0..=90.0).contains(&v) {
            Ok(Self(v))
        } else {
            Err(AppError::bad_input(
                "INVALID_LATITUDE",
                Msg::new(
                    format!("纬度无效：{v}（应为 -90 到 90 之间的数）"),
                    format!("invalid latitude {v}: must be a number between -90 and 90"),
                ),
            )
            .at("lat"))
        }
    }
}

impl TryFrom<f64> for Lng {
    type Error = AppError;
    fn try_from(v: f64) -> Result<Self, AppError> {
        if v.is_finite() && (-180.0..=180.0).contains(&v) {
            Ok(Self(v))
        } else {
            Err(AppError::bad_input(
                "INVALID_LONGITUDE",
                Msg::new(
                    format!("经度无效：{v}（应为 -180 到 180 之间的数）"),
                    format!("invalid longitude {v}: must be a number between -180 and 180"),
                ),
            )
            .at("lng"))
        }
    }
}

/// The datum a client's coordinates are expressed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoordSystem {
    /// GPS / WGS-84, what the server stores.
    Wgs84,
    /// GCJ-02 ("Mars coordinates"), mandatory for maps published in mainland China.
    Gcj02,
}

/// A validated point in WGS-84.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WgsPoint {
    /// Latitude.
    pub lat: Lat,
    /// Longitude.
    pub lng: Lng,
}

impl WgsPoint {
    /// Validates raw degrees given in `coord` and converts them to WGS-84.
    pub fn from_client(lat: f64, lng: f64, coord: CoordSystem) -> Result<Self, AppError> {
        let lat = Lat::try_from(lat)?;
        let lng = Lng::try_from(lng)?;
        let (lat, lng) = match coord {
            CoordSystem::Wgs84 => (lat.0, lng.0),
            CoordSystem::Gcj02 => gcj02_to_wgs84(lat.0, lng.0),
        };
        // The inverse of an in-range point stays in range; re-check rather than trust.
        Ok(Self {
            lat: Lat::try_from(lat)?,
            lng: Lng::try_from(lng)?,
        })
    }

    /// Great-circle distance in metres (haversine on a sphere of mean Earth radius).
    pub fn distance_m(&self, other: &WgsPoint) -> f64 {
        haversine_m(self.lat.0, self.lng.0, other.lat.0, other.lng.0)
    }
}

/// Great-circle distance in metres between two WGS-84 points.
pub fn haversine_m(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    const R: f64 = 6_371_008.8;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * R * a.sqrt().asin()
}

// Krasovsky 1940 ellipsoid, as used by the GCJ-02 obfuscation.
const A: f64 = 6_378_245.0;
const EE: f64 = 0.006_693_421_622_965_943;

/// Whether GCJ-02 applies at all: outside mainland China's rough box it is the identity.
fn out_of_china(lat: f64, lng: f64) -> bool {
    !(72.004..=137.8347).contains(&lng) || !(0.8293..=55.8271).contains(&lat)
}

fn transform_lat(x: f64, y: f64) -> f64 {
    use std::f64::consts::PI;
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn transform_lng(x: f64, y: f64) -> f64 {
    use std::f64::consts::PI;
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// WGS-84 → GCJ-02 (the forward transform every Chinese map SDK applies).
pub fn wgs84_to_gcj02(lat: f64, lng: f64) -> (f64, f64) {
    use std::f64::consts::PI;
    if out_of_china(lat, lng) {
        return (lat, lng);
    }
    let mut dlat = transform_lat(lng - 105.0, lat - 35.0);
    let mut dlng = transform_lng(lng - 105.0, lat - 35.0);
    let radlat = lat / 180.0 * PI;
    let magic = 1.0 - EE * radlat.sin() * radlat.sin();
    let sqrt_magic = magic.sqrt();
    dlat = (dlat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    dlng = (dlng * 180.0) / (A / sqrt_magic * radlat.cos() * PI);
    (lat + dlat, lng + dlng)
}

/// A stored WGS-84 point as a client reads it in `coord` (GCJ-02 for WeChat and
/// Chinese map SDKs; points outside China are the same in both).
pub fn wgs84_to(lat: f64, lng: f64, coord: CoordSystem) -> (f64, f64) {
    match coord {
        CoordSystem::Wgs84 => (lat, lng),
        CoordSystem::Gcj02 => wgs84_to_gcj02(lat, lng),
    }
}

/// GCJ-02 → WGS-84 by fixed-point iteration on the forward transform.
///
/// Starts from the one-step estimate and corrects by the residual until it is below
/// 1e-9° (about 0.1 mm); converges in a handful of steps everywhere in China.
pub fn gcj02_to_wgs84(lat: f64, lng: f64) -> (f64, f64) {
    if out_of_china(lat, lng) {
        return (lat, lng);
    }
    let (mut wlat, mut wlng) = (lat, lng);
    for _ in 0..30 {
        let (glat, glng) = wgs84_to_gcj02(wlat, wlng);
        let (elat, elng) = (glat - lat, glng - lng);
        wlat -= elat;
        wlng -= elng;
        if elat.abs() < 1e-10 && elng.abs() < 1e-10 {
            break;
        }
    }
    (wlat, wlng)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn forward_matches_published_vector() {
        // wandergis/coordtransform README: wgs84togcj02(116.404, 39.915).
        let (lat, lng) = wgs84_to_gcj02(39.915, 116.404);
        assert!((lat - 39.916_404_281_501_64).abs() < 1e-12, "{lat}");
        assert!((lng - 116.410_244_499_169_38).abs() < 1e-12, "{lng}");
    }

    #[test]
    fn inverse_beats_the_published_one_step_inverse() {
        // The same README's one-step inverse of (39.915, 116.404) is
        // (39.91359571849836, 116.39775550083061). Ours lands a few centimetres from it
        // and, unlike it, maps back onto the input to well under a millimetre.
        let (lat, lng) = gcj02_to_wgs84(39.915, 116.404);
        let (back_lat, back_lng) = wgs84_to_gcj02(lat, lng);
        let ours = haversine_m(back_lat, back_lng, 39.915, 116.404);
        let (one_lat, one_lng) = (39.913_595_718_498_36, 116.397_755_500_830_61);
        let (g1_lat, g1_lng) = wgs84_to_gcj02(one_lat, one_lng);
        let one_step = haversine_m(g1_lat, g1_lng, 39.915, 116.404);
        assert!(ours < 0.001, "iterative round trip {ours} m");
        assert!(
            one_step > 100.0 * ours,
            "one-step {one_step} m vs ours {ours} m"
        );
        assert!(haversine_m(lat, lng, one_lat, one_lng) < 1.0);
    }

    #[test]
    fn round_trip_across_qinshui_is_below_a_centimetre() {
        let mut worst: f64 = 0.0;
        for i in 0..50 {
            for j in 0..50 {
                let lat = 35.40 + 0.667 * f64::from(i) / 49.0;
                let lng = 111.916 + 0.867 * f64::from(j) / 49.0;
                let (glat, glng) = wgs84_to_gcj02(lat, lng);
                let (wlat, wlng) = gcj02_to_wgs84(glat, glng);
                worst = worst.max(haversine_m(lat, lng, wlat, wlng));
            }
        }
        assert!(worst < 0.01, "worst round trip {worst} m");
    }

    #[test]
    fn identity_outside_china() {
        assert_eq!(wgs84_to_gcj02(48.8566, 2.3522), (48.8566, 2.3522));
        assert_eq!(gcj02_to_wgs84(-33.86, 151.2), (-33.86, 151.2));
    }

    #[test]
    fn lat_lng_reject_nan_infinite_and_out_of_range() {
        for bad in [f64::NAN, f64::INFINITY, -90.000_1, 90.5, 1e300] {
            assert!(Lat::try_from(bad).is_err(), "{bad}");
        }
        for bad in [f64::NAN, f64::NEG_INFINITY, -180.01, 181.0] {
            assert!(Lng::try_from(bad).is_err(), "{bad}");
        }
        for ok in [-90.0, 0.0, 35.7, 90.0] {
            assert!(Lat::try_from(ok).is_ok());
        }
        for ok in [-180.0, 0.0, 112.3, 180.0] {
            assert!(Lng::try_from(ok).is_ok());
        }
    }

    #[test]
    fn haversine_one_degree_latitude() {
        let d = haversine_m(35.0, 112.0, 36.0, 112.0);
        assert!((d - 111_195.0).abs() < 10.0, "{d}");
    }
}
