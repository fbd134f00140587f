//! RiderService: register, update, get and search riders.

use crate::auth::Caller;
use crate::convert::{self, invalid};
use crate::errors::store_status;
use crate::pb;
use crate::pb::rider_service_server::RiderService;
use crate::towns::Towns;
use noriai_model::access::AuditAction::{Change, Read};
use noriai_model::service::Rider;
use noriai_roads::RoadNetwork;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct Riders {
    pub towns: Arc<Towns>,
    pub roads: Arc<RoadNetwork>,
}

impl Riders {
    /// A home the vehicles cannot reach is refused now, not at the first quote.
    fn check_home(&self, rider: &Rider) -> Result<(), Status> {
        match self.roads.snap(rider.home) {
            Ok(_) => Ok(()),
            Err(e) => Err(invalid(
                "home",
                format!("{e}; give the point on the road where the vehicle can stop for this rider"),
            )),
        }
    }
}

fn rider_from(
    id: i64,
    name: &str,
    name_kana: &str,
    phone: &str,
    home_address: &str,
    home: Option<&pb::LatLon>,
    needs: Option<&pb::Needs>,
) -> Result<Rider, Status> {
    Ok(Rider {
        id,
        name: convert::required_text("name", name)?,
        name_kana: convert::reading("name_kana", name_kana)?,
        phone: convert::phone("phone", phone)?,
        home_address: convert::optional_text("home_address", home_address)?,
        home: convert::latlon("home", home)?,
        needs: convert::needs(needs)?,
    })
}

#[tonic::async_trait]
impl RiderService for Riders {
    async fn register_rider(
        &self,
        req: Request<pb::RegisterRiderRequest>,
    ) -> Result<Response<pb::Rider>, Status> {
        let caller = Caller::of(&req)?;
        let town = self.towns.of(&caller).await?;
        let r = req.into_inner();
        let rider = rider_from(
            0,
            &r.name,
            &r.name_kana,
            &r.phone,
            &r.home_address,
            r.home.as_ref(),
            r.needs.as_ref(),
        )?;
        self.check_home(&rider)?;
        let saved = town.store.insert_rider(&rider).await.map_err(store_status)?;
        caller.audit(&town.store, Change, &[saved.id], &[]).await?;
        tracing::info!(rider = saved.id, "rider registered");
        Ok(Response::new(convert::rider_to_pb(&saved)))
    }

    async fn update_rider(
        &self,
        req: Request<pb::UpdateRiderRequest>,
    ) -> Result<Response<pb::Rider>, Status> {
        let caller = Caller::of(&req)?;
        let town = self.towns.of(&caller).await?;
        let r = req.into_inner();
        if r.id <= 0 {
            return Err(invalid("id", "is required"));
        }
        let rider = rider_from(
            r.id,
            &r.name,
            &r.name_kana,
            &r.phone,
            &r.home_address,
            r.home.as_ref(),
            r.needs.as_ref(),
        )?;
        self.check_home(&rider)?;
        town.store.update_rider(&rider).await.map_err(store_status)?;
        caller.audit(&town.store, Change, &[rider.id], &[]).await?;
        Ok(Response::new(convert::rider_to_pb(&rider)))
    }

    async fn get_rider(&self, req: Request<pb::GetRiderRequest>) -> Result<Response<pb::Rider>, Status> {
        let caller = Caller::of(&req)?;
        let town = self.towns.of(&caller).await?;
        let id = req.into_inner().id;
        caller.may_see_rider(id)?;
        let r = town.store.get_rider(id).await.map_err(store_status)?;
        caller.audit(&town.store, Read, &[r.id], &[]).await?;
        Ok(Response::new(convert::rider_to_pb(&r)))
    }

    async fn search_riders(
        &self,
        req: Request<pb::SearchRidersRequest>,
    ) -> Result<Response<pb::SearchRidersResponse>, Status> {
        let caller = Caller::of(&req)?;
        let town = self.towns.of(&caller).await?;
        let r = req.into_inner();
        let given = |field: &str, s: &str| -> Result<Option<String>, Status> {
            if s.trim().is_empty() { Ok(None) } else { convert::required_text(field, s).map(Some) }
        };
        let (phone, name) = (given("phone", &r.phone)?, given("name", &r.name)?);
        let (phone, name) = (phone.as_deref(), name.as_deref());
        if phone.is_none() && name.is_none() {
            return Err(invalid("phone", "give a phone number or a name to search for"));
        }
        if let Some(p) = phone
            && noriai_store::phone_digits(p).is_empty()
        {
            return Err(invalid("phone", format!("`{}` has no digits", noriai_model::excerpt(p))));
        }
        let limit = match r.limit {
            0 => 20,
            n => n.min(100),
        };
        let riders = town.store.search_riders(phone, name, limit).await.map_err(store_status)?;
        let ids: Vec<i64> = riders.iter().map(|r| r.id).collect();
        caller.audit(&town.store, Read, &ids, &[]).await?;
        Ok(Response::new(pb::SearchRidersResponse {
            riders: riders.iter().map(convert::rider_to_pb).collect(),
        }))
    }
}
