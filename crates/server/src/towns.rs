//! The services (municipalities) one deployment runs. Each has its own view
//! of the store and its own dispatcher task, so one town's bookings never
//! wait behind another's and no handler can reach another town's records.

use crate::ServicePolicy;
use crate::dispatcher::{Dispatcher, DispatcherHandle, Maps};
use noriai_model::service::TownService;
use noriai_store::{Store, StoreError};
use noriai_zones::{ServiceArea, ZoneError};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// One running service: its record, its store view and its dispatcher
/// (shared: handlers take an `Arc` of it per call).
pub struct Town {
    pub service: TownService,
    pub store: Store,
    pub dispatcher: DispatcherHandle,
}

#[derive(Debug, thiserror::Error)]
pub enum TownError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored service area of service {service}: {source}")]
    Area { service: i64, source: ZoneError },
}

/// Every service's [`Town`], started on first use (or at start).
pub struct Towns {
    root: Store,
    maps: Maps,
    policy: ServicePolicy,
    running: RwLock<HashMap<i64, Arc<Town>>>,
}

impl Towns {
    pub fn new(root: Store, maps: Maps, policy: ServicePolicy) -> Towns {
        Towns { root, maps, policy, running: RwLock::new(HashMap::new()) }
    }

    /// Service `id`, starting its dispatcher if it is not running yet
    /// ([`StoreError::NotFound`] if there is no such service).
    pub async fn get(&self, id: i64) -> Result<Arc<Town>, TownError> {
        if let Some(town) = self.running.read().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return Ok(town.clone());
        }
        let service = self.root.get_service(id).await?;
        let store = self.root.for_service(id);
        let area = match store.service_area().await? {
            Some((res, cells)) => Some(
                ServiceArea::from_cells(res, &cells)
                    .map_err(|source| TownError::Area { service: id, source })?,
            ),
            None => None,
        };
        let mut running = self.running.write().unwrap_or_else(|e| e.into_inner());
        // Another call may have started it meanwhile: keep that one.
        let town = running.entry(id).or_insert_with(|| {
            let policy = self.policy.with_rules(service.rules);
            tracing::info!(service = id, "dispatcher started");
            Arc::new(Town {
                dispatcher: Dispatcher::spawn(self.maps.clone(), store.clone(), area, policy),
                service,
                store,
            })
        });
        Ok(town.clone())
    }

    /// The service `caller` acts in, started.
    pub async fn of(&self, caller: &crate::auth::Caller) -> Result<Arc<Town>, tonic::Status> {
        self.of_id(caller.service()?).await
    }

    /// Service `id`, started, or the status to answer with.
    pub async fn of_id(&self, id: i64) -> Result<Arc<Town>, tonic::Status> {
        self.get(id).await.map_err(|e| town_status(id, e))
    }

    /// Every service, each started.
    pub async fn all(&self) -> Result<Vec<Arc<Town>>, TownError> {
        let mut towns = Vec::new();
        for service in self.root.list_services().await? {
            towns.push(self.get(service.id).await?);
        }
        Ok(towns)
    }

    /// The services started so far.
    pub fn running(&self) -> Vec<Arc<Town>> {
        let running = self.running.read().unwrap_or_else(|e| e.into_inner());
        let mut towns: Vec<Arc<Town>> = running.values().cloned().collect();
        towns.sort_by_key(|t| t.service.id);
        towns
    }

    /// The store as the whole deployment sees it (services, tokens).
    pub fn root(&self) -> &Store {
        &self.root
    }
}

/// The answer for a service that cannot be started.
fn town_status(id: i64, e: TownError) -> tonic::Status {
    match e {
        TownError::Store(StoreError::NotFound { .. }) => tonic::Status::not_found(format!(
            "{}: there is no service {id} (AccountService.ListServices lists them)",
            crate::auth::SERVICE_HEADER
        )),
        TownError::Store(e) => crate::errors::store_status(e),
        e @ TownError::Area { .. } => {
            tracing::error!(service = id, "{e}");
            tonic::Status::internal(format!("the stored service area of service {id} is damaged"))
        }
    }
}
