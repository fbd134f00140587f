//! The `noriai` command line: one binary for building maps, routing, solving
//! benchmark instances and (later) serving and simulating. It owns argument
//! parsing, progress bars and output formats; the work lives in the library crates.

mod accounts;
mod export;
mod progress;
mod report;
mod route;
mod serve;
mod simulate;
mod solve;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// The bundled default map, relative to the repository root.
pub const DEFAULT_MAP: &str = "maps/liechtenstein-2015.osm.pbf";

#[derive(Parser)]
#[command(
    name = "noriai",
    version,
    about = "noriai (乗合, \"riding together\"): on-demand transport dispatch for rural towns"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prepare OpenStreetMap road graphs for fast routing.
    #[command(subcommand)]
    Map(MapCommand),
    /// Print the fastest car route between two points.
    Route(route::RouteArgs),
    /// Solve a dial-a-ride benchmark instance (Cordeau or Li & Lim format).
    Solve(solve::SolveArgs),
    /// Run the gRPC booking service (riders, fleet, bookings; reflection and health).
    Serve(serve::ServeArgs),
    /// Simulate service days through the real dispatcher: KPIs and an offline HTML report.
    Simulate(simulate::SimulateArgs),
    /// Add and list services, one per municipality (works beside a running server).
    Service(accounts::ServiceArgs),
    /// Create, list and revoke access tokens (works beside a running server).
    Token(accounts::TokenArgs),
    /// Console logins (name and password) for operators and drivers.
    Login(accounts::LoginArgs),
    /// Who read or changed riders' data: the audit trail.
    Audit(accounts::AuditArgs),
    /// A rider's data requests under APPI: export or erase.
    Rider(accounts::RiderArgs),
    /// What really happened on a service day, as the simulator's KPIs and report.
    Report(report::ReportArgs),
    /// Open data: the on-demand services as a GTFS-Flex feed for trip planners.
    Export(export::ExportArgs),
}

#[derive(Subcommand)]
enum MapCommand {
    /// Import a .osm.pbf extract, contract it and write a prepared graph file.
    Build(route::BuildArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Map(MapCommand::Build(a)) => route::build(a),
        Command::Route(a) => route::route(a),
        Command::Solve(a) => solve::solve(a),
        Command::Serve(a) => serve::serve(a),
        Command::Simulate(a) => simulate::simulate(a),
        Command::Service(a) => accounts::service(a),
        Command::Token(a) => accounts::token(a),
        Command::Login(a) => accounts::login(a),
        Command::Audit(a) => accounts::audit(a),
        Command::Rider(a) => accounts::rider(a),
        Command::Report(a) => report::report(a),
        Command::Export(a) => export::export(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `println!` that ends quietly when stdout is a closed pipe.
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => { $crate::out(format_args!($($t)*)) };
}

/// Prints a line to stdout; a closed pipe (`noriai … | head`) ends the
/// program quietly instead of panicking.
pub fn out(text: impl std::fmt::Display) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{text}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write output: {e}");
        std::process::exit(1);
    }
}

/// The embedded SQLite file in a data directory.
pub fn embedded_db(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("noriai.sqlite")
}

/// The database `--db` names, or else the embedded one in `--data-dir`: the
/// same for `serve` and the commands that work beside it.
pub fn database_url(db: Option<&str>, data_dir: &std::path::Path) -> String {
    match db {
        Some(url) => url.to_string(),
        None => format!("sqlite://{}", embedded_db(data_dir).display()),
    }
}

/// Resolves the default map whether run from the repository root or elsewhere.
pub fn default_map() -> PathBuf {
    let here = PathBuf::from(DEFAULT_MAP);
    if here.exists() {
        return here;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(DEFAULT_MAP)
}
