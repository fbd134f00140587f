//! Online dispatch: one request at a time into a live plan, while the rider
//! waits on the phone.
//!
//! Every vehicle's route keeps its schedule bounds (`early`/`late`), so a new
//! request is priced by the O(1)-per-position filter of [`crate::schedule`] and
//! only the cheapest survivors get an exact O(route) schedule. Accepting an
//! offer turns the offered pickup window into a promise: a hard constraint
//! for every later insertion and re-plan.

use noriai_model::{
    Capacity, LocId, Plan, PlannedStop, Request, RequestId, RoutePlan, StopKind, TimeWindow, TravelTimes,
    Vehicle, VehicleId,
};

use crate::live::{Late, Present};
use crate::problem::ProblemError;
use crate::schedule::{
    Cand, Kind, NONE, Net, Node, RouteData, Scratch, VehCtx, feasible_insertions, request_nodes, splice,
    veh_ctx, vehicle_nodes,
};

/// A way to serve a request: which vehicle, where in its route, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub vehicle: VehicleId,
    /// The pickup goes after this many planned stops of the vehicle, the
    /// dropoff after `dropoff_after` of the current stops (`== pickup_after`:
    /// right after the pickup).
    pub pickup_after: usize,
    pub dropoff_after: usize,
    /// Planned start of the pickup.
    pub pickup_time: f64,
    /// Every pickup time in this window keeps the whole route feasible (as
    /// far as this request alone is concerned): the window to promise from.
    pub pickup_window: TimeWindow,
    /// Planned start of service at the dropoff.
    pub expected_arrival: f64,
    /// Added distance.
    pub added_cost: f64,
}

/// Why no vehicle can take a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The request needs more places than any vehicle has.
    ExceedsCapacity,
    /// No vehicle's shift can cover the trip in the requested windows.
    OutsideAnyShift,
    /// The direct trip is longer than the maximum ride time or the windows allow.
    ImpossibleTrip,
    /// Vehicles exist but none can fit the trip in time without breaking a promise.
    NoVehicleInTime,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reason::ExceedsCapacity => "the request needs more places than any vehicle has",
            Reason::OutsideAnyShift => "no vehicle is on shift for this trip",
            Reason::ImpossibleTrip => "the direct trip does not fit the ride-time limit or the windows",
            Reason::NoVehicleInTime => "no vehicle can fit the trip in time without breaking a promise",
        })
    }
}

/// A nearby time that works: the request with its windows moved by `shift`.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternative {
    pub shift: f64,
    pub offer: Offer,
}

/// The answer when nothing fits as asked.
#[derive(Debug, Clone, PartialEq)]
pub struct NoOffer {
    pub reason: Reason,
    /// The nearest earlier and later windows that would work, if any were found.
    pub alternatives: Vec<Alternative>,
}

/// Errors of the online interface (bad input, never a panic).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OnlineError {
    #[error(transparent)]
    Problem(#[from] ProblemError),
    #[error("request {0}: {1}")]
    Request(u32, noriai_model::ModelError),
    #[error("request id {0} is already in the plan")]
    DuplicateRequest(u32),
    #[error("location {loc} is unknown to the travel-time source ({len} locations)")]
    UnknownLocation { loc: u32, len: usize },
    #[error("vehicle {0} is not in the plan")]
    UnknownVehicle(u32),
    #[error("the offer no longer fits vehicle {0}'s route (the plan changed, or the promise is too narrow)")]
    StaleOffer(u32),
    #[error("request {0} is not in the plan")]
    UnknownRequest(u32),
    #[error("request {0} is already on board and cannot be removed")]
    OnBoard(u32),
    #[error("cannot restore the plan: {0}")]
    Restore(String),
    #[error("vehicle {vehicle} has only {stops} planned stops, cannot mark {done} as done")]
    TooManyDone { vehicle: u32, stops: usize, done: usize },
    #[error(
        "vehicle {vehicle} can no longer keep its plan from where and when it is (running late?); re-plan"
    )]
    CannotKeepPlan { vehicle: u32 },
}

/// Where a vehicle is and how far along its route.
#[derive(Debug, Clone, Copy)]
struct Progress {
    location: LocId,
    time: f64,
    served: usize,
    locked: usize,
}

/// A net with a few nodes replaced, to try a change before making it.
struct PatchedNet<'a, T> {
    net: LiveNet<'a, T>,
    patch: &'a [(u32, Node)],
}

impl<T: TravelTimes> Net for PatchedNet<'_, T> {
    #[inline]
    fn node(&self, i: u32) -> &Node {
        match self.patch.iter().find(|(j, _)| *j == i) {
            Some((_, n)) => n,
            None => self.net.node(i),
        }
    }
    #[inline]
    fn time(&self, a: u32, b: u32) -> f64 {
        self.net.travel.time(self.node(a).loc, self.node(b).loc)
    }
    #[inline]
    fn dist(&self, a: u32, b: u32) -> f64 {
        self.net.travel.distance(self.node(a).loc, self.node(b).loc)
    }
    fn len(&self) -> usize {
        self.net.len()
    }
}

/// How many offers and alternatives to look for.
#[derive(Debug, Clone)]
pub struct OfferOptions {
    pub max_offers: usize,
    /// Step and reach of the search for alternative windows, in time units.
    pub alternative_step: f64,
    pub alternative_reach: f64,
}

impl Default for OfferOptions {
    fn default() -> Self {
        Self { max_offers: 3, alternative_step: 900.0, alternative_reach: 4.0 * 3600.0 }
    }
}

