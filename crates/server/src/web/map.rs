//! The road network drawn by the console itself, so no map tiles come from
//! elsewhere: the roads in view, each simplified to what the zoom level can
//! show, small ones left out when the whole town is in view.

use super::{ApiError, Web, session::Session};
use axum::Json;
use axum::extract::{Query, State};
use geo::Simplify;
use std::sync::Arc;

/// At most this many lines per answer: the rest are the shortest pieces.
const MAX_LINES: usize = 30_000;
/// Pixels a simplified line may stray from the road.
const TOLERANCE_PX: f64 = 1.0;

#[derive(Debug, serde::Deserialize)]
pub struct View {
    west: f64,
    south: f64,
    east: f64,
    north: f64,
    /// Web map zoom level: 0 the world, 18 a street.
    zoom: f64,
}

/// Roads in view as flat `[lat, lon, lat, lon, …]` lines (5 decimals).
#[derive(Debug, serde::Serialize)]
pub struct Lines {
    lines: Vec<Vec<f64>>,
    /// Whether pieces were left out to keep the answer small.
    thinned: bool,
}

/// Degrees of longitude one pixel covers at this zoom (256-pixel tiles).
fn degrees_per_pixel(zoom: f64) -> f64 {
    360.0 / (256.0 * 2f64.powf(zoom))
}

pub async fn lines(
    State(web): State<Arc<Web>>,
    session: Session,
    view: Result<Query<View>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Lines>, ApiError> {
    super::admit(&session, &web, "console/map").await?;
    let Query(v) = view?;
    let finite = [v.west, v.south, v.east, v.north, v.zoom].iter().all(|x| x.is_finite());
    if !finite || v.west >= v.east || v.south >= v.north {
        return Err(ApiError::invalid(
            "west,south,east,north",
            "give a box with west < east and south < north",
        ));
    }
    if !(0.0..=22.0).contains(&v.zoom) {
        return Err(ApiError::invalid("zoom", "between 0 and 22"));
    }
    let roads = web.roads.clone();
    let answer = tokio::task::spawn_blocking(move || draw(roads.graph(), &v))
        .await
        .map_err(|_| tonic::Status::internal("drawing the map failed"))?;
    Ok(Json(answer))
}

/// The box around every road of the loaded map, where the console opens.
#[derive(Debug, serde::Serialize)]
pub struct Extent {
    west: f64,
    south: f64,
    east: f64,
    north: f64,
}

/// `GET /api/v1/map/extent`
pub async fn extent(State(web): State<Arc<Web>>, session: Session) -> Result<Json<Extent>, ApiError> {
    super::admit(&session, &web, "console/map").await?;
    let nodes = &web.roads.graph().nodes;
    let mut e = Extent { west: 180.0, south: 90.0, east: -180.0, north: -90.0 };
    for p in nodes {
        e = Extent {
            west: e.west.min(p.lon),
            south: e.south.min(p.lat),
            east: e.east.max(p.lon),
            north: e.north.max(p.lat),
        };
    }
    if nodes.is_empty() {
        e = Extent { west: -1.0, south: -1.0, east: 1.0, north: 1.0 };
    }
    Ok(Json(e))
}

fn draw(graph: &noriai_roads::graph::RoadGraph, v: &View) -> Lines {
    let tolerance = degrees_per_pixel(v.zoom) * TOLERANCE_PX;
    let inside =
        |p: &noriai_model::LatLon| p.lat >= v.south && p.lat <= v.north && p.lon >= v.west && p.lon <= v.east;
    let mut lines: Vec<(f64, Vec<f64>)> = Vec::new();
    for piece in &graph.pieces {
        let shape = &graph.shape[piece.shape_start as usize..piece.shape_end as usize];
        if !shape.iter().any(inside) {
            continue;
        }
        let line: geo::LineString<f64> = shape.iter().map(|p| geo::coord! { x: p.lon, y: p.lat }).collect();
        let simple = line.simplify(tolerance);
        let (first, last) = (simple.0.first(), simple.0.last());
        let span = match (first, last) {
            (Some(a), Some(b)) => (a.x - b.x).hypot(a.y - b.y),
            _ => 0.0,
        };
        // A piece shorter than a pixel and straight is not worth a line.
        if simple.0.len() <= 2 && span < tolerance {
            continue;
        }
        let round = |x: f64| (x * 1e5).round() / 1e5;
        let flat = simple.0.iter().flat_map(|c| [round(c.y), round(c.x)]).collect();
        lines.push((f64::from(piece.length_dm), flat));
    }
    let thinned = lines.len() > MAX_LINES;
    if thinned {
        lines.sort_by(|a, b| b.0.total_cmp(&a.0));
        lines.truncate(MAX_LINES);
    }
    Lines { lines: lines.into_iter().map(|(_, l)| l).collect(), thinned }
}

#[cfg(test)]
mod tests {
    use super::*;
    use noriai_model::LatLon;
    use noriai_roads::graph::{Piece, RoadGraph};

    fn graph() -> RoadGraph {
        // One long bent road and one 1 m stub.
        let shape = vec![
            LatLon { lat: 47.0, lon: 9.0 },
            LatLon { lat: 47.001, lon: 9.00001 },
            LatLon { lat: 47.002, lon: 9.0 },
            LatLon { lat: 47.002, lon: 9.0 },
            LatLon { lat: 47.00201, lon: 9.0 },
        ];
        let piece = |a, b, s, e, dm| Piece {
            a,
            b,
            time_ab_ms: 1,
            time_ba_ms: 1,
            length_dm: dm,
            shape_start: s,
            shape_end: e,
        };
        RoadGraph {
            nodes: vec![shape[0], shape[2], shape[4]],
            pieces: vec![piece(0, 1, 0, 3, 2220), piece(1, 2, 3, 5, 10)],
            shape,
        }
    }

    #[test]
    fn zoomed_out_drops_bends_and_stubs() {
        let g = graph();
        let near = draw(&g, &View { west: 8.9, south: 46.9, east: 9.1, north: 47.1, zoom: 22.0 });
        assert_eq!(near.lines.len(), 2);
        assert_eq!(near.lines[0].len(), 6, "the bend is kept up close: {:?}", near.lines[0]);
        let far = draw(&g, &View { west: 8.9, south: 46.9, east: 9.1, north: 47.1, zoom: 12.0 });
        assert_eq!(far.lines, vec![vec![47.0, 9.0, 47.002, 9.0]], "one straight line, no stub");
        let away = draw(&g, &View { west: 10.0, south: 46.9, east: 10.1, north: 47.1, zoom: 12.0 });
        assert!(away.lines.is_empty());
    }
}
