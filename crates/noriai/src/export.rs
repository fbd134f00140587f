//! `noriai export flex`: the on-demand services as a GTFS-Flex feed (a zip)
//! that trip planners such as OpenTripPlanner read: each service's area as a
//! zone, its hours from the fleet's shifts, its booking rules and fare.

use crate::accounts::StoreArgs;
use crate::say;
use anyhow::Context;
use chrono::Duration;
use noriai_model::service::ServiceDay;
use noriai_timetable::flex::{FlexFeed, FlexService};
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    pub command: ExportCommand,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(clap::Subcommand)]
pub enum ExportCommand {
    /// A GTFS-Flex feed (zip) of every service, or of --service.
    Flex {
        /// The zip file to write.
        #[arg(long)]
        out: PathBuf,
        /// The web page riders read about the service (GTFS requires one).
        #[arg(long)]
        url: String,
        /// Publisher named in feed_info.txt.
        #[arg(long, default_value = "noriai")]
        publisher: String,
        /// Days the feed covers from today.
        #[arg(long, default_value_t = 60)]
        days: u32,
    },
}

pub fn export(a: ExportArgs) -> anyhow::Result<()> {
    let ExportCommand::Flex { out, url, publisher, days } = a.command;
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 500 {
        anyhow::bail!("--url must be a full http(s) address, e.g. https://www.town.example.jp/ondemand");
    }
    if !(1..=400).contains(&days) {
        anyhow::bail!("--days must be 1 to 400");
    }
    let (runtime, root) = a.store.open_all()?;
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Tokyo).date_naive();
    let until = today + Duration::days(i64::from(days) - 1);
    let services = runtime.block_on(async {
        let mut services = Vec::new();
        for s in root.list_services().await? {
            if a.store.service.is_some_and(|id| id != s.id) {
                continue;
            }
            let store = root.for_service(s.id);
            let Some((res, cells)) = store.service_area().await? else {
                say!("service {} has no area; left out", s.id);
                continue;
            };
            let area = noriai_zones::ServiceArea::from_cells(res, &cells)
                .with_context(|| format!("the stored area of service {}", s.id))?
                .outline()?;
            // Hours: the earliest start and latest end of the shifts in the feed's days.
            let mut hours: Option<(u32, u32)> = None;
            let mut on_days = Vec::new();
            let mut day = ServiceDay::of_unix(chrono::Utc::now().timestamp());
            for offset in 0..days {
                let shifts = store.shifts_on(day).await?;
                if !shifts.is_empty() {
                    on_days.push(today + Duration::days(i64::from(offset)));
                }
                for shift in shifts {
                    let h = hours.get_or_insert((shift.start_s, shift.end_s));
                    *h = (h.0.min(shift.start_s), h.1.max(shift.end_s));
                }
                day = day.next();
            }
            let Some(hours) = hours else {
                say!("service {} has no shifts in the next days; left out", s.id);
                continue;
            };
            let stops = store
                .list_stops()
                .await?
                .into_iter()
                .map(|st| (st.id, st.name, st.name_kana, st.location))
                .collect();
            services.push(FlexService {
                id: s.id,
                name: s.name,
                reading: s.name_kana,
                phone: s.operator_phone,
                url: url.clone(),
                area,
                hours,
                days: on_days,
                book_days_ahead: s.rules.book_days_ahead,
                cutoff_minutes: s.rules.cutoff_minutes,
                fare_yen: s.fare_yen,
                stops,
            });
        }
        anyhow::Ok(services)
    })?;
    if services.is_empty() {
        anyhow::bail!("no service with an area and shifts to export");
    }
    let feed = FlexFeed { publisher, url, timezone: "Asia/Tokyo".into(), from: today, until, services };
    let file = std::fs::File::create(&out).with_context(|| format!("cannot write {}", out.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in feed.files() {
        zip.start_file(name, options)?;
        zip.write_all(&bytes)?;
    }
    zip.finish()?;
    say!("wrote {} ({} services, {} to {})", out.display(), feed.services.len(), feed.from, feed.until);
    Ok(())
}