/// The live plan of the fleet: accepted requests, promises and routes.
#[derive(Debug, Clone)]
pub struct LivePlan {
    vehicles: Vec<Vehicle>,
    veh: Vec<VehCtx>,
    nodes: Vec<Node>,
    requests: Vec<Request>,
    routes: Vec<RouteData>,
    /// Stops at the head of each route that may no longer change (vehicle en route).
    locked: Vec<usize>,
    /// What the road reported of each vehicle, once it has reported anything.
    presents: Vec<Option<Present>>,
}

/// Nodes of the plan plus, beyond its end, the two nodes of the request being priced.
struct LiveNet<'a, T> {
    nodes: &'a [Node],
    extra: &'a [Node],
    travel: &'a T,
}

impl<T: TravelTimes> Net for LiveNet<'_, T> {
    #[inline]
    fn node(&self, i: u32) -> &Node {
        let i = i as usize;
        if i < self.nodes.len() { &self.nodes[i] } else { &self.extra[i - self.nodes.len()] }
    }
    #[inline]
    fn time(&self, a: u32, b: u32) -> f64 {
        self.travel.time(self.node(a).loc, self.node(b).loc)
    }
    #[inline]
    fn dist(&self, a: u32, b: u32) -> f64 {
        self.travel.distance(self.node(a).loc, self.node(b).loc)
    }
    fn len(&self) -> usize {
        self.nodes.len() + self.extra.len()
    }
}

impl LivePlan {
    /// An empty plan for a fleet (routes hold only the drivers' breaks).
    pub fn new<T: TravelTimes>(vehicles: Vec<Vehicle>, travel: &T) -> Result<Self, OnlineError> {
        let mut nodes = Vec::new();
        let mut veh = Vec::new();
        let mut routes = Vec::new();
        let mut sc = Scratch::default();
        let mut seen = std::collections::HashSet::new();
        for (v, vehicle) in vehicles.iter().enumerate() {
            vehicle.validate().map_err(|source| ProblemError::Vehicle { id: vehicle.id.0, source })?;
            if !seen.insert(vehicle.id) {
                return Err(ProblemError::DuplicateVehicle(vehicle.id.0).into());
            }
            for loc in [vehicle.start_depot, vehicle.end_depot]
                .into_iter()
                .chain(vehicle.breaks.iter().map(|b| b.location))
            {
                check_loc(loc, travel)?;
            }
            let (s, e, mut b) = vehicle_nodes(vehicle, v as u32);
            let start = nodes.len() as u32;
            nodes.push(s);
            nodes.push(e);
            let ctx = veh_ctx(vehicle, start, start + 1);
            b.sort_by(|x, y| x.e.total_cmp(&y.e));
            let mut seq = vec![start];
            for n in b {
                seq.push(nodes.len() as u32);
                nodes.push(n);
            }
            seq.push(start + 1);
            veh.push(ctx);
            routes.push(seq);
        }
        let mut plan = LivePlan {
            vehicles,
            veh,
            nodes,
            requests: Vec::new(),
            routes: Vec::new(),
            locked: vec![0; routes.len()],
            presents: vec![None; routes.len()],
        };
        for (v, seq) in routes.into_iter().enumerate() {
            let net = LiveNet { nodes: &plan.nodes, extra: &[], travel };
            let rd =
                RouteData::compute(&net, &plan.veh[v], seq.clone(), &mut sc).unwrap_or_else(|| RouteData {
                    // Breaks that cannot fit the shift: the vehicle takes no rides.
                    early: vec![f64::INFINITY; seq.len()],
                    late: vec![f64::NEG_INFINITY; seq.len()],
                    load: vec![[0, 0]; seq.len()],
                    partner: vec![crate::schedule::NONE; seq.len()],
                    seq,
                    cost: 0.0,
                    simple: true,
                });
            plan.routes.push(rd);
        }
        Ok(plan)
    }

    pub fn vehicles(&self) -> &[Vehicle] {
        &self.vehicles
    }

    /// Accepted requests, with their promises.
    pub fn requests(&self) -> &[Request] {
        &self.requests
    }

    /// Number of planned stops (pickups, dropoffs, breaks) of vehicle `v`.
    pub fn stop_count(&self, v: usize) -> usize {
        self.routes.get(v).map_or(0, |r| r.seq.len().saturating_sub(2))
    }

    /// Total planned distance.
    pub fn cost(&self) -> f64 {
        self.routes.iter().map(|r| r.cost).sum()
    }

    /// The stops of every vehicle, for the checker or a re-plan.
    pub fn stops(&self) -> Vec<Vec<StopKind>> {
        self.routes.iter().map(|rd| rd.seq.iter().filter_map(|&x| self.stop_kind(x)).collect()).collect()
    }

    fn stop_kind(&self, x: u32) -> Option<StopKind> {
        match self.nodes[x as usize].kind {
            Kind::Pickup(r) => Some(StopKind::Pickup(self.requests[r as usize].id)),
            Kind::Dropoff(r) => Some(StopKind::Dropoff(self.requests[r as usize].id)),
            Kind::Break(_, b) => Some(StopKind::Break(b as usize)),
            Kind::Start(_) | Kind::End(_) => None,
        }
    }

