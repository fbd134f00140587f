// The driver's tablet: today's stops in order, big buttons for what
// happens at each, the road to the next stop. Taps are queued on the
// tablet and sent again after a network gap; each carries an id made once,
// so a resend is never counted twice.

import { api, follow, newId, el } from "./api.js";
import { t, translate, toggleLanguage } from "./i18n.js";
import { RoadMap } from "./map.js";

const $ = (id) => document.getElementById(id);
// One queue per vehicle, so a shared tablet never sends one driver's taps
// in another's session.
const queueKey = () => "noriai-driver-queue-" + (state.manifest?.vehicle_id ?? state.who?.vehicle_id ?? "none");
const state = { who: null, manifest: null, map: null, sending: false };

function queue() {
  try {
    return JSON.parse(localStorage.getItem(queueKey()) ?? "[]");
  } catch (e) {
    return [];
  }
}

function saveQueue(q) {
  localStorage.setItem(queueKey(), JSON.stringify(q));
  $("queue").textContent = q.length ? t("queued", { n: q.length }) : t("allSent");
}

function report(kind, bookingId) {
  const q = queue();
  q.push({
    event_id: newId(kind),
    vehicle_id: state.manifest.vehicle_id,
    kind,
    booking_id: bookingId,
    at: Math.floor(Date.now() / 1000),
  });
  saveQueue(q);
  render();
  flush();
}

// Sends queued events in order; stops at the first failure that may pass
// later (network, server, quota, session) and tries again later. A refusal
// of the event itself is shown and dropped (it would never pass).
async function flush() {
  if (state.sending) return;
  state.sending = true;
  try {
    for (;;) {
      const next = queue()[0];
      if (!next) break;
      try {
        await api("POST", "/api/v1/driver/events", next);
      } catch (err) {
        if (err.status === 401) {
          location.reload();
          break;
        }
        if (err.status === 0 || err.status === 403 || err.status === 429 || err.status >= 500) break;
        $("refusal").textContent = t("refused") + ": " + err.message;
      }
      // Removed by id: another tab may have sent and removed it already.
      saveQueue(queue().filter((e) => e.event_id !== next.event_id));
    }
  } finally {
    state.sending = false;
  }
}

// Where the vehicle is, from the tablet's location service: read as it
// moves, sent every 10 s (kept and sent later after a network gap).
const positions = [];

function watchPosition() {
  if (!navigator.geolocation) return;
  navigator.geolocation.watchPosition(
    (p) => {
      positions.push({
        at: Math.floor(p.timestamp / 1000),
        lat: p.coords.latitude,
        lon: p.coords.longitude,
        heading_deg: Number.isFinite(p.coords.heading) ? p.coords.heading : undefined,
        speed_kmh: Number.isFinite(p.coords.speed) ? p.coords.speed * 3.6 : undefined,
      });
      if (positions.length > 200) positions.splice(0, positions.length - 200);
      if (!state.sentOnce) sendPositions();
    },
    () => {},
    { enableHighAccuracy: true, maximumAge: 5000 },
  );
  setInterval(sendPositions, 10000);
  setTimeout(sendPositions, 1000);
}

async function sendPositions() {
  if (!positions.length || !state.manifest) return;
  const batch = positions.splice(0, positions.length);
  try {
    await api("POST", "/api/v1/driver/positions", { vehicle_id: state.manifest.vehicle_id, positions: batch });
    state.sentOnce = true;
  } catch (err) {
    if (err.status === 0 || err.status >= 500 || err.status === 429) positions.unshift(...batch);
  }
}

function pending(bookingId) {
  return queue().filter((e) => e.booking_id === bookingId).map((e) => e.kind);
}

function minutesOf(hhmm) {
  const [h, m] = hhmm.split(":").map(Number);
  return h * 60 + m;
}

function nowTokyoMinutes() {
  const d = new Date(Date.now() + 9 * 3600 * 1000);
  return d.getUTCHours() * 60 + d.getUTCMinutes();
}

function actions(stop) {
  const queued = pending(stop.booking_id);
  const status = queued.includes("boarded") ? "on_board" : queued.includes("arrived") ? "arrived" : stop.status;
  if (stop.done || queued.includes("no_show") || queued.includes("alighted")) return null;
  const box = el("div", { class: "actions" });
  if (stop.pickup) {
    if (status === "scheduled") box.append(el("button", { type: "button", class: "primary", onclick: () => report("arrived", stop.booking_id) }, t("arrived")));
    if (status === "scheduled" || status === "arrived") {
      box.append(el("button", { type: "button", class: "primary", onclick: () => report("boarded", stop.booking_id) }, t("boarded")));
      const opens = minutesOf((stop.promised_window_local.split(/[–-]/)[0] || "00:00").trim());
      const from = opens + (state.who?.no_show_wait_minutes ?? 5);
      const hhmm = String(Math.floor(from / 60) % 24).padStart(2, "0") + ":" + String(from % 60).padStart(2, "0");
      const early = nowTokyoMinutes() < from;
      box.append(el("button", { type: "button", class: "danger", disabled: early, onclick: () => report("no_show", stop.booking_id) },
        t("notHere"), el("br"), el("small", {}, t("waitUntil", { t: hhmm }))));
    }
  } else if (status === "on_board") {
    box.append(el("button", { type: "button", class: "primary", onclick: () => report("alighted", stop.booking_id) }, t("alighted")));
  }
  return box.childElementCount ? box : null;
}

