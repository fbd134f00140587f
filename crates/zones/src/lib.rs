//! Zones: where a town's on-demand service runs. A service area is a set of
//! H3 cells (h3o) built from a circle, a polygon or a town's GeoJSON boundary;
//! a trip is allowed when both its ends lie in the area. Pure: no IO.

pub mod geojson;

use h3o::geom::{ContainmentMode, TilerBuilder};
use h3o::{CellIndex, LatLng, Resolution};
use noriai_model::LatLon;
use std::collections::HashSet;

/// Resolutions accepted for service areas: 5 (about 250 km² cells) to 10
/// (about 0.015 km²). The default 8 gives cells of about 0.7 km².
pub const RESOLUTIONS: std::ops::RangeInclusive<u8> = 5..=10;
pub const DEFAULT_RESOLUTION: u8 = 8;
/// Larger areas are refused: they are a typo, not a town.
pub const MAX_RADIUS_M: f64 = 100_000.0;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ZoneError {
    #[error("resolution {0} is not supported; use 5 to 10 (8 gives cells of about 0.7 km²)")]
    Resolution(u8),
    #[error("radius {0} m is not usable; give a radius above 0 and at most 100 km")]
    Radius(f64),
    #[error("a polygon needs at least 3 distinct points, got {0}")]
    TooFewPoints(usize),
    #[error("the polygon is not valid: {0}")]
    InvalidPolygon(String),
    #[error("the area covers no cell at this resolution; draw it larger or use a finer resolution")]
    Empty,
    #[error("{0:#x} is not an H3 cell index")]
    Cell(u64),
    #[error("cell {cell:#x} has resolution {found}, the area uses {expected}")]
    MixedResolution { cell: u64, found: u8, expected: u8 },
    #[error("the GeoJSON boundary: {0}")]
    GeoJson(#[from] geojson::GeoJsonError),
}

/// A set of H3 cells where trips may start and end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceArea {
    resolution: Resolution,
    cells: HashSet<CellIndex>,
}

fn resolution(r: u8) -> Result<Resolution, ZoneError> {
    if !RESOLUTIONS.contains(&r) {
        return Err(ZoneError::Resolution(r));
    }
    Resolution::try_from(r).map_err(|_| ZoneError::Resolution(r))
}

fn latlng(p: LatLon) -> Option<LatLng> {
    LatLng::new(p.lat, p.lon).ok()
}

impl ServiceArea {
    /// Every cell that touches the polygon (the ring need not be closed).
    pub fn from_polygon(ring: &[LatLon], res: u8) -> Result<Self, ZoneError> {
        let resolution = resolution(res)?;
        let mut coords: Vec<geo::Coord<f64>> =
            ring.iter().map(|p| geo::coord! { x: p.lon, y: p.lat }).collect();
        coords.dedup();
        if coords.len() > 1 && coords.first() == coords.last() {
            coords.pop();
        }
        if coords.len() < 3 {
            return Err(ZoneError::TooFewPoints(coords.len()));
        }
        let polygon = geo::Polygon::new(geo::LineString::new(coords), Vec::new());
        let mut tiler =
            TilerBuilder::new(resolution).containment_mode(ContainmentMode::IntersectsBoundary).build();
        tiler.add(polygon).map_err(|e| ZoneError::InvalidPolygon(e.to_string()))?;
        let cells: HashSet<CellIndex> = tiler.into_coverage().collect();
        if cells.is_empty() {
            return Err(ZoneError::Empty);
        }
        Ok(Self { resolution, cells })
    }

    /// Every cell that touches any of the polygons of a GeoJSON boundary
    /// (Polygon or MultiPolygon, holes left out).
    pub fn from_geojson(text: &str, res: u8) -> Result<Self, ZoneError> {
        let resolution = resolution(res)?;
        let mut tiler =
            TilerBuilder::new(resolution).containment_mode(ContainmentMode::IntersectsBoundary).build();
        for rings in geojson::polygons(text)? {
            let mut lines = rings.iter().map(|ring| {
                let mut coords: Vec<geo::Coord<f64>> =
                    ring.iter().map(|p| geo::coord! { x: p.lon, y: p.lat }).collect();
                coords.dedup();
                geo::LineString::new(coords)
            });
            let Some(outer) = lines.next() else { continue };
            if outer.0.len() < 3 {
                return Err(ZoneError::TooFewPoints(outer.0.len()));
            }
            tiler
                .add(geo::Polygon::new(outer, lines.collect()))
                .map_err(|e| ZoneError::InvalidPolygon(e.to_string()))?;
        }
        let cells: HashSet<CellIndex> = tiler.into_coverage().collect();
        if cells.is_empty() {
            return Err(ZoneError::Empty);
        }
        Ok(Self { resolution, cells })
    }