    /// The plan with times and loads.
    pub fn plan<T: TravelTimes>(&self, travel: &T) -> Plan {
        let net = LiveNet { nodes: &self.nodes, extra: &[], travel };
        let routes = self
            .routes
            .iter()
            .enumerate()
            .map(|(v, rd)| {
                let m = rd.seq.len();
                let stops = (1..m - 1)
                    .filter_map(|k| {
                        let x = rd.seq[k];
                        let kind = self.stop_kind(x)?;
                        let prev = rd.seq[k - 1];
                        let n = net.node(x);
                        let load = rd.load[k];
                        Some(PlannedStop {
                            kind,
                            location: n.loc,
                            arrival: rd.early[k - 1] + net.node(prev).s + net.time(prev, x),
                            start_of_service: rd.early[k],
                            departure: rd.early[k] + n.s,
                            load: Capacity::new(load[0].max(0) as u32, load[1].max(0) as u32),
                        })
                    })
                    .collect();
                RoutePlan {
                    vehicle: self.vehicles[v].id,
                    departure: rd.early[0],
                    stops,
                    return_time: rd.early[m - 1],
                    distance: rd.cost,
                }
            })
            .collect();
        Plan { routes }
    }

    fn vehicle_index(&self, id: VehicleId) -> Result<usize, OnlineError> {
        self.vehicles.iter().position(|v| v.id == id).ok_or(OnlineError::UnknownVehicle(id.0))
    }

    /// Accepts an offer: adds the request to the vehicle's route and records
    /// `promise` (default: the offer's pickup window) as a hard constraint.
    pub fn commit<T: TravelTimes>(
        &mut self,
        request: &Request,
        offer: &Offer,
        promise: Option<TimeWindow>,
        travel: &T,
    ) -> Result<(), OnlineError> {
        let mut req = request.clone();
        self.validate_new(&req, travel)?;
        req.promise(promise.unwrap_or(offer.pickup_window)).map_err(|e| OnlineError::Request(req.id.0, e))?;
        let v = self.vehicle_index(offer.vehicle)?;
        let rd = &self.routes[v];
        if offer.dropoff_after < offer.pickup_after
            || offer.dropoff_after + 2 > rd.seq.len()
            || offer.pickup_after < self.locked[v]
            || self.out_of_service(v)
        {
            return Err(OnlineError::StaleOffer(offer.vehicle.0));
        }
        let r = self.requests.len() as u32;
        let (mut pn, mut dn) = request_nodes(&req, r);
        let p = self.nodes.len() as u32;
        pn.pair = NONE;
        dn.pair = p;
        let mut seq = Vec::new();
        let cand = Cand { cost: 0.0, i: offer.pickup_after as u32, j: offer.dropoff_after as u32 };
        splice(&rd.seq, cand, p, p + 1, &mut seq);
        let extra = [pn, dn];
        let net = LiveNet { nodes: &self.nodes, extra: &extra, travel };
        let mut sc = Scratch::default();
        let new_rd = RouteData::compute(&net, &self.veh[v], seq, &mut sc)
            .ok_or(OnlineError::StaleOffer(offer.vehicle.0))?;
        let [pn, dn] = extra;
        self.nodes.push(pn);
        self.nodes.push(dn);
        self.requests.push(req);
        self.routes[v] = new_rd;
        Ok(())
    }

    /// The vehicle is at `location` at `time` and has not left for its next
    /// stop: later insertions start from there and then.
    pub fn move_to<T: TravelTimes>(
        &mut self,
        vehicle: VehicleId,
        location: LocId,
        time: f64,
        travel: &T,
    ) -> Result<(), OnlineError> {
        self.progress(vehicle, Progress { location, time, served: 0, locked: 0 }, travel)
    }

    /// The vehicle is at `location` at `time` and drives to its next `count`
    /// planned stops, which may no longer be reordered or moved.
    pub fn lock_next<T: TravelTimes>(
        &mut self,
        vehicle: VehicleId,
        count: usize,
        location: LocId,
        time: f64,
        travel: &T,
    ) -> Result<(), OnlineError> {
        self.progress(vehicle, Progress { location, time, served: 0, locked: count }, travel)
    }

    /// The vehicle has served its first `served` planned stops and is at
    /// `location` at `time`: those stops leave the plan, and riders picked up
    /// among them keep their ride-time limit as a deadline at their dropoff.
    pub fn complete_stops<T: TravelTimes>(
        &mut self,
        vehicle: VehicleId,
        served: usize,
        location: LocId,
        time: f64,
        travel: &T,
    ) -> Result<(), OnlineError> {
        self.progress(vehicle, Progress { location, time, served, locked: 0 }, travel)
    }

