//! `report.html`: one self-contained file (inline SVG and CSS, no scripts,
//! fonts or map tiles) that opens offline on a council member's laptop.

use crate::compare::Spread;
use crate::kpi::{Kpis, Stats};
use crate::run::{DayResult, Outcome};
use crate::scenario::{Scenario, StopsConfig, TravelModel};
use crate::world::World;
use noriai_model::LatLon;
use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:system-ui,'Hiragino Sans','Noto Sans CJK JP',sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f1f1f1}td.l,th.l{text-align:left}.grid{display:flex;flex-wrap:wrap;gap:18px}
.note{color:#666;font-size:12px}svg{background:#fff}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>\n",
        esc(title)
    )
}

fn f1(x: f64) -> String {
    format!("{x:.1}")
}
fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}
fn money(x: f64, cur: &str) -> String {
    format!("{x:.0} {}", esc(cur))
}

/// Rows of the KPI table: (English, 日本語, value).
pub fn kpi_rows(k: &Kpis) -> Vec<(&'static str, &'static str, String)> {
    let st = |s: &Stats| if s.n == 0 { "–".to_string() } else { format!("{:.1} / {:.1}", s.median, s.p90) };
    vec![
        ("Vehicles", "車両数", k.vehicles.to_string()),
        ("Requests", "予約申込", k.requests.to_string()),
        ("Served (rode)", "利用 (乗車)", format!("{} ({})", k.served, pct(k.served_share))),
        ("Refused", "お断り", format!("{} ({})", k.refused, pct(k.refused_share))),
        ("Cancelled", "キャンセル", format!("{} ({})", k.cancelled, pct(k.cancelled_share))),
        ("No-show", "不在", format!("{} ({})", k.no_show, pct(k.no_show_share))),
        (
            "Booked the day before / same day",
            "前日予約 / 当日予約",
            format!("{} / {}", k.prebooked, k.same_day),
        ),
        ("Outside the map", "地図の範囲外", k.outside_map.to_string()),
        (
            "Late legs / breakdowns",
            "遅延区間 / 車両故障",
            format!("{} / {}", k.road.late_legs, k.road.breakdowns),
        ),
        (
            "Riders moved / late / stranded",
            "他車両へ移動 / 遅延 / 運行不能",
            format!("{} / {} / {}", k.road.riders_moved, k.road.riders_late, k.road.riders_stranded),
        ),
        ("Pickup wait, min (median / 90th)", "待ち時間 分 (中央値 / 90%)", st(&k.wait_min)),
        ("Arrival before deadline, min", "到着の余裕 分", st(&k.arrive_early_min)),
        ("Ride time, min (median / 90th)", "乗車時間 分", st(&k.ride_min)),
        (
            "Detour factor (median / 90th)",
            "迂回率",
            if k.detour_factor.n == 0 {
                "–".into()
            } else {
                format!("{:.2} / {:.2}", k.detour_factor.median, k.detour_factor.p90)
            },
        ),
        ("Walk to stops, m (median / 90th)", "乗降場所までの徒歩 m", st(&k.walk_m)),
        ("Promises kept", "約束時刻の遵守", pct(k.promises_kept_share)),
        (
            "Evening batch: day-before bookings, planned km before → after",
            "前日夜の一括計画: 前日予約数, 計画走行 km (前 → 後)",
            format!("{}, {:.1} → {:.1}", k.batch_prebooked, k.batch_km_before, k.batch_km_after),
        ),
        ("Vehicle-hours on shift", "運行車両時間", f1(k.vehicle_hours)),
        ("Vehicle-hours busy", "稼働車両時間", f1(k.busy_vehicle_hours)),
        ("km driven", "走行距離 km", f1(k.km_driven)),
        ("Empty share of km", "空車走行率", pct(k.empty_share)),
        (
            "Passengers per vehicle-hour",
            "車両時間あたり乗客数",
            format!("{:.2}", k.passengers_per_vehicle_hour),
        ),
        ("Total cost", "総費用", money(k.cost.total, &k.cost.currency)),
        ("Cost per served trip", "利用1件あたり費用", money(k.cost.per_served_trip, &k.cost.currency)),
        (
            "Net cost per served trip (after fares)",
            "運賃控除後の利用1件あたり費用",
            money(k.cost.net_per_served_trip, &k.cost.currency),
        ),
    ]
}

