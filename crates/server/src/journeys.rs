//! JourneyService: door-to-door itineraries that join walking, the fixed
//! lines of the loaded feeds and the town's on-demand vehicles. The network
//! search is `noriai_timetable`'s (pure); this module prices the ways in and
//! out: a slow walk, or an on-demand ride quoted live by the dispatcher,
//! first estimated by road time to choose stops, then quoted for real so a
//! ride to a bus stop is promised to arrive before that bus leaves.

use crate::auth::Caller;
use crate::convert::{idempotency_key, invalid, latlon, latlon_to_pb, timestamp};
use crate::dispatcher::{BookOptions, BookWhat, QuotedOffer};
use crate::pb;
use crate::pb::journey_service_server::JourneyService;
use crate::timetable::Timetables;
use crate::towns::{Town, Towns};
use noriai_model::LatLon;
use noriai_model::access::AuditAction;
use noriai_model::service::{Place, PlaceKind, TripAsk, TripTime};

/// The reason stored with a leg cancelled because its journey could not be booked whole.
const JOURNEY_UNDONE: &str = "another leg of the journey could not be booked";
use noriai_roads::RoadNetwork;
use noriai_timetable::{Access, Egress, Feed, Journey, JourneyRules, Part};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use tonic::{Request, Response, Status};

/// Walking is measured as the crow flies times this (streets are not straight).
const WALK_DETOUR: f64 = 1.3;
/// On-demand legs reach stops this far at most.
const MAX_ON_DEMAND_M: f64 = 15_000.0;
/// Stops tried for an on-demand leg at each end.
const ON_DEMAND_CANDIDATES: usize = 10;
/// Allowed for the vehicle to come, when choosing stops (the quote then says).
const ON_DEMAND_WAIT_S: i64 = 15 * 60;
/// Most itineraries returned.
const MAX_ITINERARIES: usize = 5;
/// A rider walking to a bus is there this long before it leaves.
const AT_STOP_EARLY_S: i64 = 120;
/// Itineraries arriving this much later than the first one are left out,
/// however few their changes.
const MAX_LATER_S: i64 = 90 * 60;
/// Minutes before an arrive-by deadline a search starts from (the first is
/// the lookback; each later start finds later buses).
const ARRIVE_BY_STARTS_MIN: [i64; 4] = [180, 120, 75, 45];
/// Journeys are not planned before 2000-01-01.
const EARLIEST_DATE_S: i64 = 946_684_800;
/// An arrive-by search starts this long before the deadline.
const ARRIVE_BY_LOOKBACK_S: i64 = 3 * 3600;

#[derive(Clone)]
pub struct JourneyApi {
    pub towns: Arc<Towns>,
    pub roads: Arc<RoadNetwork>,
    pub timetables: Arc<Timetables>,
}

/// A journey request as checked.
#[derive(Debug)]
struct Ask {
    /// On-demand quotes this request may still make.
    quotes_left: std::sync::atomic::AtomicU32,
    origin: LatLon,
    destination: LatLon,
    depart_after: i64,
    arrive_by: Option<i64>,
    lang: String,
    rider: Option<i64>,
    max_walk_m: f64,
    walk_mps: f64,
    buffer_s: i64,
    wheelchair: bool,
}

/// How a way in or out is made.
#[derive(Debug, Clone, Copy)]
enum End {
    Walk {
        metres: f64,
        seconds: i64,
    },
    /// An on-demand ride, estimated by road time; quoted when chosen.
    OnDemand,
}

/// Roles that may price on-demand legs for a rider (as `Quote` allows).
const QUOTING_ROLES: [noriai_model::access::Role; 3] = [
    noriai_model::access::Role::Admin,
    noriai_model::access::Role::Operator,
    noriai_model::access::Role::Rider,
];

/// On-demand quotes one PlanJourney may make (each prices a ride and keeps an offer).
const MAX_QUOTES: u32 = 16;

/// Times a search is repeated after an on-demand way in could not be promised.
const MAX_RETRIES: usize = 6;

