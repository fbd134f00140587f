// The operator console: find the caller, book, cancel or change, and
// watch today's board. Keyboard first: "/" searches, Enter on a single
// result opens the rider, 1-3 choose an offer, Enter confirms.

import { api, follow, newId, todayTokyo, nextQuarterTokyo, el } from "./api.js";
import { t, translate, toggleLanguage } from "./i18n.js";
import { RoadMap } from "./map.js";

const $ = (id) => document.getElementById(id);
const state = {
  who: null,
  rider: null,
  choices: [], // places offered in From/To: {label, place, home}
  pickFor: null, // "from", "to" or "home" while the map picks a place
  riderHome: null,
  offers: [],
  chosen: null,
  bookingKey: null,
  changing: null, // the booking being changed
  stops: [],
  stopBoard: null,
  callerMap: null,
  boardMap: null,
};

function show(id) {
  for (const s of ["login", "caller", "today"]) $(s).hidden = s !== id;
  $("tab-caller").setAttribute("aria-current", id === "caller" ? "page" : "false");
  $("tab-today").setAttribute("aria-current", id === "today" ? "page" : "false");
  if (id === "today") startBoard();
  if (id === "caller") state.callerMap?.resize();
}

function statusText(s, late) {
  return t("status_" + s) + (late ? " (" + t("late") + ")" : "");
}

// A place as people name it: its label, its stop, or the usual place it is.
function placeText(p, ofOpenRider = true) {
  if (p.label) return p.label;
  const usual = !ofOpenRider ? null : state.rider?.usual_places.find((u) => u.place.point && p.point && near(u.place.point, p.point));
  if (usual) return usual.home ? t("home") : placeText(usual.place);
  if (p.stop_id) {
    const s = state.stops.find((x) => x.id === p.stop_id);
    return s ? s.name : "#" + p.stop_id;
  }
  if (p.point) return t("pickedPoint") + " " + p.point.lat.toFixed(4) + ", " + p.point.lon.toFixed(4);
  return "?";
}

// "14:30", "1430", "9:05", "９３０" or "14時30分" as HH:MM; null if not a time.
export function hhmm(text) {
  const ascii = text.replace(/[０-９：]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0));
  const m = ascii.trim().match(/^(\d{1,2})(?:[:時]?(\d{2})分?)?$/) ?? ascii.trim().match(/^(\d{1,2})(\d{2})$/);
  if (!m) return null;
  const h = Number(m[1]);
  const min = Number(m[2] ?? 0);
  if (h > 23 || min > 59) return null;
  return String(h).padStart(2, "0") + ":" + String(min).padStart(2, "0");
}

function near(a, b) {
  const dy = (a.lat - b.lat) * 111320;
  const dx = (a.lon - b.lon) * 111320 * Math.cos((a.lat * Math.PI) / 180);
  return Math.hypot(dx, dy) <= 60;
}

// ---- logging in ----

async function boot() {
  translate();
  $("language").addEventListener("click", () => {
    toggleLanguage();
    translate();
    if (state.rider) renderCard();
  });
  $("login-form").addEventListener("submit", logIn);
  $("logout").addEventListener("click", logOut);
  $("tab-caller").addEventListener("click", () => show("caller"));
  $("tab-today").addEventListener("click", () => show("today"));
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && !["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement?.tagName)) {
      e.preventDefault();
      show("caller");
      $("search").focus();
      $("search").select();
    }
  });
  try {
    state.who = await api("GET", "/api/v1/session");
    start();
  } catch (e) {
    show("login");
    $("login-name").focus();
  }
}

async function logIn(e) {
  e.preventDefault();
  $("login-error").textContent = "";
  const token = $("login-token").value.trim();
  const body = token ? { token } : { name: $("login-name").value, password: $("login-password").value };
  try {
    state.who = await api("POST", "/api/v1/session", body);
    $("login-password").value = "";
    $("login-token").value = "";
    start();
  } catch (err) {
    $("login-error").textContent = err.status === 401 ? t("wrongLogin") : err.message;
  }
}

async function logOut() {
  try {
    await api("DELETE", "/api/v1/session");
  } catch (e) {
    /* the cookie is cleared or already gone */
  }
  location.reload();
}

function start() {
  if (state.who.role === "driver") {
    location.href = "/driver";
    return;
  }
  $("tabs").hidden = false;
  $("logout").hidden = false;
  wireCaller();
  show("caller");
  $("search").focus();
}

