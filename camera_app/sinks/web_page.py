"""What the web preview serves besides pictures: the page and the metrics text.

The page is one self-contained HTML document (no external assets: the Pi may
have no internet). It shows the MJPEG stream, polls ``/api/stats`` every
second and ``/api/events`` every two seconds (recent object events: label,
times, zones, lines, the snapshot as a thumbnail; the list is hidden when the
server has no events API); a ``?token=`` in its own address is passed on to
every request. For tests and curious users it keeps counters on ``<body>``:
``data-frames-seen`` (times the displayed picture changed, sampled through a
canvas), ``data-status-updates`` (stats polls that succeeded),
``data-events-updates`` (events polls that succeeded), ``data-events-shown``
(events listed) and ``data-thumbs-loaded`` (thumbnails that loaded).
"""

from __future__ import annotations

PAGE_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>camera_app preview</title>
<style>
body{margin:0;font:14px/1.4 system-ui,sans-serif;background:#111;color:#ddd;display:flex;
flex-wrap:wrap;gap:12px;padding:12px}
[hidden]{display:none!important}#view{flex:1 1 640px;min-width:320px}.meta{color:#999}#view img{width:100%;background:#000;display:block}
#panel{flex:0 0 330px}table{border-collapse:collapse;width:100%}
td{padding:2px 6px;border-bottom:1px solid #333}td:first-child{color:#999;white-space:nowrap}
h1{font-size:16px;margin:0 0 8px}.bad{color:#f66}.ok{color:#6d6}
h2{font-size:14px;margin:10px 0 6px}#events-note{color:#999;font-weight:400}#events{list-style:none;margin:0;padding:0;
max-height:50vh;overflow-y:auto}#events li{display:flex;gap:8px;padding:4px 0;
border-bottom:1px solid #333}#events img{width:96px;height:72px;object-fit:cover;
background:#222;flex:0 0 96px}#events .what{font-weight:600}#events .meta{color:#999;font-size:12px}
#events .active .what::after{content:" ●";color:#6d6}
</style></head>
<body data-frames-seen="0" data-status-updates="0" data-events-updates="0"
data-events-shown="0" data-thumbs-loaded="0">
<div id="view"><img id="stream" alt="live preview">
<p id="view-note" class="meta" hidden>No live picture: the run has stopped, or too many viewers.</p></div>
<div id="panel"><h1>camera_app <span id="state">…</span></h1><p id="error" class="bad"></p>
<section id="events-panel" hidden><h2>Events <span id="events-note" class="meta"></span></h2>
<ul id="events"></ul></section>
<h2>Status</h2><table id="stats"><tbody></tbody></table></div>
<script>
"use strict";
const tok = new URLSearchParams(location.search).get("token");
const q = tok ? "?token=" + encodeURIComponent(tok) : "";
const img = document.getElementById("stream");
img.src = "/stream.mjpg" + q;
const viewNote = document.getElementById("view-note");
img.addEventListener("error", () => { img.hidden = true; viewNote.hidden = false; });
function retryStream() {
  img.hidden = false; viewNote.hidden = true;
  img.src = "/stream.mjpg" + (q ? q + "&" : "?") + "r=" + Date.now();
}
const body = document.body;
const canvas = document.createElement("canvas");
canvas.width = 32; canvas.height = 18;
const ctx = canvas.getContext("2d", {willReadFrequently: true});
let lastSig = null;
function sample() {
  if (!img.naturalWidth) return;
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  const sig = ctx.getImageData(0, 0, canvas.width, canvas.height).data.join(",");
  if (sig !== lastSig) { lastSig = sig; body.dataset.framesSeen = +body.dataset.framesSeen + 1; }
}
setInterval(sample, 200);
const f1 = v => v === null || v === undefined ? "-" : Number(v).toFixed(1);
const pp = t => t ? f1(t.p50) + " / " + f1(t.p95) + " ms" : "-";
function dur(s) {
  s = Math.floor(s); const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60);
  return (h ? h + "h " : "") + (h || m ? m + "m " : "") + (s % 60) + "s";
}
function row(k, v) {
  const tr = document.createElement("tr"); const a = document.createElement("td");
  const b = document.createElement("td"); a.textContent = k; b.textContent = v;
  tr.append(a, b); return tr;
}
async function poll() {
  try {
    const r = await fetch("/api/stats" + q, {cache: "no-store"});
    if (!r.ok) throw new Error("stats: HTTP " + r.status);
    const s = await r.json(); const t = s.timings_ms || {};
    const st = document.getElementById("state");
    st.textContent = s.source_up ? "live" : (s.source_state || "down");
    st.className = s.source_up ? "ok" : "bad";
    if (img.hidden && s.source_up) retryStream();
    const rows = [
      ["processed", s.processed], ["captured", s.captured],
      ["fps capture", f1(s.fps.capture)], ["fps inference", f1(s.fps.inference)],
      ["fps average", f1(s.fps.average)],
      ["latency p50/p95", pp(t.latency)], ["inference p50/p95", pp(t.inference)],
      ["dropped", s.dropped_total]];
    for (const [k, v] of Object.entries(s.dropped || {})) rows.push(["  dropped " + k, v]);
    for (const [k, v] of Object.entries(s.handled || {})) rows.push(["handled " + k, v]);
    rows.push(["source", (s.source.name || "-").split("/").pop() + " (" + s.source_state + ")"],
      ["reconnects", s.reconnects], ["uptime", dur(s.uptime_s)],
      ["model", (s.model.path || "-").split("/").pop() + " " + (s.model.family || "")],
      ["runtime", s.model.runtime || "-"], ["viewers", s.clients],
      ["jpeg encodes", s.jpeg_encodes], ["health", s.health]);
    const tb = document.querySelector("#stats tbody");
    tb.replaceChildren(...rows.map(([k, v]) => row(k, String(v))));
    tb.dataset.processed = s.processed;
    document.getElementById("error").textContent = "";
    body.dataset.statusUpdates = +body.dataset.statusUpdates + 1;
  } catch (e) { document.getElementById("error").textContent = String(e); }
}
poll(); setInterval(poll, 1000);
const evList = document.getElementById("events");
const evItems = new Map();
let evVersion = -1, thumbsLoaded = 0;
const hms = iso => iso ? new Date(iso).toLocaleTimeString() : "";
const clip = ms => { const t = Math.floor(ms / 1000);
  return Math.floor(t / 60) + ":" + String(t % 60).padStart(2, "0"); };
