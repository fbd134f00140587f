//! Roads: turns an OpenStreetMap extract into travel times.
//!
//! The crate owns the whole path from a `.osm.pbf` file to answers: which ways
//! a car may drive and how fast ([`profile`]), the import into a compact graph
//! of road pieces between junctions ([`import`]), a contraction hierarchy for
//! fast point-to-point routes and many-to-many tables ([`ch`]), hub labels
//! derived from it that answer a travel time without searching, snapping points
//! to roads ([`snap`]), and a prepared-graph file for fast start ([`store`]).
//! Plain Dijkstra ([`dijkstra`]) stays as the reference the fast paths are
//! tested against. Queries do no IO and never fail on a loaded network.

pub mod ch;
pub mod closures;
pub mod dijkstra;
pub mod error;
pub mod graph;
pub mod import;
mod labels;
pub mod profile;
pub mod snap;
pub mod store;
pub mod table;

pub use ch::{ChQuery, ContractionHierarchy, OrderParams, Seed};
pub use error::{RoadsError, SnapError};
pub use graph::RoadGraph;
pub use import::ImportReport;
pub use profile::{Refusal, SpeedProfile};
pub use snap::Snapped;
pub use store::Fingerprint;
pub use table::{PointTable, TableView};

use graph::{Adjacency, ArcId, NO_ARC};
use noriai_model::{LatLon, MatrixTravelTimes};
use std::path::{Path, PathBuf};

/// Points farther than this from any road are refused by default (metres).
pub const DEFAULT_MAX_SNAP_M: f64 = 500.0;

/// Receives progress of long steps (import, contraction) for progress bars.
pub trait Progress {
    fn stage(&self, name: &str, total: Option<u64>);
    fn inc(&self, n: u64);
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _: &str, _: Option<u64>) {}
    fn inc(&self, _: u64) {}
}

/// A route between two points on the road network.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Route {
    pub duration_s: f64,
    pub distance_m: f64,
    /// Driving line from the snapped start to the snapped end.
    pub geometry: Vec<LatLon>,
}

/// Times (s) and distances (m) from each source to each target, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub sources: usize,
    pub targets: usize,
    pub duration_s: Vec<f64>,
    pub distance_m: Vec<f64>,
}

/// How [`RoadNetwork::open`] obtained the network.
#[derive(Debug, Clone, PartialEq)]
pub enum Opened {
    /// Read a prepared file (given, or the cache beside a `.osm.pbf`).
    Prepared(PathBuf),
    /// Imported the `.osm.pbf`; the cache was written to the path if any.
    Imported(ImportReport, Option<PathBuf>),
}

/// A loaded, query-ready road network.
pub struct RoadNetwork {
    graph: RoadGraph,
    ch: ContractionHierarchy,
    /// Built on first use: routing between known points never needs it, and
    /// it is the most expensive part of loading a prepared file.
    snapper: std::sync::OnceLock<snap::Snapper>,
    out: Adjacency,
    fingerprint: Fingerprint,
    /// Refuse points farther than this from a road (metres).
    pub max_snap_m: f64,
    /// Pieces closed at run time, with their usual times (see [`closures`]).
    closed: std::collections::HashMap<u32, (u32, u32)>,
}

impl std::fmt::Debug for RoadNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoadNetwork")
            .field("nodes", &self.graph.nodes.len())
            .field("pieces", &self.graph.pieces.len())
            .field("profile", &self.fingerprint.profile_name)
            .finish()
    }
}

impl RoadNetwork {
    fn assemble(graph: RoadGraph, ch: ContractionHierarchy, fingerprint: Fingerprint) -> Self {
        let out = graph.out_arcs();
        Self {
            graph,
            ch,
            snapper: std::sync::OnceLock::new(),
            out,
            fingerprint,
            max_snap_m: DEFAULT_MAX_SNAP_M,
            closed: std::collections::HashMap::new(),
        }
    }

    /// Imports a `.osm.pbf` and prepares it for queries.
    pub fn import(
        path: &Path,
        profile: &SpeedProfile,
        progress: &dyn Progress,
    ) -> Result<(Self, ImportReport), RoadsError> {
        let source_hash = store::hash_file(path)?;
        let (graph, report) = import::import_pbf(path, profile, progress)?;
        progress.stage("contracting", Some(graph.nodes.len() as u64));
        let ch = ContractionHierarchy::build(&graph, || progress.inc(1));
        let fp = Fingerprint {
            source_hash,
            profile_hash: profile.fingerprint(),
            profile_name: profile.name.clone(),
        };
        Ok((Self::assemble(graph, ch, fp), report))
    }