fn kpi_table(k: &Kpis) -> String {
    let mut s = String::from("<table><tr><th class=l>KPI</th><th class=l>指標</th><th>value 値</th></tr>");
    for (en, ja, v) in kpi_rows(k) {
        let _ = write!(s, "<tr><td class=l>{en}</td><td class=l>{ja}</td><td>{v}</td></tr>");
    }
    s.push_str("</table>");
    s
}

/// A histogram of `values` with bins of `bin` units.
pub fn histogram(values: &[f64], bin: f64, title: &str, unit: &str, color: &str) -> String {
    let (w, h, pad) = (440.0, 220.0, 36.0);
    let max_v = values.iter().copied().filter(|v| v.is_finite()).fold(0.0f64, f64::max);
    let min_v = values.iter().copied().filter(|v| v.is_finite()).fold(0.0f64, f64::min);
    let lo = (min_v / bin).floor() * bin;
    let nb = (((max_v - lo) / bin).floor() as usize + 1).clamp(1, 60);
    let mut counts = vec![0usize; nb];
    for &v in values.iter().filter(|v| v.is_finite()) {
        counts[(((v - lo) / bin).floor() as usize).min(nb - 1)] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let bw = (w - 2.0 * pad) / nb as f64;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\"><title>{}</title>",
        esc(title)
    );
    let _ =
        write!(s, "<text x=\"{pad}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">{}</text>", esc(title));
    for (i, &c) in counts.iter().enumerate() {
        let bh = (h - 2.0 * pad) * c as f64 / top;
        let x = pad + i as f64 * bw;
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{color}\"><title>{:.0}–{:.0} {unit}: {c}</title></rect>",
            h - pad - bh,
            (bw - 1.0).max(0.5),
            lo + i as f64 * bin,
            lo + (i + 1) as f64 * bin
        );
    }
    let _ = write!(
        s,
        "<line x1=\"{pad}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"#333\"/><text x=\"{pad}\" y=\"{ty}\" font-size=\"11\">{lo:.0}</text><text x=\"{x2}\" y=\"{ty}\" font-size=\"11\" text-anchor=\"end\">{hi:.0} {unit}</text><text x=\"4\" y=\"{pad}\" font-size=\"11\">{top:.0}</text></svg>",
        y = h - pad,
        x2 = w - pad,
        ty = h - pad + 14.0,
        hi = lo + nb as f64 * bin
    );
    s
}

/// The main figures over several demand draws: mean, minimum and maximum.
pub fn spread_table(sp: &Spread) -> String {
    let rows: [(&str, &str, &str, f64, usize); 8] = [
        ("Served share (%)", "利用率 (%)", "served_share", 100.0, 1),
        ("Refused share (%)", "お断り率 (%)", "refused_share", 100.0, 1),
        ("Pickup wait, median min", "待ち時間中央値 分", "wait_min.median", 1.0, 1),
        ("Ride time, median min", "乗車時間中央値 分", "ride_min.median", 1.0, 1),
        ("km driven", "走行距離 km", "km_driven", 1.0, 0),
        ("Passengers per vehicle-hour", "車両時間あたり乗客数", "passengers_per_vehicle_hour", 1.0, 2),
        ("Cost per served trip", "利用1件あたり費用", "cost.per_served_trip", 1.0, 0),
        ("Evening batch km after", "一括計画後の計画走行 km", "batch_km_after", 1.0, 1),
    ];
    let n = sp.seeds.len();
    let mut s = format!(
        "<h2>Across {n} demand draws 需要の抽出 {n} 回</h2><table><tr><th class=l>KPI</th><th class=l>指標</th><th>mean 平均</th><th>min 最小</th><th>max 最大</th></tr>"
    );
    for (en, ja, path, scale, digits) in rows {
        if let Some((mean, lo, hi)) = sp.range(path) {
            let _ = write!(
                s,
                "<tr><td class=l>{en}</td><td class=l>{ja}</td><td>{:.*}</td><td>{:.*}</td><td>{:.*}</td></tr>",
                digits,
                mean * scale,
                digits,
                lo * scale,
                digits,
                hi * scale
            );
        }
    }
    s.push_str("</table>");
    s
}

