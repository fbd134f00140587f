//! BookingService: quotes, bookings, cancellations, lists and recurring trips.
//! Decisions go through the dispatcher task; reads go straight to the store.

use crate::auth::Caller;
use crate::convert::{self, invalid};
use crate::dispatcher::{BookOptions, BookWhat};
use crate::driver::with_ride_status;
use crate::errors::store_status;
use crate::pb;
use crate::pb::booking_service_server::BookingService;
use crate::towns::{Town, Towns};
use noriai_model::access::AuditAction::{Change, Read};
use noriai_model::service::{
    Booking, ServiceDay, TripAsk, TripTime, local_hhmm, local_window, parse_time_of_day,
};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The longest cancellation reason kept.
const MAX_REASON_CHARS: usize = 500;

pub struct Bookings {
    pub towns: Arc<Towns>,
}

fn ids(bookings: &[Booking]) -> Vec<i64> {
    bookings.iter().map(|b| b.id).collect()
}

/// A stored booking the caller may see (riders: only their own).
async fn visible_booking(town: &Town, caller: &Caller, id: i64) -> Result<Booking, Status> {
    let b = town.store.get_booking(id).await.map_err(store_status)?;
    caller.may_see_rider(b.trip.rider_id)?;
    Ok(b)
}

#[tonic::async_trait]
impl BookingService for Bookings {
    async fn quote(&self, req: Request<pb::QuoteRequest>) -> Result<Response<pb::QuoteResponse>, Status> {
        let caller = Caller::of(&req)?;
        let town = self.towns.of(&caller).await?;
        let trip = convert::trip("trip", req.into_inner().trip.as_ref())?;
        caller.may_see_rider(trip.rider_id)?;
        let offers = town.dispatcher.quote(trip).await?;
        Ok(Response::new(pb::QuoteResponse {
            offers: offers
                .into_iter()
                .map(|o| pb::Offer {
                    offer_id: o.id,
                    pickup_window_start: convert::timestamp(o.pickup_window.0),
                    pickup_window_end: convert::timestamp(o.pickup_window.1),
                    expected_arrival: convert::timestamp(o.expected_arrival),
                    ride_minutes: (o.ride_minutes * 10.0).round() / 10.0,
                    day: ServiceDay::of_unix(o.pickup_window.0).to_string(),
                    pickup_window_local: local_window(o.pickup_window.0, o.pickup_window.1),
                    expected_arrival_local: local_hhmm(o.expected_arrival),
                    fare_yen: town.service.fare_yen.saturating_mul(o.riders),
                })
                .collect(),
        }))
    }

    async fn book(&self, req: Request<pb::BookRequest>) -> Result<Response<pb::Booking>, Status> {
        let caller = Caller::of(&req)?;
        let town = self.towns.of(&caller).await?;
        let r = req.into_inner();
        let key = convert::idempotency_key("idempotency_key", &r.idempotency_key)?;
        let what = match r.what {
            Some(pb::book_request::What::OfferId(id)) if id.len() > 100 => {
                return Err(invalid("offer_id", "is not an offer id from Quote (those are short)"));
            }
            Some(pb::book_request::What::OfferId(id)) if !id.trim().is_empty() => BookWhat::Offer(id),
            Some(pb::book_request::What::Trip(t)) => BookWhat::Trip(convert::trip("trip", Some(&t))?),
            _ => return Err(invalid("offer_id", "give an offer_id from Quote, or a trip to book directly")),
        };
        match &what {
            BookWhat::Trip(t) => caller.may_see_rider(t.rider_id)?,
            BookWhat::Offer(id) => match (town.dispatcher.offer_rider(id), caller.scope.rider()) {
                (Some(rider), _) => caller.may_see_rider(rider)?,
                // A rider's retry of a booked offer finds it by key, below.
                (None, Some(_)) if town.store.booking_by_key(&key).await.map_err(store_status)?.is_some() => {
                }
                (None, Some(_)) => {
                    return Err(Status::not_found("no such offer: quote again (offers are kept 10 minutes)"));
                }
                (None, None) => {}
            },
        }
        let options = BookOptions {
            recurrence: None,
            allow_overlap: r.allow_overlap,
            audit: Some(caller.entry(Change)),
        };
        let b = town.dispatcher.book(key, what, options).await?;
        // An idempotent retry answers with the stored booking: only its rider may see it.
        caller.may_see_rider(b.trip.rider_id)?;
        Ok(Response::new(convert::booking_to_pb(&b)))
    }