    /// Builds the vehicle's new route first and changes the plan only if it
    /// is feasible; otherwise nothing changes and the caller hears why.
    fn progress<T: TravelTimes>(
        &mut self,
        vehicle: VehicleId,
        p: Progress,
        travel: &T,
    ) -> Result<(), OnlineError> {
        let v = self.vehicle_index(vehicle)?;
        check_loc(p.location, travel)?;
        if !p.time.is_finite() {
            return Err(OnlineError::Request(
                vehicle.0,
                noriai_model::ModelError::NotFinite { what: "vehicle time", value: p.time },
            ));
        }
        let rd = &self.routes[v];
        let stops = rd.seq.len() - 2;
        if p.served + p.locked > stops {
            return Err(OnlineError::TooManyDone { vehicle: vehicle.0, stops, done: p.served + p.locked });
        }
        // Riders already aboard at the start stay aboard; add those picked up since.
        let mut onboard = self.nodes[rd.seq[0] as usize].load;
        for &x in &rd.seq[1..=p.served] {
            let n = &self.nodes[x as usize];
            onboard = [onboard[0] + n.load[0], onboard[1] + n.load[1]];
        }
        let mut seq = vec![rd.seq[0]];
        seq.extend_from_slice(&rd.seq[p.served + 1..]);
        // The changed nodes, applied only once the new route is known to work:
        // dropoffs whose pickup was served get their ride limit as a deadline.
        let mut patch: Vec<(u32, Node)> = Vec::new();
        for k in 1..=p.served {
            let (pickup, departure) = (rd.seq[k], rd.early[k] + self.nodes[rd.seq[k] as usize].s);
            if let Some(&drop) = seq.iter().find(|&&x| self.nodes[x as usize].pair == pickup) {
                let mut n = self.nodes[drop as usize].clone();
                n.l = n.l.min(departure + n.ride);
                n.pair = NONE;
                patch.push((drop, n));
            }
        }
        let start = self.veh[v].start;
        let mut s = self.nodes[start as usize].clone();
        (s.loc, s.e, s.l, s.load) = (p.location, p.time, s.l.max(p.time), onboard);
        patch.push((start, s));
        let mut veh = self.veh[v].clone();
        if veh.max_dur.is_finite() {
            veh.max_dur = (veh.max_dur - (p.time - rd.early[0]).max(0.0)).max(0.0);
        }
        let net = PatchedNet { net: LiveNet { nodes: &self.nodes, extra: &[], travel }, patch: &patch };
        let new_rd = RouteData::compute(&net, &veh, seq, &mut Scratch::default())
            .ok_or(OnlineError::CannotKeepPlan { vehicle: vehicle.0 })?;
        for (i, n) in patch {
            self.nodes[i as usize] = n;
        }
        self.veh[v] = veh;
        self.routes[v] = new_rd;
        self.locked[v] = p.locked;
        Ok(())
    }

    /// Whether vehicle `v` has been taken out of service (a breakdown).
    fn out_of_service(&self, v: usize) -> bool {
        self.presents[v].as_ref().is_some_and(|p| p.out_of_service)
    }

    /// What the road last reported of each vehicle (`None`: nothing yet).
    pub fn presents(&self) -> &[Option<Present>] {
        &self.presents
    }

    /// The node index of a request's pickup (`pickup`) or dropoff.
    fn node_of(&self, r: u32, pickup: bool) -> Option<u32> {
        self.nodes
            .iter()
            .position(|n| n.kind == if pickup { Kind::Pickup(r) } else { Kind::Dropoff(r) })
            .map(|x| x as u32)
    }

    /// Plans vehicle `vehicle` from what the road reported (`present`): the
    /// stops it has served leave the route, riders aboard keep their
    /// ride-time limit from when they boarded, and the rest of the route
    /// starts where and when the vehicle now is. Each bound is taken afresh
    /// from the requests, so reporting the same present twice changes
    /// nothing. When the route can no longer keep every promise, the bounds
    /// that break are moved to the new times and returned as [`Late`]: the
    /// vehicle keeps its riders (the caller may move them), and the plan
    /// stays feasible. Nothing changes on an error.
    pub fn rebase<T: TravelTimes>(
        &mut self,
        vehicle: VehicleId,
        present: &Present,
        travel: &T,
    ) -> Result<Vec<Late>, OnlineError> {
        let v = self.vehicle_index(vehicle)?;
        let (seq, patch, veh, locked, late) = self.rebased_route(v, present, travel)?;
        for (i, n) in patch {
            self.nodes[i as usize] = n;
        }
        self.veh[v] = veh;
        self.routes[v] = seq;
        self.locked[v] = locked;
        self.presents[v] = Some(present.clone());
        Ok(late)
    }

    /// Plans vehicle `vehicle` again from its present (or, before it has
    /// reported, from its depot and shift), as [`LivePlan::rebase`] does:
    /// after the travel times changed under the plan (a road closed).
    pub fn recheck<T: TravelTimes>(
        &mut self,
        vehicle: VehicleId,
        travel: &T,
    ) -> Result<Vec<Late>, OnlineError> {
        let v = self.vehicle_index(vehicle)?;
        let present = match &self.presents[v] {
            Some(p) => p.clone(),
            None => {
                let vehicle = &self.vehicles[v];
                Present {
                    location: vehicle.start_depot,
                    time: vehicle.shift.earliest(),
                    picked_up: Vec::new(),
                    dropped_off: Vec::new(),
                    heading: false,
                    out_of_service: false,
                }
            }
        };
        let (rd, patch, veh, locked, late) = self.rebased_route(v, &present, travel)?;
        for (i, n) in patch {
            self.nodes[i as usize] = n;
        }
        self.veh[v] = veh;
        self.routes[v] = rd;
        self.locked[v] = locked;
        Ok(late)
    }

