//! `noriai map build` and `noriai route`.

use crate::progress::Bars;
use anyhow::Context;
use noriai_model::LatLon;
use noriai_roads::{Opened, RoadNetwork, SpeedProfile};
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct BuildArgs {
    /// The OpenStreetMap extract (.osm.pbf).
    pub pbf: PathBuf,
    /// Where to write the prepared graph [default: <pbf>.<profile>.noriai].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Speed profile: `default` (dry roads) or `winter` (snow-covered roads).
    #[arg(long, default_value = "default", value_parser = parse_profile)]
    pub profile: SpeedProfile,
}

#[derive(clap::Args)]
pub struct RouteArgs {
    /// A .osm.pbf extract or a prepared graph from `noriai map build`
    /// [default: the bundled Liechtenstein map].
    #[arg(long)]
    pub map: Option<PathBuf>,
    /// Start as LAT,LON in decimal degrees.
    #[arg(long, allow_hyphen_values = true)]
    pub from: LatLon,
    /// Destination as LAT,LON in decimal degrees.
    #[arg(long, allow_hyphen_values = true)]
    pub to: LatLon,
    /// Speed profile: `default` or `winter`.
    #[arg(long, default_value = "default", value_parser = parse_profile)]
    pub profile: SpeedProfile,
    /// Refuse points farther than this from a road (metres).
    #[arg(long, default_value_t = noriai_roads::DEFAULT_MAX_SNAP_M)]
    pub max_snap_m: f64,
    /// Print one JSON object (duration_s, distance_m, geometry as GeoJSON).
    #[arg(long)]
    pub json: bool,
}

fn parse_profile(s: &str) -> Result<SpeedProfile, String> {
    SpeedProfile::by_name(s).ok_or_else(|| format!("unknown profile `{s}`; use `default` or `winter`"))
}

pub fn build(a: BuildArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let bars = Bars::new();
    let (net, report) = RoadNetwork::import(&a.pbf, &a.profile, &bars)?;
    bars.finish();
    let out =
        a.out.unwrap_or_else(|| PathBuf::from(format!("{}.{}.noriai", a.pbf.display(), a.profile.name)));
    net.save(&out)?;
    crate::say!("map:        {}", a.pbf.display());
    crate::say!("profile:    {}", a.profile.name);
    crate::say!("ways:       {} read, {} drivable", report.ways_read, report.drivable_ways);
    let refused: Vec<String> = report
        .refused_ways
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(why, n)| format!("{n} {}", why.label()))
        .collect();
    if !refused.is_empty() {
        crate::say!("left out:   {} (roads tagged highway=* that cars may not use)", refused.join(", "));
    }
    crate::say!("nodes:      {}", report.nodes);
    crate::say!("edges:      {} road arcs, {} in the hierarchy", report.arcs, net.hierarchy().edge_count());
    crate::say!(
        "dropped:    {} nodes and {} arcs outside the largest connected part ({} components)",
        report.dropped_nodes,
        report.dropped_arcs,
        report.components
    );
    crate::say!("written:    {}", out.display());
    crate::say!("time:       {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}

pub fn route(a: RouteArgs) -> anyhow::Result<()> {
    let map = a.map.unwrap_or_else(crate::default_map);
    let bars = Bars::new();
    let (mut net, opened) = RoadNetwork::open(&map, &a.profile, &bars)
        .with_context(|| format!("loading map {}", map.display()))?;
    bars.finish();
    if let Opened::Imported(_, Some(cache)) = &opened {
        tracing::info!("prepared graph cached at {}", cache.display());
    }
    net.max_snap_m = a.max_snap_m;
    let r = net.route(a.from, a.to).context("no route")?;
    if a.json {
        let coords: Vec<[f64; 2]> = r.geometry.iter().map(|p| [p.lon, p.lat]).collect();
        let obj = serde_json::json!({
            "duration_s": r.duration_s,
            "distance_m": r.distance_m,
            "geometry": { "type": "LineString", "coordinates": coords },
        });
        crate::say!("{obj}");
    } else {
        crate::say!(
            "{:.1} min, {:.2} km ({} points of geometry)",
            r.duration_s / 60.0,
            r.distance_m / 1000.0,
            r.geometry.len()
        );
    }
    Ok(())
}
