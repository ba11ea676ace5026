// The status page's script: it polls status.json and draws the numbers,
// tables and charts. No library, nothing loaded from elsewhere.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
let interval = 1000;

function fmt(n) {
  if (n === undefined || n === null) return "–";
  return Math.round(n).toLocaleString("en-US");
}

function fmtRate(r) {
  if (!r) return "0/s";
  return (r >= 10 ? Math.round(r).toLocaleString("en-US") : r.toFixed(1)) + "/s";
}

function short(hex) { return hex ? hex.slice(0, 12) + "…" : ""; }

function ago(t, now) {
  const s = (now - new Date(t).getTime()) / 1000;
  if (!isFinite(s)) return "";
  if (s < 1) return "now";
  if (s < 90) return Math.round(s) + " s ago";
  return Math.round(s / 60) + " min ago";
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function setText(id, text) { $(id).textContent = text; }

// chart draws series (each {name, color, values}) over the sample times.
function chart(svg, times, series, integer) {
  const W = 600, H = 170, L = 44, R = 10, T = 22, B = 20;
  svg.replaceChildren();
  let max = 0;
  for (const s of series) for (const v of s.values) max = Math.max(max, v);
  max = niceMax(max, integer);
  const n = times.length;
  const x = (i) => L + (n <= 1 ? 0 : (i * (W - L - R)) / (n - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  for (const f of [0, 0.5, 1]) {
    const v = max * f;
    line(svg, L, y(v), W - R, y(v), "grid");
    text(svg, L - 6, y(v) + 4, integer || v >= 10 ? fmt(v) : v.toFixed(1), "end");
  }
  if (n > 1) {
    const span = (times[n - 1] - times[0]) / 1000;
    text(svg, L, H - 4, "−" + (span >= 90 ? Math.round(span / 60) + " min" : Math.round(span) + " s"), "start");
    text(svg, W - R, H - 4, "now", "end");
  }
  let lx = L;
  for (const s of series) {
    if (n > 0) {
      const p = document.createElementNS(SVGNS, "polyline");
      p.setAttribute("points", s.values.map((v, i) => x(i).toFixed(1) + "," + y(v).toFixed(1)).join(" "));
      p.setAttribute("class", "line");
      p.setAttribute("stroke", s.color);
      svg.appendChild(p);
    }
    const last = n ? s.values[n - 1] : 0;
    const label = s.name + " " + (integer ? fmt(last) : fmtRate(last));
    const t = text(svg, lx, 13, label, "start");
    t.style.fill = s.color;
    t.style.fontWeight = "600";
    lx += 14 + label.length * 6.5;
  }
}

function niceMax(v, integer) {
  if (!(v > 0)) return integer ? 4 : 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 4, 5, 10]) if (m * p >= v) return integer ? Math.max(Math.ceil(m * p), 2) : m * p;
  return v;
}

function line(svg, x1, y1, x2, y2, cls) {
  const l = document.createElementNS(SVGNS, "line");
  l.setAttribute("x1", x1); l.setAttribute("y1", y1); l.setAttribute("x2", x2); l.setAttribute("y2", y2);
  l.setAttribute("class", cls);
  svg.appendChild(l);
}

function text(svg, x, y, s, anchor) {
  const t = document.createElementNS(SVGNS, "text");
  t.setAttribute("x", x); t.setAttribute("y", y); t.setAttribute("text-anchor", anchor);
  t.textContent = s;
  svg.appendChild(t);
  return t;
}

function render(st) {
  const now = new Date(st.time).getTime();
  const h = st.history || [];
  const last = h.length ? h[h.length - 1] : {};
  setText("member", "member " + short(st.member));
  const state = $("state");
  state.textContent = st.failed ? "failed: " + st.failed : "running";
  state.className = "state " + (st.failed ? "bad" : "ok");
  setText("updated", "updated " + new Date().toLocaleTimeString("en-GB"));

  setText("peer-count", fmt(st.peers));
  let sub = st.communities.length + (st.communities.length === 1 ? " community" : " communities");
  if (st.tracker_communities) sub += ", " + fmt(st.tracker_communities) + " tracked";
  setText("peer-sub", sub);
  setText("message-count", fmt(st.messages));
  setText("message-sub", fmtRate(last.stored) + " stored");
  setText("received", fmt(st.stats.received));
  setText("received-sub", fmtRate(last.received));
  setText("sent", fmt(st.stats.sent));
  setText("sent-sub", fmtRate(last.sent));
  setText("dropped", fmt(st.stats.dropped_total));
  setText("dropped-sub", fmtRate(last.dropped));
  setText("walks", fmt(st.stats.walks));
  setText("walks-sub", fmt(st.stats.walk_replies) + " answered");

  const times = h.map((r) => new Date(r.time).getTime());
  const col = (k) => h.map((r) => r[k] || 0);
  const css = getComputedStyle(document.documentElement);
  const c = (n) => css.getPropertyValue("--" + n).trim();
  chart($("chart-traffic"), times, [
    { name: "received", color: c("blue"), values: col("received") },
    { name: "sent", color: c("green"), values: col("sent") },
  ]);
  chart($("chart-messages"), times, [
    { name: "stored", color: c("purple"), values: col("stored") },
    { name: "dropped", color: c("red"), values: col("dropped") },
  ]);
  chart($("chart-walk"), times, [
    { name: "walks", color: c("orange"), values: col("walks") },
    { name: "sync packets", color: c("blue"), values: col("sync_packets") },
  ]);
  chart($("chart-peers"), times, [
    { name: "verified peers", color: c("green"), values: col("peers") },
  ], true);

  fill($("communities").tBodies[0], st.communities.map((cm) => {
    const tr = el("tr");
    tr.dataset.community = cm.id;
    const id = el("td", short(cm.id), "mono");
    id.title = cm.id;
    const pc = cm.peers_by_category || {};
    const overlay = el("td", cm.overlay + (cm.destroyed ? " (destroyed)" : ""));
    const counters = Object.entries(cm.counters || {});
    if (counters.length) {
      overlay.append(el("div", counters.map(([k, v]) => k + " " + fmt(v)).join(" · "), "counters"));
    }
    tr.append(id, overlay,
      el("td", fmt(cm.messages), "num messages"), el("td", fmt(cm.delayed), "num delayed"),
      el("td", fmt(pc.walk || 0), "num walk"), el("td", fmt(pc.stumble || 0), "num stumble"),
      el("td", fmt(pc.intro || 0), "num intro"), el("td", fmt(pc.discovered || 0), "num discovered"),
      el("td", fmt(cm.global_time), "num"));
    return tr;
  }));

  const reasons = Object.entries(st.stats.dropped || {}).sort((a, b) => b[1] - a[1]);
  const top = reasons.length ? reasons[0][1] : 1;
  fill($("drop-reasons").tBodies[0], reasons.map(([r, n]) => {
    const tr = el("tr");
    tr.dataset.reason = r;
    const bar = el("div", undefined, "bar");
    bar.style.width = Math.max(2, Math.round((100 * n) / top)) + "%";
    const cell = el("td");
    cell.className = "barcell";
    cell.append(bar);
    tr.append(el("td", r), el("td", fmt(n), "num count"), cell);
    return tr;
  }));
  $("drop-reasons").hidden = reasons.length === 0;
  $("drop-reasons-empty").hidden = reasons.length !== 0;

  // The newest ten; status.json keeps more.
  const recent = (st.recent_drops || []).slice(-10).reverse();
  fill($("recent-drops").tBodies[0], recent.map((d) => {
    const tr = el("tr");
    tr.append(el("td", ago(d.time, Date.now())), el("td", d.reason), el("td", fmt(d.count), "num"));
    return tr;
  }));
  $("recent-drops").hidden = recent.length === 0;
  $("recent-drops-empty").hidden = recent.length !== 0;

  const rows = [];
  for (const cm of st.communities) {
    for (const p of cm.peers) {
      const tr = el("tr");
      tr.dataset.addr = p.addr;
      tr.append(el("td", short(cm.id), "mono"), el("td", p.addr, "mono"),
        el("td", p.member ? short(p.member) : "unknown", "mono"));
      const cat = el("td");
      cat.append(el("span", p.category, "cat " + p.category));
      tr.append(cat, el("td", ago(p.last_contact, now), "num"), el("td", fmt(p.global_time), "num"));
      rows.push(tr);
    }
  }
  fill($("peers").tBodies[0], rows);
  document.body.dataset.ready = "1";
  document.body.dataset.time = st.time;
}

async function poll() {
  try {
    const resp = await fetch("status.json", { cache: "no-store" });
    const st = await resp.json();
    if (!resp.ok) throw new Error(st.error || resp.statusText);
    if (st.interval_seconds > 0) interval = st.interval_seconds * 1000;
    render(st);
  } catch (e) {
    const state = $("state");
    state.textContent = "unreachable: " + e.message;
    state.className = "state bad";
  }
  setTimeout(poll, interval);
}

poll();