    #[allow(clippy::type_complexity)]
    fn rebased_route<T: TravelTimes>(
        &self,
        v: usize,
        present: &Present,
        travel: &T,
    ) -> Result<(RouteData, Vec<(u32, Node)>, VehCtx, usize, Vec<Late>), OnlineError> {
        let vehicle = &self.vehicles[v];
        let id = vehicle.id.0;
        check_loc(present.location, travel)?;
        if !present.time.is_finite() {
            return Err(OnlineError::Request(
                id,
                noriai_model::ModelError::NotFinite { what: "vehicle time", value: present.time },
            ));
        }
        let index = |rid: RequestId| {
            self.requests
                .iter()
                .position(|q| q.id == rid)
                .map(|r| r as u32)
                .ok_or(OnlineError::UnknownRequest(rid.0))
        };
        // Nodes served already, and riders aboard with when they boarded.
        let mut served = std::collections::HashSet::new();
        let mut aboard: Vec<(u32, f64)> = Vec::new();
        for &(rid, departed) in &present.picked_up {
            let r = index(rid)?;
            served.insert(self.node_of(r, true).ok_or(OnlineError::UnknownRequest(rid.0))?);
            if !present.dropped(rid) {
                aboard.push((r, departed));
            }
        }
        for &(rid, _) in &present.dropped_off {
            let r = index(rid)?;
            if !present.picked(rid) {
                return Err(OnlineError::Restore(format!(
                    "request {} is dropped off but was never picked up",
                    rid.0
                )));
            }
            served.insert(self.node_of(r, false).ok_or(OnlineError::UnknownRequest(rid.0))?);
        }
        let old = &self.routes[v].seq;
        let seq: Vec<u32> = old.iter().copied().filter(|x| !served.contains(x)).collect();
        // Bounds afresh from the requests; riders aboard get their deadline.
        let mut patch: Vec<(u32, Node)> = Vec::new();
        let mut load = [0i64; 2];
        for &x in &seq[1..seq.len() - 1] {
            let mut n = self.nodes[x as usize].clone();
            match n.kind {
                Kind::Pickup(r) => {
                    let req = &self.requests[r as usize];
                    let w = req.effective_pickup_window();
                    (n.e, n.l) = (w.earliest(), w.latest());
                }
                Kind::Dropoff(r) => {
                    let req = &self.requests[r as usize];
                    (n.e, n.l, n.ride) =
                        (req.dropoff_window.earliest(), req.dropoff_window.latest(), req.max_ride_time);
                    if let Some(&(_, departed)) = aboard.iter().find(|(q, _)| *q == r) {
                        n.l = n.l.min(departed + req.max_ride_time);
                        n.pair = NONE;
                        let q = self.requests[r as usize].load.as_array();
                        load = [load[0] + q[0], load[1] + q[1]];
                    }
                }
                Kind::Break(_, b) => {
                    let w = vehicle.breaks[b as usize].window;
                    (n.e, n.l) = (w.earliest(), w.latest());
                }
                Kind::Start(_) | Kind::End(_) => {}
            }
            patch.push((x, n));
        }
        // Every rider aboard must be dropped off by this vehicle.
        for &(r, _) in &aboard {
            let d =
                self.node_of(r, false).ok_or(OnlineError::UnknownRequest(self.requests[r as usize].id.0))?;
            if !seq.contains(&d) {
                return Err(OnlineError::Restore(format!(
                    "request {} is aboard vehicle {id} but its dropoff is not on that route",
                    self.requests[r as usize].id.0
                )));
            }
        }
        let start = self.veh[v].start;
        let mut s = self.nodes[start as usize].clone();
        (s.loc, s.e, s.l, s.load) =
            (present.location, present.time, vehicle.shift.latest().max(present.time), load);
        patch.push((start, s));
        let end = self.veh[v].end;
        let mut e = self.nodes[end as usize].clone();
        e.l = vehicle.shift.latest();
        patch.push((end, e));
        let mut veh = self.veh[v].clone();
        veh.max_dur = vehicle.max_route_duration;
        if veh.max_dur.is_finite() {
            veh.max_dur = (veh.max_dur - (present.time - vehicle.shift.earliest()).max(0.0)).max(0.0);
        }
        let locked = usize::from(present.heading && seq.len() > 2);
        let strict = {
            let net = PatchedNet { net: LiveNet { nodes: &self.nodes, extra: &[], travel }, patch: &patch };
            RouteData::compute(&net, &veh, seq.clone(), &mut Scratch::default())
        };
        if let Some(rd) = strict {
            return Ok((rd, patch, veh, locked, Vec::new()));
        }
        // Late: from here, as early as the road allows, every bound that
        // breaks moves to the time it will now be met.
        let late = {
            let net = PatchedNet { net: LiveNet { nodes: &self.nodes, extra: &[], travel }, patch: &patch };
            let mut b = vec![present.time; seq.len()];
            for k in 1..seq.len() {
                let prev = net.node(seq[k - 1]);
                b[k] = (b[k - 1] + prev.s + net.time(seq[k - 1], seq[k])).max(net.node(seq[k]).e);
            }
            // A stop the road no longer reaches (closed off) cannot be made late: it cannot be served.
            if b.iter().any(|t| !t.is_finite()) {
                return Err(OnlineError::CannotKeepPlan { vehicle: id });
            }
            let mut late = Vec::new();
            let mut moved: Vec<(u32, Node)> = Vec::new();
            for k in 1..seq.len() {
                let x = seq[k];
                let mut n = net.node(x).clone();
                let mut changed = false;
                if b[k] > n.l {
                    let was = n.l;
                    n.l = b[k];
                    changed = true;
                    if let Kind::Pickup(r) | Kind::Dropoff(r) = n.kind {
                        late.push(Late {
                            request: self.requests[r as usize].id,
                            pickup: matches!(n.kind, Kind::Pickup(_)),
                            latest: was,
                            eta: b[k],
                        });
                    }
                }
                // A ride limit (of a rider not aboard yet) that breaks.
                let pickup_at = seq.iter().position(|&y| n.pair != NONE && y == n.pair);
                if let (Some(i), Kind::Dropoff(r)) = (pickup_at.filter(|_| n.ride.is_finite()), n.kind) {
                    let start = b[i] + net.node(n.pair).s;
                    let id = self.requests[r as usize].id;
                    if b[k] - start > n.ride {
                        if !late.iter().any(|l| l.request == id && !l.pickup) {
                            late.push(Late { request: id, pickup: false, latest: start + n.ride, eta: b[k] });
                        }
                        n.ride = b[k] - start;
                        changed = true;
                    }
                }
                if changed {
                    moved.push((x, n));
                }
            }
            for (x, n) in moved {
                match patch.iter_mut().find(|(y, _)| *y == x) {
                    Some(slot) => slot.1 = n,
                    None => patch.push((x, n)),
                }
            }
            late
        };
        veh.max_dur = f64::INFINITY;
        let net = PatchedNet { net: LiveNet { nodes: &self.nodes, extra: &[], travel }, patch: &patch };
        let rd = RouteData::compute(&net, &veh, seq, &mut Scratch::default())
            .ok_or(OnlineError::CannotKeepPlan { vehicle: id })?;
        Ok((rd, patch, veh, locked, late))
    }