function thumbSrc(ev, retry) {
  let u = ev.snapshot_url + "?v=" + ev.snapshot_version + (retry ? "&r=" + retry : "");
  return tok ? u + "&token=" + encodeURIComponent(tok) : u;
}
function eventItem(ev) {
  let it = evItems.get(ev.id);
  if (!it) {
    const li = document.createElement("li"); const im = document.createElement("img");
    im.alt = ev.label;
    im.addEventListener("load", () => {
      im.dataset.failed = ""; if (im.dataset.counted) return;
      im.dataset.counted = "1"; body.dataset.thumbsLoaded = ++thumbsLoaded;
    });
    im.addEventListener("error", () => { im.dataset.failed = "1"; });
    const d = document.createElement("div");
    li.append(im, d); it = {li, im, d, src: null, retries: 0}; evItems.set(ev.id, it);
  }
  it.li.className = ev.state; it.li.dataset.id = ev.id;
  const what = document.createElement("div"); what.className = "what";
  what.textContent = ev.label + " " + Math.round(ev.score * 100) + "%";
  const when = document.createElement("div"); when.className = "meta";
  if (ev.start_media_ms !== undefined) {  // a file: its own clock, whatever the replay speed
    const end = ev.end_media_ms;
    when.textContent = "at " + clip(ev.start_media_ms) + " – " + (end !== null ? clip(end) +
      " (" + dur((end - ev.start_media_ms) / 1000) + ")" : "now") + " in the video";
  } else {
    const secs = ev.end_time ? (Date.parse(ev.end_time) - Date.parse(ev.start_time)) / 1000 : null;
    when.textContent = hms(ev.start_time) + (ev.end_time ? " – " + hms(ev.end_time) : " – now") +
      (secs !== null ? " (" + dur(secs) + ")" : "");
  }
  const where = document.createElement("div"); where.className = "meta";
  const parts = [];
  if (ev.zones.length) parts.push("in " + ev.zones.join(", "));
  const left = ev.entered_zones.filter(z => !ev.zones.includes(z));
  if (left.length) parts.push("was in " + left.join(", "));
  for (const c of ev.crossed_lines) parts.push(c.line + " " + c.direction);
  if (ev.stationary) parts.push("stationary");
  where.textContent = parts.join(" · ");
  it.d.replaceChildren(what, when, where);
  if (ev.clip_url) {
    const a = document.createElement("a"); a.textContent = "clip"; a.target = "_blank";
    a.href = ev.clip_url + q; a.className = "meta"; it.d.append(a);
  }
  if (ev.snapshot_url) {
    const src = thumbSrc(ev, 0);
    if (src !== it.src) { it.src = src; it.retries = 0; it.im.src = src; }
    else if (it.im.dataset.failed && it.retries < 30) {
      it.retries += 1; it.im.dataset.failed = ""; it.im.src = thumbSrc(ev, it.retries);
    }
  } else { it.im.removeAttribute("src"); }
  return it.li;
}
async function pollEvents() {
  try {
    const r = await fetch("/api/events?limit=50" + (tok ? "&token=" + encodeURIComponent(tok) : ""),
      {cache: "no-store"});
    const panel = document.getElementById("events-panel");
    if (r.status === 404) { panel.hidden = true; return; }
    if (!r.ok) throw new Error("events: HTTP " + r.status);
    const s = await r.json(); panel.hidden = false;
    document.getElementById("events-note").textContent =
      s.tracking ? "(" + s.count + ")" : "(tracking is off: no events)";
    const retry = [...evItems.values()].some(it => it.im.dataset.failed);
    if (s.version !== evVersion || retry) {
      evVersion = s.version;
      const items = s.events.map(eventItem);
      const keep = new Set(s.events.map(ev => ev.id));
      for (const id of [...evItems.keys()]) if (!keep.has(id)) evItems.delete(id);
      evList.replaceChildren(...items);
      evList.dataset.count = items.length;
      body.dataset.eventsShown = items.length;
    }
    body.dataset.eventsUpdates = +body.dataset.eventsUpdates + 1;
  } catch (e) { document.getElementById("error").textContent = String(e); }
}
pollEvents(); setInterval(pollEvents, 2000);
</script></body></html>
"""
