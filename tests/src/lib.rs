//! Harness for end-to-end tests: starts the real `noriai` binary on a free
//! port with its own data directory, connects real gRPC clients, and kills it
//! with SIGKILL when asked (or when dropped).

use noriai_server::pb;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Adds `authorization: Bearer <token>` to every call, and the service it
/// acts in when one is named.
#[derive(Clone)]
pub struct Bearer {
    token: MetadataValue<Ascii>,
    service: Option<MetadataValue<Ascii>>,
}

impl Bearer {
    pub fn new(token: &str) -> Bearer {
        Bearer { token: format!("Bearer {}", token.trim()).parse().expect("a token is ASCII"), service: None }
    }

    /// Calls that name `service` in the `x-noriai-service` header.
    pub fn in_service(token: &str, service: i64) -> Bearer {
        Bearer { service: Some(service.to_string().parse().expect("digits")), ..Bearer::new(token) }
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.token.clone());
        if let Some(service) = &self.service {
            req.metadata_mut().insert(noriai_server::auth::SERVICE_HEADER, service.clone());
        }
        Ok(req)
    }
}

/// A channel whose calls carry a token.
pub type Authed = InterceptedService<Channel, Bearer>;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `noriai` binary, built from the current sources on first use: the
/// harness runs `cargo build -p noriai --bin noriai` itself (the same build as
/// `scripts/test`, so a no-op there) and takes the executable cargo reports,
/// so a stale binary can never stand in for the code under test.
pub fn binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let out = Command::new(cargo)
                .current_dir(repo_root())
                .args([
                    "build",
                    "-p",
                    "noriai",
                    "--bin",
                    "noriai",
                    "--message-format=json-render-diagnostics",
                ])
                .stderr(Stdio::inherit())
                .output()
                .expect("run cargo build");
            assert!(out.status.success(), "cargo build -p noriai --bin noriai failed");
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "noriai")
                .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
                .expect("cargo build reported the noriai executable")
        })
        .clone()
}

/// A running `noriai serve`.
pub struct Server {
    child: Child,
    pub addr: String,
    pub data_dir: PathBuf,
    /// Everything the server wrote to stderr so far (its logs).
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `noriai serve` on a free port with `data_dir`, waiting until it listens.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        Self::start_binary(&binary(), data_dir, extra)
    }

    /// Like [`Server::start`] with a given `noriai` binary (benches use the release build).
    pub fn start_binary(bin: &Path, data_dir: &Path, extra: &[&str]) -> Server {
        Self::start_with(bin, data_dir, extra, &[])
    }

    /// Like [`Server::start`] with environment variables (`RUST_LOG`, …).
    pub fn start_with_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        Self::start_with(&binary(), data_dir, extra, env)
    }

    fn start_with(bin: &Path, data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        std::fs::create_dir_all(data_dir).expect("data dir");
        let listen = if extra.contains(&"--listen") { &[][..] } else { &["--listen", "127.0.0.1:0"][..] };
        let mut child = Command::new(bin)
            .current_dir(repo_root())
            .arg("serve")
            .args(listen)
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start noriai serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut kept) = kept.lock() {
                    kept.push(line.clone());
                }
                if let Some(rest) = line.split("serving gRPC on ").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or_default().to_string();
                    let _ = tx.send(Ok(addr));
                } else if line.starts_with("error") {
                    let _ = tx.send(Err(line));
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(Ok(addr)) => addr,
            Ok(Err(line)) => panic!("noriai serve failed: {line}"),
            Err(e) => panic!("noriai serve did not start: {e}"),
        };
        Server { child, addr, data_dir: data_dir.to_path_buf(), log }
    }

    /// The server's process id (to read its memory, for example).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown handler runs, nothing is flushed.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr)).expect("uri").connect().await.expect("connect")
    }

    /// The admin token `noriai serve` wrote on first start.
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("admin.token")).expect("admin.token").trim().to_string()
    }

    /// A token made with `noriai token create` against this server's data
    /// directory (`args`: `--role driver --vehicle 1`, …).
    pub fn create_token(&self, args: &[&str]) -> String {
        let out = Command::new(binary())
            .args(["token", "create", "--data-dir"])
            .arg(&self.data_dir)
            .args(args)
            .output()
            .expect("run noriai token create");
        assert!(out.status.success(), "token create failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().last().expect("the secret").trim().to_string()
    }

    /// Clients acting as the first admin.
    pub async fn clients(&self) -> Clients {
        self.clients_as(&self.admin_token()).await
    }

    /// Clients whose calls carry `token`.
    pub async fn clients_as(&self, token: &str) -> Clients {
        Clients::over(self.channel().await, token)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone)]