    /// Rebuilds a plan from stored routes (one stop list per vehicle, in the
    /// order of `vehicles`), e.g. after a restart or a batch re-plan. Every
    /// request must appear exactly once as a pickup followed by its dropoff on
    /// one vehicle, and every route must be feasible with the requests' promises.
    pub fn restore<T: TravelTimes>(
        vehicles: Vec<Vehicle>,
        requests: Vec<Request>,
        routes: &[Vec<StopKind>],
        travel: &T,
    ) -> Result<Self, OnlineError> {
        Self::restore_with(vehicles, requests, routes, &[], false, travel).map(|(plan, _)| plan)
    }

    /// [`LivePlan::restore`] for a day under way: `presents` (by vehicle
    /// index, as [`LivePlan::presents`] gives them) say what each vehicle has
    /// served and where it is. Served stops may be in `routes` or not; a
    /// request served whole need not be. Vehicles with a present are planned
    /// from it with [`LivePlan::rebase`], and a vehicle whose route no longer
    /// keeps its promises on these travel times (a closure, winter roads) is
    /// planned late as [`LivePlan::recheck`] does; the late riders are
    /// returned with their vehicle.
    pub fn restore_live<T: TravelTimes>(
        vehicles: Vec<Vehicle>,
        requests: Vec<Request>,
        routes: &[Vec<StopKind>],
        presents: &[Option<Present>],
        travel: &T,
    ) -> Result<(Self, Vec<(VehicleId, Late)>), OnlineError> {
        Self::restore_with(vehicles, requests, routes, presents, true, travel)
    }

    fn restore_with<T: TravelTimes>(
        vehicles: Vec<Vehicle>,
        requests: Vec<Request>,
        routes: &[Vec<StopKind>],
        presents: &[Option<Present>],
        lenient: bool,
        travel: &T,
    ) -> Result<(Self, Vec<(VehicleId, Late)>), OnlineError> {
        let bad = |m: String| OnlineError::Restore(m);
        let present_of = |v: usize| presents.get(v).and_then(Option::as_ref);
        if routes.len() > vehicles.len() {
            return Err(bad(format!("{} routes for {} vehicles", routes.len(), vehicles.len())));
        }
        let mut plan = LivePlan::new(vehicles, travel)?;
        let mut nodes_of = std::collections::HashMap::new();
        for req in requests {
            plan.validate_new(&req, travel)?;
            let r = plan.requests.len() as u32;
            let (mut pn, mut dn) = request_nodes(&req, r);
            let p = plan.nodes.len() as u32;
            pn.pair = NONE;
            dn.pair = p;
            plan.nodes.push(pn);
            plan.nodes.push(dn);
            nodes_of.insert(req.id, (p, false, false));
            plan.requests.push(req);
        }
        // What a vehicle served counts as placed, on that vehicle.
        for present in presents.iter().flatten() {
            for (rid, _) in &present.picked_up {
                let e = nodes_of.get_mut(rid).ok_or_else(|| bad(format!("unknown request {}", rid.0)))?;
                e.1 = true;
                e.2 |= present.dropped(*rid);
            }
        }
        let mut sc = Scratch::default();
        let empty = Vec::new();
        let mut late_routes = Vec::new();
        for v in 0..plan.vehicles.len() {
            let stops = match routes.get(v) {
                Some(stops) => stops,
                None if present_of(v).is_some() => &empty,
                // No stored route: the vehicle keeps its empty one.
                None => continue,
            };
            let served = |stop: &StopKind| {
                present_of(v).is_some_and(|p| match *stop {
                    StopKind::Pickup(id) => p.picked(id),
                    StopKind::Dropoff(id) => p.dropped(id),
                    StopKind::Break(_) => false,
                })
            };
            let stops: Vec<StopKind> = stops.iter().copied().filter(|s| !served(s)).collect();
            let old = &plan.routes[v].seq;
            let (start, end) = (old[0], old[old.len() - 1]);
            let breaks: Vec<u32> = old[1..old.len() - 1].to_vec();
            let mut seq = vec![start];
            let mut used_breaks = 0;
            for stop in &stops {
                match *stop {
                    StopKind::Pickup(id) => {
                        let e =
                            nodes_of.get_mut(&id).ok_or_else(|| bad(format!("unknown request {}", id.0)))?;
                        if e.1 {
                            return Err(bad(format!("request {} is picked up twice", id.0)));
                        }
                        e.1 = true;
                        seq.push(e.0);
                    }
                    StopKind::Dropoff(id) => {
                        let e =
                            nodes_of.get_mut(&id).ok_or_else(|| bad(format!("unknown request {}", id.0)))?;
                        if !e.1 || e.2 {
                            return Err(bad(format!(
                                "request {} is dropped off before its pickup or twice",
                                id.0
                            )));
                        }
                        e.2 = true;
                        seq.push(e.0 + 1);
                    }
                    StopKind::Break(b) => {
                        let node = breaks
                            .iter()
                            .copied()
                            .find(|&x| matches!(plan.nodes[x as usize].kind, Kind::Break(_, k) if k as usize == b))
                            .ok_or_else(|| bad(format!("vehicle {v} has no break {b}")))?;
                        used_breaks += 1;
                        seq.push(node);
                    }
                }
            }
            if used_breaks != breaks.len() {
                return Err(bad(format!(
                    "vehicle {v}'s route lists {used_breaks} of its {} breaks",
                    breaks.len()
                )));
            }
            seq.push(end);
            let vid = plan.vehicles[v].id.0;
            if present_of(v).is_some() {
                // Planned from its present below.
                plan.routes[v].seq = seq;
                continue;
            }
            let net = LiveNet { nodes: &plan.nodes, extra: &[], travel };
            match RouteData::compute(&net, &plan.veh[v], seq.clone(), &mut sc) {
                Some(rd) => plan.routes[v] = rd,
                None if lenient => {
                    plan.routes[v].seq = seq;
                    late_routes.push(v);
                }
                None => return Err(bad(format!("vehicle {vid}'s route is not feasible"))),
            }
        }
        // Pickups count as served on their vehicle; dropoffs pair up with them.
        for (id, (_, picked, dropped)) in &nodes_of {
            if !(*picked && *dropped) {
                return Err(bad(format!("request {} is not in any route", id.0)));
            }
        }
        for (v, stops) in routes.iter().enumerate() {
            for stop in stops {
                if let StopKind::Dropoff(id) = stop {
                    let aboard = present_of(v).is_some_and(|p| p.picked(*id));
                    let on_this = aboard || stops.contains(&StopKind::Pickup(*id));
                    if !on_this {
                        return Err(bad(format!(
                            "request {}'s pickup and dropoff are on different vehicles ({v})",
                            id.0
                        )));
                    }
                }
            }
        }
        let mut late = Vec::new();
        for (v, present) in presents.iter().enumerate().take(plan.vehicles.len()) {
            if let Some(present) = present {
                let id = plan.vehicles[v].id;
                late.extend(plan.rebase(id, present, travel)?.into_iter().map(|l| (id, l)));
            }
        }
        for v in late_routes {
            let id = plan.vehicles[v].id;
            late.extend(plan.recheck(id, travel)?.into_iter().map(|l| (id, l)));
        }
        Ok((plan, late))
    }

