//! OpenStreetMap PBF import: drivable ways to a [`RoadGraph`], keeping only the
//! largest strongly connected part so every kept point can reach every other.

use crate::Progress;
use crate::error::RoadsError;
use crate::graph::{NO_ARC, Piece, RoadGraph};
use crate::profile::{Refusal, SpeedProfile, WayRule, way_rule};
use noriai_model::LatLon;
use osmpbfreader::OsmPbfReader;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// What the import kept and dropped.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct ImportReport {
    pub ways_read: usize,
    pub drivable_ways: usize,
    /// Ways with a `highway` tag left out, by reason (in [`Refusal::ALL`] order).
    pub refused_ways: Vec<(Refusal, usize)>,
    pub nodes: usize,
    pub arcs: usize,
    pub components: usize,
    pub dropped_nodes: usize,
    pub dropped_arcs: usize,
}

struct DrivableWay {
    rule: WayRule,
    nodes: Vec<i64>,
}

/// Reads a `.osm.pbf` file into a road graph for `profile`.
pub fn import_pbf(
    path: &Path,
    profile: &SpeedProfile,
    progress: &dyn Progress,
) -> Result<(RoadGraph, ImportReport), RoadsError> {
    check_pbf_framing(path)?;
    let open = || File::open(path).map_err(|source| RoadsError::Open { path: path.into(), source });
    let read_err = |e: osmpbfreader::Error| RoadsError::Corrupt { path: path.into(), detail: e.to_string() };
    let mut report = ImportReport::default();

    progress.stage("reading ways", None);
    let mut reader = OsmPbfReader::new(BufReader::new(open()?));
    let mut ways: Vec<(i64, DrivableWay)> = Vec::new();
    let mut objects = 0usize;
    let mut refused: HashMap<Refusal, usize> = HashMap::new();
    for w in reader.par_iter_ways() {
        let w = w.map_err(read_err)?;
        report.ways_read += 1;
        progress.inc(1);
        match way_rule(profile, |k| w.tags.get(k).map(|s| s.as_str())) {
            Some(Ok(rule)) if w.nodes.len() >= 2 => {
                ways.push((w.id.0, DrivableWay { rule, nodes: w.nodes.iter().map(|n| n.0).collect() }));
            }
            Some(Err(why)) => *refused.entry(why).or_default() += 1,
            Some(Ok(_)) | None => {}
        }
    }
    report.refused_ways = Refusal::ALL.iter().map(|r| (*r, refused.get(r).copied().unwrap_or(0))).collect();
    ways.sort_unstable_by_key(|(id, _)| *id);
    report.drivable_ways = ways.len();
    objects += report.ways_read;

    // A node used twice (a junction) or ending a way becomes a graph node.
    let mut uses: HashMap<i64, u32> = HashMap::new();
    for (_, w) in &ways {
        for n in &w.nodes {
            *uses.entry(*n).or_default() += 1;
        }
        for end in [w.nodes[0], w.nodes[w.nodes.len() - 1]] {
            *uses.entry(end).or_default() += 2;
        }
    }

    progress.stage("reading nodes", None);
    let mut reader = OsmPbfReader::new(BufReader::new(open()?));
    let mut coords: HashMap<i64, LatLon> = HashMap::with_capacity(uses.len());
    for n in reader.par_iter_nodes() {
        let n = n.map_err(read_err)?;
        objects += 1;
        progress.inc(1);
        if uses.contains_key(&n.id.0)
            && let Ok(p) = LatLon::new(n.lat(), n.lon())
        {
            coords.insert(n.id.0, p);
        }
    }
    if objects == 0 {
        return Err(RoadsError::EmptyArea { path: path.into() });
    }

    progress.stage("building graph", None);
    let graph = build_pieces(&ways, &uses, &coords);
    let (graph, kept) = keep_largest_component(graph, &mut report);
    if !kept || graph.pieces.is_empty() {
        return Err(RoadsError::NoDrivableRoad { path: path.into(), ways: report.ways_read });
    }
    report.nodes = graph.nodes.len();
    report.arcs = graph.arc_count();
    Ok((graph, report))
}