pub struct Clients {
    pub riders: pb::rider_service_client::RiderServiceClient<Authed>,
    pub fleet: pb::fleet_service_client::FleetServiceClient<Authed>,
    pub booking: pb::booking_service_client::BookingServiceClient<Authed>,
    pub accounts: pb::account_service_client::AccountServiceClient<Authed>,
}

impl Clients {
    /// Clients on `channel` whose calls carry `token`.
    pub fn over(channel: Channel, token: &str) -> Clients {
        Self::with(channel, Bearer::new(token))
    }

    /// Clients on `channel` whose calls carry `token` and name `service`.
    pub fn in_service(channel: Channel, token: &str, service: i64) -> Clients {
        Self::with(channel, Bearer::in_service(token, service))
    }

    fn with(channel: Channel, bearer: Bearer) -> Clients {
        let authed = InterceptedService::new(channel, bearer);
        Clients {
            riders: pb::rider_service_client::RiderServiceClient::new(authed.clone()),
            fleet: pb::fleet_service_client::FleetServiceClient::new(authed.clone()),
            booking: pb::booking_service_client::BookingServiceClient::new(authed.clone()),
            accounts: pb::account_service_client::AccountServiceClient::new(authed),
        }
    }
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("noriai-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

pub fn ll(lat: f64, lon: f64) -> Option<pb::LatLon> {
    Some(pb::LatLon { lat, lon })
}

pub fn point(lat: f64, lon: f64) -> Option<pb::Place> {
    Some(pb::Place { kind: Some(pb::place::Kind::Point(pb::LatLon { lat, lon })), label: String::new() })
}

/// Unix time of `hh:mm` local (Asia/Tokyo) time, `days` after today.
pub fn local_time(days: i32, hh: u32, mm: u32) -> i64 {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    let today = noriai_model::service::ServiceDay::of_unix(now);
    noriai_model::service::ServiceDay(today.0 + days).at(hh * 3600 + mm * 60)
}

/// Whether a ride leaving `lead_s` from now and taking up to `ride_s` fits
/// today's demo shifts (07:00–19:00 Asia/Tokyo): tests on the demo fleet's
/// live day skip outside them, since no ride can be booked then.
pub fn inside_demo_shifts(lead_s: i64, ride_s: i64) -> bool {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    let depart = now + lead_s;
    depart >= local_time(0, 7, 0) && depart + ride_s <= local_time(0, 19, 0)
}

pub fn ts(unix: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: unix, nanos: 0 }
}

/// The service day string `days` after today.
pub fn day(days: i32) -> String {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    noriai_model::service::ServiceDay(noriai_model::service::ServiceDay::of_unix(now).0 + days).to_string()
}

/// Places in Liechtenstein (the bundled map): village centres on real roads.
pub const PLACES: [(f64, f64); 6] = [
    (47.1410, 9.5215), // Vaduz
    (47.1650, 9.5100), // Schaan
    (47.1070, 9.5280), // Triesen
    (47.0660, 9.5030), // Balzers
    (47.2100, 9.5220), // Eschen
    (47.2330, 9.5500), // Ruggell area
];

pub async fn register(c: &mut Clients, name: &str, kana: &str, phone: &str, home: (f64, f64)) -> pb::Rider {
    c.riders
        .register_rider(pb::RegisterRiderRequest {
            name: name.into(),
            name_kana: kana.into(),
            phone: phone.into(),
            home_address: String::new(),
            home: ll(home.0, home.1),
            needs: None,
        })
        .await
        .expect("register")
        .into_inner()
}

pub fn trip(rider: i64, from: (f64, f64), to: (f64, f64), depart: i64, seats: u32) -> pb::Trip {
    pb::Trip {
        rider_id: rider,
        origin: point(from.0, from.1),
        destination: point(to.0, to.1),
        time: Some(pb::trip::Time::DepartAfter(ts(depart))),
        seats: Some(seats),
        wheelchair_places: Some(0),
    }
}

/// A fresh PostgreSQL database for one test, dropped afterwards. The server
/// comes from `NORIAI_TEST_POSTGRES_URL` (set by `scripts/test`), or the
/// default local one `scripts/postgres` starts.
pub struct PostgresDb {
    admin: String,
    name: String,
    pub url: String,
}

impl PostgresDb {
    pub fn create(tag: &str) -> PostgresDb {
        let admin = std::env::var("NORIAI_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "postgres://noriai:noriai@127.0.0.1:5432/noriai".into());
        Self::create_at(&admin, tag)
    }

    /// A fresh database on the server of `admin` (a URL whose role may create databases).
    pub fn create_at(admin: &str, tag: &str) -> PostgresDb {
        let admin = admin.to_string();
        let name = format!("noriai_e2e_{tag}_{}", std::process::id());
        let (base, _) = admin.rsplit_once('/').expect("a postgres URL ends with /DATABASE");
        let url = format!("{base}/{name}");
        let db = PostgresDb { admin, name, url };
        db.psql(&format!("DROP DATABASE IF EXISTS {}", db.name));
        db.psql(&format!("CREATE DATABASE {}", db.name));
        db
    }

    fn psql(&self, sql: &str) {
        let out = Command::new("psql").arg(&self.admin).arg("-qc").arg(sql).output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => panic!(
                "psql `{sql}` failed: {}; start PostgreSQL with scripts/postgres or set NORIAI_TEST_POSTGRES_URL",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!("cannot run psql ({e}); PostgreSQL's client is needed for this test"),
        }
    }
}

impl Drop for PostgresDb {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(&self.admin)
            .arg("-qc")
            .arg(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .output();
    }
}

/// A TCP proxy on loopback in front of a database, which a test can cut
/// (every open connection dropped, new ones closed at once) and restore: a
/// database outage that touches no other test.
pub struct DbProxy {
    /// The database URL with the proxy's address in place of the server's.
    pub url: String,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl DbProxy {
    /// Proxies `url` (`scheme://user:pass@host:port/db`).
    pub async fn start(url: &str) -> DbProxy {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let (scheme_user, rest) = url.rsplit_once('@').expect("a URL with user@host:port");
        let (upstream, db) = rest.split_once('/').expect("host:port/db");
        let upstream = upstream.to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let local = listener.local_addr().expect("proxy address");
        let up = std::sync::Arc::new(AtomicBool::new(true));
        let generation = std::sync::Arc::new(AtomicU64::new(0));
        let (up2, gen2) = (up.clone(), generation.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let (upstream, up, generation) = (upstream.clone(), up2.clone(), gen2.clone());
                let mine = generation.load(Ordering::SeqCst);
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else { return };
                    let copy = tokio::io::copy_bidirectional(&mut client, &mut server);
                    tokio::pin!(copy);
                    loop {
                        tokio::select! {
                            _ = &mut copy => return,
                            _ = tokio::time::sleep(Duration::from_millis(50)) => {
                                if !up.load(Ordering::SeqCst) || generation.load(Ordering::SeqCst) != mine {
                                    return; // cut: both sockets close
                                }
                            }
                        }
                    }
                });
            }
        });
        DbProxy { url: format!("{scheme_user}@{local}/{db}"), up, generation, task }
    }

    /// The outage begins: open connections drop, new ones are closed at once.
    pub fn cut(&self) {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// The database is back.
    pub fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Sends bytes as they are and returns the answer's bytes.
#[derive(Debug, Clone, Default)]
pub struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

/// The bundled CobbLinc route-30 feed (it overlaps the Cobb County test
/// map) unpacked into `dir`, its weekday service running from a week ago
/// to two months ahead (shared by the journey test and bench).
pub fn cobblinc_30_this_year(dir: &Path) -> PathBuf {
    let out = dir.join("cobblinc-30");
    std::fs::create_dir_all(&out).expect("feed dir");
    let file =
        std::fs::File::open(repo_root().join("feeds/cobblinc-bus-30-only.gtfs.zip")).expect("feed zip");
    let mut zip = zip::ZipArchive::new(file).expect("zip");
    let today = chrono::Utc::now().date_naive();
    let (from, until) = (today - chrono::Duration::days(7), today + chrono::Duration::days(60));
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).expect("entry");
        let name = entry.name().to_string();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut entry, &mut text).expect("text");
        match name.as_str() {
            "calendar_dates.txt" => continue,
            "calendar.txt" => {
                let mut lines = text.lines();
                let mut moved = vec![lines.next().expect("header").to_string()];
                for line in lines.filter(|l| !l.trim().is_empty()) {
                    let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
                    let n = cells.len();
                    cells[n - 2] = from.format("%Y%m%d").to_string();
                    cells[n - 1] = until.format("%Y%m%d").to_string();
                    moved.push(cells.join(","));
                }
                text = moved.join("\n") + "\n";
            }
            _ => {}
        }
        std::fs::write(out.join(&name), text).expect("write");
    }
    out
}