// ---- finding the caller ----

function wireCaller() {
  state.callerMap = new RoadMap($("caller-map"), { onPick: pickOnMap });
  state.callerMap.start().catch(() => {});
  api("GET", "/api/v1/stops").then((s) => (state.stops = s)).catch(() => {});
  $("search-form").addEventListener("submit", search);
  $("new-rider").addEventListener("click", newRiderForm);
  $("rider-form").addEventListener("submit", registerRider);
  $("book-form").addEventListener("submit", findRides);
  $("from").addEventListener("change", () => choiceChanged("from"));
  $("to").addEventListener("change", () => choiceChanged("to"));
  $("repeat").addEventListener("change", () => ($("repeat-days").hidden = !$("repeat").checked));
  for (const id of ["day", "time", "from", "to"]) $(id).addEventListener("change", clearOffers);
  for (const r of document.querySelectorAll("input[name=when]")) r.addEventListener("change", clearOffers);
  document.addEventListener("keydown", (e) => {
    if ($("caller").hidden || !state.offers.length) return;
    if (["INPUT", "SELECT"].includes(document.activeElement?.tagName)) return;
    const n = Number(e.key);
    if (n >= 1 && n <= Math.min(3, state.offers.length)) {
      e.preventDefault();
      chooseOffer(n - 1);
    }
  });
}

async function search(e) {
  e.preventDefault();
  const q = $("search").value.trim();
  if (!q) return;
  const digits = q.replace(/[\s\-ー－‐]/g, "");
  const byPhone = /^[0-9０-９]+$/.test(digits);
  const params = new URLSearchParams(byPhone ? { phone: digits } : { name: q });
  const list = $("results");
  list.replaceChildren();
  $("card").replaceChildren();
  $("book-form").hidden = true;
  $("rider-form").hidden = true;
  try {
    const riders = await api("GET", "/api/v1/riders?" + params);
    if (!riders.length) {
      list.append(el("li", {}, t("noRider")));
      return;
    }
    for (const r of riders) {
      list.append(
        el("li", {}, el("button", { type: "button", onclick: () => openRider(r.id) },
          r.name, el("span", { class: "kana" }, r.name_kana), "  ", r.phone)),
      );
    }
    if (riders.length === 1) openRider(riders[0].id);
    else list.querySelector("button")?.focus();
  } catch (err) {
    list.append(el("li", { class: "error" }, err.message));
  }
}

async function openRider(id) {
  try {
    const card = await api("GET", "/api/v1/riders/" + id);
    state.rider = card;
    state.changing = null;
    $("results").replaceChildren();
    renderCard();
    bookForm();
  } catch (err) {
    $("card").replaceChildren(el("p", { class: "error" }, err.message));
  }
}

function renderCard() {
  const { rider, usual_places, upcoming } = state.rider;
  const needs = [];
  if (rider.needs.wheelchair) needs.push(t("wheelchair"));
  if (rider.needs.companion) needs.push(t("companion"));
  if (rider.needs.walking_aid) needs.push(t("walkingAid"));
  const card = el("article", { class: "card", "aria-label": rider.name },
    el("h2", {}, rider.name, el("span", { class: "kana" }, rider.name_kana)),
    el("p", {}, t("phone"), ": ", el("a", { href: "tel:" + rider.phone }, rider.phone), "　", rider.home_address),
    needs.length ? el("ul", { class: "tags", "aria-label": t("needs") }, needs.map((n) => el("li", {}, n))) : null,
    rider.needs.driver_notes ? el("p", {}, t("notes"), ": ", rider.needs.driver_notes) : null,
    el("h3", {}, t("usualPlaces")),
    el("ul", { class: "places" }, usual_places.map((u) =>
      el("li", {}, u.home ? t("home") + ": " : "", placeText(u.place), u.trips ? ` (${u.trips}${t("trips")})` : ""))),
    el("h3", {}, t("upcoming")),
    upcoming.length
      ? el("ul", { class: "upcoming" }, upcoming.map(upcomingItem))
      : el("p", {}, t("none")),
  );
  $("card").replaceChildren(card);
}

function upcomingItem(b) {
  const li = el("li", { "data-booking": b.id },
    el("span", { class: "what" }, b.day, " ", b.pickup_window_local, "  ", placeText(b.origin), " → ", placeText(b.destination),
      "  [", statusText(b.ride_status, b.late), "]"),
  );
  if (b.ride_status === "scheduled") {
    li.append(
      el("button", { type: "button", onclick: () => changeBooking(b) }, t("change")),
      el("button", { type: "button", class: "danger", onclick: () => askReason(li, b) }, t("cancel")),
    );
  }
  return li;
}