/// Why a journey found on the network did not become an itinerary.
#[derive(Debug, Clone, Copy)]
enum Unmade {
    /// The on-demand ride to access `index` cannot be promised for that
    /// bus; a bus leaving from `after` on may do.
    Access {
        index: usize,
        after: i64,
    },
    Other,
}

/// Ways in (or out) of the network, each with how it is made.
type Ways<T> = Vec<(T, End)>;

/// A leg before it is shown.
#[derive(Debug, Clone)]
struct LegPlan {
    leg: pb::Leg,
    vehicle: bool,
    walk_m: f64,
}

fn walk_leg(
    from: pb::LegPlace,
    to: pb::LegPlace,
    departs: i64,
    metres: f64,
    seconds: i64,
    tz: chrono_tz::Tz,
) -> LegPlan {
    let geometry = [from.location, to.location].into_iter().flatten().collect();
    LegPlan {
        leg: pb::Leg {
            mode: pb::LegMode::Walk as i32,
            departure: timestamp(departs),
            arrival: timestamp(departs + seconds),
            departure_local: hhmm(departs, tz),
            arrival_local: hhmm(departs + seconds, tz),
            distance_m: metres.round(),
            geometry,
            from: Some(from),
            to: Some(to),
            ..Default::default()
        },
        vehicle: false,
        walk_m: metres,
    }
}

fn hhmm(unix: i64, tz: chrono_tz::Tz) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map_or_else(String::new, |t| t.with_timezone(&tz).format("%H:%M").to_string())
}

fn point_place(name: &str, p: LatLon) -> pb::LegPlace {
    pb::LegPlace { name: name.into(), location: Some(latlon_to_pb(p)), ..Default::default() }
}

fn stop_place(feed: &Feed, stop: u32, lang: &str) -> pb::LegPlace {
    let s = &feed.stops[stop as usize];
    pb::LegPlace {
        name: feed.stop_name(s, lang).to_string(),
        location: s.location.map(latlon_to_pb),
        stop_id: s.id.clone(),
        feed: feed.name.clone(),
        platform: s.platform.clone().unwrap_or_default(),
    }
}

fn mode_of(route_type: i32) -> pb::LegMode {
    match route_type {
        3 | 700..=799 => pb::LegMode::Bus,
        0..=2 | 100..=199 | 400..=499 | 900..=999 => pb::LegMode::Rail,
        _ => pb::LegMode::OtherTransit,
    }
}

