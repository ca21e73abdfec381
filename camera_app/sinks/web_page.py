"""What the web preview serves besides pictures: the page and the metrics text.

The page is one self-contained HTML document (no external assets: the Pi may
have no internet). It shows the MJPEG stream and polls ``/api/stats`` every
second; a ``?token=`` in its own address is passed on to every request.
For tests and curious users it keeps two counters on ``<body>``:
``data-frames-seen`` (times the displayed picture changed, sampled through a
canvas) and ``data-status-updates`` (stats polls that succeeded).
"""

from __future__ import annotations

PAGE_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>camera_app preview</title>
<style>
body{margin:0;font:14px/1.4 system-ui,sans-serif;background:#111;color:#ddd;display:flex;
flex-wrap:wrap;gap:12px;padding:12px}
#view{flex:1 1 640px;min-width:320px}#view img{width:100%;background:#000;display:block}
#panel{flex:0 0 330px}table{border-collapse:collapse;width:100%}
td{padding:2px 6px;border-bottom:1px solid #333}td:first-child{color:#999;white-space:nowrap}
h1{font-size:16px;margin:0 0 8px}.bad{color:#f66}.ok{color:#6d6}
</style></head>
<body data-frames-seen="0" data-status-updates="0">
<div id="view"><img id="stream" alt="live preview"></div>
<div id="panel"><h1>camera_app <span id="state">…</span></h1>
<table id="stats"><tbody></tbody></table><p id="error" class="bad"></p></div>
<script>
"use strict";
const tok = new URLSearchParams(location.search).get("token");
const q = tok ? "?token=" + encodeURIComponent(tok) : "";
const img = document.getElementById("stream");
img.src = "/stream.mjpg" + q;
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
</script></body></html>
"""
