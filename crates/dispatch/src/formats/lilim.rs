//! The Li & Lim PDPTW format (SINTEF).
//!
//! First line `K Q speed` (speed 0, found in some files, means 1); then `id x y demand earliest latest service pickup delivery`
//! per node, node 0 the depot. A pickup has `pickup = 0` and names its delivery;
//! a delivery names its pickup. No ride-time limit; the objective is
//! hierarchical (vehicles, then distance).

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

/// Parses instance text; `file` names it in errors.
pub fn parse_str(text: &str, file: &str, name: &str) -> Result<Instance, ParseError> {
    let (lines, hl, h) = super::header(text, file)?;
    if h.len() < 3 {
        return Err(line_err(file, hl, format!("header needs `K Q speed` (3 numbers), found {}", h.len())));
    }
    let k = count(file, hl, "vehicle count K", h[0])?;
    let cap = count(file, hl, "capacity Q", h[1])?;
    // Several published files carry speed 0; the benchmark always uses time = distance,
    // so a non-positive speed means unit speed. A negative one is still an error.
    let speed = h[2];
    if speed < 0.0 {
        return Err(line_err(file, hl, format!("speed must not be negative, got {speed}")));
    }
    let speed = if speed == 0.0 { 1.0 } else { speed };
    let mut nodes: Vec<(usize, [f64; 8])> = Vec::new();
    for (ln, l) in lines {
        let layout = (9, "id x y demand earliest latest service pickup delivery");
        let v = node_line(file, (ln, l), layout, nodes.len(), 4)?;
        count(file, ln, "pickup index", v[7])?;
        count(file, ln, "delivery index", v[8])?;
        nodes.push((ln, [v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]]));
    }
    if nodes.is_empty() {
        return Err(ParseError::File { file: file.into(), message: "no depot line".into() });
    }
    let depot = nodes[0].1;
    let shift = TimeWindow::new(depot[3], depot[4]).map_err(|e| line_err(file, nodes[0].0, e.to_string()))?;
    let mut requests = Vec::new();
    let mut node_ids = Vec::new();
    let mut paired = vec![false; nodes.len()];
    for (p_id, &(pl, p)) in nodes.iter().enumerate().skip(1) {
        if p[6] != 0.0 {
            continue; // a delivery; handled with its pickup
        }
        let d_id = p[7] as usize;
        let Some(&(dl, d)) = nodes.get(d_id).filter(|_| d_id != 0) else {
            return Err(line_err(
                file,
                pl,
                format!("pickup names delivery node {d_id}, which does not exist"),
            ));
        };
        if d[6] as usize != p_id {
            return Err(line_err(
                file,
                dl,
                format!("delivery names pickup {}, but pickup {p_id} names this node", d[6]),
            ));
        }
        if p[2] <= 0.0 || p[2].fract() != 0.0 || d[2] != -p[2] {
            return Err(line_err(
                file,
                pl,
                format!(
                    "pickup demand {} must be a positive integer cancelled by its delivery ({})",
                    p[2], d[2]
                ),
            ));
        }
        paired[d_id] = true;
        paired[p_id] = true;
        let err = |ln: usize| move |e: noriai_model::ModelError| line_err(file, ln, e.to_string());
        let r = Request::new(
            RequestId(p_id as u32),
            LocId(p_id as u32),
            LocId(d_id as u32),
            Capacity::new(p[2] as u32, 0),
        )
        .map_err(err(pl))?
        .with_pickup_window(p[3], p[4])
        .map_err(err(pl))?
        .with_dropoff_window(d[3], d[4])
        .map_err(err(dl))?
        .with_service_times(p[5], d[5])
        .map_err(err(pl))?;
        requests.push(r);
        node_ids.push([p_id as u32, d_id as u32]);
    }
    if let Some(unpaired) = (1..nodes.len()).find(|&i| !paired[i]) {
        return Err(line_err(file, nodes[unpaired].0, "node is neither a pickup nor the delivery of one"));
    }
    let points = nodes.iter().map(|(_, v)| (v[0], v[1])).collect();
    let vehicles = (0..k)
        .map(|v| {
            Vehicle::new(VehicleId(v), Capacity::new(cap, 0), LocId(0), shift)
                .map_err(|e| line_err(file, hl, e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let problem = Problem::new(
        Euclidean::with_speed(points, speed),
        requests,
        vehicles,
        Objective::VehiclesThenDistance,
    )
    .and_then(|p| p.with_node_ids(node_ids))
    .map_err(|e| ParseError::File { file: file.into(), message: e.to_string() })?;
    Ok(Instance { name: name.to_string(), problem })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TINY: &str = "2 10 1\n0 0 0 0 0 100 0 0 0\n1 1 0 5 0 50 2 0 2\n2 3 0 -5 0 80 2 1 0\n";

    #[test]
    fn parses_pairs() {
        let i = parse_str(TINY, "t", "t").unwrap();
        assert_eq!(i.problem.requests().len(), 1);
        assert_eq!(i.problem.node_ids(), &[[1, 2]]);
        assert_eq!(i.problem.vehicles().len(), 2);
    }

    #[test]
    fn errors_name_line() {
        let e = parse_str(&TINY.replace("2 3 0 -5 0 80 2 1 0", "2 3 0 -5 0 80 2 1"), "f.txt", "x")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("f.txt:4:"), "{e}");
        let e = parse_str(&TINY.replace("2 3 0 -5 0 80 2 1 0", "2 3 0 -5 90 80 2 1 0"), "f.txt", "x")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("f.txt:4:"), "{e}");
    }
}
