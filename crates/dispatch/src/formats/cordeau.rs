//! The Cordeau (2006) DARP format.
//!
//! First line `K 2n T Q L`: vehicles, nodes without depot, maximum route
//! duration, capacity, maximum ride time. Then one line per node,
//! `id x y service load earliest latest`: node 0 is the depot, `1..=n` the
//! pickups and `n+i` the dropoff of pickup `i`. Some files repeat the depot as
//! node `2n+1`; both variants are accepted.

use std::path::Path;

use noriai_model::{Capacity, LocId, Request, RequestId, TimeWindow, Vehicle, VehicleId};

use super::{Instance, ParseError, count, line_err, node_line};
use crate::euclid::Euclidean;
use crate::problem::{Objective, Problem};

/// Reads an instance file.
pub fn parse(path: &Path) -> Result<Instance, ParseError> {
    let (file, text) = super::read(path)?;
    parse_str(&text, &file, &super::stem(path))
}

/// Parses instance text; `file` names it in errors, `name` becomes the instance name.
pub fn parse_str(text: &str, file: &str, name: &str) -> Result<Instance, ParseError> {
    let (lines, hl, h) = super::header(text, file)?;
    if h.len() < 5 {
        return Err(line_err(file, hl, format!("header needs `K 2n T Q L` (5 numbers), found {}", h.len())));
    }
    let k = count(file, hl, "vehicle count K", h[0])?;
    let two_n = count(file, hl, "node count 2n", h[1])?;
    if two_n % 2 != 0 {
        return Err(line_err(file, hl, format!("node count 2n must be even, got {two_n}")));
    }
    let n = two_n / 2;
    let (max_dur, cap, max_ride) = (h[2], count(file, hl, "capacity Q", h[3])?, h[4]);

    let mut nodes: Vec<(usize, [f64; 6])> = Vec::new();
    for (ln, l) in lines {
        let layout = (7, "id x y service load earliest latest");
        let v = node_line(file, (ln, l), layout, nodes.len(), 5)?;
        if v[3] < 0.0 {
            return Err(line_err(file, ln, format!("service time {} is negative", v[3])));
        }
        nodes.push((ln, [v[1], v[2], v[3], v[4], v[5], v[6]]));
    }
    let want = two_n as usize + 1;
    if nodes.len() != want && nodes.len() != want + 1 {
        return Err(ParseError::File {
            file: file.into(),
            message: format!("header promises {want} nodes (depot and 2n = {two_n}), found {}", nodes.len()),
        });
    }
    let points: Vec<(f64, f64)> = nodes.iter().map(|(_, v)| (v[0], v[1])).collect();
    let depot = nodes[0].1;
    let end = nodes.get(want).map(|(_, v)| *v).unwrap_or(depot);
    let shift = TimeWindow::new(depot[4], end[5]).map_err(|e| line_err(file, nodes[0].0, e.to_string()))?;
    let end_loc = if nodes.len() > want { LocId(want as u32) } else { LocId(0) };

    let mut requests = Vec::with_capacity(n as usize);
    let mut node_ids = Vec::with_capacity(n as usize);
    for i in 1..=n as usize {
        let (pl, p) = nodes[i];
        let (dl, d) = nodes[i + n as usize];
        if p[3] <= 0.0 || p[3].fract() != 0.0 {
            return Err(line_err(file, pl, format!("pickup load must be a positive integer, got {}", p[3])));
        }
        if d[3] != -p[3] {
            return Err(line_err(
                file,
                dl,
                format!("dropoff load {} does not cancel pickup load {}", d[3], p[3]),
            ));
        }
        let err = |ln: usize| move |e: noriai_model::ModelError| line_err(file, ln, e.to_string());
        let r = Request::new(
            RequestId(i as u32),
            LocId(i as u32),
            LocId((i + n as usize) as u32),
            Capacity::new(p[3] as u32, 0),
        )
        .map_err(err(pl))?
        .with_pickup_window(p[4], p[5])
        .map_err(err(pl))?
        .with_dropoff_window(d[4], d[5])
        .map_err(err(dl))?
        .with_service_times(p[2], d[2])
        .map_err(err(pl))?
        .with_max_ride_time(max_ride)
        .map_err(err(hl))?;
        requests.push(r);
        node_ids.push([i as u32, (i + n as usize) as u32]);
    }
    let vehicles = (0..k)
        .map(|v| {
            Vehicle::new(VehicleId(v), Capacity::new(cap, 0), LocId(0), shift)
                .map(|v| v.with_end_depot(end_loc))
                .and_then(|v| v.with_max_route_duration(max_dur))
                .map_err(|e| line_err(file, hl, e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let problem = Problem::new(Euclidean::new(points), requests, vehicles, Objective::Distance)
        .and_then(|p| p.with_node_ids(node_ids))
        .map_err(|e| ParseError::File { file: file.into(), message: e.to_string() })?;
    Ok(Instance { name: name.to_string(), problem })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TINY: &str = "1 2 480 3 30\n0 0 0 0 0 0 1440\n1 1 0 3 1 0 100\n2 2 0 3 -1 0 1440\n";

    #[test]
    fn parses_with_and_without_depot_copy() {
        let a = parse_str(TINY, "t", "t").unwrap();
        assert_eq!(a.problem.requests().len(), 1);
        assert_eq!(a.problem.vehicles()[0].max_route_duration, 480.0);
        assert_eq!(a.problem.node_ids(), &[[1, 2]]);
        let b = parse_str(&format!("{TINY}3 0 0 0 0 0 1440\n"), "t", "t").unwrap();
        assert_eq!(b.problem.vehicles()[0].end_depot, LocId(3));
    }

    #[test]
    fn errors_name_file_and_line() {
        let bad = TINY.replace("1 1 0 3 1 0 100", "1 1 zero 3 1 0 100");
        let e = parse_str(&bad, "inst.txt", "x").unwrap_err().to_string();
        assert!(e.starts_with("inst.txt:3:"), "{e}");
        let bad = TINY.replace("1 1 0 3 1 0 100", "1 1 0 3 1 200 100");
        let e = parse_str(&bad, "inst.txt", "x").unwrap_err().to_string();
        assert!(e.starts_with("inst.txt:3:") && e.contains("empty"), "{e}");
        let bad = TINY.replace("1 1 0 3 1 0 100", "1 1 0 3 0 0 100");
        let e = parse_str(&bad, "inst.txt", "x").unwrap_err().to_string();
        assert!(e.starts_with("inst.txt:3:") && e.contains("load"), "{e}");
        assert!(parse_str("", "f", "x").is_err());
        assert!(parse_str("1 4 480 3 30\n0 0 0 0 0 0 1440\n", "f", "x").is_err());
    }
}