/// Walks the PBF block framing before the decoder sees the file, so a file
/// that is not PBF, or is cut short, gets an error naming where (the decoder
/// itself would panic on a short block).
fn check_pbf_framing(path: &Path) -> Result<(), RoadsError> {
    let open_err = |source| RoadsError::Open { path: path.into(), source };
    let file = File::open(path).map_err(open_err)?;
    let size = file.metadata().map_err(open_err)?.len();
    let not_pbf = |detail: &str| RoadsError::NotPbf { path: path.into(), detail: detail.into() };
    if size == 0 {
        return Err(not_pbf("the file is empty"));
    }
    let mut r = BufReader::new(file);
    let mut at: u64 = 0;
    let mut block = 0usize;
    while at < size {
        let truncated = |what: &str| RoadsError::Corrupt {
            path: path.into(),
            detail: format!(
                "the file is truncated: it ends inside the {what} of block {block} (byte {at} of {size})"
            ),
        };
        let mut len = [0u8; 4];
        if at + 4 > size {
            return Err(truncated("length"));
        }
        r.read_exact(&mut len).map_err(open_err)?;
        let header_len = u32::from_be_bytes(len) as u64;
        if header_len == 0 || header_len > 64 * 1024 {
            return Err(if block == 0 {
                not_pbf("it does not start with an OSMHeader block")
            } else {
                RoadsError::Corrupt {
                    path: path.into(),
                    detail: format!("block {block} at byte {at} has a bad header length"),
                }
            });
        }
        if at + 4 + header_len > size {
            return Err(truncated("header"));
        }
        let mut header = vec![0u8; header_len as usize];
        r.read_exact(&mut header).map_err(open_err)?;
        let (kind, data_len) = blob_header(&header).ok_or_else(|| {
            if block == 0 {
                not_pbf("it does not start with an OSMHeader block")
            } else {
                truncated("header")
            }
        })?;
        if block == 0 && kind != b"OSMHeader" {
            return Err(not_pbf("it does not start with an OSMHeader block"));
        }
        if at + 4 + header_len + data_len > size {
            return Err(truncated("data"));
        }
        r.seek_relative(data_len as i64).map_err(open_err)?;
        at += 4 + header_len + data_len;
        block += 1;
    }
    Ok(())
}

/// The `type` and `datasize` fields of a PBF `BlobHeader` message.
fn blob_header(mut b: &[u8]) -> Option<(&[u8], u64)> {
    fn varint(b: &mut &[u8]) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = b.split_first()?;
            *b = rest;
            v |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    let (mut kind, mut size) = (None, None);
    while !b.is_empty() {
        let key = varint(&mut b)?;
        match key & 7 {
            0 => {
                let v = varint(&mut b)?;
                if key >> 3 == 3 {
                    size = Some(v);
                }
            }
            2 => {
                let n = varint(&mut b)? as usize;
                if n > b.len() {
                    return None;
                }
                let (field, rest) = b.split_at(n);
                if key >> 3 == 1 {
                    kind = Some(field);
                }
                b = rest;
            }
            _ => return None,
        }
    }
    Some((kind?, size?))
}