    /// The vehicle (index) whose route holds a request's stops.
    pub fn vehicle_of(&self, id: RequestId) -> Option<usize> {
        let r = self.requests.iter().position(|q| q.id == id)? as u32;
        self.routes.iter().position(|rd| {
            rd.seq
                .iter()
                .any(|&x| matches!(self.nodes[x as usize].kind, Kind::Pickup(q) | Kind::Dropoff(q) if q == r))
        })
    }

    /// Takes a request out of the plan (a cancellation). The rest of its route
    /// keeps its order; a rider already on board cannot be removed.
    pub fn remove<T: TravelTimes>(&mut self, id: RequestId, travel: &T) -> Result<(), OnlineError> {
        let r =
            self.requests.iter().position(|q| q.id == id).ok_or(OnlineError::UnknownRequest(id.0))? as u32;
        let mine = |k: &Kind| matches!(*k, Kind::Pickup(q) | Kind::Dropoff(q) if q == r);
        let v = self.vehicle_of(id);
        if let Some(v) = v {
            let seq = &self.routes[v].seq;
            let has_pickup =
                seq.iter().any(|&x| matches!(self.nodes[x as usize].kind, Kind::Pickup(q) if q == r));
            if !has_pickup {
                return Err(OnlineError::OnBoard(id.0));
            }
            let new_seq: Vec<u32> =
                seq.iter().copied().filter(|&x| !mine(&self.nodes[x as usize].kind)).collect();
            let net = LiveNet { nodes: &self.nodes, extra: &[], travel };
            let mut sc = Scratch::default();
            // A subsequence of a feasible route is feasible under the triangle
            // inequality; if rounding breaks that, keep the route as it was.
            let rd = RouteData::compute(&net, &self.veh[v], new_seq, &mut sc)
                .ok_or(OnlineError::Restore(format!("route of vehicle {} without request {}", v, id.0)))?;
            self.routes[v] = rd;
        }
        // Drop the request's two nodes and renumber everything after them.
        let gone: Vec<u32> =
            (0..self.nodes.len() as u32).filter(|&x| mine(&self.nodes[x as usize].kind)).collect();
        let shift = |x: u32| x - gone.iter().filter(|&&g| g < x).count() as u32;
        for &g in gone.iter().rev() {
            self.nodes.remove(g as usize);
        }
        for n in &mut self.nodes {
            n.kind = match n.kind {
                Kind::Pickup(q) if q > r => Kind::Pickup(q - 1),
                Kind::Dropoff(q) if q > r => Kind::Dropoff(q - 1),
                k => k,
            };
            if n.pair != NONE {
                n.pair = shift(n.pair);
            }
        }
        for ctx in &mut self.veh {
            ctx.start = shift(ctx.start);
            ctx.end = shift(ctx.end);
        }
        for rd in &mut self.routes {
            for x in &mut rd.seq {
                *x = shift(*x);
            }
        }
        self.requests.remove(r as usize);
        Ok(())
    }

