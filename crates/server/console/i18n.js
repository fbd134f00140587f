// The console's words, Japanese first, English on the switch.

const WORDS = {
  title: ["乗合 オペレーター画面", "noriai operator console"],
  driverTitle: ["乗合 運転手画面", "noriai driver"],
  login: ["ログイン", "Log in"],
  logout: ["ログアウト", "Log out"],
  name: ["名前", "Name"],
  password: ["パスワード", "Password"],
  orToken: ["またはトークン", "or a token"],
  token: ["トークン", "Token"],
  wrongLogin: ["名前かパスワードが違います", "Wrong name or password"],
  caller: ["電話受付", "Caller"],
  today: ["本日の運行", "Today"],
  search: ["電話番号 または よみ (カナ)", "Phone digits or name reading (kana)"],
  searchButton: ["検索", "Search"],
  noRider: ["該当する利用者がいません", "No rider found"],
  newRider: ["新規登録", "New rider"],
  kana: ["よみ", "Reading (kana)"],
  phone: ["電話番号", "Phone"],
  address: ["住所", "Address"],
  home: ["自宅", "Home"],
  homeOnMap: ["地図をクリックして自宅の位置を選んでください", "Click the map to place the home"],
  needs: ["配慮事項", "Needs"],
  wheelchair: ["車いす", "Wheelchair"],
  companion: ["付き添い", "Companion"],
  walkingAid: ["杖・歩行器", "Walking aid"],
  notes: ["メモ (運転手へ)", "Notes for the driver"],
  register: ["登録", "Register"],
  usualPlaces: ["よく行く場所", "Usual places"],
  upcoming: ["予約", "Upcoming rides"],
  none: ["なし", "none"],
  trips: ["回", "trips"],
  book: ["予約する", "Book a ride"],
  from: ["乗る場所", "From"],
  to: ["降りる場所", "To"],
  onMap: ["地図で選ぶ", "Pick on map"],
  mapPick: ["地図をクリックして場所を選んでください", "Click the map to choose the place"],
  pickedPoint: ["地図の地点", "Point on map"],
  day: ["日付", "Day"],
  time: ["時刻", "Time"],
  departAfter: ["この時刻に迎えに来てほしい", "Pick me up at"],
  arriveBy: ["この時刻までに着きたい", "Arrive by"],
  findRides: ["空きを探す", "Find rides"],
  noOffers: ["この時刻に空きがありません。時刻を変えてください", "No ride at this time; try another time"],
  pickup: ["お迎え", "Pickup"],
  arrival: ["到着", "Arrival"],
  minutes: ["分", "min"],
  yen: ["円", "yen"],
  confirm: ["予約を確定", "Confirm booking"],
  booked: ["予約しました", "Booked"],
  tellRider: ["お客様にお伝えください", "Tell the caller"],
  recurring: ["くり返し", "Recurring"],
  until: ["いつまで", "Until"],
  bookRecurring: ["くり返し予約", "Book recurring"],
  missed: ["予約できなかった日", "Days not booked"],
  cancel: ["取消", "Cancel"],
  change: ["変更", "Change"],
  reason: ["取消の理由", "Reason for cancelling"],
  cancelled: ["取り消しました", "Cancelled"],
  changed: ["変更しました", "Changed"],
  changing: ["変更中: 新しい予約を確定すると元の予約を取り消します", "Changing: confirming the new ride cancels the old one"],
  vehicles: ["車両", "Vehicles"],
  bookings: ["予約一覧", "Bookings"],
  alerts: ["お知らせ", "Alerts"],
  callBack: ["電話する", "Call"],
  noAlerts: ["お知らせはありません", "No alerts"],
  delay: ["遅れ", "delay"],
  late: ["遅れ", "late"],
  live: ["接続中", "live"],
  reconnecting: ["再接続中…", "reconnecting…"],
  offline: ["通信できません", "offline"],
  mon: ["月", "Mon"], tue: ["火", "Tue"], wed: ["水", "Wed"], thu: ["木", "Thu"],
  fri: ["金", "Fri"], sat: ["土", "Sat"], sun: ["日", "Sun"],
  status_scheduled: ["予定", "scheduled"],
  status_arrived: ["到着済", "vehicle arrived"],
  status_on_board: ["乗車中", "on board"],
  status_completed: ["完了", "completed"],
  status_no_show: ["不在", "no-show"],
  status_cancelled: ["取消", "cancelled"],
  status_unknown: ["不明", "unknown"],
  vehicle: ["車両", "Vehicle"],
  rider: ["利用者", "Rider"],
  window: ["お迎え時間", "Pickup window"],
  status: ["状態", "Status"],
  zoomIn: ["拡大", "Zoom in"],
  zoomOut: ["縮小", "Zoom out"],
  map: ["地図", "Map"],
  manifest: ["本日の乗降", "Today's stops"],
  next: ["次", "Next"],
  arrived: ["到着", "Arrived"],
  boarded: ["乗車", "Boarded"],
  notHere: ["不在", "Not here"],
  alighted: ["降車", "Dropped off"],
  pickUpAt: ["迎車", "Pick up"],
  dropOffAt: ["降車", "Drop off"],
  waitUntil: ["不在の報告は {t} から", "No-show may be reported from {t}"],
  queued: ["未送信 {n} 件 (通信が戻ると送ります)", "{n} not sent yet (sent when back online)"],
  allSent: ["送信済み", "all sent"],
  done: ["済", "done"],
  noStops: ["本日の乗降はありません", "No stops today"],
  seats: ["席", "seats"],
  refused: ["受け付けられませんでした", "Refused"],
  language: ["English", "日本語"],
  stop: ["乗降場", "Stop"],
  event_shift_started: ["運行開始", "shift started"],
  event_shift_ended: ["運行終了", "shift ended"],
  event_arrived: ["到着", "arrived"],
  event_boarded: ["乗車", "boarded"],
  event_no_show: ["不在", "no-show"],
  event_alighted: ["降車", "dropped off"],
  event_departed: ["出発", "departed"],
  event_delayed: ["遅延", "delayed"],
  event_breakdown: ["故障", "breakdown"],
  event_break_started: ["休憩", "on a break"],
  event_break_ended: ["休憩終了", "break ended"],
};

let lang = localStorage.getItem("noriai-lang") === "en" ? 1 : 0;

export function t(key, values = {}) {
  const w = WORDS[key];
  let s = w ? w[lang] : key;
  for (const [k, v] of Object.entries(values)) s = s.replace("{" + k + "}", v);
  return s;
}

export function language() {
  return lang === 0 ? "ja" : "en";
}

export function toggleLanguage() {
  lang = 1 - lang;
  localStorage.setItem("noriai-lang", lang === 1 ? "en" : "ja");
  document.documentElement.lang = language();
}

// Fills every element marked data-t (text) or data-t-label (aria-label and
// placeholder) with the current language.
export function translate(root = document) {
  document.documentElement.lang = language();
  for (const node of root.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  for (const node of root.querySelectorAll("[data-t-label]")) {
    node.setAttribute("aria-label", t(node.dataset.tLabel));
    if ("placeholder" in node) node.placeholder = t(node.dataset.tLabel);
  }
}
