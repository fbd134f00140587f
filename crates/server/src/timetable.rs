//! TimetableService: the loaded GTFS and GTFS-JP feeds, searched and read
//! for riders, visitors and operators. The feeds are immutable once loaded;
//! a reload builds new ones off the async workers and swaps them in whole.

use crate::convert::{invalid, latlon, latlon_to_pb, timestamp};
use crate::pb;
use crate::pb::timetable_service_server::TimetableService;
use chrono::{DateTime, NaiveDate, Utc};
use noriai_timetable::{Feed, FeedError};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Instant;
use tonic::{Request, Response, Status};

/// Timetable questions are answered for these years (feeds cover a few;
/// far outside, date arithmetic would overflow).
const MIN_YEAR: i32 = 1970;
const MAX_YEAR: i32 = 2200;

/// Longest stop search text.
const MAX_QUERY_CHARS: usize = 100;

/// One loaded feed and how long it took.
#[derive(Debug)]
pub struct LoadedFeed {
    pub feed: Feed,
    pub load_ms: f64,
}

/// The feeds given to `serve --gtfs`, as last loaded.
#[derive(Debug, Default)]
pub struct Timetables {
    paths: Vec<PathBuf>,
    feeds: RwLock<Arc<Vec<LoadedFeed>>>,
}

impl Timetables {
    /// Reads every feed at `paths` (blocking); the first that fails is the error.
    pub fn load(paths: Vec<PathBuf>) -> Result<Self, FeedError> {
        let feeds = read_all(&paths)?;
        Ok(Self { paths, feeds: RwLock::new(Arc::new(feeds)) })
    }

    /// The feeds now.
    pub fn feeds(&self) -> Arc<Vec<LoadedFeed>> {
        self.feeds.read().map_or_else(|p| p.into_inner().clone(), |f| f.clone())
    }

    /// Reads the feeds again; on an error the old ones stay.
    pub fn reload(&self) -> Result<Arc<Vec<LoadedFeed>>, FeedError> {
        let feeds = Arc::new(read_all(&self.paths)?);
        match self.feeds.write() {
            Ok(mut f) => *f = feeds.clone(),
            Err(p) => *p.into_inner() = feeds.clone(),
        }
        Ok(feeds)
    }
}

fn read_all(paths: &[PathBuf]) -> Result<Vec<LoadedFeed>, FeedError> {
    let today = Utc::now().date_naive();
    let mut out: Vec<LoadedFeed> = Vec::new();
    for path in paths {
        let started = Instant::now();
        let mut feed = Feed::load(path, today)?;
        // Two feeds of the same file name stay apart.
        let base = feed.name.clone();
        let mut n = 1;
        while out.iter().any(|f| f.feed.name == feed.name) {
            n += 1;
            feed.name = format!("{base}-{n}");
        }
        let load_ms = started.elapsed().as_secs_f64() * 1000.0;
        for w in &feed.warnings {
            tracing::warn!(feed = %feed.name, "{w}");
        }
        tracing::info!(feed = %feed.name, stops = feed.stops.len(), trips = feed.trips.len(), load_ms, "timetable loaded");
        out.push(LoadedFeed { feed, load_ms });
    }
    Ok(out)
}

/// The gRPC face of [`Timetables`].
#[derive(Debug, Clone)]
pub struct TimetableApi {
    pub timetables: Arc<Timetables>,
}

/// A language tag as given ("ja", "ja-Hrkt", "en"); empty: the feed's own
/// names (no translation is in the empty language).
pub(crate) fn lang(tag: &str) -> Result<&str, Status> {
    if tag.len() > 35 || !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(invalid("lang", "must be a language tag such as `ja`, `ja-Hrkt` or `en`"));
    }
    Ok(tag)
}

fn limit(field: &str, given: u32, default: u32, max: u32) -> Result<usize, Status> {
    match given {
        0 => Ok(default as usize),
        n if n <= max => Ok(n as usize),
        _ => Err(invalid(field, format!("at most {max}"))),
    }
}

fn day_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// What a stop looks like to a caller in `lang`.
fn stop_pb(feed: &Feed, index: u32, lang: &str, distance_m: Option<f64>) -> pb::TransitStop {
    let stop = &feed.stops[index as usize];
    pb::TransitStop {
        stop_id: stop.id.clone(),
        feed: feed.name.clone(),
        name: feed.stop_name(stop, lang).to_string(),
        reading: stop.reading.clone().unwrap_or_default(),
        location: stop.location.map(latlon_to_pb),
        platform: stop.platform.clone().unwrap_or_default(),
        routes: feed.routes_at(index).into_iter().map(|r| route_pb(feed, r, lang)).collect(),
        distance_m: distance_m.unwrap_or(0.0),
        feed_name: stop.name.clone(),
    }
}