    fn validate_new<T: TravelTimes>(&self, req: &Request, travel: &T) -> Result<(), OnlineError> {
        req.validate().map_err(|e| OnlineError::Request(req.id.0, e))?;
        check_loc(req.pickup, travel)?;
        check_loc(req.dropoff, travel)?;
        if self.requests.iter().any(|r| r.id == req.id) {
            return Err(OnlineError::DuplicateRequest(req.id.0));
        }
        Ok(())
    }
}

fn check_loc<T: TravelTimes>(loc: LocId, travel: &T) -> Result<(), OnlineError> {
    if loc.index() < travel.len() {
        Ok(())
    } else {
        Err(OnlineError::UnknownLocation { loc: loc.0, len: travel.len() })
    }
}

/// The best offers for `request`, cheapest first, at most one per vehicle;
/// or why there is none, with the nearest windows that would work.
pub fn insert<T: TravelTimes>(
    plan: &LivePlan,
    request: &Request,
    travel: &T,
    opts: &OfferOptions,
) -> Result<Result<Vec<Offer>, NoOffer>, OnlineError> {
    plan.validate_new(request, travel)?;
    let offers = offers_for(plan, request, travel, opts.max_offers.max(1));
    if !offers.is_empty() {
        return Ok(Ok(offers));
    }
    let reason = diagnose(plan, request, travel);
    let mut alternatives = Vec::new();
    if reason != Reason::ExceedsCapacity && reason != Reason::ImpossibleTrip && opts.alternative_step > 0.0 {
        let steps = (opts.alternative_reach / opts.alternative_step).floor() as i64;
        for dir in [-1.0, 1.0] {
            for k in 1..=steps {
                let shift = dir * k as f64 * opts.alternative_step;
                let mut moved = request.clone();
                moved.pickup_window = request.pickup_window.shifted(shift);
                moved.dropoff_window = request.dropoff_window.shifted(shift);
                if let Some(offer) = offers_for(plan, &moved, travel, 1).into_iter().next() {
                    alternatives.push(Alternative { shift, offer });
                    break;
                }
            }
        }
    }
    Ok(Err(NoOffer { reason, alternatives }))
}

fn offers_for<T: TravelTimes>(
    plan: &LivePlan,
    request: &Request,
    travel: &T,
    max_offers: usize,
) -> Vec<Offer> {
    let (mut pn, mut dn) = request_nodes(request, u32::MAX);
    let p = plan.nodes.len() as u32;
    pn.pair = NONE;
    dn.pair = p;
    let extra = [pn, dn];
    let net = LiveNet { nodes: &plan.nodes, extra: &extra, travel };
    let mut sc = Scratch::default();
    let mut found: Vec<(f64, usize, Cand)> = Vec::new();
    let mut out = Vec::with_capacity(1);
    // Cheap pruning: a vehicle whose shift cannot reach the pickup in its window is skipped.
    let direct = travel.time(request.pickup, request.dropoff);
    for (v, rd) in plan.routes.iter().enumerate() {
        if !request.load.fits_within(plan.vehicles[v].capacity) || plan.out_of_service(v) {
            continue;
        }
        let shift = plan.vehicles[v].shift;
        if shift.latest() < extra[0].e + direct || rd.early[0] > extra[0].l {
            continue;
        }
        feasible_insertions(&net, rd, &plan.veh[v], p, p + 1, plan.locked[v], 1, &mut sc, &mut out);
        if let Some(&c) = out.first() {
            found.push((c.cost, v, c));
        }
    }
    found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    found.truncate(max_offers);
    let mut seq = Vec::new();
    found
        .into_iter()
        .filter_map(|(_, v, c)| {
            splice(&plan.routes[v].seq, c, p, p + 1, &mut seq);
            let rd = RouteData::compute(&net, &plan.veh[v], seq.clone(), &mut sc)?;
            let pp = c.i as usize + 1;
            let dp = c.j as usize + 2;
            Some(Offer {
                vehicle: plan.vehicles[v].id,
                pickup_after: c.i as usize,
                dropoff_after: c.j as usize,
                pickup_time: rd.early[pp],
                pickup_window: TimeWindow::new(rd.early[pp], rd.late[pp].max(rd.early[pp])).ok()?,
                expected_arrival: rd.early[dp],
                added_cost: c.cost,
            })
        })
        .collect()
}

/// Why nothing fits: the coarsest cause that applies.
fn diagnose<T: TravelTimes>(plan: &LivePlan, request: &Request, travel: &T) -> Reason {
    if !plan.vehicles.iter().any(|v| request.load.fits_within(v.capacity)) {
        return Reason::ExceedsCapacity;
    }
    let direct = travel.time(request.pickup, request.dropoff);
    let pw = request.effective_pickup_window();
    let earliest_drop =
        (pw.earliest() + request.pickup_service + direct).max(request.dropoff_window.earliest());
    if direct > request.max_ride_time || earliest_drop > request.dropoff_window.latest() {
        return Reason::ImpossibleTrip;
    }
    let on_shift = plan.vehicles.iter().any(|v| {
        let reach = v.shift.earliest() + travel.time(v.start_depot, request.pickup);
        let pickup = reach.max(pw.earliest());
        let drop = (pickup + request.pickup_service + direct).max(request.dropoff_window.earliest());
        pickup <= pw.latest()
            && drop <= request.dropoff_window.latest()
            && drop + request.dropoff_service + travel.time(request.dropoff, v.end_depot) <= v.shift.latest()
    });
    if !on_shift {
        return Reason::OutsideAnyShift;
    }
    Reason::NoVehicleInTime
}

/// The id of each request in the plan, for callers that track bookings.
pub fn request_ids(plan: &LivePlan) -> Vec<RequestId> {
    plan.requests.iter().map(|r| r.id).collect()
}