    /// The mean of the cells' centres: where the area is, for telling an
    /// area drawn far from the map (often latitude and longitude swapped).
    pub fn centre(&self) -> Option<LatLon> {
        let n = self.cells.len() as f64;
        let (lat, lon) = self.cells.iter().fold((0.0, 0.0), |(a, b), c| {
            let ll = LatLng::from(*c);
            (a + ll.lat(), b + ll.lng())
        });
        (n > 0.0).then(|| LatLon { lat: lat / n, lon: lon / n })
    }

    /// Refuses an area whose centre lies more than `reach_m` from `map_centre`
    /// (nothing in it could be served), saying so with the distance, and
    /// that latitude and longitude look swapped when swapping them would put
    /// the area on the map.
    pub fn check_on_map(&self, map_centre: LatLon, reach_m: f64) -> Result<(), String> {
        let Some(c) = self.centre() else { return Ok(()) };
        let off = c.distance_m(map_centre);
        if off <= reach_m {
            return Ok(());
        }
        let swapped = LatLon::new(c.lon, c.lat).ok().map(|s| s.distance_m(map_centre));
        let hint = match swapped {
            Some(d) if d <= reach_m => {
                "; its latitudes and longitudes look swapped (GeoJSON positions are [longitude, latitude], a scenario's `polygon` is [[lat, lon], …])"
            }
            _ => "; is it the right town?",
        };
        Err(format!("the area lies {:.0} km from the map's roads{hint}", off / 1000.0))
    }

    /// Every cell that touches a circle (drawn as a 64-sided polygon).
    pub fn from_circle(centre: LatLon, radius_m: f64, res: u8) -> Result<Self, ZoneError> {
        if !(radius_m.is_finite() && radius_m > 0.0 && radius_m <= MAX_RADIUS_M) {
            return Err(ZoneError::Radius(radius_m));
        }
        let dlat = radius_m / 111_195.0;
        let dlon = dlat / centre.lat.to_radians().cos().max(1e-6);
        let ring: Vec<LatLon> = (0..64)
            .map(|k| {
                let a = k as f64 / 64.0 * std::f64::consts::TAU;
                LatLon { lat: centre.lat + dlat * a.sin(), lon: centre.lon + dlon * a.cos() }
            })
            .collect();
        Self::from_polygon(&ring, res)
    }

    /// An area from stored cells.
    pub fn from_cells(res: u8, cells: &[u64]) -> Result<Self, ZoneError> {
        let resolution = resolution(res)?;
        let mut set = HashSet::with_capacity(cells.len());
        for &raw in cells {
            let cell = CellIndex::try_from(raw).map_err(|_| ZoneError::Cell(raw))?;
            if cell.resolution() != resolution {
                return Err(ZoneError::MixedResolution {
                    cell: raw,
                    found: u8::from(cell.resolution()),
                    expected: res,
                });
            }
            set.insert(cell);
        }
        if set.is_empty() {
            return Err(ZoneError::Empty);
        }
        Ok(Self { resolution, cells: set })
    }

    pub fn resolution(&self) -> u8 {
        u8::from(self.resolution)
    }

