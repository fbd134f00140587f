//! `noriai serve`: the gRPC booking service.

use crate::progress::Bars;
use anyhow::Context;
use noriai_roads::{RoadNetwork, SpeedProfile};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// A .osm.pbf extract or a prepared graph [default: the bundled map].
    #[arg(long)]
    pub map: Option<PathBuf>,
    /// Speed profile: `default` or `winter`.
    #[arg(long, default_value = "default")]
    pub profile: String,
    /// Database URL: `sqlite://FILE` or `postgres://user:pass@host/db`
    /// [default: SQLite in the data directory].
    #[arg(long)]
    pub db: Option<String>,
    /// Directory for the embedded database.
    #[arg(long, default_value = "data")]
    pub data_dir: PathBuf,
    /// Do not create the demo fleet and service area on an empty database.
    #[arg(long)]
    pub no_demo: bool,
    /// TLS certificate chain (PEM); with --tls-key, serve over TLS.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Allow listening on a non-loopback address without TLS (tokens would
    /// cross the network in clear text).
    #[arg(long)]
    pub insecure_listen: bool,
    /// Quotes and rider searches each token may make per minute.
    #[arg(long, default_value_t = std::num::NonZeroU32::new(300).unwrap_or(std::num::NonZeroU32::MIN))]
    pub quota_per_minute: std::num::NonZeroU32,
    /// A GTFS or GTFS-JP feed (a zip file or a directory) for TimetableService;
    /// give it again for more feeds.
    #[arg(long = "gtfs", value_name = "PATH")]
    pub gtfs: Vec<PathBuf>,
    /// Minutes a driver waits after the promised pickup window opens before
    /// a rider who did not come may be reported as a no-show.
    #[arg(long, default_value_t = 5)]
    pub no_show_wait_minutes: u32,
}

pub fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => Some(noriai_server::TlsFiles {
            cert_pem: std::fs::read(cert)
                .with_context(|| format!("reading TLS certificate {}", cert.display()))?,
            key_pem: std::fs::read(key).with_context(|| format!("reading TLS key {}", key.display()))?,
        }),
        _ => None,
    };
    if tls.is_none() && !a.listen.ip().is_loopback() && !a.insecure_listen {
        anyhow::bail!(
            "{} is reachable from the network, and without TLS tokens and riders' data would cross it in clear \
             text; give --tls-cert and --tls-key, listen on 127.0.0.1, or add --insecure-listen behind a TLS proxy",
            a.listen
        );
    }
    let profile = SpeedProfile::by_name(&a.profile)
        .with_context(|| format!("unknown profile `{}`; use `default` or `winter`", a.profile))?;
    let map = a.map.unwrap_or_else(crate::default_map);
    let bars = Bars::new();
    let (roads, _) =
        RoadNetwork::open(&map, &profile, &bars).with_context(|| format!("loading map {}", map.display()))?;
    // The same roads at winter speeds, for days an operator switches to winter.
    let winter_roads = if profile.name == "winter" {
        None
    } else {
        match RoadNetwork::open(&map, &SpeedProfile::winter(), &bars) {
            Ok((winter, _)) if winter.same_roads(&roads) => Some(Arc::new(winter)),
            Ok(_) => {
                tracing::warn!(
                    "the winter map has other roads than the usual one; days cannot switch to winter"
                );
                None
            }
            Err(e) => {
                tracing::warn!("no winter map ({e}); days cannot switch to winter");
                None
            }
        }
    };
    bars.finish();
    let timetables = noriai_server::timetable::Timetables::load(a.gtfs.clone()).context("loading --gtfs")?;
    for f in timetables.feeds().iter() {
        let trips = f.feed.trips.len();
        eprintln!(
            "timetable {}: {} stops, {trips} trips ({:.0} ms)",
            f.feed.name,
            f.feed.stops.len(),
            f.load_ms
        );
    }
    std::fs::create_dir_all(&a.data_dir)
        .with_context(|| format!("cannot create data directory {}", a.data_dir.display()))?;
    let db = crate::database_url(a.db.as_deref(), &a.data_dir);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let store =
            noriai_store::Store::connect(&db).await.with_context(|| format!("opening database {db}"))?;
        let config = noriai_server::ServeConfig {
            listen: a.listen,
            roads: Arc::new(roads),
            winter_roads,
            store,
            policy: Default::default(),
            demo: !a.no_demo,
            access: noriai_server::auth::AccessConfig { quota_per_minute: a.quota_per_minute },
            live: noriai_dispatch::live::LiveRules { no_show_wait_s: i64::from(a.no_show_wait_minutes) * 60 },
            admin_token_file: a.data_dir.join("admin.token"),
            tls,
            timetables: Arc::new(timetables),
        };
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
            eprintln!("shutting down");
        };
        noriai_server::serve(config, shutdown).await?;
        Ok(())
    })
}