function askReason(li, b) {
  const open = li.querySelector("form");
  if (open) {
    open.querySelector("input").focus();
    return;
  }
  const input = el("input", { "aria-label": t("reason"), placeholder: t("reason") });
  const error = el("p", { class: "error", role: "alert" });
  const form = el("form", { class: "row" }, input,
    el("button", { type: "submit", class: "danger" }, t("cancel")), error);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("POST", `/api/v1/bookings/${b.id}/cancel`, { reason: input.value });
      await openRider(state.rider.rider.id);
      $("booked").replaceChildren(el("strong", {}, t("cancelled")), " ", b.day, " ", b.pickup_window_local);
    } catch (err) {
      error.textContent = err.message;
    }
  });
  li.append(form);
  input.focus();
}

// ---- new rider ----

function newRiderForm() {
  state.rider = null;
  state.riderHome = null;
  $("card").replaceChildren();
  $("results").replaceChildren();
  $("book-form").hidden = true;
  const form = $("rider-form");
  form.reset();
  form.hidden = false;
  $("rider-home").textContent = "";
  form.querySelector(".error").textContent = "";
  state.pickFor = "home";
  $("map-hint").textContent = t("homeOnMap");
  form.elements.name.focus();
}

async function registerRider(e) {
  e.preventDefault();
  const f = e.target.elements;
  const body = {
    name: f.name.value,
    name_kana: f.name_kana.value,
    phone: f.phone.value,
    home_address: f.home_address.value,
    home: state.riderHome,
    wheelchair: f.wheelchair.checked,
    companion: f.companion.checked,
    walking_aid: f.walking_aid.checked,
    driver_notes: f.driver_notes.value,
  };
  try {
    const rider = await api("POST", "/api/v1/riders", body);
    $("rider-form").hidden = true;
    state.pickFor = null;
    $("map-hint").textContent = "";
    openRider(rider.id);
  } catch (err) {
    e.target.querySelector(".error").textContent = err.message;
  }
}

function pickOnMap(lat, lon) {
  const point = { lat, lon };
  if (state.pickFor === "home") {
    state.riderHome = point;
    $("rider-home").textContent = t("home") + ": " + lat.toFixed(5) + ", " + lon.toFixed(5);
    state.callerMap.setMarkers([{ lat, lon, label: t("home") }]);
    return;
  }
  if (state.pickFor === "from" || state.pickFor === "to") {
    const choice = { label: t("pickedPoint") + " " + lat.toFixed(4) + ", " + lon.toFixed(4), place: { point, label: "" } };
    state.choices.push(choice);
    fillChoices();
    $(state.pickFor).value = String(state.choices.length - 1);
    state.pickFor = null;
    $("map-hint").textContent = "";
    clearOffers();
    markTrip();
  }
}

// ---- booking ----

function bookForm() {
  const { rider, usual_places } = state.rider;
  state.choices = usual_places.map((u) => ({
    label: (u.home ? t("home") + ": " : "") + placeText(u.place),
    place: u.place,
    home: u.home,
  }));
  for (const s of state.stops) {
    state.choices.push({ label: t("stop") + ": " + s.name, place: { stop_id: s.id, label: s.name } });
  }
  fillChoices();
  const home = state.choices.findIndex((c) => c.home);
  const other = state.choices.findIndex((c, i) => i !== home && !c.home);
  $("from").value = String(Math.max(home, 0));
  $("to").value = other >= 0 ? String(other) : "map";
  $("day").value = todayTokyo();
  $("time").value = nextQuarterTokyo(30);
  $("repeat").checked = false;
  $("repeat-days").hidden = true;
  $("repeat-until").value = todayTokyo(90);
  $("book-rider").textContent = rider.name;
  $("changing").hidden = !state.changing;
  $("booked").replaceChildren();
  $("book-error").textContent = "";
  state.bookingKey = newId("console");
  clearOffers();
  $("book-form").hidden = false;
  markTrip();
  if ($("to").value === "map") choiceChanged("to");
  else $("find").focus();
}

