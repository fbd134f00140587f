// The road map, drawn on a canvas from the loaded map's roads (nothing is
// fetched from elsewhere). Drag to pan, wheel or +/- to zoom, arrows when
// focused; a click without a drag reports the point.

import { api } from "./api.js";
import { t } from "./i18n.js";

const TILE = 256;

function project(lat, lon, zoom) {
  const scale = TILE * Math.pow(2, zoom);
  const s = Math.sin((lat * Math.PI) / 180);
  return [((lon + 180) / 360) * scale, (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * scale];
}

function unproject(x, y, zoom) {
  const scale = TILE * Math.pow(2, zoom);
  const lon = (x / scale) * 360 - 180;
  const n = Math.PI - (2 * Math.PI * y) / scale;
  const lat = (180 / Math.PI) * Math.atan(0.5 * (Math.exp(n) - Math.exp(-n)));
  return [lat, lon];
}

export class RoadMap {
  constructor(container, { onPick } = {}) {
    this.container = container;
    this.onPick = onPick;
    this.canvas = document.createElement("canvas");
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", t("map"));
    const controls = document.createElement("div");
    controls.className = "map-controls";
    for (const [label, dz, key] of [["+", 1, "zoomIn"], ["−", -1, "zoomOut"]]) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = label;
      b.setAttribute("aria-label", t(key));
      b.addEventListener("click", () => this.zoomBy(dz));
      controls.append(b);
    }
    container.append(this.canvas, controls);
    this.center = [0, 0];
    this.zoom = 12;
    this.lines = [];
    this.markers = [];
    this.route = [];
    this.pending = null;
    this.fetched = null;
    this.placed = false;
    this.listen();
    new ResizeObserver(() => this.resize()).observe(container);
  }

  // Opens on the whole map, unless a place was shown meanwhile.
  async start() {
    const e = await api("GET", "/api/v1/map/extent");
    if (!this.placed) this.fit(e.south, e.west, e.north, e.east);
  }

  // Fits [lat, lon] points in view, at most street level.
  fitPoints(points) {
    if (!points.length) return;
    const lats = points.map((p) => p[0]);
    const lons = points.map((p) => p[1]);
    const pad = 0.002;
    this.fit(Math.min(...lats) - pad, Math.min(...lons) - pad, Math.max(...lats) + pad, Math.max(...lons) + pad);
  }

  fit(south, west, north, east) {
    const w = Math.max(this.canvas.clientWidth, 200);
    const h = Math.max(this.canvas.clientHeight, 200);
    let zoom = 18;
    while (zoom > 2) {
      const [x0, y0] = project(north, west, zoom);
      const [x1, y1] = project(south, east, zoom);
      if (x1 - x0 <= w && y1 - y0 <= h) break;
      zoom -= 0.5;
    }
    this.zoom = Math.min(zoom, 17);
    this.center = [(south + north) / 2, (west + east) / 2];
    this.placed = true;
    this.refresh();
  }

  centreOn(lat, lon, zoom) {
    this.placed = true;
    this.center = [lat, lon];
    if (zoom) this.zoom = Math.max(this.zoom, zoom);
    this.refresh();
  }

  zoomBy(dz) {
    this.zoom = Math.min(19, Math.max(3, this.zoom + dz));
    this.refresh();
  }

  setMarkers(markers) {
    this.markers = markers;
    this.draw();
  }

  setRoute(points) {
    this.route = points;
    this.draw();
  }

  resize() {
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = this.canvas.clientWidth * ratio;
    this.canvas.height = this.canvas.clientHeight * ratio;
    this.refresh();
  }

  bounds() {
    const [cx, cy] = project(this.center[0], this.center[1], this.zoom);
    const w = this.canvas.clientWidth / 2;
    const h = this.canvas.clientHeight / 2;
    const [north, west] = unproject(cx - w, cy - h, this.zoom);
    const [south, east] = unproject(cx + w, cy + h, this.zoom);
    return { west, south, east, north };
  }

  // Fetches the roads of the view (a little wider, so small pans need none).
  refresh() {
    this.draw();
    clearTimeout(this.pending);
    this.pending = setTimeout(async () => {
      const b = this.bounds();
      const padX = (b.east - b.west) / 2;
      const padY = (b.north - b.south) / 2;
      const zoom = Math.round(this.zoom);
      const f = this.fetched;
      if (f && f.zoom === zoom && b.west >= f.west && b.east <= f.east && b.south >= f.south && b.north <= f.north) return;
      const want = { west: b.west - padX, south: b.south - padY, east: b.east + padX, north: b.north + padY, zoom };
      const q = new URLSearchParams(Object.entries(want).map(([k, v]) => [k, String(v)]));
      const asked = (this.asked = (this.asked ?? 0) + 1);
      try {
        const answer = await api("GET", "/api/v1/map?" + q);
        if (asked !== this.asked) return; // a newer view was asked for
        this.lines = answer.lines;
        this.fetched = want;
        this.draw();
      } catch (e) {
        /* keep the old roads; the next move asks again */
      }
    }, 120);
  }

  toScreen(lat, lon) {
    const [cx, cy] = project(this.center[0], this.center[1], this.zoom);
    const [x, y] = project(lat, lon, this.zoom);
    return [x - cx + this.canvas.clientWidth / 2, y - cy + this.canvas.clientHeight / 2];
  }

  draw() {
    const ctx = this.canvas.getContext("2d");
    const ratio = window.devicePixelRatio || 1;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = "#f4f1ea";
    ctx.fillRect(0, 0, this.canvas.clientWidth, this.canvas.clientHeight);
    ctx.strokeStyle = "#8a8f98";
    ctx.lineWidth = this.zoom >= 15 ? 2 : 1;
    ctx.beginPath();
    for (const line of this.lines) {
      for (let i = 0; i < line.length; i += 2) {
        const [x, y] = this.toScreen(line[i], line[i + 1]);
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
    }
    ctx.stroke();
    if (this.route.length > 1) {
      ctx.strokeStyle = "#0b5cad";
      ctx.lineWidth = 5;
      ctx.beginPath();
      this.route.forEach(([lat, lon], i) => {
        const [x, y] = this.toScreen(lat, lon);
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      });
      ctx.stroke();
    }
    for (const m of this.markers) {
      const [x, y] = this.toScreen(m.lat, m.lon);
      ctx.fillStyle = m.colour ?? "#b3261e";
      ctx.strokeStyle = "#ffffff";
      ctx.lineWidth = 2;
      ctx.beginPath();
      if (m.shape === "square") ctx.rect(x - 9, y - 9, 18, 18);
      else ctx.arc(x, y, 8, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
      if (m.label) {
        ctx.font = "bold 15px 'Noto Sans CJK JP', sans-serif";
        ctx.lineWidth = 4;
        ctx.strokeText(m.label, x + 12, y + 5);
        ctx.fillStyle = "#1b1b1b";
        ctx.fillText(m.label, x + 12, y + 5);
      }
    }
  }

  listen() {
    let drag = null;
    this.canvas.addEventListener("pointerdown", (e) => {
      drag = { x: e.clientX, y: e.clientY, moved: false, center: this.center };
      this.canvas.setPointerCapture(e.pointerId);
    });
    this.canvas.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
      if (!drag.moved) return;
      const [cx, cy] = project(drag.center[0], drag.center[1], this.zoom);
      this.center = unproject(cx - dx, cy - dy, this.zoom);
      this.refresh();
    });
    this.canvas.addEventListener("pointerup", (e) => {
      if (drag && !drag.moved && this.onPick) {
        const rect = this.canvas.getBoundingClientRect();
        const [cx, cy] = project(this.center[0], this.center[1], this.zoom);
        const x = cx + e.clientX - rect.left - this.canvas.clientWidth / 2;
        const y = cy + e.clientY - rect.top - this.canvas.clientHeight / 2;
        const [lat, lon] = unproject(x, y, this.zoom);
        this.onPick(lat, lon);
      }
      drag = null;
    });
    this.canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      this.zoomBy(e.deltaY < 0 ? 0.5 : -0.5);
    }, { passive: false });
    this.canvas.addEventListener("keydown", (e) => {
      const step = 80;
      const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (e.key === "+" || e.key === "=") this.zoomBy(1);
      else if (e.key === "-") this.zoomBy(-1);
      else if (moves[e.key]) {
        const [cx, cy] = project(this.center[0], this.center[1], this.zoom);
        this.center = unproject(cx + moves[e.key][0], cy + moves[e.key][1], this.zoom);
        this.refresh();
      } else return;
      e.preventDefault();
    });
  }
}