impl JourneyApi {
    /// An on-demand leg quoted for the rider: the first offer that leaves no
    /// earlier than `not_before`.
    async fn quote(
        &self,
        town: &Town,
        ask: &Ask,
        from: (LatLon, &str),
        to: (LatLon, &str),
        time: TripTime,
        not_before: i64,
    ) -> Option<QuotedOffer> {
        let wheelchair = ask.wheelchair;
        // A journey prices a bounded number of on-demand legs.
        let left = &ask.quotes_left;
        if left.fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1)).is_err() {
            tracing::debug!("no on-demand quotes left for this journey");
            return None;
        }
        let ask = TripAsk {
            rider_id: ask.rider?,
            origin: Place { kind: PlaceKind::Point(from.0), label: from.1.chars().take(80).collect() },
            destination: Place { kind: PlaceKind::Point(to.0), label: to.1.chars().take(80).collect() },
            time,
            seats: None,
            wheelchair_places: wheelchair.then_some(1),
        };
        match town.dispatcher.quote(ask).await {
            Ok(offers) => {
                let fits = offers.iter().find(|o| o.pickup_window.0 >= not_before).cloned();
                if fits.is_none() {
                    tracing::debug!(?time, not_before, ?offers, "no on-demand offer leaves late enough");
                }
                fits
            }
            Err(e) => {
                tracing::debug!("no on-demand leg: {e}");
                None
            }
        }
    }

    fn on_demand_leg(
        &self,
        town: &Town,
        offer: &QuotedOffer,
        from: pb::LegPlace,
        to: pb::LegPlace,
        tz: chrono_tz::Tz,
    ) -> LegPlan {
        let geometry = match (from.location.as_ref(), to.location.as_ref()) {
            (Some(a), Some(b)) => self
                .roads
                .route(LatLon { lat: a.lat, lon: a.lon }, LatLon { lat: b.lat, lon: b.lon })
                .map(|r| (r.distance_m, r.geometry.into_iter().map(latlon_to_pb).collect()))
                .ok(),
            _ => None,
        };
        let (distance_m, geometry) = geometry.unwrap_or((0.0, Vec::new()));
        LegPlan {
            leg: pb::Leg {
                mode: pb::LegMode::OnDemand as i32,
                departure: timestamp(offer.pickup_window.0),
                arrival: timestamp(offer.expected_arrival),
                departure_local: hhmm(offer.pickup_window.0, tz),
                arrival_local: hhmm(offer.expected_arrival, tz),
                offer_id: offer.id.clone(),
                pickup_window_start: timestamp(offer.pickup_window.0),
                pickup_window_end: timestamp(offer.pickup_window.1),
                fare_yen: town.service.fare_yen.saturating_mul(offer.riders),
                distance_m: distance_m.round(),
                geometry,
                route_long_name: town.service.name.clone(),
                from: Some(from),
                to: Some(to),
                ..Default::default()
            },
            vehicle: true,
            walk_m: 0.0,
        }
    }

    /// The ways in and out of `feed` for `ask`: walks, and (for a rider)
    /// on-demand rides to stops beyond walking, estimated by road time.
    fn ends(&self, feed: &Feed, ask: &Ask, on_demand: bool) -> (Ways<Access>, Ways<Egress>) {
        let mut ins = Vec::new();
        let mut outs = Vec::new();
        let mut far_in: Vec<(f64, u32)> = Vec::new();
        let mut far_out: Vec<(f64, u32)> = Vec::new();
        for (i, s) in feed.stops.iter().enumerate() {
            let Some(at) = s.location else { continue };
            let i = i as u32;
            if feed.departures_from(i) == 0 && !feed.is_served(i)
                || ask.wheelchair && s.wheelchair == Some(false)
            {
                continue;
            }
            let (d_in, d_out) =
                (ask.origin.distance_m(at) * WALK_DETOUR, ask.destination.distance_m(at) * WALK_DETOUR);
            if d_in <= ask.max_walk_m {
                let seconds = (d_in / ask.walk_mps).ceil() as i64;
                ins.push((
                    Access { stop: i, at: ask.depart_after + seconds },
                    End::Walk { metres: d_in, seconds },
                ));
            } else if on_demand && d_in <= MAX_ON_DEMAND_M && feed.departures_from(i) > 0 {
                far_in.push((d_in, i));
            }
            if d_out <= ask.max_walk_m {
                let seconds = (d_out / ask.walk_mps).ceil() as i64;
                outs.push((Egress { stop: i, seconds }, End::Walk { metres: d_out, seconds }));
            } else if on_demand && d_out <= MAX_ON_DEMAND_M && feed.is_served(i) {
                far_out.push((d_out, i));
            }
        }
        for (far, from, is_in) in [(&mut far_in, ask.origin, true), (&mut far_out, ask.destination, false)] {
            far.sort_by(|a, b| a.0.total_cmp(&b.0));
            far.truncate(ON_DEMAND_CANDIDATES);
            let Ok(here) = self.roads.snap(from) else { continue };
            let snapped: Vec<(u32, noriai_roads::Snapped)> = far
                .iter()
                .filter_map(|&(_, s)| Some((s, self.roads.snap(feed.stops[s as usize].location?).ok()?)))
                .collect();
            let targets: Vec<noriai_roads::Snapped> = snapped.iter().map(|(_, t)| *t).collect();
            let table = if is_in {
                self.roads.table(std::slice::from_ref(&here), &targets)
            } else {
                self.roads.table(&targets, std::slice::from_ref(&here))
            };
            for (k, (stop, _)) in snapped.iter().enumerate() {
                let drive = table.duration_s[k];
                if !drive.is_finite() {
                    continue;
                }
                let drive_s = drive.ceil() as i64;
                if is_in {
                    let at = ask.depart_after + ON_DEMAND_WAIT_S + drive_s + ask.buffer_s;
                    ins.push((Access { stop: *stop, at }, End::OnDemand));
                } else {
                    outs.push((
                        Egress { stop: *stop, seconds: ON_DEMAND_WAIT_S + drive_s + ask.buffer_s },
                        End::OnDemand,
                    ));
                }
            }
        }
        (ins, outs)
    }

    /// The itinerary of `journey`, with its on-demand ends quoted for real.
    async fn itinerary(
        &self,
        town: Option<&Town>,
        feed: &Feed,
        ask: &Ask,
        journey: &Journey,
        ins: &[(Access, End)],
        outs: &[(Egress, End)],
    ) -> Result<Vec<LegPlan>, Unmade> {
        let tz = feed.timezone;
        let lang = ask.lang.as_str();
        let (origin, destination) = ask.ends();
        let (first_stop, first_departs) = match journey.parts.first() {
            Some(Part::Ride { trip, from, departs, .. }) => {
                (feed.trips[*trip as usize].stop_times[*from].stop, *departs)
            }
            _ => return Err(Unmade::Other),
        };
        let mut legs = Vec::new();
        let (access, how_in) = ins[journey.access];
        debug_assert_eq!(access.stop, first_stop);
        match how_in {
            End::Walk { metres, seconds } => {
                // Leave to be at the stop a little before the bus, not to wait there.
                let leave = (first_departs - seconds - AT_STOP_EARLY_S).max(ask.depart_after);
                legs.push(walk_leg(
                    origin.clone(),
                    stop_place(feed, first_stop, lang),
                    leave,
                    metres,
                    seconds,
                    tz,
                ));
            }
            End::OnDemand => {
                let (Some(town), Some(_)) = (town, ask.rider) else { return Err(Unmade::Other) };
                let stop = stop_place(feed, first_stop, lang);
                let location = feed.stops[first_stop as usize].location.ok_or(Unmade::Other)?;
                let by = first_departs - ask.buffer_s;
                let later = Unmade::Access { index: journey.access, after: first_departs + 1 };
                let to = (location, stop.name.as_str());
                // Best, the ride is promised to arrive before the bus leaves;
                // when that promise would fetch the rider before they are
                // ready (a wide window the day before), a ride leaving after
                // they are ready whose latest pickup still makes the bus.
                let arrive_by =
                    self.quote(town, ask, (ask.origin, ""), to, TripTime::ArriveBy(by), ask.depart_after);
                let offer = match arrive_by.await {
                    Some(offer) => offer,
                    None => self
                        .quote(
                            town,
                            ask,
                            (ask.origin, ""),
                            to,
                            TripTime::DepartAfter(ask.depart_after),
                            ask.depart_after,
                        )
                        .await
                        .filter(|o| o.pickup_window.1 + (o.ride_minutes * 60.0).ceil() as i64 <= by)
                        .ok_or(later)?,
                };
                if offer.expected_arrival > by {
                    return Err(later);
                }
                legs.push(self.on_demand_leg(town, &offer, origin.clone(), stop, tz));
            }
        }
        let mut last_stop = first_stop;
        let mut last_time = first_departs;
        for part in &journey.parts {
            match *part {
                Part::Ride { trip, from, to, departs, arrives } => {
                    let t = &feed.trips[trip as usize];
                    let route = &feed.routes[t.route as usize];
                    let names = crate::timetable::route_pb(feed, route, lang);
                    let (a, b) = (t.stop_times[from].stop, t.stop_times[to].stop);
                    let geometry = t.stop_times[from..=to]
                        .iter()
                        .filter_map(|st| feed.stops[st.stop as usize].location.map(latlon_to_pb))
                        .collect();
                    legs.push(LegPlan {
                        leg: pb::Leg {
                            mode: mode_of(route.route_type) as i32,
                            from: Some(stop_place(feed, a, lang)),
                            to: Some(stop_place(feed, b, lang)),
                            departure: timestamp(departs),
                            arrival: timestamp(arrives),
                            departure_local: hhmm(departs, tz),
                            arrival_local: hhmm(arrives, tz),
                            route_short_name: names.short_name,
                            route_long_name: names.long_name,
                            headsign: crate::timetable::headsign(feed, t, lang),
                            trip_id: t.id.clone(),
                            geometry,
                            ..Default::default()
                        },
                        vehicle: true,
                        walk_m: 0.0,
                    });
                    (last_stop, last_time) = (b, arrives);
                }
                Part::Walk { from, to, metres, seconds } => {
                    legs.push(walk_leg(
                        stop_place(feed, from, lang),
                        stop_place(feed, to, lang),
                        last_time,
                        metres,
                        seconds,
                        tz,
                    ));
                    (last_stop, last_time) = (to, last_time + seconds);
                }
            }
        }
        let (_, how_out) = outs[journey.egress];
        match how_out {
            End::Walk { metres, seconds } => {
                legs.push(walk_leg(
                    stop_place(feed, last_stop, lang),
                    destination,
                    last_time,
                    metres,
                    seconds,
                    tz,
                ));
            }
            End::OnDemand => {
                let (Some(town), Some(_)) = (town, ask.rider) else { return Err(Unmade::Other) };
                let stop = stop_place(feed, last_stop, lang);
                let from =
                    (feed.stops[last_stop as usize].location.ok_or(Unmade::Other)?, stop.name.as_str());
                let ready = last_time + ask.buffer_s;
                let offer = self
                    .quote(town, ask, from, (ask.destination, ""), TripTime::DepartAfter(ready), ready)
                    .await
                    .ok_or(Unmade::Other)?;
                legs.push(self.on_demand_leg(town, &offer, stop, destination, tz));
            }
        }
        Ok(legs)
    }

    async fn plan(&self, caller: &Caller, ask: &Ask) -> Result<Vec<pb::Itinerary>, Status> {
        let town = match ask.rider {
            Some(rider) => {
                // On-demand legs are quotes for a rider: only the roles that may quote.
                if !QUOTING_ROLES.contains(&caller.role) {
                    return Err(Status::permission_denied(format!(
                        "role `{}` plans journeys without a rider; on-demand legs need an operator's or the rider's token",
                        caller.role
                    )));
                }
                caller.may_see_rider(rider)?;
                Some(self.towns.of(caller).await?)
            }
            None => None,
        };
        let mut found: Vec<Vec<LegPlan>> = Vec::new();
        let tokyo = chrono_tz::Asia::Tokyo;
        // On foot all the way.
        let walk = ask.origin.distance_m(ask.destination) * WALK_DETOUR;
        if walk <= ask.max_walk_m {
            let seconds = (walk / ask.walk_mps).ceil() as i64;
            let leave = ask.arrive_by.map_or(ask.depart_after, |by| by - seconds);
            let (from, to) = ask.ends();
            found.push(vec![walk_leg(from, to, leave, walk, seconds, tokyo)]);
        }
        // The on-demand vehicle door to door.
        if let (Some(town), Some(_)) = (town.as_deref(), ask.rider) {
            let time = ask.arrive_by.map_or(TripTime::DepartAfter(ask.depart_after), TripTime::ArriveBy);
            if let Some(offer) =
                self.quote(town, ask, (ask.origin, ""), (ask.destination, ""), time, ask.depart_after).await
            {
                let (from, to) = ask.ends();
                found.push(vec![self.on_demand_leg(town, &offer, from, to, tokyo)]);
            }
        }
        // The fixed lines, walking to them, and riding the on-demand vehicle to and from them.
        let feeds = self.timetables.feeds();
        let rules = JourneyRules {
            transfer_buffer_s: ask.buffer_s,
            walk_mps: ask.walk_mps,
            step_free: ask.wheelchair,
            horizon_s: ask
                .arrive_by
                .map_or(JourneyRules::default().horizon_s, |by| by - ask.depart_after + 1),
            ..JourneyRules::default()
        };
        // Arriving by a time, the latest departures count: the search also
        // starts later, so a bus closer to the deadline is found.
        let starts: Vec<i64> = match ask.arrive_by {
            Some(by) => ARRIVE_BY_STARTS_MIN.iter().map(|m| (by - m * 60).max(ask.depart_after)).collect(),
            None => vec![ask.depart_after],
        };
        for loaded in feeds.iter() {
            let feed = &loaded.feed;
            for on_demand in [false, true] {
                if on_demand && town.is_none() {
                    continue;
                }
                // The ways in and out are priced once; a later start only shifts the ways in.
                let (from_start, outs) = self.ends(feed, ask, on_demand);
                let egresses: Vec<Egress> = outs.iter().map(|(e, _)| *e).collect();
                for &start in &starts {
                    let mut ins = from_start.clone();
                    for (access, _) in &mut ins {
                        access.at += start - ask.depart_after;
                    }
                    // A ride to a stop the service cannot promise in time: that way
                    // in is tried again for a later bus.
                    for _ in 0..MAX_RETRIES {
                        let accesses: Vec<Access> = ins.iter().map(|(a, _)| *a).collect();
                        let mut retry = false;
                        let journeys = feed.journeys(&accesses, &egresses, &rules);
                        tracing::debug!(feed = %feed.name, on_demand, ins = accesses.len(), outs = egresses.len(), journeys = journeys.len(), "journey search");
                        for journey in journeys {
                            match self.itinerary(town.as_deref(), feed, ask, &journey, &ins, &outs).await {
                                Ok(legs) => found.push(legs),
                                // The estimate was too hopeful by this much: every on-demand way in is.
                                Err(Unmade::Access { index, after }) => {
                                    let late = after - ins[index].0.at;
                                    for (access, how) in ins.iter_mut() {
                                        if matches!(how, End::OnDemand) && late > 0 {
                                            access.at += late;
                                        }
                                    }
                                    retry |= late > 0;
                                }
                                Err(Unmade::Other) => tracing::debug!("a journey could not be made"),
                            }
                        }
                        if !retry {
                            break;
                        }
                    }
                }
            }
        }
        let mut itineraries: Vec<pb::Itinerary> = found
            .into_iter()
            .filter_map(|legs| {
                let departure = legs.first()?.leg.departure;
                let arrival = legs.last()?.leg.arrival;
                let vehicles = legs.iter().filter(|l| l.vehicle).count() as u32;
                Some(pb::Itinerary {
                    departure,
                    arrival,
                    transfers: vehicles.saturating_sub(1),
                    walk_m: legs.iter().map(|l| l.walk_m).sum::<f64>().round(),
                    fare_yen: legs.iter().map(|l| l.leg.fare_yen).sum(),
                    legs: legs.into_iter().map(|l| l.leg).collect(),
                })
            })
            .filter(|i| ask.arrive_by.is_none_or(|by| i.arrival.is_some_and(|a| a.seconds <= by)))
            .collect();
        // A small Pareto set: arrival (or, arriving by a time, departure), changes, walking.
        let key = |i: &pb::Itinerary| {
            let arr = i.arrival.map_or(i64::MAX, |t| t.seconds);
            let dep = i.departure.map_or(i64::MIN, |t| t.seconds);
            let time = if ask.arrive_by.is_some() { -dep } else { arr };
            (time, i.transfers, i.walk_m)
        };
        let dominated = |a: &pb::Itinerary, b: &pb::Itinerary| {
            let (x, y) = (key(a), key(b));
            y.0 <= x.0 && y.1 <= x.1 && y.2 <= x.2 && (y.0 < x.0 || y.1 < x.1 || y.2 < x.2)
        };
        let all = itineraries.clone();
        itineraries.retain(|i| !all.iter().any(|o| dominated(i, o)));
        itineraries.sort_by(|a, b| key(a).0.cmp(&key(b).0).then(key(a).1.cmp(&key(b).1)));
        if let Some(first) = itineraries.first().map(key) {
            itineraries.retain(|i| key(i).0 <= first.0 + MAX_LATER_S);
        }
        itineraries.dedup_by(|a, b| key(a) == key(b));
        itineraries.truncate(MAX_ITINERARIES);
        Ok(itineraries)
    }
}