    async fn cancel(&self, req: Request<pb::CancelRequest>) -> Result<Response<pb::Booking>, Status> {
        let caller = Caller::of(&req)?;
        let town = self.towns.of(&caller).await?;
        let pb::CancelRequest { booking_id: id, reason } = req.into_inner();
        if id <= 0 {
            return Err(invalid("booking_id", "is required"));
        }
        let reason = reason.trim();
        if reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
            return Err(invalid("reason", format!("plain text of at most {MAX_REASON_CHARS} characters")));
        }
        visible_booking(&town, &caller, id).await?;
        let b = town.dispatcher.cancel(id, Some(caller.entry(Change)), reason.to_string()).await?;
        Ok(Response::new(convert::booking_to_pb(&b)))
    }

    async fn get_booking(
        &self,
        req: Request<pb::GetBookingRequest>,
    ) -> Result<Response<pb::Booking>, Status> {
        let caller = Caller::of(&req)?;
        let town = self.towns.of(&caller).await?;
        let id = req.into_inner().booking_id;
        let b = visible_booking(&town, &caller, id).await?;
        caller.audit(&town.store, Read, &[], &[b.id]).await?;
        let shown = with_ride_status(&town.store, std::slice::from_ref(&b)).await?;
        shown
            .into_iter()
            .next()
            .map(Response::new)
            .ok_or_else(|| Status::internal("the booking went missing"))
    }

    async fn list_bookings(
        &self,
        req: Request<pb::ListBookingsRequest>,
    ) -> Result<Response<pb::ListBookingsResponse>, Status> {
        let caller = Caller::of(&req)?;
        let town = self.towns.of(&caller).await?;
        let r = req.into_inner();
        // A rider lists their own bookings, named or not.
        let rider = (r.rider_id > 0).then_some(r.rider_id).or(caller.scope.rider());
        if let Some(id) = rider {
            caller.may_see_rider(id)?;
        }
        let day = if r.day.trim().is_empty() { None } else { Some(convert::day("day", &r.day)?) };
        if rider.is_none() && day.is_none() {
            return Err(invalid("day", "give a day (YYYY-MM-DD), a rider_id, or both"));
        }
        let list = town.store.list_bookings(rider, day, r.include_cancelled).await.map_err(store_status)?;
        caller.audit(&town.store, Read, &[], &ids(&list)).await?;
        Ok(Response::new(pb::ListBookingsResponse { bookings: with_ride_status(&town.store, &list).await? }))
    }

    async fn book_recurring(
        &self,
        req: Request<pb::BookRecurringRequest>,
    ) -> Result<Response<pb::BookRecurringResponse>, Status> {
        let caller = Caller::of(&req)?;
        let town = self.towns.of(&caller).await?;
        let r = req.into_inner();
        convert::idempotency_key("idempotency_key", &r.idempotency_key)?;
        let first = convert::day("first_day", &r.first_day)?;
        let last = convert::day("last_day", &r.last_day)?;
        if last < first {
            return Err(invalid("last_day", "is before first_day"));
        }
        if last.0 - first.0 > 366 {
            return Err(invalid("last_day", "is more than 366 days after first_day"));
        }
        let at = parse_time_of_day(&r.depart_after).map_err(|e| invalid("depart_after", e))?;
        let mut weekdays = Vec::new();
        for w in &r.weekdays {
            match pb::Weekday::try_from(*w) {
                Ok(pb::Weekday::Unspecified) | Err(_) => {
                    return Err(invalid("weekdays", format!("{w} is not a weekday")));
                }
                Ok(day) => weekdays.push(day as i32 as u32),
            }
        }
        if weekdays.is_empty() {
            return Err(invalid("weekdays", "give at least one weekday"));
        }
        let template = pb::Trip {
            rider_id: r.rider_id,
            origin: r.origin,
            destination: r.destination,
            time: Some(pb::trip::Time::DepartAfter(prost_types::Timestamp {
                seconds: first.at(at),
                nanos: 0,
            })),
            seats: r.seats,
            wheelchair_places: r.wheelchair_places,
        };
        let template = convert::trip("", Some(&template))
            .map_err(|s| Status::invalid_argument(s.message().trim_start_matches('.').to_string()))?;
        // A retry finds the recurrence of its first occurrence instead of making a new one.
        let days: Vec<ServiceDay> =
            (first.0..=last.0).map(ServiceDay).filter(|d| weekdays.contains(&d.weekday())).collect();
        let mut recurrence = None;
        for d in &days {
            if let Some(b) = town
                .store
                .booking_by_key(&format!("{}/{d}", r.idempotency_key))
                .await
                .map_err(store_status)?
            {
                recurrence = b.recurrence_id;
                break;
            }
        }
        let recurrence = match recurrence {
            Some(id) => id,
            None => {
                let what = format!("weekdays {:?} at {} from {first} to {last}", weekdays, r.depart_after);
                town.store.insert_recurrence(template.rider_id, &what).await.map_err(store_status)?
            }
        };
        let mut out =
            pb::BookRecurringResponse { recurrence_id: recurrence, booked: Vec::new(), missed: Vec::new() };
        for d in days {
            let trip = TripAsk { time: TripTime::DepartAfter(d.at(at)), ..template.clone() };
            let key = format!("{}/{d}", r.idempotency_key);
            let options = BookOptions {
                recurrence: Some(recurrence),
                allow_overlap: r.allow_overlap,
                audit: Some(caller.entry(Change)),
            };
            match town.dispatcher.book(key, BookWhat::Trip(trip), options).await {
                Ok(b) => out.booked.push(convert::booking_to_pb(&b)),
                Err(s) => out.missed.push(pb::RecurringMiss { day: d.to_string(), reason: s.to_string() }),
            }
        }
        Ok(Response::new(out))
    }

    async fn replan_day(
        &self,
        req: Request<pb::ReplanDayRequest>,
    ) -> Result<Response<pb::ReplanDayResponse>, Status> {
        let town = self.towns.of(&Caller::of(&req)?).await?;
        let r = req.into_inner();
        let day = convert::day("day", &r.day)?;
        let seconds = if r.seconds > 0.0 { r.seconds.min(60.0) } else { 5.0 };
        if !seconds.is_finite() {
            return Err(invalid("seconds", "must be a number of seconds"));
        }
        let s = town.dispatcher.replan(day, seconds).await?;
        Ok(Response::new(pb::ReplanDayResponse {
            bookings: s.bookings as u32,
            km_before: s.km_before,
            km_after: s.km_after,
            applied: s.applied,
        }))
    }

    async fn finalize_day(
        &self,
        req: Request<pb::FinalizeDayRequest>,
    ) -> Result<Response<pb::FinalizeDayResponse>, Status> {
        let caller = Caller::of(&req)?;
        let town = self.towns.of(&caller).await?;
        let day = convert::day("day", &req.into_inner().day)?;
        let s = town.dispatcher.replan(day, 5.0).await?;
        let to_tell = town.dispatcher.finalize(day).await?;
        caller.audit(&town.store, Read, &[], &ids(&to_tell)).await?;
        Ok(Response::new(pb::FinalizeDayResponse {
            replan: Some(pb::ReplanDayResponse {
                bookings: s.bookings as u32,
                km_before: s.km_before,
                km_after: s.km_after,
                applied: s.applied,
            }),
            to_tell: to_tell.iter().map(convert::booking_to_pb).collect(),
        }))
    }

    async fn mark_rider_told(
        &self,
        req: Request<pb::MarkRiderToldRequest>,
    ) -> Result<Response<pb::Booking>, Status> {
        let caller = Caller::of(&req)?;
        let town = self.towns.of(&caller).await?;
        let id = req.into_inner().booking_id;
        if id <= 0 {
            return Err(invalid("booking_id", "is required"));
        }
        let b = town.store.mark_told(id).await.map_err(store_status)?;
        caller.audit(&town.store, Change, &[], &[b.id]).await?;
        Ok(Response::new(convert::booking_to_pb(&b)))
    }
}
