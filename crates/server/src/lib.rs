//! The booking service behind `noriai serve`: tonic gRPC services for riders,
//! fleet and bookings, the dispatcher task that owns the live plans, gRPC
//! reflection and health. Protobuf types stay in [`pb`] and are converted at
//! this edge ([`convert`]); everything behind it speaks domain types.

pub mod accounts;
pub mod auth;
pub mod booking;
pub mod codec;
pub mod convert;
pub mod demo;
pub mod dispatcher;
pub mod driver;
pub mod errors;
pub mod fleet;
pub mod follow;
pub mod journeys;
pub mod offers;
pub mod operations;
pub mod realtime;
pub mod riders;
pub mod road;
pub mod timetable;
pub mod towns;
pub mod web;

pub mod pb {
    //! Generated protobuf types; they stay at this edge of the system.
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    tonic::include_proto!("noriai.v1");
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("noriai_descriptor");
}

pub mod gtfs_rt {
    //! The GTFS Realtime specification's messages (`proto/gtfs-realtime`), for `/gtfs-rt/`.
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/transit_realtime.rs"));
}

use noriai_model::service::BookingRules;
use noriai_roads::RoadNetwork;
use noriai_store::Store;
use pb::account_service_server::AccountServiceServer;
use pb::booking_service_server::BookingServiceServer;
use pb::driver_service_server::DriverServiceServer;
use pb::fleet_service_server::FleetServiceServer;
use pb::journey_service_server::JourneyServiceServer;
use pb::operations_service_server::OperationsServiceServer;
use pb::rider_service_server::RiderServiceServer;
use pb::timetable_service_server::TimetableServiceServer;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// The wall clock in Unix seconds: the one place the service reads it.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A service's rules: the dispatch policy shared with the simulator, how
/// long a quoted offer stays bookable, and its booking rules.
#[derive(Debug, Clone, PartialEq)]
pub struct ServicePolicy {
    pub dispatch: noriai_dispatch::Policy,
    pub offer_ttl_s: i64,
    pub rules: BookingRules,
}

impl Default for ServicePolicy {
    fn default() -> Self {
        let rules = BookingRules::default();
        let dispatch = noriai_dispatch::Policy {
            prebooking_window_s: f64::from(rules.prebooking_window_minutes) * 60.0,
            ..noriai_dispatch::Policy::default()
        };
        Self { dispatch, offer_ttl_s: 10 * 60, rules }
    }
}

impl ServicePolicy {
    /// This policy with a service's booking rules.
    pub fn with_rules(&self, rules: BookingRules) -> ServicePolicy {
        let dispatch = noriai_dispatch::Policy {
            prebooking_window_s: f64::from(rules.prebooking_window_minutes) * 60.0,
            ..self.dispatch.clone()
        };
        ServicePolicy { dispatch, offer_ttl_s: self.offer_ttl_s, rules }
    }
}

/// Everything `noriai serve` needs.
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub roads: Arc<RoadNetwork>,
    /// The same map with winter speeds, for days an operator switches to
    /// winter (`None`: the switch is refused).
    pub winter_roads: Option<Arc<RoadNetwork>>,
    pub store: Store,
    pub policy: ServicePolicy,
    /// Create a demo fleet and service area when the store has no vehicle.
    pub demo: bool,
    /// Per-token quotas.
    pub access: auth::AccessConfig,
    /// Rules of the road (the no-show wait).
    pub live: noriai_dispatch::live::LiveRules,
    /// Where the first admin token is written (mode 0600) when the file
    /// does not exist yet.
    pub admin_token_file: PathBuf,
    /// Serve over TLS with this certificate chain and key (PEM).
    pub tls: Option<TlsFiles>,
    /// The fixed-route timetables (`--gtfs`).
    pub timetables: Arc<timetable::Timetables>,
}