impl Ask {
    /// The journey's two ends as places, named in the caller's language.
    fn ends(&self) -> (pb::LegPlace, pb::LegPlace) {
        let japanese = self.lang.is_empty() || self.lang.to_lowercase().starts_with("ja");
        let (from, to) = if japanese { ("出発地", "目的地") } else { ("Start", "Destination") };
        (point_place(from, self.origin), point_place(to, self.destination))
    }
}

fn ask_from(r: &pb::PlanJourneyRequest) -> Result<Ask, Status> {
    let origin = latlon("origin", r.origin.as_ref())?;
    let destination = latlon("destination", r.destination.as_ref())?;
    let now = crate::now_unix();
    let (depart_after, arrive_by) = match &r.time {
        None => (now, None),
        // Any date a feed covers, past ones too (on-demand legs are only
        // offered from now on: the dispatcher refuses the past).
        Some(pb::plan_journey_request::Time::DepartAfter(t)) => (t.seconds, None),
        Some(pb::plan_journey_request::Time::ArriveBy(t)) => {
            if !(EARLIEST_DATE_S..now + 400 * 86_400).contains(&t.seconds) {
                return Err(invalid("arrive_by", "must be after 2000 and at most a year ahead"));
            }
            (t.seconds - ARRIVE_BY_LOOKBACK_S, Some(t.seconds))
        }
    };
    if depart_after < EARLIEST_DATE_S {
        return Err(invalid("depart_after", "is before 2000"));
    }
    if depart_after > now + 400 * 86_400 {
        return Err(invalid("depart_after", "is more than a year ahead"));
    }
    let lang = crate::timetable::lang(&r.lang)?.to_string();
    let max_walk_m = match r.max_walk_m {
        0.0 => 400.0,
        m if (0.0..=2000.0).contains(&m) => m,
        _ => return Err(invalid("max_walk_m", "must be between 0 and 2,000 m")),
    };
    let walk_kmh = match r.walk_kmh {
        0.0 => 3.0,
        k if (1.0..=7.0).contains(&k) => k,
        _ => return Err(invalid("walk_kmh", "must be between 1 and 7 km/h")),
    };
    let transfer_minutes = match r.transfer_minutes {
        0 => 3,
        m if m <= 60 => m,
        _ => return Err(invalid("transfer_minutes", "at most 60")),
    };
    Ok(Ask {
        quotes_left: std::sync::atomic::AtomicU32::new(MAX_QUOTES),
        origin,
        destination,
        depart_after,
        arrive_by,
        lang,
        rider: (r.rider_id > 0).then_some(r.rider_id),
        max_walk_m,
        walk_mps: walk_kmh / 3.6,
        buffer_s: i64::from(transfer_minutes) * 60,
        wheelchair: r.wheelchair,
    })
}