pub(crate) fn route_pb(feed: &Feed, r: &noriai_timetable::Route, lang: &str) -> pb::TransitRoute {
    let tr = |field: &str, text: &str| feed.translated("routes", field, &r.id, text, lang).to_string();
    pb::TransitRoute {
        route_id: r.id.clone(),
        short_name: tr("route_short_name", &r.short_name),
        long_name: tr("route_long_name", &r.long_name),
    }
}

/// Where a trip goes, in `lang`: its headsign, else its last stop's name.
pub(crate) fn headsign(feed: &Feed, trip: &noriai_timetable::Trip, lang: &str) -> String {
    if !trip.headsign.is_empty() {
        return feed.translated("trips", "trip_headsign", &trip.id, &trip.headsign, lang).to_string();
    }
    trip.stop_times
        .last()
        .map_or_else(String::new, |st| feed.stop_name(&feed.stops[st.stop as usize], lang).to_string())
}

/// The feed holding `id` (of `kind`, found by `has`), or the one named `feed`.
fn which_feed<'a>(
    feeds: &'a [LoadedFeed],
    feed: &str,
    field: &str,
    id: &str,
    has: impl Fn(&Feed) -> bool,
) -> Result<&'a Feed, Status> {
    if id.is_empty() {
        return Err(invalid(field, "is required"));
    }
    let shown = noriai_model::excerpt(id);
    if !feed.is_empty() {
        let f = feeds.iter().find(|f| f.feed.name == feed).ok_or_else(|| {
            Status::not_found(format!(
                "no feed `{}` is loaded; ListFeeds names them",
                noriai_model::excerpt(feed)
            ))
        })?;
        return if has(&f.feed) {
            Ok(&f.feed)
        } else {
            Err(Status::not_found(format!("feed `{}` has no {field} `{shown}`", f.feed.name)))
        };
    }
    let mut found = feeds.iter().filter(|f| has(&f.feed));
    match (found.next(), found.next()) {
        (Some(f), None) => Ok(&f.feed),
        (None, _) if feeds.is_empty() => {
            Err(Status::failed_precondition("no timetables are loaded; start the service with --gtfs PATH"))
        }
        (None, _) => {
            Err(Status::not_found(format!("no loaded feed has {field} `{shown}`; SearchStops finds stops")))
        }
        (Some(a), Some(b)) => Err(invalid(
            "feed",
            format!("{field} `{shown}` is in feeds `{}` and `{}`; say which", a.feed.name, b.feed.name),
        )),
    }
}

#[tonic::async_trait]
impl TimetableService for TimetableApi {
    async fn search_stops(
        &self,
        req: Request<pb::SearchStopsRequest>,
    ) -> Result<Response<pb::SearchStopsResponse>, Status> {
        let r = req.get_ref();
        let lang = lang(&r.lang)?;
        if r.query.chars().count() > MAX_QUERY_CHARS {
            return Err(invalid("query", format!("at most {MAX_QUERY_CHARS} characters")));
        }
        let limit = limit("limit", r.limit, 20, 200)?;
        let near = match &r.near {
            Some(_) => {
                let radius = if r.near_radius_m == 0.0 { 1000.0 } else { r.near_radius_m };
                if !(radius > 0.0 && radius <= 50_000.0) {
                    return Err(invalid("near_radius_m", "must be above 0 and at most 50,000 m"));
                }
                Some((latlon("near", r.near.as_ref())?, radius))
            }
            None if r.query.trim().is_empty() => {
                return Err(invalid("query", "is required unless `near` is given"));
            }
            None => None,
        };
        let feeds = self.timetables.feeds();
        let mut hits: Vec<(usize, pb::TransitStop)> = Vec::new();
        for f in feeds.iter() {
            for (rank, h) in f.feed.search_stops(&r.query, near, limit).into_iter().enumerate() {
                hits.push((rank, stop_pb(&f.feed, h.index, lang, h.distance_m)));
            }
        }
        // Feeds interleave by rank (or distance near a point).
        if near.is_some() {
            hits.sort_by(|a, b| a.1.distance_m.total_cmp(&b.1.distance_m));
        } else {
            hits.sort_by_key(|(rank, _)| *rank);
        }
        Ok(Response::new(pb::SearchStopsResponse {
            stops: hits.into_iter().take(limit).map(|(_, s)| s).collect(),
        }))
    }