/// A certificate chain and its private key, PEM encoded.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("store: {0}")]
    Store(#[from] noriai_store::StoreError),
    #[error("{0}")]
    Town(#[from] towns::TownError),
    #[error("cannot write the admin token to {path}: {source}")]
    AdminToken { path: PathBuf, source: std::io::Error },
    #[error("cannot create the admin token: {0}")]
    Account(#[from] accounts::AccountError),
}

/// On first start (no token file yet) creates an admin token and writes its
/// secret to `path`, readable by the owner only. The secret is never logged.
pub async fn ensure_admin_token(store: &Store, path: &std::path::Path) -> Result<(), ServeError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if path.exists() {
        tracing::info!(file = %path.display(), "admin token file present");
        return Ok(());
    }
    let new = accounts::NewToken {
        role: noriai_model::access::Role::Admin,
        service: None,
        vehicle: None,
        rider: None,
        name: format!("first admin ({})", path.display()),
        expires_days: None,
    };
    let (token, secret) = accounts::create_token(store, &new).await?;
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
        file.write_all(secret.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()
    };
    write().map_err(|source| ServeError::AdminToken { path: path.to_path_buf(), source })?;
    tracing::info!(token = token.id, file = %path.display(), "admin token written");
    eprintln!("admin token written to {} (send it as `authorization: Bearer …`)", path.display());
    Ok(())
}

/// Runs the service until `shutdown` resolves.
pub async fn serve(
    config: ServeConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServeError> {
    let ServeConfig {
        listen,
        roads,
        winter_roads,
        store,
        policy,
        demo,
        access,
        live,
        admin_token_file,
        tls,
        timetables,
    } = config;
    ensure_admin_token(&store, &admin_token_file).await?;
    let gate = Arc::new(auth::Gate::new(store.clone(), access));
    if demo {
        demo::seed_if_empty(&store, &roads).await?;
        demo::keep_demo_shifts(&store).await?;
    }
    let maps = dispatcher::Maps { usual: roads.clone(), winter: winter_roads };
    let towns = Arc::new(towns::Towns::new(store.clone(), maps, policy));
    // Every service's dispatcher starts now, so each one's evening batch runs.
    let started = towns.all().await?;
    tracing::info!(services = started.len(), "services started");
    tokio::spawn(evening_work(towns.clone(), demo.then(|| store.clone())));

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<RiderServiceServer<riders::Riders>>().await;
    health.set_serving::<FleetServiceServer<fleet::Fleet>>().await;
    health.set_serving::<BookingServiceServer<booking::Bookings>>().await;
    health.set_serving::<AccountServiceServer<accounts::Accounts>>().await;
    health.set_serving::<DriverServiceServer<driver::Drivers>>().await;
    health.set_serving::<OperationsServiceServer<operations::Operations>>().await;
    health.set_serving::<TimetableServiceServer<timetable::TimetableApi>>().await;
    health.set_serving::<JourneyServiceServer<journeys::JourneyApi>>().await;
    tokio::spawn(watch_store(store.clone(), health.clone(), towns.clone()));
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| ServeError::Listen { addr: listen, source })?;
    let local = listener.local_addr().map_err(|source| ServeError::Listen { addr: listen, source })?;
    tracing::info!("noriai listening on {local}");
    // HTTP/1.1 too: the /gtfs-rt/ feeds are fetched by plain HTTP clients.
    let mut server = tonic::transport::Server::builder().accept_http1(true);
    if let Some(tls) = &tls {
        let identity = tonic::transport::Identity::from_pem(&tls.cert_pem, &tls.key_pem);
        server = server.tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))?;
    }
    // No Nagle delay: a large answer (journeys, manifests) would otherwise
    // wait for the client's delayed acknowledgement, about 40 ms.
    let incoming =
        tokio_stream::StreamExt::map(tokio_stream::wrappers::TcpListenerStream::new(listener), |conn| {
            conn.inspect(|c| {
                if let Err(e) = c.set_nodelay(true) {
                    tracing::debug!("TCP_NODELAY: {e}");
                }
            })
        });
    let scheme = if tls.is_some() { "TLS" } else { "plaintext" };
    eprintln!("noriai serving gRPC on {local} ({scheme}; tokens required; reflection and health open)");
    let console = Arc::new(web::Web::new(
        gate.clone(),
        store.clone(),
        towns.clone(),
        roads.clone(),
        live,
        tls.is_some() || !local.ip().is_loopback(),
    ));
    let http_routes = realtime::router(towns.clone()).merge(web::router(console));
    eprintln!(
        "operator console on {}://{local}/ (driver view: /driver)",
        if tls.is_some() { "https" } else { "http" }
    );
    server
        .layer(auth::AuthLayer { gate: gate.clone() })
        .add_routes(tonic::service::Routes::from(http_routes))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(RiderServiceServer::new(riders::Riders { towns: towns.clone(), roads: roads.clone() }))
        .add_service(FleetServiceServer::new(fleet::Fleet { towns: towns.clone(), roads: roads.clone() }))
        .add_service(BookingServiceServer::new(booking::Bookings { towns: towns.clone() }))
        .add_service(OperationsServiceServer::new(operations::Operations {
            towns: towns.clone(),
            roads: roads.clone(),
        }))
        .add_service(DriverServiceServer::new(driver::Drivers {
            towns: towns.clone(),
            roads: roads.clone(),
            rules: live,
        }))
        .add_service(JourneyServiceServer::new(journeys::JourneyApi {
            towns: towns.clone(),
            roads: roads.clone(),
            timetables: timetables.clone(),
        }))
        .add_service(TimetableServiceServer::new(timetable::TimetableApi { timetables }))
        .add_service(AccountServiceServer::new(accounts::Accounts { towns, gate }))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}