fn build_pieces(
    ways: &[(i64, DrivableWay)],
    uses: &HashMap<i64, u32>,
    coords: &HashMap<i64, LatLon>,
) -> RoadGraph {
    let mut g = RoadGraph::default();
    let mut node_index: HashMap<i64, u32> = HashMap::new();
    let mut node_of = |g: &mut RoadGraph, osm: i64, p: LatLon| -> u32 {
        *node_index.entry(osm).or_insert_with(|| {
            g.nodes.push(p);
            (g.nodes.len() - 1) as u32
        })
    };
    for (_, way) in ways {
        // The piece being walked: its first node and the last node with coordinates.
        let mut start: Option<(i64, LatLon)> = None;
        let mut last: Option<(i64, LatLon)> = None;
        let mut shape: Vec<LatLon> = Vec::new();
        for &osm in &way.nodes {
            let Some(&p) = coords.get(&osm) else {
                // A node outside the extract cuts the way: the piece so far ends
                // at the previous node.
                if let (Some((s, sp)), Some((l, lp))) = (start, last)
                    && shape.len() >= 2
                {
                    let a = node_of(&mut g, s, sp);
                    let b = node_of(&mut g, l, lp);
                    if a != b {
                        push_piece(&mut g, a, b, &shape, &way.rule);
                    }
                }
                (start, last) = (None, None);
                shape.clear();
                continue;
            };
            last = Some((osm, p));
            shape.push(p);
            let Some((s, sp)) = start else {
                start = Some((osm, p));
                continue;
            };
            if uses.get(&osm).copied().unwrap_or(0) >= 2 {
                let a = node_of(&mut g, s, sp);
                let b = node_of(&mut g, osm, p);
                if a != b {
                    push_piece(&mut g, a, b, &shape, &way.rule);
                }
                start = Some((osm, p));
                shape.clear();
                shape.push(p);
            }
        }
    }
    g
}

fn push_piece(g: &mut RoadGraph, a: u32, b: u32, shape: &[LatLon], rule: &WayRule) {
    let length_m: f64 = shape.windows(2).map(|w| w[0].distance_m(w[1])).sum();
    let time = |kmh: f64, allowed: bool| {
        if allowed { ((length_m / (kmh / 3.6)) * 1000.0).round().max(1.0) as u32 } else { NO_ARC }
    };
    let shape_start = g.shape.len() as u32;
    g.shape.extend_from_slice(shape);
    g.pieces.push(Piece {
        a,
        b,
        time_ab_ms: time(rule.forward_kmh, rule.directions.forward),
        time_ba_ms: time(rule.backward_kmh, rule.directions.backward),
        length_dm: (length_m * 10.0).round() as u32,
        shape_start,
        shape_end: g.shape.len() as u32,
    });
}

/// Keeps the largest strongly connected component; returns false when the graph
/// has no arc at all.
fn keep_largest_component(g: RoadGraph, report: &mut ImportReport) -> (RoadGraph, bool) {
    let mut pg = petgraph::graph::DiGraph::<(), ()>::with_capacity(g.nodes.len(), g.pieces.len() * 2);
    for _ in 0..g.nodes.len() {
        pg.add_node(());
    }
    for arc in g.arcs() {
        let (t, h, _) = g.arc(arc);
        pg.add_edge(t.into(), h.into(), ());
    }
    let components = petgraph::algo::kosaraju_scc(&pg);
    report.components = components.len();
    let Some(largest) = components.iter().max_by_key(|c| c.len()) else {
        return (g, false);
    };
    let mut new_index = vec![u32::MAX; g.nodes.len()];
    let mut members: Vec<usize> = largest.iter().map(|n| n.index()).collect();
    members.sort_unstable();
    let mut out = RoadGraph::default();
    for (i, &v) in members.iter().enumerate() {
        new_index[v] = i as u32;
        out.nodes.push(g.nodes[v]);
    }
    let arcs_before = g.arc_count();
    for p in &g.pieces {
        let (a, b) = (new_index[p.a as usize], new_index[p.b as usize]);
        if a == u32::MAX || b == u32::MAX {
            continue;
        }
        let shape_start = out.shape.len() as u32;
        out.shape.extend_from_slice(&g.shape[p.shape_start as usize..p.shape_end as usize]);
        out.pieces.push(Piece { a, b, shape_start, shape_end: out.shape.len() as u32, ..*p });
    }
    report.dropped_nodes = g.nodes.len() - out.nodes.len();
    report.dropped_arcs = arcs_before - out.arc_count();
    let any = out.arc_count() > 0;
    (out, any)
}