    /// Writes the prepared network to `path`.
    pub fn save(&self, path: &Path) -> Result<(), RoadsError> {
        store::write(path, &self.fingerprint, &self.graph, &self.ch)
    }

    /// Reads a prepared file; with `profile`, refuses a file built for other speeds.
    pub fn load(path: &Path, profile: Option<&SpeedProfile>) -> Result<Self, RoadsError> {
        let (fp, graph, ch) = store::read(path)?;
        if let Some(p) = profile.filter(|p| p.fingerprint() != fp.profile_hash) {
            return Err(RoadsError::Prepared {
                path: path.into(),
                detail: format!(
                    "it was built with the `{}` speed profile, not `{}`",
                    fp.profile_name, p.name
                ),
            });
        }
        Ok(Self::assemble(graph, ch, fp))
    }

    /// Opens a map: a prepared file, or a `.osm.pbf` whose prepared cache
    /// (`<file>.<profile>.noriai`) is used when it matches the file's bytes and
    /// the profile, and rebuilt otherwise.
    pub fn open(
        path: &Path,
        profile: &SpeedProfile,
        progress: &dyn Progress,
    ) -> Result<(Self, Opened), RoadsError> {
        if store::read_fingerprint(path).is_ok() {
            return Ok((Self::load(path, Some(profile))?, Opened::Prepared(path.into())));
        }
        let cache = PathBuf::from(format!("{}.{}.noriai", path.display(), profile.name));
        if let Ok(fp) = store::read_fingerprint(&cache) {
            let fresh = fp.profile_hash == profile.fingerprint()
                && Some(fp.source_hash) == store::hash_file(path).ok();
            if fresh {
                match Self::load(&cache, Some(profile)) {
                    Ok(net) => return Ok((net, Opened::Prepared(cache))),
                    Err(e) => tracing::warn!("{e}; rebuilding it from {}", path.display()),
                }
            }
        }
        let (net, report) = Self::import(path, profile, progress)?;
        let written = match net.save(&cache) {
            Ok(()) => Some(cache),
            Err(e) => {
                tracing::warn!("could not cache the prepared graph: {e}");
                None
            }
        };
        Ok((net, Opened::Imported(report, written)))
    }

    /// The middle of the map's bounding box and how far its roads reach
    /// from it (m): where the map is, to tell a service area drawn elsewhere.
    pub fn extent(&self) -> (LatLon, f64) {
        let nodes = &self.graph.nodes;
        let Some(&first) = nodes.first() else { return (LatLon { lat: 0.0, lon: 0.0 }, 0.0) };
        let (mut lo, mut hi) = (first, first);
        for p in nodes {
            lo = LatLon { lat: lo.lat.min(p.lat), lon: lo.lon.min(p.lon) };
            hi = LatLon { lat: hi.lat.max(p.lat), lon: hi.lon.max(p.lon) };
        }
        let centre = LatLon { lat: (lo.lat + hi.lat) / 2.0, lon: (lo.lon + hi.lon) / 2.0 };
        (centre, nodes.iter().map(|p| p.distance_m(centre)).fold(0.0, f64::max))
    }

    pub fn graph(&self) -> &RoadGraph {
        &self.graph
    }

    pub fn hierarchy(&self) -> &ContractionHierarchy {
        &self.ch
    }

    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// Places a point on the nearest road within [`RoadNetwork::max_snap_m`].
    pub fn snap(&self, p: LatLon) -> Result<Snapped, SnapError> {
        self.snapper.get_or_init(|| snap::Snapper::new(&self.graph)).snap(&self.graph, p, self.max_snap_m)
    }

