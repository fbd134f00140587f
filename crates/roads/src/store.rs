//! The prepared-graph file: the road graph and its hierarchy as flat
//! little-endian arrays, with the fingerprint of the source map and the speed
//! profile so a changed input is never served from a stale file, and a CRC-32
//! of every byte before it at the end so a damaged file is never served at all.

use crate::ch::{ChEdge, ContractionHierarchy};
use crate::error::RoadsError;
use crate::graph::{Piece, RoadGraph};
use noriai_model::LatLon;
use std::path::{Path, PathBuf};

/// Bump the version whenever the layout or the meaning of an array changes.
const MAGIC: &[u8; 16] = b"noriai-roads\0v03";

/// Bytes of the trailing checksum.
const CHECKSUM_LEN: usize = 4;

/// 64-bit FNV-1a: a small stable hash for fingerprints (not for security).
#[derive(Debug, Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self::new()
    }
}

impl Fnv {
    pub fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// Identifies the inputs a prepared graph was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub source_hash: u64,
    pub profile_hash: u64,
    pub profile_name: String,
}

/// Hash of a file's bytes.
pub fn hash_file(path: &Path) -> Result<u64, RoadsError> {
    let bytes = std::fs::read(path).map_err(|source| RoadsError::Open { path: path.into(), source })?;
    let mut h = Fnv::new();
    h.write(&bytes);
    Ok(h.finish())
}

struct Writer(Vec<u8>);