/// Short labels for the plans of a comparison or sweep: the fleet size when
/// only it differs (a sweep), else each plan's name cut to fit under a bar.
fn plan_labels(kpis: &[Kpis]) -> Vec<String> {
    let same_name = kpis.windows(2).all(|w| w[0].scenario == w[1].scenario);
    kpis.iter()
        .map(|k| match same_name {
            true => format!("{} veh 台", k.vehicles),
            false => {
                let name: String = k.scenario.chars().take(14).collect();
                if k.scenario.chars().count() > 14 { format!("{name}…") } else { name }
            }
        })
        .collect()
}

/// Vertical bars with labels under them.
pub fn bars(
    labels: &[String],
    values: &[f64],
    title: &str,
    color: &str,
    fmt: &dyn Fn(f64) -> String,
) -> String {
    bars_ranged(labels, values, None, title, color, fmt)
}

/// Bars with, where given, a whisker from the minimum to the maximum over
/// several demand draws (the bar is then the mean).
fn bars_ranged(
    labels: &[String],
    values: &[f64],
    ranges: Option<&[(f64, f64)]>,
    title: &str,
    color: &str,
    fmt: &dyn Fn(f64) -> String,
) -> String {
    let n = values.len().max(1);
    // Wide enough for the title (about 7 px per character, two for a CJK one)
    // and for each bar's label.
    let title_px = title.chars().map(|c| if c.is_ascii() { 7.0 } else { 13.0 }).sum::<f64>() + 2.0 * 36.0;
    let label_px = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) as f64 * 6.5 + 8.0;
    let (w, h, pad) = ((60.0 + label_px.max(34.0) * n as f64).max(300.0).max(title_px), 240.0, 36.0);
    let top = values
        .iter()
        .copied()
        .chain(ranges.into_iter().flatten().map(|r| r.1))
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let bw = (w - 2.0 * pad) / n as f64;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\"><title>{}</title><text x=\"{pad}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">{}</text>",
        esc(title),
        esc(title)
    );
    for (i, (&v, l)) in values.iter().zip(labels).enumerate() {
        let bh = (h - 2.0 * pad - 14.0) * v / top;
        let x = pad + i as f64 * bw;
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{color}\"><title>{}: {}</title></rect><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            h - pad - bh,
            (bw - 2.0).max(0.5),
            esc(l),
            fmt(v),
            x + bw / 2.0,
            h - pad + 13.0,
            esc(l),
            x + bw / 2.0,
            h - pad - bh - 3.0,
            fmt(v)
        );
        if let Some(&(lo, hi)) = ranges.and_then(|r| r.get(i)) {
            let y = |v: f64| h - pad - (h - 2.0 * pad - 14.0) * v / top;
            let cx = x + bw / 2.0;
            let _ = write!(
                s,
                "<path d=\"M{cx:.1},{:.1}V{:.1}M{:.1},{:.1}H{:.1}M{:.1},{:.1}H{:.1}\" stroke=\"#222\" stroke-width=\"1.2\"><title>{} – {}</title></path>",
                y(lo),
                y(hi),
                cx - 4.0,
                y(lo),
                cx + 4.0,
                cx - 4.0,
                y(hi),
                cx + 4.0,
                fmt(lo),
                fmt(hi)
            );
        }
    }
    let _ = write!(
        s,
        "<line x1=\"{pad}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"#333\"/></svg>",
        y = h - pad,
        x2 = w - pad
    );
    s
}

/// Projects coordinates into an SVG box.
struct Frame {
    lat0: f64,
    lon0: f64,
    k: f64,
    scale: f64,
    w: f64,
    h: f64,
}

impl Frame {
    fn new(points: &[LatLon], w: f64) -> Option<Self> {
        let (mut a, mut b, mut c, mut d) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for p in points {
            a = a.min(p.lat);
            b = b.max(p.lat);
            c = c.min(p.lon);
            d = d.max(p.lon);
        }
        if a > b {
            return None;
        }
        let k = ((a + b) / 2.0).to_radians().cos();
        let (dx, dy) = (((d - c) * k).max(1e-6), (b - a).max(1e-6));
        let m = 0.04;
        let (lat0, lon0) = (b + dy * m, c - dx * m / k);
        let scale = w / (dx * (1.0 + 2.0 * m));
        let h = (dy * (1.0 + 2.0 * m) * scale).clamp(200.0, 1100.0);
        Some(Self { lat0, lon0, k, scale, w, h })
    }
    fn xy(&self, p: LatLon) -> (f64, f64) {
        ((p.lon - self.lon0) * self.k * self.scale, (self.lat0 - p.lat) * self.scale)
    }
    fn inside(&self, (x, y): (f64, f64)) -> bool {
        (-20.0..=self.w + 20.0).contains(&x) && (-20.0..=self.h + 20.0).contains(&y)
    }
}