/// How often the store watch asks the database whether it answers.
const STORE_WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Asks the database every few seconds whether it answers. While it does
/// not, gRPC health reports NOT_SERVING (for the whole server and for the
/// services that need the database), so a load balancer or an operator's
/// console sees it, and quotes stop waiting for it; all turns back by itself.
async fn watch_store(store: Store, health: tonic_health::server::HealthReporter, towns: Arc<towns::Towns>) {
    use tonic_health::ServingStatus;
    let mut up = true;
    let mut tick = tokio::time::interval(STORE_WATCH_INTERVAL);
    loop {
        tick.tick().await;
        let answers = tokio::time::timeout(noriai_store::ACQUIRE_TIMEOUT, store.ping()).await;
        let now_up = matches!(answers, Ok(Ok(())));
        if now_up == up {
            continue;
        }
        up = now_up;
        let status = if up { ServingStatus::Serving } else { ServingStatus::NotServing };
        health.set_service_status("", status).await;
        for service in [
            <RiderServiceServer<riders::Riders> as tonic::server::NamedService>::NAME,
            <FleetServiceServer<fleet::Fleet> as tonic::server::NamedService>::NAME,
            <BookingServiceServer<booking::Bookings> as tonic::server::NamedService>::NAME,
            <AccountServiceServer<accounts::Accounts> as tonic::server::NamedService>::NAME,
            <DriverServiceServer<driver::Drivers> as tonic::server::NamedService>::NAME,
            <OperationsServiceServer<operations::Operations> as tonic::server::NamedService>::NAME,
        ] {
            health.set_service_status(service, status).await;
        }
        for town in towns.running() {
            town.dispatcher.set_store_reachable(up);
        }
        if up {
            tracing::info!("the booking database answers again");
        } else {
            tracing::error!("the booking database does not answer; bookings fail until it is back");
        }
    }
}

/// Every evening from 21:00 (Asia/Tokyo) re-plans the next day's pre-booked
/// rides of every service once, as a batch that keeps every promise, then
/// narrows each wide window to the final one (`FinalizeDay`); with a demo
/// fleet (`demo_store`), also keeps its shifts rolling.
async fn evening_work(towns: Arc<towns::Towns>, demo_store: Option<Store>) {
    use noriai_model::service::ServiceDay;
    let mut done: Option<ServiceDay> = None;
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        let now = now_unix();
        let today = ServiceDay::of_unix(now);
        let tomorrow = today.next();
        if now - today.midnight_unix() >= i64::from(dispatcher::EVENING_S) && done != Some(tomorrow) {
            let towns = match towns.all().await {
                Ok(towns) => towns,
                Err(e) => {
                    tracing::warn!("cannot read the services for the evening re-plan: {e}");
                    continue;
                }
            };
            for town in towns {
                let service = town.service.id;
                if let Some(store) = demo_store.as_ref().filter(|s| s.service() == service) {
                    match demo::keep_demo_shifts(store).await {
                        Ok(0) => {}
                        Ok(_) => {
                            let _ = town.dispatcher.fleet_changed().await;
                        }
                        Err(e) => tracing::warn!("could not extend the demo shifts: {e}"),
                    }
                }
                match town.dispatcher.replan(tomorrow, 30.0).await {
                    Ok(s) => tracing::info!(
                        service,
                        day = %tomorrow,
                        bookings = s.bookings,
                        applied = s.applied,
                        "evening re-plan"
                    ),
                    Err(e) => tracing::warn!(service, day = %tomorrow, "evening re-plan failed: {e}"),
                }
                // Then every rider who booked in advance gets the final window.
                match town.dispatcher.finalize(tomorrow).await {
                    Ok(told) => tracing::info!(
                        service,
                        day = %tomorrow,
                        riders = told.len(),
                        "riders to tell their final window"
                    ),
                    Err(e) => {
                        tracing::warn!(service, day = %tomorrow, "setting the final windows failed: {e}")
                    }
                }
            }
            done = Some(tomorrow);
        }
    }
}