function render() {
  const m = state.manifest;
  if (!m) return;
  $("vehicle-name").textContent = `${m.vehicle_name} · ${m.day}`;
  const next = m.stops.find((s) => !s.done);
  const list = m.stops.map((s) => {
    const needs = [
      s.wheelchair_places ? t("wheelchair") : "",
      s.walking_aid ? t("walkingAid") : "",
      s.seats > 1 ? `${s.seats}${t("seats")}` : "",
    ].filter(Boolean).join(" · ");
    return el("li", { class: "stop" + (s === next ? " next" : "") + (s.done ? " done" : ""), "data-booking": s.booking_id, "data-pickup": String(s.pickup) },
      el("h3", {}, (s === next ? "▶ " + t("next") + ": " : "") + (s.done ? "✔ " + t("done") + " " : ""),
        s.planned_local, " ", s.pickup ? t("pickUpAt") : t("dropOffAt"), " — ", s.rider_name,
        el("span", { class: "kana" }, s.rider_name_kana)),
      el("p", {}, s.place_label || (s.location ? `${s.location.lat.toFixed(5)}, ${s.location.lon.toFixed(5)}` : ""),
        "  (", s.promised_window_local, ")", s.late ? " ⚠ " + t("late") : ""),
      needs ? el("p", {}, needs) : null,
      s.driver_notes ? el("p", {}, t("notes"), ": ", s.driver_notes) : null,
      s.pickup && s.rider_phone ? el("p", {}, t("phone"), ": ", el("a", { href: "tel:" + s.rider_phone }, s.rider_phone)) : null,
      el("p", { class: "status" }, t("status_" + s.status)),
      s === next ? actions(s) : null);
  });
  $("stops").replaceChildren(...(list.length ? list : [el("li", {}, t("noStops"))]));
  const markers = [];
  if (next?.location) markers.push({ lat: next.location.lat, lon: next.location.lon, label: t("next"), colour: "#b3261e" });
  if (m.position) markers.push({ lat: m.position.lat, lon: m.position.lon, label: m.vehicle_name, shape: "square", colour: "#0b5cad" });
  state.map.setMarkers(markers);
  state.map.setRoute(m.next_leg);
  // Show the way to the next stop when it changes; the driver may pan meanwhile.
  const key = next ? `${next.booking_id}-${next.pickup}` : "";
  if (next?.location && key !== state.shown) {
    state.shown = key;
    state.map.fitPoints([...m.next_leg, [next.location.lat, next.location.lon]]);
  }
}

async function boot() {
  translate();
  $("language").addEventListener("click", () => {
    toggleLanguage();
    translate();
    render();
  });
  $("logout").addEventListener("click", async () => {
    try {
      await api("DELETE", "/api/v1/session");
    } catch (e) {
      /* already gone */
    }
    location.reload();
  });
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const token = $("login-token").value.trim();
    const body = token ? { token } : { name: $("login-name").value, password: $("login-password").value };
    try {
      state.who = await api("POST", "/api/v1/session", body);
      start();
    } catch (err) {
      $("login-error").textContent = err.status === 401 ? t("wrongLogin") : err.message;
    }
  });
  try {
    state.who = await api("GET", "/api/v1/session");
    start();
  } catch (e) {
    $("login").hidden = false;
    $("login-name").focus();
  }
}

function start() {
  $("login").hidden = true;
  $("work").hidden = false;
  $("logout").hidden = false;
  state.map = new RoadMap($("driver-map"));
  state.map.start().catch(() => {});
  const vehicle = new URLSearchParams(location.search).get("vehicle");
  const path = "/api/v1/driver/manifest" + (vehicle ? "?vehicle_id=" + encodeURIComponent(vehicle) : "");
  follow(path, "manifest", (m) => {
    state.manifest = m;
    render();
    if (!state.sentOnce) sendPositions();
  }, (s) => ($("link-state").textContent = t(s)), (err) => {
    if (err.status === 401) location.reload();
    $("refusal").textContent = err.message;
  });
  saveQueue(queue());
  flush();
  watchPosition();
  setInterval(flush, 5000);
  setInterval(render, 30000);
  window.addEventListener("online", flush);
}

boot();
