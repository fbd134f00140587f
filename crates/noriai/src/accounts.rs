//! `noriai token`, `noriai audit` and `noriai rider`: tokens, the audit
//! trail and riders' data requests, worked on the same database as a
//! running `noriai serve` (`--data-dir` or `--db`).

use crate::say;
use anyhow::Context;
use noriai_model::access::{AuditAction, AuditEntry, Role};
use noriai_server::accounts::{NewToken, create_token, export_rider, local_date_time};
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
}

impl StoreArgs {
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
        /// The service (municipality); may be left out while the deployment has one.
        #[arg(long)]
        service: Option<i64>,
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
            TokenCommand::Create { role, vehicle, rider, service, name, expires_days } => {
                let role = Role::from_name(&role).with_context(|| {
                    format!("unknown role `{role}`; use admin, operator, driver, planner or rider")
                })?;
                if let Some(s) = service.filter(|&s| s != 1) {
                    anyhow::bail!("no service {s}: this deployment has one service, 1");
                }
                let new = NewToken { role, vehicle, rider, name, expires_days };
                let (token, secret) = create_token(&store, &new).await?;
                eprintln!(
                    "created token {} ({}); keep the secret below, it is not stored",
                    token.id, token.role
                );
                say!("{secret}");
            }
            TokenCommand::List => {
                say!("{:>4}  {:<8}  {:<12}  {:<19}  {:<19}  name", "id", "role", "scope", "created", "state");
                let now = noriai_server::now_unix();
                for t in store.list_tokens().await? {
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
                        "{:>4}  {:<8}  {:<12}  {:<19}  {:<19}  {}",
                        t.id,
                        t.role.name(),
                        scope,
                        local_date_time(t.created_at),
                        state,
                        t.name
                    );
                }
            }
            TokenCommand::Revoke { id } => {
                let t = store.revoke_token(id, noriai_server::now_unix()).await?;
                say!("token {} ({}) revoked; a running server stops accepting it within 5 s", t.id, t.role);
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
    let (runtime, store) = a.store.open()?;
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
    let (runtime, store) = a.store.open()?;
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