fn map_svg(world: &World, day: &DayResult, k: &Kpis) -> String {
    let mut pts: Vec<LatLon> = Vec::new();
    if let Some(area) = &world.area {
        for c in area.cells() {
            pts.extend(noriai_zones::cell_boundary(c).unwrap_or_default());
        }
    } else {
        pts.extend(day.riders.iter().flat_map(|r| [r.origin, r.destination]));
    }
    pts.push(day.depot);
    let Some(fr) = Frame::new(&pts, 900.0) else { return String::new() };
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" role=\"img\"><title>service area map</title><rect width=\"100%\" height=\"100%\" fill=\"#fbfbf8\"/>",
        w = fr.w,
        h = fr.h
    );
    let ring_path = |ring: &[LatLon]| {
        let mut d = String::new();
        for (i, p) in ring.iter().enumerate() {
            let (x, y) = fr.xy(*p);
            let _ = write!(d, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { "L" });
        }
        d.push('Z');
        d
    };
    if let Some(area) = &world.area {
        let d: String = area
            .cells()
            .iter()
            .filter_map(|&c| noriai_zones::cell_boundary(c))
            .map(|r| ring_path(&r))
            .collect();
        let _ = write!(s, "<path d=\"{d}\" fill=\"#e8f0fa\" stroke=\"#b8c8dc\" stroke-width=\"0.5\"/>");
    }
    if let Some(net) = &world.net {
        let g = net.graph();
        let mut d = String::new();
        for piece in &g.pieces {
            let shape = &g.shape[piece.shape_start as usize..piece.shape_end as usize];
            let (Some(first), Some(last)) = (shape.first(), shape.last()) else { continue };
            if !fr.inside(fr.xy(*first)) && !fr.inside(fr.xy(*last)) {
                continue;
            }
            let mut prev = fr.xy(*first);
            let _ = write!(d, "M{:.0},{:.0}", prev.0, prev.1);
            for (i, p) in shape.iter().enumerate().skip(1) {
                let q = fr.xy(*p);
                if i + 1 == shape.len() || (q.0 - prev.0).hypot(q.1 - prev.1) >= 2.0 {
                    let _ = write!(d, "L{:.0},{:.0}", q.0, q.1);
                    prev = q;
                }
            }
        }
        let _ = write!(s, "<path d=\"{d}\" fill=\"none\" stroke=\"#777\" stroke-width=\"0.7\"/>");
    }
    let worst = k.refused_by_cell.values().copied().max().unwrap_or(1).max(1) as f64;
    for (cell, &n) in &k.refused_by_cell {
        let Ok(c) = u64::from_str_radix(cell, 16) else { continue };
        let Some(ring) = noriai_zones::cell_boundary(c) else { continue };
        let _ = write!(
            s,
            "<path d=\"{}\" fill=\"#d62728\" fill-opacity=\"{:.2}\" stroke=\"#a00\" stroke-width=\"0.6\"><title>{cell}: {n} refused</title></path>",
            ring_path(&ring),
            0.2 + 0.6 * n as f64 / worst
        );
    }
    for r in day.riders.iter().filter(|r| r.outcome == Outcome::Served).take(5000) {
        let (x, y) = fr.xy(r.origin);
        let _ = write!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"1.3\" fill=\"#2ca02c\" fill-opacity=\"0.6\"/>"
        );
    }
    for p in &day.stops {
        let (x, y) = fr.xy(*p);
        let _ = write!(s, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.4\" fill=\"#1f77b4\"/>");
    }
    let (x, y) = fr.xy(day.depot);
    let _ = write!(
        s,
        "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"#111\"><title>depot 車庫</title></rect>",
        x - 5.0,
        y - 5.0
    );
    for p in &world.place_names {
        let (x, y) = fr.xy(p.at);
        if x < 0.0 || y < 0.0 || x > fr.w || y > fr.h {
            continue;
        }
        let size = [15, 13, 11][usize::from(p.rank.min(2))];
        let _ = write!(
            s,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{size}\" text-anchor=\"middle\" fill=\"#333\" stroke=\"#fbfbf8\" stroke-width=\"3\" paint-order=\"stroke\">{}</text>",
            esc(&p.name)
        );
    }
    // A scale bar of a round length about 120 px long.
    let m_per_px = 111_320.0 / fr.scale;
    let bar_m = [100.0, 200.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0, 20_000.0, 50_000.0]
        .into_iter()
        .find(|m| m / m_per_px >= 80.0)
        .unwrap_or(100_000.0);
    let (bx, by, bl) = (16.0, fr.h - 20.0, bar_m / m_per_px);
    let _ = write!(
        s,
        "<g font-size=\"11\"><rect x=\"{bx}\" y=\"{:.1}\" width=\"{bl:.1}\" height=\"4\" fill=\"#333\"/><text x=\"{bx}\" y=\"{:.1}\">{}</text></g>",
        by,
        by - 4.0,
        if bar_m >= 1_000.0 { format!("{} km", bar_m / 1_000.0) } else { format!("{bar_m} m") }
    );
    if world.net.is_some() {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\" fill=\"#555\">© OpenStreetMap contributors (ODbL)</text>",
            fr.w - 6.0,
            fr.h - 6.0
        );
    }
    let _ = write!(
        s,
        "<g font-size=\"12\"><rect x=\"8\" y=\"8\" width=\"270\" height=\"78\" fill=\"#fff\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>\
<rect x=\"16\" y=\"16\" width=\"10\" height=\"10\" fill=\"#111\"/><text x=\"32\" y=\"25\">depot 車庫</text>\
<circle cx=\"21\" cy=\"38\" r=\"3\" fill=\"#1f77b4\"/><text x=\"32\" y=\"42\">virtual stop 乗降場所</text>\
<circle cx=\"21\" cy=\"54\" r=\"2\" fill=\"#2ca02c\"/><text x=\"32\" y=\"58\">served trip origin 乗車した出発地</text>\
<rect x=\"16\" y=\"66\" width=\"10\" height=\"10\" fill=\"#d62728\" fill-opacity=\"0.6\"/><text x=\"32\" y=\"75\">H3 cell with refusals お断りのあった区画</text></g></svg>"
    );
    s
}

