//! `noriai service`, `noriai token`, `noriai login`, `noriai audit` and
//! `noriai rider`: services (municipalities), tokens, console logins, the audit trail and riders' data
//! requests, worked on the same database as a running `noriai serve`
//! (`--data-dir` or `--db`).

use crate::say;
use anyhow::Context;
use noriai_model::access::{AuditAction, AuditEntry, Role};
use noriai_model::service::BookingRules;
use noriai_server::accounts::{
    NewLogin, NewToken, create_login, create_service, create_token, export_rider, local_date_time,
};
use noriai_store::Store;
use std::path::PathBuf;

/// Which database: the same flags as `noriai serve`.
#[derive(clap::Args)]
pub struct StoreArgs {
    /// Database URL: `sqlite://FILE` or `postgres://user:pass@host/db`
    /// [default: SQLite in the data directory].
    #[arg(long, global = true)]
    pub db: Option<String>,
    /// Directory of the embedded database.
    #[arg(long, default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// The service (municipality) to work in [default: the only one there is].
    #[arg(long, global = true)]
    pub service: Option<i64>,
}

impl StoreArgs {
    /// The whole database (every service).
    pub(crate) fn open_all(&self) -> anyhow::Result<(tokio::runtime::Runtime, Store)> {
        self.open()
    }

    fn open(&self) -> anyhow::Result<(tokio::runtime::Runtime, Store)> {
        if self.db.is_none() && !crate::embedded_db(&self.data_dir).exists() {
            anyhow::bail!(
                "no database in {}; start `noriai serve --data-dir {}` once, or give --db",
                self.data_dir.display(),
                self.data_dir.display()
            );
        }
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let url = crate::database_url(self.db.as_deref(), &self.data_dir);
        let store =
            runtime.block_on(Store::connect(&url)).with_context(|| format!("opening database {url}"))?;
        Ok((runtime, store))
    }

    /// The database seen as the service of `--service`, or as the only one.
    pub(crate) fn open_service(&self) -> anyhow::Result<(tokio::runtime::Runtime, Store)> {
        let (runtime, root) = self.open()?;
        let store = runtime.block_on(self.service_of(&root))?;
        Ok((runtime, store))
    }

    async fn service_of(&self, root: &Store) -> anyhow::Result<Store> {
        let services = root.list_services().await?;
        let id = match (self.service, services.as_slice()) {
            (Some(id), _) if services.iter().any(|s| s.id == id) => id,
            (Some(id), _) => anyhow::bail!("there is no service {id}; `noriai service list` lists them"),
            (None, [only]) => only.id,
            (None, _) => anyhow::bail!(
                "this deployment has {} services; name one with --service (`noriai service list`)",
                services.len()
            ),
        };
        Ok(root.for_service(id))
    }
}

#[derive(clap::Subcommand)]
pub enum ServiceCommand {
    /// Add a service (a municipality's on-demand service); prints its id.
    Create {
        /// Its name, e.g. "Shingo Village demand taxi".
        #[arg(long)]
        name: String,
        /// The name's reading in kana.
        #[arg(long)]
        kana: String,
        /// The number riders call to book.
        #[arg(long, default_value = "")]
        phone: String,
        /// Rides may be booked up to this many days ahead (0-366).
        #[arg(long, default_value_t = BookingRules::default().book_days_ahead)]
        days_ahead: u32,
        /// Booking closes this many minutes before the asked time (0-1440).
        #[arg(long, default_value_t = BookingRules::default().cutoff_minutes)]
        cutoff_minutes: u32,
        /// The window (minutes either side) told to riders booking for a later day (0-720).
        #[arg(long, default_value_t = BookingRules::default().prebooking_window_minutes)]
        window_minutes: u32,
        /// The fare per rider, in yen (0: free).
        #[arg(long, default_value_t = 0)]
        fare_yen: u32,
    },
    /// List the services.
    List,
}