function fillChoices() {
  for (const id of ["from", "to"]) {
    const select = $(id);
    const keep = select.value;
    select.replaceChildren(
      ...state.choices.map((c, i) => el("option", { value: String(i) }, c.label)),
      el("option", { value: "map" }, "[" + t("onMap") + "]"),
    );
    if (keep) select.value = keep;
  }
}

function choiceChanged(which) {
  if ($(which).value === "map") {
    state.pickFor = which;
    $("map-hint").textContent = t("mapPick");
    $("caller-map").querySelector("canvas").focus();
  }
  markTrip();
}

function chosenPlace(which) {
  const c = state.choices[Number($(which).value)];
  return c && $(which).value !== "map" ? c.place : null;
}

function markTrip() {
  const markers = [];
  for (const [which, colour] of [["from", "#0b5cad"], ["to", "#b3261e"]]) {
    const p = chosenPlace(which);
    const at = p?.point ?? state.stops.find((s) => s.id === p?.stop_id)?.location;
    if (at) markers.push({ lat: at.lat, lon: at.lon, colour, label: t(which) });
  }
  state.callerMap?.setMarkers(markers);
  if (markers.length) state.callerMap?.centreOn(markers[0].lat, markers[0].lon, 13);
}

function clearOffers() {
  state.offers = [];
  state.chosen = null;
  $("offers").replaceChildren();
}

function trip() {
  const origin = chosenPlace("from");
  const destination = chosenPlace("to");
  if (!origin || !destination) throw new Error(t("mapPick"));
  return { rider_id: state.rider.rider.id, origin, destination };
}

async function findRides(e) {
  e.preventDefault();
  $("book-error").textContent = "";
  $("booked").replaceChildren();
  clearOffers();
  try {
    if ($("repeat").checked) return await bookRecurring();
    const time = hhmm($("time").value);
    if (!time) throw new Error(t("time") + ": 14:30");
    $("time").value = time;
    const body = {
      ...trip(),
      day: $("day").value,
      time,
      arrive_by: document.querySelector("input[name=when]:checked").value === "arrive",
    };
    state.offers = await api("POST", "/api/v1/quotes", body);
    if (!state.offers.length) {
      $("offers").replaceChildren(el("p", {}, t("noOffers")));
      return;
    }
    $("offers").replaceChildren(...state.offers.slice(0, 3).map((o, i) =>
      el("button", { type: "button", class: "offer", "aria-pressed": "false", onclick: () => chooseOffer(i) },
        el("span", {}, `${i + 1}. ${t("pickup")}`),
        el("strong", {}, o.pickup_window_local),
        el("span", {}, `${t("arrival")} ${o.expected_arrival_local} · ${Math.round(o.ride_minutes)}${t("minutes")}`),
        o.fare_yen ? el("span", {}, ` · ${o.fare_yen}${t("yen")}`) : null)));
    $("offers").querySelector("button").focus();
  } catch (err) {
    $("book-error").textContent = err.message;
  }
}

function chooseOffer(i) {
  state.chosen = state.offers[i];
  const buttons = [...$("offers").querySelectorAll(".offer")];
  buttons.forEach((b, j) => b.setAttribute("aria-pressed", String(i === j)));
  $("offers").querySelector(".confirm")?.remove();
  const confirm = el("button", { type: "button", class: "primary confirm", onclick: confirmOffer },
    t("confirm"), " — ", t("pickup"), " ", state.chosen.pickup_window_local);
  $("offers").append(confirm);
  confirm.focus();
}

async function confirmOffer() {
  const offer = state.chosen;
  if (!offer) return;
  try {
    const old = state.changing;
    const b = await api("POST", "/api/v1/bookings", {
      offer_id: offer.offer_id,
      idempotency_key: state.bookingKey,
      replaces: old ? old.id : undefined,
    });
    await openRider(state.rider.rider.id);
    $("booked").replaceChildren(
      el("strong", {}, old ? t("changed") : t("booked")), el("br"),
      t("tellRider"), ": ", b.day, " ", t("pickup"), " ", el("strong", {}, b.pickup_window_local),
      " → ", t("arrival"), " ", b.expected_arrival_local,
    );
    $("booked").focus?.();
  } catch (err) {
    $("book-error").textContent = err.message;
  }
}