/// The report of one simulated day.
pub fn render(sc: &Scenario, world: &World, day: &DayResult, k: &Kpis) -> String {
    let mut b = String::new();
    let _ = write!(b, "<h1>noriai simulate — {}</h1>", esc(&sc.name));
    let mode = match &sc.stops {
        StopsConfig::DoorToDoor => "door-to-door 戸口から戸口".to_string(),
        StopsConfig::Virtual { max_walk_m, .. } => {
            format!("{} virtual stops 乗降場所, walk ≤ {max_walk_m:.0} m", day.stops.len())
        }
    };
    let travel = match &sc.travel {
        TravelModel::Roads => format!(
            "road network {} ({} speeds)",
            sc.map.as_ref().map_or(String::new(), |m| m.path.display().to_string()),
            sc.map.as_ref().map_or("", |m| m.profile.name.as_str())
        ),
        TravelModel::Crow { speed_kmh, detour } => {
            format!("straight line × {detour} at {speed_kmh} km/h (no road map)")
        }
    };
    let shifts: Vec<String> = sc
        .fleet
        .shifts
        .iter()
        .map(|(a, z)| {
            format!(
                "{}–{}",
                noriai_model::service::format_time_of_day(*a),
                noriai_model::service::format_time_of_day(*z)
            )
        })
        .collect();
    let _ = write!(
        b,
        "<p class=note>Demand 需要: {} · {} vehicles × {} seats + {} wheelchair places, shifts {} · {} · travel times: {} · simulated in {:.2} s</p>",
        esc(&day.demand),
        sc.fleet.vehicles,
        sc.fleet.seats,
        sc.fleet.wheelchair_places,
        shifts.join(", "),
        mode,
        esc(&travel),
        k.wall_s
    );
    let _ = write!(b, "<h2>Key figures 主要指標</h2>{}", kpi_table(k));
    let _ = write!(b, "<h2>Map 地図</h2>{}", map_svg(world, day, k));
    let served: Vec<_> = day.riders.iter().filter(|r| r.outcome == Outcome::Served).collect();
    let wait: Vec<f64> = served
        .iter()
        .filter(|r| !r.arrive_by)
        .filter_map(|r| Some((r.pickup_s? - r.asked_s()) / 60.0))
        .collect();
    let ride: Vec<f64> =
        served.iter().filter_map(|r| Some((r.dropoff_s? - r.pickup_departure_s?) / 60.0)).collect();
    let hours: Vec<String> = k.per_hour.iter().map(|h| h.hour.to_string()).collect();
    let in_use: Vec<f64> = k.per_hour.iter().map(|h| h.vehicles_in_use as f64).collect();
    let _ = write!(
        b,
        "<h2>Distributions 分布</h2><div class=grid>{}{}</div><h2>Vehicles in use by hour 時間帯別の稼働車両</h2>{}",
        histogram(&wait, 5.0, "Pickup wait 待ち時間 (min)", "min", "#1f77b4"),
        histogram(&ride, 5.0, "Ride time 乗車時間 (min)", "min", "#ff7f0e"),
        bars(&hours, &in_use, "Vehicles in use 稼働車両数", "#2ca02c", &|v| format!("{v:.0}"))
    );
    b.push_str("<h2>By hour 時間帯別</h2><table><tr><th>hour 時</th><th>requests 申込</th><th>served 利用</th><th>refused お断り</th><th>cancelled</th><th>no-show</th><th>median wait min</th><th>vehicles in use</th><th>busy vehicle-h</th></tr>");
    for h in k.per_hour.iter().filter(|h| h.requests > 0 || h.vehicles_in_use > 0) {
        let _ = write!(
            b,
            "<tr><td>{:02}:00</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td></tr>",
            h.hour,
            h.requests,
            h.served,
            h.refused,
            h.cancelled,
            h.no_show,
            h.median_wait_min.map_or("–".into(), f1),
            h.vehicles_in_use,
            h.busy_vehicle_hours
        );
    }
    b.push_str(
        "</table><h2>Refusals by reason お断りの理由</h2><table><tr><th class=l>reason</th><th class=l>理由</th><th>trips 件数</th></tr>",
    );
    for (reason, n) in &k.refused_by_reason {
        let (en, ja) = reason.label();
        let _ = write!(b, "<tr><td class=l>{}</td><td class=l>{}</td><td>{n}</td></tr>", esc(en), esc(ja));
    }
    b.push_str("</table>");
    if !k.outside_map_examples.is_empty() {
        b.push_str("<h2>Trips outside the map 地図の範囲外</h2><ul class=note>");
        for e in &k.outside_map_examples {
            let _ = write!(b, "<li>{}</li>", esc(e));
        }
        b.push_str("</ul>");
    }
    let _ = write!(
        b,
        "<p class=note>Generated by noriai simulate from {}. Every decision used only what was known at its time; the dispatcher is the booking server's.</p>",
        esc(&sc.file.display().to_string())
    );
    page(&format!("noriai simulate — {}", sc.name), &b)
}