#[derive(clap::Args)]
pub struct ServiceArgs {
    #[command(subcommand)]
    pub command: ServiceCommand,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub fn service(a: ServiceArgs) -> anyhow::Result<()> {
    let (runtime, store) = a.store.open()?;
    runtime.block_on(async {
        match a.command {
            ServiceCommand::Create {
                name,
                kana,
                phone,
                days_ahead,
                cutoff_minutes,
                window_minutes,
                fare_yen,
            } => {
                let rules = BookingRules {
                    book_days_ahead: days_ahead,
                    cutoff_minutes,
                    prebooking_window_minutes: window_minutes,
                };
                let created = create_service(&store, &name, &kana, &phone, rules, fare_yen)
                    .await
                    .map_err(|status| anyhow::anyhow!("{}", status.message()))?;
                eprintln!(
                    "created service {} ({}); a running server takes it at once",
                    created.id, created.name
                );
                say!("{}", created.id);
            }
            ServiceCommand::List => {
                say!(
                    "{:>4}  {:<16}  {:>5}  {:>6}  {:>6}  {:>7}  name (reading)",
                    "id",
                    "phone",
                    "days",
                    "cutoff",
                    "window",
                    "fare"
                );
                for s in store.list_services().await? {
                    say!(
                        "{:>4}  {:<16}  {:>5}  {:>6}  {:>6}  {:>7}  {} ({})",
                        s.id,
                        s.operator_phone,
                        s.rules.book_days_ahead,
                        s.rules.cutoff_minutes,
                        s.rules.prebooking_window_minutes,
                        format!("{} yen", s.fare_yen),
                        s.name,
                        s.name_kana
                    );
                }
            }
        }
        store.close().await;
        Ok(())
    })
}

#[derive(clap::Subcommand)]
pub enum TokenCommand {
    /// Create a token; its secret is printed once, as the last line.
    Create {
        /// admin, operator, driver, planner or rider.
        #[arg(long)]
        role: String,
        /// The vehicle a driver token drives.
        #[arg(long)]
        vehicle: Option<i64>,
        /// The rider a rider token belongs to.
        #[arg(long)]
        rider: Option<i64>,
        /// An admin of every service (the token names the service of each
        /// call in the `x-noriai-service` header) instead of --service's.
        #[arg(long, conflicts_with = "service")]
        all_services: bool,
        /// Who holds it ("Sato, morning shift").
        #[arg(long, default_value = "")]
        name: String,
        /// Days until it expires [default: never].
        #[arg(long)]
        expires_days: Option<u32>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by its id.
    Revoke { id: i64 },
}

#[derive(clap::Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub fn token(a: TokenArgs) -> anyhow::Result<()> {
    let (runtime, store) = a.store.open()?;
    runtime.block_on(async {
        match a.command {
            TokenCommand::Create { role, vehicle, rider, all_services, name, expires_days } => {
                let role = Role::from_name(&role).with_context(|| {
                    format!("unknown role `{role}`; use admin, operator, driver, planner or rider")
                })?;
                let service = match all_services {
                    true if role != Role::Admin => anyhow::bail!("only admin tokens act in every service"),
                    true => None,
                    false => Some(a.store.service_of(&store).await?.service()),
                };
                let new = NewToken { role, service, vehicle, rider, name, expires_days };
                let (token, secret) = create_token(&store, &new).await?;
                eprintln!(
                    "created token {} ({}); keep the secret below, it is not stored",
                    token.id, token.role
                );
                say!("{secret}");
            }
            TokenCommand::List => {
                say!(
                    "{:>4}  {:>7}  {:<8}  {:<12}  {:<19}  {:<19}  name",
                    "id",
                    "service",
                    "role",
                    "scope",
                    "created",
                    "state"
                );
                let now = noriai_server::now_unix();
                for t in store.list_tokens(a.store.service).await? {
                    let scope = match t.scope {
                        noriai_model::access::Scope::Service => "service".to_string(),
                        noriai_model::access::Scope::Vehicle(v) => format!("vehicle {v}"),
                        noriai_model::access::Scope::Rider(r) => format!("rider {r}"),
                    };
                    let state = match (t.revoked_at, t.expires_at) {
                        (Some(at), _) => format!("revoked {}", local_date_time(at)),
                        (None, Some(at)) if at <= now => format!("expired {}", local_date_time(at)),
                        (None, Some(at)) => format!("until {}", local_date_time(at)),
                        (None, None) => "active".into(),
                    };
                    say!(
                        "{:>4}  {:>7}  {:<8}  {:<12}  {:<19}  {:<19}  {}",
                        t.id,
                        t.service.map_or("all".to_string(), |s| s.to_string()),
                        t.role.name(),
                        scope,
                        local_date_time(t.created_at),
                        state,
                        t.name
                    );
                }
            }
            TokenCommand::Revoke { id } => {
                let t = store.revoke_token(id, None, noriai_server::now_unix()).await?;
                say!("token {} ({}) revoked; a running server stops accepting it within 5 s", t.id, t.role);
            }
        }
        store.close().await;
        Ok(())
    })
}

#[derive(clap::Subcommand)]
pub enum LoginCommand {
    /// Create a console login; the password is read from the first line of
    /// standard input (`read -s P; echo "$P" | noriai login add …`).
    Add {
        /// What the person types to log in, e.g. "sato".
        #[arg(long)]
        name: String,
        /// admin, operator, driver or planner.
        #[arg(long)]
        role: String,
        /// The vehicle a driver login drives.
        #[arg(long)]
        vehicle: Option<i64>,
    },
    /// List console logins (never their passwords).
    List,
    /// Disable a login by name; its open sessions end with it.
    Disable { name: String },
}

#[derive(clap::Args)]
pub struct LoginArgs {
    #[command(subcommand)]
    pub command: LoginCommand,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub fn login(a: LoginArgs) -> anyhow::Result<()> {
    let (runtime, store) = a.store.open()?;
    runtime.block_on(async {
        match a.command {
            LoginCommand::Add { name, role, vehicle } => {
                let role = Role::from_name(&role).with_context(|| {
                    format!("unknown role `{role}`; use admin, operator, driver or planner")
                })?;
                let mut password = String::new();
                std::io::stdin()
                    .read_line(&mut password)
                    .context("reading the password from standard input")?;
                let password = password.trim_end_matches(['\r', '\n']).to_string();
                let service = a.store.service_of(&store).await?.service();
                let new = NewLogin { name, password, role, service: Some(service), vehicle };
                let login = create_login(&store, &new).await?;
                say!("created login {} ({}, service {service})", login.name, login.role);
            }
            LoginCommand::List => {
                say!(
                    "{:>4}  {:>7}  {:<8}  {:<12}  {:<19}  name",
                    "id",
                    "service",
                    "role",
                    "vehicle",
                    "state"
                );
                for l in store.list_logins(a.store.service).await? {
                    let state = l
                        .disabled_at
                        .map_or("active".to_string(), |t| format!("disabled {}", local_date_time(t)));
                    say!(
                        "{:>4}  {:>7}  {:<8}  {:<12}  {:<19}  {}",
                        l.id,
                        l.service.map_or("all".to_string(), |s| s.to_string()),
                        l.role.name(),
                        l.scope.vehicle().map_or("-".to_string(), |v| v.to_string()),
                        state,
                        l.name
                    );
                }
            }
            LoginCommand::Disable { name } => {
                let now = noriai_server::now_unix();
                let login = store.disable_login(&name, None, now).await?;
                // Its sessions count as revoked from now on (see token_by_digest).
                say!("login {} disabled; a running server ends its open sessions within 5 s", login.name);
            }
        }
        store.close().await;
        Ok(())
    })
}

#[derive(clap::Args)]
pub struct AuditArgs {
    /// Only entries about this rider and their bookings [default: the latest of all].
    #[arg(long)]
    pub rider: Option<i64>,
    /// At most this many entries.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub fn audit(a: AuditArgs) -> anyhow::Result<()> {
    let (runtime, store) = a.store.open_service()?;
    runtime.block_on(async {
        let entries = match a.rider {
            Some(id) => store.audit_of_rider(id, a.limit).await?,
            None => store.recent_audit(a.limit).await?,
        };
        say!(
            "{:<19}  {:>5}  {:<8}  {:<6}  {:>6}  {:>7}  call",
            "when (JST)",
            "token",
            "role",
            "action",
            "rider",
            "booking"
        );
        for e in entries {
            let opt = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
            say!(
                "{:<19}  {:>5}  {:<8}  {:<6}  {:>6}  {:>7}  {}",
                local_date_time(e.at),
                e.token_id,
                e.role.name(),
                e.action.name(),
                opt(e.rider_id),
                opt(e.booking_id),
                e.rpc
            );
        }
        store.close().await;
        Ok(())
    })
}

#[derive(clap::Subcommand)]
pub enum RiderCommand {
    /// Print one rider's data (profile, bookings, audit entries) as JSON: an APPI disclosure request.
    Export { id: i64 },
    /// Erase one rider's personal data (APPI); bookings stay for statistics without it.
    Erase {
        id: i64,
        /// Confirm: erasing cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(clap::Args)]
pub struct RiderArgs {
    #[command(subcommand)]
    pub command: RiderCommand,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub fn rider(a: RiderArgs) -> anyhow::Result<()> {
    let (runtime, store) = a.store.open_service()?;
    runtime.block_on(async {
        match a.command {
            RiderCommand::Export { id } => {
                command_line_audit(&store, "noriai rider export", AuditAction::Read, id).await?;
                let data = export_rider(&store, id).await?;
                say!("{}", serde_json::to_string_pretty(&data)?);
            }
            RiderCommand::Erase { id, yes } => {
                if !yes {
                    anyhow::bail!("erasing rider {id} cannot be undone; run again with --yes to confirm");
                }
                command_line_audit(&store, "noriai rider erase", AuditAction::Change, id).await?;
                let now = noriai_server::now_unix();
                let today = noriai_model::service::ServiceDay::of_unix(now);
                let stripped = store.erase_rider(id, today, now).await?;
                say!("rider {id} erased; {stripped} bookings kept for statistics without personal data");
            }
        }
        store.close().await;
        Ok(())
    })
}

/// The audit entry of a command run on the server's machine: no token, so
/// token 0 with the admin role (whoever can open the database can do
/// anything), and the command as the call.
async fn command_line_audit(
    store: &Store,
    command: &str,
    action: AuditAction,
    rider: i64,
) -> anyhow::Result<()> {
    let entry = AuditEntry {
        id: 0,
        at: noriai_server::now_unix(),
        token_id: 0,
        role: Role::Admin,
        rpc: command.to_string(),
        action,
        rider_id: Some(rider),
        booking_id: None,
    };
    store.append_audit(&[entry]).await.context("recording the access in the audit trail")?;
    Ok(())
}