async function bookRecurring() {
  const weekdays = [...document.querySelectorAll("input[name=weekday]:checked")].map((c) => c.value);
  const time = hhmm($("time").value);
  if (!time) throw new Error(t("time") + ": 14:30");
  const answer = await api("POST", "/api/v1/recurring", {
    ...trip(),
    time,
    weekdays,
    first_day: $("day").value,
    last_day: $("repeat-until").value,
    idempotency_key: state.bookingKey,
  });
  await openRider(state.rider.rider.id);
  $("booked").replaceChildren(
    el("strong", {}, t("booked"), ": ", answer.booked.length),
    answer.missed.length
      ? el("div", {}, t("missed"), ": ", answer.missed.map((m) => `${m.day} (${m.reason})`).join(", "))
      : null,
  );
}

function changeBooking(b) {
  bookForm();
  state.changing = b;
  $("changing").hidden = false;
  const same = (p) => state.choices.findIndex((c) => JSON.stringify(c.place) === JSON.stringify(p));
  for (const [which, place] of [["from", b.origin], ["to", b.destination]]) {
    let i = same(place);
    if (i < 0) {
      state.choices.push({ label: placeText(place), place });
      fillChoices();
      i = state.choices.length - 1;
    }
    $(which).value = String(i);
  }
  $("day").value = b.day;
  $("time").value = b.pickup_window_local.slice(0, 5);
  markTrip();
  $("time").focus();
}

// ---- today's board ----

function startBoard() {
  if (!state.boardMap) {
    state.boardMap = new RoadMap($("board-map"));
    state.boardMap.start().catch(() => {});
    $("board-day").value = todayTokyo();
    $("board-day").addEventListener("change", () => {
      state.stopBoard?.();
      state.stopBoard = null;
      startBoard();
    });
  }
  state.boardMap.resize();
  if (state.stopBoard) return;
  const day = $("board-day").value;
  state.stopBoard = follow(
    "/api/v1/board?day=" + encodeURIComponent(day),
    "board",
    renderBoard,
    (s) => ($("link-state").textContent = t(s)),
    (err) => {
      $("alerts").replaceChildren(el("li", {}, err.message));
      if (err.status === 401) location.reload();
    },
  );
}

function renderBoard(board) {
  const vehicleName = (id) => board.vehicles.find((v) => v.id === id)?.name ?? (id ? "#" + id : "—");
  $("alerts").replaceChildren(
    ...(board.alerts.length
      ? board.alerts.map((a) => el("li", {}, a.text,
          a.call.map((c) => el("div", { class: "call" }, t("callBack"), ": ", c.rider_name, " ",
            el("a", { href: "tel:" + c.phone }, c.phone)))))
      : [el("li", { class: "quiet-line" }, t("noAlerts"))]),
  );
  const live = board.bookings.filter((b) => !b.cancelled);
  $("vehicles").replaceChildren(...board.vehicles.map((v) => {
    const next = live
      .filter((b) => b.vehicle_id === v.id && ["scheduled", "arrived"].includes(b.ride_status))
      .sort((a, b) => a.pickup_window_local.localeCompare(b.pickup_window_local))[0];
    return el("li", { "data-vehicle": v.id }, el("strong", {}, v.name), "  ",
      v.last_event ? `${t("event_" + v.last_event)} ${v.last_event_local}` : "",
      v.delay_minutes ? `  ${t("delay")} ${v.delay_minutes}${t("minutes")} (${v.delay_reason})` : "",
      next ? `  ${t("next")}: ${next.pickup_eta_local || next.pickup_window_local} ${next.rider_name ?? ""} ${placeText(next.origin, false)}` : "");
  }));
  const rows = [...live].sort((a, b) => a.pickup_window_local.localeCompare(b.pickup_window_local));
  $("board-bookings").querySelector("tbody").replaceChildren(...rows.map((b) =>
    el("tr", { "data-booking": b.id },
      el("td", {}, b.pickup_window_local),
      el("td", {}, b.rider_name ?? "#" + b.rider_id),
      el("td", {}, vehicleName(b.vehicle_id)),
      el("td", { class: "status" + (b.late ? " status-late" : ""), "data-status": b.ride_status }, statusText(b.ride_status, b.late)))));
  const markers = board.vehicles.filter((v) => v.position).map((v) =>
    ({ lat: v.position.lat, lon: v.position.lon, label: v.name, shape: "square", colour: "#0b5cad" }));
  for (const b of rows.filter((b) => b.ride_status === "scheduled" && b.origin.point)) {
    markers.push({ lat: b.origin.point.lat, lon: b.origin.point.lon, label: b.pickup_window_local.slice(0, 5), colour: "#b3261e" });
  }
  state.boardMap.setMarkers(markers);
}

boot();