/// The side-by-side report of several plans on the same demand.
pub fn render_comparison(kpis: &[Kpis], demand: &str, spreads: Option<&[Spread]>) -> String {
    let mut b = String::from("<h1>noriai simulate — comparison 比較</h1>");
    let _ = write!(b, "<p class=note>Same demand for every plan 全案同一の需要: {}</p>", esc(demand));
    if let Some(spreads) = spreads {
        let draws = spreads.first().map_or(0, |s| s.seeds.len());
        let _ = write!(
            b,
            "<p class=note>Each plan ran on {draws} demand draws 需要の抽出 {draws} 回 (draw k is the same for every plan). The table below is draw 1; the charts show the mean with the range (min–max) over all draws.</p>"
        );
        for (k, sp) in kpis.iter().zip(spreads) {
            let _ = write!(b, "<h3>{}</h3>{}", esc(&k.scenario), spread_table(sp));
        }
    }
    b.push_str("<h2>Key figures 主要指標</h2><table><tr><th class=l>KPI</th><th class=l>指標</th>");
    for (i, k) in kpis.iter().enumerate() {
        let _ = write!(b, "<th>#{} {}</th>", i + 1, esc(&k.scenario));
    }
    b.push_str("</tr>");
    let rows: Vec<Vec<(&str, &str, String)>> = kpis.iter().map(kpi_rows).collect();
    if let Some(first) = rows.first() {
        for (i, (en, ja, _)) in first.iter().enumerate() {
            let _ = write!(b, "<tr><td class=l>{en}</td><td class=l>{ja}</td>");
            for r in &rows {
                let _ = write!(b, "<td>{}</td>", r[i].2);
            }
            b.push_str("</tr>");
        }
    }
    b.push_str("</table>");
    let labels = plan_labels(kpis);
    let cur = kpis.first().map_or(String::new(), |k| k.cost.currency.clone());
    // With several draws a bar is the mean over them and a whisker its range.
    let chart = |path: &str,
                 one: &dyn Fn(&Kpis) -> f64,
                 scale: f64,
                 title: &str,
                 color: &str,
                 fmt: &dyn Fn(f64) -> String| {
        let (values, ranges): (Vec<f64>, Option<Vec<(f64, f64)>>) = match spreads {
            Some(sp) => {
                let r: Vec<(f64, f64, f64)> =
                    sp.iter().map(|s| s.range(path).unwrap_or((f64::NAN, f64::NAN, f64::NAN))).collect();
                (
                    r.iter().map(|x| x.0 * scale).collect(),
                    Some(r.iter().map(|x| (x.1 * scale, x.2 * scale)).collect()),
                )
            }
            None => (kpis.iter().map(one).collect(), None),
        };
        bars_ranged(&labels, &values, ranges.as_deref(), title, color, fmt)
    };
    let _ = write!(
        b,
        "<h2>Charts</h2><div class=grid>{}{}{}{}</div>",
        chart(
            "served_share",
            &|k| k.served_share * 100.0,
            100.0,
            "Served share 利用率 (%)",
            "#2ca02c",
            &|v| format!("{v:.0}")
        ),
        chart(
            "cost.per_served_trip",
            &|k| k.cost.per_served_trip,
            1.0,
            &format!("Cost per served trip 利用1件あたり費用 ({cur})"),
            "#9467bd",
            &|v| format!("{v:.0}")
        ),
        chart(
            "wait_min.median",
            &|k| k.wait_min.median,
            1.0,
            "Median wait 待ち時間中央値 (min)",
            "#1f77b4",
            &|v| format!("{v:.1}")
        ),
        chart(
            "passengers_per_vehicle_hour",
            &|k| k.passengers_per_vehicle_hour,
            1.0,
            "Passengers per vehicle-hour 車両時間あたり乗客",
            "#ff7f0e",
            &|v| format!("{v:.2}")
        ),
    );
    page("noriai simulate — comparison", &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(name: &str, vehicles: u32) -> Kpis {
        Kpis { scenario: name.into(), vehicles, ..Kpis::default() }
    }

    /// The `width="…"` of the first `<svg>` in a chart.
    fn svg_width(svg: &str) -> f64 {
        let rest = &svg[svg.find("width=\"").expect("a width") + 7..];
        rest[..rest.find('"').expect("closing quote")].parse().expect("a number")
    }

    #[test]
    fn a_sweep_labels_bars_by_fleet_size() {
        let sweep = [plan("town", 3), plan("town", 4), plan("town", 5)];
        assert_eq!(plan_labels(&sweep), ["3 veh 台", "4 veh 台", "5 veh 台"]);
    }

    #[test]
    fn a_comparison_labels_bars_by_plan_name_cut_to_fit() {
        let plans = [plan("today", 4), plan("with-virtual-stops-in-winter", 4)];
        assert_eq!(plan_labels(&plans), ["today", "with-virtual-s…"]);
        let kanji = [plan("冬ダイヤ", 4), plan("夏ダイヤ", 4)];
        assert_eq!(plan_labels(&kanji), ["冬ダイヤ", "夏ダイヤ"]);
    }

    #[test]
    fn a_chart_is_wide_enough_for_its_title_and_labels() {
        let fmt = |v: f64| format!("{v:.0}");
        let labels = vec!["a".to_string(), "b".to_string()];
        let short = bars(&labels, &[1.0, 2.0], "Km", "#000", &fmt);
        assert_eq!(svg_width(&short), 300.0, "a short chart keeps the minimum width");
        let title = "Cost per served trip 利用1件あたり費用 (JPY)";
        let long = bars(&labels, &[1.0, 2.0], title, "#000", &fmt);
        let needed = title.chars().map(|c| if c.is_ascii() { 7.0 } else { 13.0 }).sum::<f64>();
        assert!(svg_width(&long) >= needed + 36.0, "{} < {needed}", svg_width(&long));
        let many: Vec<String> = (0..12).map(|i| format!("plan-number-{i}")).collect();
        let wide = bars(&many, &[1.0; 12], "Km", "#000", &fmt);
        assert!(svg_width(&wide) >= 12.0 * 13.0 * 6.5, "each label has room under its bar");
    }
}