impl Writer {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }
    fn points(&mut self, pts: &[LatLon]) {
        self.len(pts.len());
        for p in pts {
            self.f64(p.lat);
            self.f64(p.lon);
        }
    }
    fn u32s(&mut self, v: &[u32]) {
        self.len(v.len());
        v.iter().for_each(|&x| self.u32(x));
    }
    fn edges(&mut self, v: &[ChEdge]) {
        self.len(v.len());
        for e in v {
            [e.node, e.time_ms, e.length_dm, e.via].into_iter().for_each(|x| self.u32(x));
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

type ReadResult<T> = Result<T, String>;

impl Reader<'_> {
    fn take(&mut self, n: usize) -> ReadResult<&[u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or("the file is truncated")?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self) -> ReadResult<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> ReadResult<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn f64(&mut self) -> ReadResult<f64> {
        Ok(f64::from_bits(self.u64()?))
    }
    /// A length prefix, checked against what is left so a corrupt count cannot
    /// make us allocate gigabytes.
    fn len(&mut self, item_bytes: usize) -> ReadResult<usize> {
        let n = self.u64()? as usize;
        if n.saturating_mul(item_bytes) > self.bytes.len() - self.at {
            return Err("the file is truncated".into());
        }
        Ok(n)
    }
    fn points(&mut self) -> ReadResult<Vec<LatLon>> {
        let n = self.len(16)?;
        (0..n).map(|_| Ok(LatLon { lat: self.f64()?, lon: self.f64()? })).collect()
    }
    fn u32s(&mut self) -> ReadResult<Vec<u32>> {
        let n = self.len(4)?;
        (0..n).map(|_| self.u32()).collect()
    }
    fn edges(&mut self) -> ReadResult<Vec<ChEdge>> {
        let n = self.len(16)?;
        (0..n)
            .map(|_| {
                Ok(ChEdge {
                    node: self.u32()?,
                    time_ms: self.u32()?,
                    length_dm: self.u32()?,
                    via: self.u32()?,
                })
            })
            .collect()
    }
}

/// Serialises a prepared network.
pub fn write(
    path: &Path,
    fp: &Fingerprint,
    g: &RoadGraph,
    ch: &ContractionHierarchy,
) -> Result<(), RoadsError> {
    let mut w = Writer(Vec::with_capacity(1 << 20));
    w.0.extend_from_slice(MAGIC);
    w.u64(fp.source_hash);
    w.u64(fp.profile_hash);
    w.len(fp.profile_name.len());
    w.0.extend_from_slice(fp.profile_name.as_bytes());
    w.points(&g.nodes);
    w.len(g.pieces.len());
    for p in &g.pieces {
        [p.a, p.b, p.time_ab_ms, p.time_ba_ms, p.length_dm, p.shape_start, p.shape_end]
            .into_iter()
            .for_each(|x| w.u32(x));
    }
    w.points(&g.shape);
    w.u32s(&ch.rank);
    w.u32s(&ch.up_first);
    w.edges(&ch.up);
    w.u32s(&ch.down_first);
    w.edges(&ch.down);
    let checksum = crc32fast::hash(&w.0);
    w.u32(checksum);
    // Write beside and rename, so a crash never leaves half a file under the real name.
    let tmp = PathBuf::from(format!("{}.{}.tmp", path.display(), std::process::id()));
    let err = |source| RoadsError::Write { path: path.into(), source };
    std::fs::write(&tmp, &w.0).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// Reads only the fingerprint of a prepared file.
pub fn read_fingerprint(path: &Path) -> Result<Fingerprint, RoadsError> {
    let bytes = std::fs::read(path).map_err(|source| RoadsError::Open { path: path.into(), source })?;
    let mut r = Reader { bytes: &bytes, at: 0 };
    header(&mut r).map_err(|detail| RoadsError::Prepared { path: path.into(), detail })
}

fn header(r: &mut Reader<'_>) -> ReadResult<Fingerprint> {
    if r.take(MAGIC.len()).ok() != Some(&MAGIC[..]) {
        return Err("it is not a noriai prepared graph of this version".into());
    }
    let source_hash = r.u64()?;
    let profile_hash = r.u64()?;
    let n = r.len(1)?;
    let profile_name = String::from_utf8(r.take(n)?.to_vec()).map_err(|_| "bad profile name")?;
    Ok(Fingerprint { source_hash, profile_hash, profile_name })
}

/// Deserialises a prepared network and checks its internal consistency.
pub fn read(path: &Path) -> Result<(Fingerprint, RoadGraph, ContractionHierarchy), RoadsError> {
    let bytes = std::fs::read(path).map_err(|source| RoadsError::Open { path: path.into(), source })?;
    let parse = || -> ReadResult<_> {
        let bytes = verified(&bytes)?;
        let mut r = Reader { bytes, at: 0 };
        let fp = header(&mut r)?;
        let nodes = r.points()?;
        let np = r.len(28)?;
        let mut pieces = Vec::with_capacity(np);
        for _ in 0..np {
            let v: [u32; 7] = [r.u32()?, r.u32()?, r.u32()?, r.u32()?, r.u32()?, r.u32()?, r.u32()?];
            pieces.push(Piece {
                a: v[0],
                b: v[1],
                time_ab_ms: v[2],
                time_ba_ms: v[3],
                length_dm: v[4],
                shape_start: v[5],
                shape_end: v[6],
            });
        }
        let shape = r.points()?;
        let (rank, up_first, up) = (r.u32s()?, r.u32s()?, r.edges()?);
        let (down_first, down) = (r.u32s()?, r.edges()?);
        let ch = ContractionHierarchy::from_parts(rank, up_first, up, down_first, down)
            .ok_or("its node ranks are inconsistent (corrupt file)")?;
        if r.at != bytes.len() {
            return Err("unexpected bytes after the end".into());
        }
        let g = RoadGraph { nodes, pieces, shape };
        validate(&g, &ch)?;
        Ok((fp, g, ch.with_lookups()))
    };
    parse().map_err(|detail| RoadsError::Prepared { path: path.into(), detail })
}

/// The contents before the trailing checksum, if it matches them.
fn verified(bytes: &[u8]) -> ReadResult<&[u8]> {
    if bytes.len() < MAGIC.len() + CHECKSUM_LEN || &bytes[..MAGIC.len()] != MAGIC {
        return Err("it is not a noriai prepared graph of this version".into());
    }
    let (body, tail) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if crc32fast::hash(body) != stored {
        return Err("its checksum does not match its contents (the file is damaged or truncated)".into());
    }
    Ok(body)
}

/// Index bounds a corrupt file could break; checked once so queries can index freely.
fn validate(g: &RoadGraph, ch: &ContractionHierarchy) -> ReadResult<()> {
    let n = g.nodes.len() as u32;
    let pieces_ok = g.pieces.iter().all(|p| {
        p.a < n && p.b < n && p.shape_start + 1 < p.shape_end && p.shape_end as usize <= g.shape.len()
    });
    let csr_ok = |first: &[u32], len: usize| {
        first.len() == n as usize + 1
            && first.first() == Some(&0)
            && first.last().copied() == Some(len as u32)
            && first.windows(2).all(|w| w[0] <= w[1])
    };
    let arcs = g.pieces.len() as u32 * 2;
    let edge_ok = |e: &ChEdge| {
        e.node < n && (if e.via & (1 << 31) != 0 { (e.via & !(1 << 31)) < arcs } else { e.via < n })
    };
    // Every edge climbs from the node (rank) it is stored at, and a
    // shortcut's middle node lies below it: searches, labels and the
    // unpacking of paths rely on both, and the last would not end otherwise.
    let climbs = |first: &[u32], edges: &[ChEdge]| {
        (0..n as usize).all(|v| {
            edges[first[v] as usize..first[v + 1] as usize]
                .iter()
                .all(|e| e.node as usize > v && (e.via & (1 << 31) != 0 || (e.via as usize) < v))
        })
    };
    if !pieces_ok
        || ch.rank.len() != n as usize
        || !csr_ok(&ch.up_first, ch.up.len())
        || !csr_ok(&ch.down_first, ch.down.len())
        || !ch.up.iter().chain(&ch.down).all(edge_ok)
        || !climbs(&ch.up_first, &ch.up)
        || !climbs(&ch.down_first, &ch.down)
    {
        return Err("its contents are inconsistent (corrupt file)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{NoProgress, SpeedProfile};

    /// A file whose checksum matches but whose arrays point outside the
    /// graph, or down the hierarchy (a faulty writer, a hand-made file), is
    /// refused before any search runs on it, such as the ones that build
    /// the core's table and the labels.
    #[test]
    fn inconsistent_arrays_with_a_good_checksum_are_refused() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let fp = Fingerprint { source_hash: 1, profile_hash: 2, profile_name: "default".into() };
        let path = std::env::temp_dir().join(format!("noriai-store-test-{}.noriai", std::process::id()));
        // Every map's sound file passes the checks and reads back whole.
        for map in ["maps/liechtenstein-2015", "tests/data/andorra-2013", "tests/data/cobb-county-filtered"] {
            let map = root.join(format!("{map}.osm.pbf"));
            let (g, _) = crate::import::import_pbf(&map, &SpeedProfile::default(), &NoProgress).unwrap();
            let ch = ContractionHierarchy::build(&g, || {});
            write(&path, &fp, &g, &ch).unwrap();
            let (_, _, back) = read(&path).unwrap();
            assert_eq!(
                back,
                ch,
                "{}: a sound file reads back whole, core and labels included",
                map.display()
            );
        }
        let map = root.join("tests/data/herrenberg-minimal.osm.pbf");
        let (g, _) = crate::import::import_pbf(&map, &SpeedProfile::default(), &NoProgress).unwrap();
        let ch = ContractionHierarchy::build(&g, || {});
        write(&path, &fp, &g, &ch).unwrap();
        let (_, _, back) = read(&path).unwrap();
        assert_eq!(back, ch, "a sound file reads back whole, core and labels included");

        let mut bytes = std::fs::read(&path).unwrap();
        let body = bytes.len() - CHECKSUM_LEN;
        // The last downward edge's head: 16 bytes an edge, head first.
        bytes[body - 16..body - 12].copy_from_slice(&u32::MAX.to_le_bytes());
        let crc = crc32fast::hash(&bytes[..body]);
        bytes[body..].copy_from_slice(&crc.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let e = read(&path).expect_err("an edge to a node that does not exist");
        assert!(e.to_string().contains("inconsistent"), "{e}");

        // The same edge pointing down the hierarchy, to rank 0, which is
        // below every node that holds edges.
        bytes[body - 16..body - 12].copy_from_slice(&0u32.to_le_bytes());
        let crc = crc32fast::hash(&bytes[..body]);
        bytes[body..].copy_from_slice(&crc.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let e = read(&path).expect_err("an edge that does not climb");
        assert!(e.to_string().contains("inconsistent"), "{e}");
        std::fs::remove_file(&path).ok();
    }
}