    async fn departures(
        &self,
        req: Request<pb::DeparturesRequest>,
    ) -> Result<Response<pb::DeparturesResponse>, Status> {
        let r = req.get_ref();
        let lang = lang(&r.lang)?;
        let limit = limit("limit", r.limit, 10, 100)?;
        let after = match &r.after {
            None => Utc::now(),
            Some(t) => DateTime::from_timestamp(t.seconds, 0)
                .filter(|t| (MIN_YEAR..=MAX_YEAR).contains(&chrono::Datelike::year(t)))
                .ok_or_else(|| {
                    invalid("after", format!("must be a time in the years {MIN_YEAR} to {MAX_YEAR}"))
                })?,
        };
        let feeds = self.timetables.feeds();
        let feed = which_feed(&feeds, &r.feed, "stop_id", &r.stop_id, |f| f.stop(&r.stop_id).is_some())?;
        let index = feed.stop_number(&r.stop_id).unwrap_or_default();
        let departures = feed
            .departures(index, after, limit)
            .into_iter()
            .map(|d| pb::Departure {
                departure_time: timestamp(d.at.timestamp()),
                departure_local: d.at.with_timezone(&feed.timezone).format("%Y-%m-%d %H:%M").to_string(),
                route_short_name: route_pb(feed, d.route, lang).short_name,
                route_long_name: route_pb(feed, d.route, lang).long_name,
                headsign: headsign(feed, d.trip, lang),
                trip_id: d.trip.id.clone(),
                platform: d.stop.platform.clone().unwrap_or_default(),
                route_id: d.route.id.clone(),
                stop_id: d.stop.id.clone(),
                service_day: day_text(d.service_day),
            })
            .collect();
        Ok(Response::new(pb::DeparturesResponse { stop: Some(stop_pb(feed, index, lang, None)), departures }))
    }

    async fn route_timetable(
        &self,
        req: Request<pb::RouteTimetableRequest>,
    ) -> Result<Response<pb::RouteTimetableResponse>, Status> {
        let r = req.get_ref();
        let lang = lang(&r.lang)?;
        let feeds = self.timetables.feeds();
        let feed = which_feed(&feeds, &r.feed, "route_id", &r.route_id, |f| f.route(&r.route_id).is_some())?;
        let day = if r.day.is_empty() {
            feed.local_day(Utc::now())
        } else {
            NaiveDate::parse_from_str(&r.day, "%Y-%m-%d")
                .ok()
                .filter(|d| (MIN_YEAR..=MAX_YEAR).contains(&chrono::Datelike::year(d)))
                .ok_or_else(|| {
                    invalid("day", format!("must be YYYY-MM-DD in the years {MIN_YEAR} to {MAX_YEAR}"))
                })?
        };
        let index = feed.route_number(&r.route_id).unwrap_or_default();
        let table = feed.route_table(index, day);
        let stops = table
            .stops
            .iter()
            .map(|s| {
                let i = feed.stop_number(&s.id).unwrap_or_default();
                pb::TransitStop { routes: Vec::new(), ..stop_pb(feed, i, lang, None) }
            })
            .collect();
        let trips = table
            .trips
            .iter()
            .zip(&table.times)
            .map(|(t, times)| pb::TimetableTrip {
                trip_id: t.id.clone(),
                headsign: headsign(feed, t, lang),
                times: times
                    .iter()
                    .map(|at| {
                        at.map_or_else(String::new, |at| {
                            at.with_timezone(&feed.timezone).format("%H:%M").to_string()
                        })
                    })
                    .collect(),
            })
            .collect();
        Ok(Response::new(pb::RouteTimetableResponse {
            route: Some(route_pb(feed, &feed.routes[index as usize], lang)),
            day: day_text(day),
            stops,
            trips,
        }))
    }

    async fn list_feeds(
        &self,
        _req: Request<pb::ListFeedsRequest>,
    ) -> Result<Response<pb::ListFeedsResponse>, Status> {
        Ok(Response::new(summaries(&self.timetables.feeds())))
    }

    async fn reload_feeds(
        &self,
        _req: Request<pb::ReloadFeedsRequest>,
    ) -> Result<Response<pb::ListFeedsResponse>, Status> {
        let timetables = self.timetables.clone();
        let feeds = tokio::task::spawn_blocking(move || timetables.reload())
            .await
            .map_err(|_| Status::internal("the reload stopped; the feeds loaded before stay"))?
            .map_err(|e| Status::failed_precondition(format!("{e}; the feeds loaded before stay")))?;
        Ok(Response::new(summaries(&feeds)))
    }
}

fn summaries(feeds: &[LoadedFeed]) -> pb::ListFeedsResponse {
    pb::ListFeedsResponse {
        feeds: feeds
            .iter()
            .map(|LoadedFeed { feed, load_ms }| pb::FeedSummary {
                name: feed.name.clone(),
                time_zone: feed.timezone.name().to_string(),
                agencies: feed.agencies.clone(),
                stops: feed.stops.len() as u32,
                routes: feed.routes.len() as u32,
                trips: feed.trips.len() as u32,
                stop_times: feed.trips.iter().map(|t| t.stop_times.len() as u32).sum(),
                first_day: feed.span.map(|(a, _)| day_text(a)).unwrap_or_default(),
                last_day: feed.span.map(|(_, z)| day_text(z)).unwrap_or_default(),
                warnings: feed.warnings.clone(),
                load_ms: *load_ms,
            })
            .collect(),
    }
}