    /// The cells, sorted, as raw H3 indexes.
    pub fn cells(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.cells.iter().map(|&c| u64::from(c)).collect();
        v.sort_unstable();
        v
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Whether a point lies in the area.
    pub fn contains(&self, p: LatLon) -> bool {
        latlng(p).is_some_and(|ll| self.cells.contains(&ll.to_cell(self.resolution)))
    }

    /// The cell of a point at the area's resolution (for maps of refused trips).
    pub fn cell_of(&self, p: LatLon) -> Option<u64> {
        latlng(p).map(|ll| u64::from(ll.to_cell(self.resolution)))
    }
    /// The area's outline as polygons, each its outer ring first and then
    /// its holes, every ring closed (for GeoJSON and open feeds).
    pub fn outline(&self) -> Result<Vec<Vec<Vec<LatLon>>>, ZoneError> {
        let shape = h3o::geom::SolventBuilder::new()
            .build()
            .dissolve(self.cells.iter().copied())
            .map_err(|e| ZoneError::InvalidPolygon(e.to_string()))?;
        let ring = |r: &geo::LineString<f64>| -> Vec<LatLon> {
            let mut points: Vec<LatLon> = r.coords().map(|c| LatLon { lat: c.y, lon: c.x }).collect();
            if points.first() != points.last()
                && let Some(&first) = points.first()
            {
                points.push(first);
            }
            points
        };
        Ok(shape
            .0
            .iter()
            .map(|p| std::iter::once(ring(p.exterior())).chain(p.interiors().iter().map(ring)).collect())
            .collect())
    }
}

/// The H3 string form of a raw index, e.g. "882e1d4a3dfffff".
pub fn cell_to_string(cell: u64) -> String {
    format!("{cell:x}")
}

/// The boundary of a cell as a closed ring (for maps).
pub fn cell_boundary(cell: u64) -> Option<Vec<LatLon>> {
    let c = CellIndex::try_from(cell).ok()?;
    let mut ring: Vec<LatLon> =
        c.boundary().iter().map(|ll| LatLon { lat: ll.lat(), lon: ll.lng() }).collect();
    if let Some(&first) = ring.first() {
        ring.push(first);
    }
    Some(ring)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AOMORI: LatLon = LatLon { lat: 40.8222, lon: 140.7474 };

    #[test]
    fn the_outline_holds_the_area_and_nothing_far() {
        let area = ServiceArea::from_circle(AOMORI, 3000.0, 8).unwrap();
        let outline = area.outline().unwrap();
        assert_eq!(outline.len(), 1, "one piece");
        let ring = &outline[0][0];
        assert!(ring.len() > 6 && ring.first() == ring.last());
        // Every cell centre is inside the outer ring (even-odd rule), a far point is not.
        let inside = |p: LatLon| {
            let mut c = false;
            for w in ring.windows(2) {
                let (a, b) = (w[0], w[1]);
                if (a.lat > p.lat) != (b.lat > p.lat)
                    && p.lon < (b.lon - a.lon) * (p.lat - a.lat) / (b.lat - a.lat) + a.lon
                {
                    c = !c;
                }
            }
            c
        };
        for cell in area.cells() {
            let ll = h3o::LatLng::from(CellIndex::try_from(cell).unwrap());
            assert!(inside(LatLon { lat: ll.lat(), lon: ll.lng() }));
        }
        assert!(!inside(LatLon { lat: AOMORI.lat + 0.2, lon: AOMORI.lon }));
    }

    #[test]
    fn circle_contains_centre_and_not_far_points() {
        let area = ServiceArea::from_circle(AOMORI, 3_000.0, 8).unwrap();
        assert!(area.contains(AOMORI));
        // 2.5 km east: inside. 6 km east: outside.
        let dlon = |m: f64| m / (111_195.0 * AOMORI.lat.to_radians().cos());
        assert!(area.contains(LatLon { lat: AOMORI.lat, lon: AOMORI.lon + dlon(2_500.0) }));
        assert!(!area.contains(LatLon { lat: AOMORI.lat, lon: AOMORI.lon + dlon(6_000.0) }));
        // About π·3² ≈ 28 km² of 0.74 km² cells, plus the cells on the edge.
        assert!((30..80).contains(&area.len()), "{}", area.len());
    }

    #[test]
    fn polygon_and_cells_round_trip() {
        let ring = [
            LatLon { lat: 40.80, lon: 140.70 },
            LatLon { lat: 40.80, lon: 140.78 },
            LatLon { lat: 40.85, lon: 140.78 },
            LatLon { lat: 40.85, lon: 140.70 },
        ];
        let area = ServiceArea::from_polygon(&ring, 8).unwrap();
        assert!(area.contains(AOMORI));
        assert!(!area.contains(LatLon { lat: 40.60, lon: 140.47 }), "Hirosaki is outside");
        let again = ServiceArea::from_cells(area.resolution(), &area.cells()).unwrap();
        assert_eq!(again, area);
        let first = area.cells()[0];
        assert_eq!(u64::from_str_radix(&cell_to_string(first), 16).unwrap(), first);
        assert_eq!(cell_boundary(first).unwrap().len(), 7);
    }

    #[test]
    fn bad_areas_are_refused_with_reasons() {
        assert_eq!(ServiceArea::from_circle(AOMORI, 0.0, 8), Err(ZoneError::Radius(0.0)));
        assert_eq!(ServiceArea::from_circle(AOMORI, 1e6, 8), Err(ZoneError::Radius(1e6)));
        assert_eq!(ServiceArea::from_circle(AOMORI, 1000.0, 15), Err(ZoneError::Resolution(15)));
        assert_eq!(ServiceArea::from_polygon(&[AOMORI, AOMORI, AOMORI], 8), Err(ZoneError::TooFewPoints(1)));
        assert_eq!(ServiceArea::from_cells(8, &[12345]), Err(ZoneError::Cell(12345)));
        let coarse = ServiceArea::from_circle(AOMORI, 1000.0, 7).unwrap().cells()[0];
        assert!(matches!(ServiceArea::from_cells(8, &[coarse]), Err(ZoneError::MixedResolution { .. })));
    }
}