    /// A fresh query state; reuse it across many queries on one thread.
    pub fn query(&self) -> ChQuery<'_> {
        ChQuery::new(&self.ch)
    }

    /// Seeds for leaving a snapped point: drive on to whichever piece end(s)
    /// the one-way rules allow.
    pub fn source_seeds(&self, s: &Snapped) -> Seeds {
        let p = &self.graph.pieces[s.piece as usize];
        let (ab, ba) = self.seed_times(s.piece);
        let mut seeds = Seeds::default();
        if ab != NO_ARC {
            seeds.push(part(p.b, ab, p.length_dm, 1.0 - s.fraction));
        }
        if ba != NO_ARC {
            seeds.push(part(p.a, ba, p.length_dm, s.fraction));
        }
        seeds
    }

    /// The times a point on `piece` reaches its ends with: a closed piece
    /// keeps its usual ones, so a rider on a closed road is met at its end.
    fn seed_times(&self, piece: u32) -> (u32, u32) {
        let p = &self.graph.pieces[piece as usize];
        self.closed.get(&piece).copied().unwrap_or((p.time_ab_ms, p.time_ba_ms))
    }

    /// Seeds for arriving at a snapped point from the piece end(s).
    pub fn target_seeds(&self, t: &Snapped) -> Seeds {
        let p = &self.graph.pieces[t.piece as usize];
        let (ab, ba) = self.seed_times(t.piece);
        let mut seeds = Seeds::default();
        if ab != NO_ARC {
            seeds.push(part(p.a, ab, p.length_dm, t.fraction));
        }
        if ba != NO_ARC {
            seeds.push(part(p.b, ba, p.length_dm, 1.0 - t.fraction));
        }
        seeds
    }

    /// Travel along one piece without passing a junction, when both points lie on it.
    pub(crate) fn direct(&self, s: &Snapped, t: &Snapped) -> Option<(u32, u32)> {
        if s.piece != t.piece {
            return None;
        }
        let p = &self.graph.pieces[s.piece as usize];
        let share = (t.fraction - s.fraction).abs();
        let allowed = if t.fraction >= s.fraction { p.time_ab_ms } else { p.time_ba_ms };
        (allowed != NO_ARC).then(|| {
            let seed = part(0, allowed, p.length_dm, share);
            (seed.time_ms, seed.length_dm)
        })
    }

    /// Travel time (s) and distance (m) between snapped points, looked up
    /// in the hierarchy's hub labels.
    pub fn travel(&self, s: &Snapped, t: &Snapped) -> Option<(f64, f64)> {
        let via_net = self.ch.fastest(&self.source_seeds(s), &self.target_seeds(t));
        best_of(via_net, self.direct(s, t)).map(to_units)
    }

    /// The same answer as [`RoadNetwork::travel`] by plain Dijkstra (the reference).
    pub fn travel_dijkstra(&self, s: &Snapped, t: &Snapped) -> Option<(f64, f64)> {
        let via_net =
            dijkstra::shortest(&self.graph, &self.out, &self.source_seeds(s), &self.target_seeds(t))
                .map(|(t, l, _)| (t, l));
        best_of(via_net, self.direct(s, t)).map(to_units)
    }

    /// The fastest route between two coordinates, with its geometry.
    pub fn route(&self, from: LatLon, to: LatLon) -> Result<Route, SnapError> {
        let (s, t) = (self.snap(from)?, self.snap(to)?);
        let mut q = self.query();
        let meeting = q.shortest(&self.source_seeds(&s), &self.target_seeds(&t));
        let net = meeting.map(|m| (m.time_ms, m.length_dm));
        let direct = self.direct(&s, &t);
        let (time, length) = best_of(net, direct).ok_or(SnapError::EmptyNetwork)?;
        let geometry = match (meeting, direct) {
            (Some(m), d) if d.is_none_or(|d| m.time_ms < d.0) => self.geometry(&s, &t, m.node, &q.path(&m)),
            _ => self.piece_between(&s, &t),
        };
        let (duration_s, distance_m) = to_units((time, length));
        Ok(Route { duration_s, distance_m, geometry })
    }

    /// A many-to-many table with the hierarchy.
    pub fn table(&self, sources: &[Snapped], targets: &[Snapped]) -> Table {
        let src: Vec<Vec<Seed>> = sources.iter().map(|s| self.source_seeds(s).to_vec()).collect();
        let dst: Vec<Vec<Seed>> = targets.iter().map(|t| self.target_seeds(t).to_vec()).collect();
        let (times, lengths) = self.query().table(&src, &dst);
        let mut table = Table {
            sources: sources.len(),
            targets: targets.len(),
            duration_s: Vec::with_capacity(times.len()),
            distance_m: Vec::with_capacity(times.len()),
        };
        for (i, s) in sources.iter().enumerate() {
            for (j, t) in targets.iter().enumerate() {
                let k = i * targets.len() + j;
                let via_net = (times[k] != ch::INF).then_some((times[k], lengths[k]));
                let (d, m) =
                    best_of(via_net, self.direct(s, t)).map_or((f64::INFINITY, f64::INFINITY), to_units);
                table.duration_s.push(d);
                table.distance_m.push(m);
            }
        }
        table
    }

    /// The same table as [`RoadNetwork::table`] by one plain Dijkstra per
    /// source (the reference), without the same-piece shortcut; times in ms.
    pub fn table_dijkstra_ms(&self, sources: &[Snapped], targets: &[Snapped]) -> Vec<u32> {
        let src: Vec<Vec<Seed>> = sources.iter().map(|s| self.source_seeds(s).to_vec()).collect();
        let dst: Vec<Vec<Seed>> = targets.iter().map(|t| self.target_seeds(t).to_vec()).collect();
        dijkstra::table(&self.graph, &self.out, &src, &dst).0
    }

    /// A square travel-time matrix over `points` for the dispatch engine.
    pub fn matrix(&self, points: &[Snapped]) -> MatrixTravelTimes {
        let t = self.table(points, points);
        MatrixTravelTimes::new(points.len(), t.duration_s, t.distance_m)
    }

    fn geometry(&self, s: &Snapped, t: &Snapped, meeting: u32, arcs: &[ArcId]) -> Vec<LatLon> {
        let g = &self.graph;
        let first = arcs.first().map_or(meeting, |&a| g.arc(a).0);
        let last = arcs.last().map_or(meeting, |&a| g.arc(a).1);
        let mut line = vec![s.point];
        let sp = &g.pieces[s.piece as usize];
        let shape = |p: &graph::Piece| &g.shape[p.shape_start as usize..p.shape_end as usize];
        let seg = s.segment as usize;
        if first == sp.b {
            line.extend_from_slice(&shape(sp)[seg + 1..]);
        } else {
            line.extend(shape(sp)[..=seg].iter().rev());
        }
        for &a in arcs {
            line.extend(g.arc_shape(a).skip(1));
        }
        let tp = &g.pieces[t.piece as usize];
        let seg = t.segment as usize;
        let tshape = shape(tp);
        if last == tp.a {
            line.extend_from_slice(&tshape[1..=seg]);
        } else {
            line.extend(tshape[seg + 1..tshape.len() - 1].iter().rev());
        }
        line.push(t.point);
        line.dedup();
        line
    }

    fn piece_between(&self, s: &Snapped, t: &Snapped) -> Vec<LatLon> {
        let p = &self.graph.pieces[s.piece as usize];
        let shape = &self.graph.shape[p.shape_start as usize..p.shape_end as usize];
        let (lo, hi) = (s.segment.min(t.segment) as usize, s.segment.max(t.segment) as usize);
        let mut inner: Vec<LatLon> = shape[lo + 1..=hi].to_vec();
        if t.fraction < s.fraction {
            inner.reverse();
        }
        let mut line = vec![s.point];
        line.extend(inner);
        line.push(t.point);
        line.dedup();
        line
    }
}

/// The one or two ends of a piece a snapped point leaves by or arrives from.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Seeds {
    items: [Seed; 2],
    len: usize,
}

impl Seeds {
    fn push(&mut self, s: Seed) {
        self.items[self.len] = s;
        self.len += 1;
    }
}

impl std::ops::Deref for Seeds {
    type Target = [Seed];
    fn deref(&self) -> &[Seed] {
        &self.items[..self.len]
    }
}

/// A share of a piece's time and length as a search seed.
fn part(node: u32, time_ms: u32, length_dm: u32, share: f64) -> Seed {
    Seed {
        node,
        time_ms: (time_ms as f64 * share).round() as u32,
        length_dm: (length_dm as f64 * share).round() as u32,
    }
}

fn best_of(a: Option<(u32, u32)>, b: Option<(u32, u32)>) -> Option<(u32, u32)> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if y.0 < x.0 { y } else { x }),
        (x, y) => x.or(y),
    }
}

fn to_units((time_ms, length_dm): (u32, u32)) -> (f64, f64) {
    (time_ms as f64 / 1000.0, length_dm as f64 / 10.0)
}