/// The booking key of leg `n` of the journey known by `key`.
fn leg_key(key: &str, n: usize) -> String {
    format!("{key}#leg{n}")
}

/// Most on-demand legs one journey books.
const MAX_BOOKED_LEGS: usize = 4;

#[tonic::async_trait]
impl JourneyService for JourneyApi {
    async fn plan_journey(
        &self,
        req: Request<pb::PlanJourneyRequest>,
    ) -> Result<Response<pb::PlanJourneyResponse>, Status> {
        let caller = Caller::of(&req)?;
        let ask = ask_from(req.get_ref())?;
        let itineraries = self.plan(&caller, &ask).await?;
        Ok(Response::new(pb::PlanJourneyResponse { itineraries }))
    }

    async fn book_journey(
        &self,
        req: Request<pb::BookJourneyRequest>,
    ) -> Result<Response<pb::BookedJourney>, Status> {
        let caller = Caller::of(&req)?;
        let town = self.towns.of(&caller).await?;
        let r = req.into_inner();
        let key = idempotency_key("idempotency_key", &r.idempotency_key)?;
        if key.chars().count() > 180 {
            return Err(invalid("idempotency_key", "at most 180 characters for a journey"));
        }
        if r.rider_id <= 0 {
            return Err(invalid("rider_id", "is required"));
        }
        caller.may_see_rider(r.rider_id)?;
        let itinerary =
            r.itinerary.ok_or_else(|| invalid("itinerary", "is required (one from PlanJourney)"))?;
        let offers: Vec<String> = itinerary
            .legs
            .iter()
            .filter(|l| l.mode == pb::LegMode::OnDemand as i32)
            .map(|l| l.offer_id.clone())
            .collect();
        if offers.is_empty() {
            return Err(invalid(
                "itinerary",
                "has no on-demand leg to book; the fixed lines need no booking",
            ));
        }
        if offers.len() > MAX_BOOKED_LEGS || offers.iter().any(|o| o.is_empty() || o.len() > 100) {
            return Err(invalid("itinerary.legs", "on-demand legs carry the offer_id PlanJourney gave"));
        }
        let mut ids = Vec::new();
        let mut statuses = Vec::new();
        // A journey that was cancelled, or failed part way and was undone,
        // is not booked again under its key.
        for n in 0..offers.len() {
            let earlier =
                town.store.booking_by_key(&leg_key(&key, n)).await.map_err(crate::errors::store_status)?;
            if earlier.is_some_and(|b| b.status == noriai_model::service::BookingStatus::Cancelled) {
                return Err(Status::failed_precondition(
                    "this journey was cancelled or could not be booked whole; plan again and book under a new key",
                ));
            }
        }
        for (n, offer) in offers.into_iter().enumerate() {
            if let Some(rider) = town.dispatcher.offer_rider(&offer)
                && rider != r.rider_id
            {
                for id in &ids {
                    let _ = town
                        .dispatcher
                        .cancel(*id, Some(caller.entry(AuditAction::Change)), JOURNEY_UNDONE.into())
                        .await;
                }
                return Err(Status::permission_denied("the itinerary was planned for another rider"));
            }
            let options = BookOptions {
                recurrence: None,
                allow_overlap: true,
                audit: Some(caller.entry(AuditAction::Change)),
            };
            match town.dispatcher.book(leg_key(&key, n), BookWhat::Offer(offer), options).await {
                Ok(b) => {
                    ids.push(b.id);
                    statuses.push(format!("{:?}", b.status).to_lowercase());
                    if let Err(denied) = caller.may_see_rider(b.trip.rider_id) {
                        for id in &ids {
                            let _ = town
                                .dispatcher
                                .cancel(*id, Some(caller.entry(AuditAction::Change)), JOURNEY_UNDONE.into())
                                .await;
                        }
                        return Err(denied);
                    }
                }
                Err(e) => {
                    // Legs booked before this one are cancelled: a journey is booked whole or not at all.
                    for id in &ids {
                        let _ = town
                            .dispatcher
                            .cancel(*id, Some(caller.entry(AuditAction::Change)), JOURNEY_UNDONE.into())
                            .await;
                    }
                    let status: Status = e.into();
                    return Err(Status::new(
                        status.code(),
                        format!(
                            "leg {} of the journey could not be booked ({}); plan again",
                            n + 1,
                            status.message()
                        ),
                    ));
                }
            }
        }
        Ok(Response::new(pb::BookedJourney { idempotency_key: key, booking_ids: ids, statuses }))
    }

    async fn cancel_journey(
        &self,
        req: Request<pb::CancelJourneyRequest>,
    ) -> Result<Response<pb::BookedJourney>, Status> {
        let caller = Caller::of(&req)?;
        let town = self.towns.of(&caller).await?;
        let key = idempotency_key("idempotency_key", &req.get_ref().idempotency_key)?;
        let mut ids = Vec::new();
        let mut statuses = Vec::new();
        for n in 0..MAX_BOOKED_LEGS {
            let Some(b) =
                town.store.booking_by_key(&leg_key(&key, n)).await.map_err(crate::errors::store_status)?
            else {
                break;
            };
            caller.may_see_rider(b.trip.rider_id)?;
            let b = if b.status == noriai_model::service::BookingStatus::Cancelled {
                b
            } else {
                town.dispatcher
                    .cancel(b.id, Some(caller.entry(AuditAction::Change)), "the journey was cancelled".into())
                    .await?
            };
            ids.push(b.id);
            statuses.push(format!("{:?}", b.status).to_lowercase());
        }
        if ids.is_empty() {
            return Err(Status::not_found("no journey was booked with this idempotency_key"));
        }
        Ok(Response::new(pb::BookedJourney { idempotency_key: key, booking_ids: ids, statuses }))
    }
}
