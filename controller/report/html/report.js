// Stampede's HTML report: draws the charts from the data the page embeds
// (#stampede-data): per-interval merged latency histograms, rates, errors by
// id, VUs and agents, each request name's own series and histograms, and a
// baseline's. No network: everything is in the page.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("stampede-data").textContent);

  // The histogram encoding of RequestResult.latency_histogram: a version
  // byte (1), then per non-empty bucket a varint gap and a varint count.
  // Buckets are HdrHistogram's (1 us .. 1 h, 3 digits): 1024 half-sub-buckets.
  function decode(b64) {
    const s = atob(b64 || "");
    const out = [];
    if (s.length === 0 || s.charCodeAt(0) !== 1) return out;
    let pos = 1, index = -1, total = 0;
    function varint() {
      let v = 0, mul = 1;
      for (;;) {
        if (pos >= s.length) throw new Error("truncated histogram");
        const b = s.charCodeAt(pos++);
        v += (b & 0x7f) * mul;
        if ((b & 0x80) === 0) return v;
        mul *= 128;
      }
    }
    while (pos < s.length) {
      const gap = varint();
      const count = varint();
      index = index < 0 ? gap : index + gap + 1;
      out.push([index, count]);
      total += count;
    }
    out.total = total;
    return out;
  }
  function bucketHighestUs(index) {
    let bucket = (index >> 10) - 1;
    let sub = (index & 1023) + 1024;
    if (bucket < 0) { sub -= 1024; bucket = 0; }
    return Math.min(sub * Math.pow(2, bucket) + Math.pow(2, bucket) - 1, 3600e6);
  }
  // The value at percentile p (ms), as the controller computes it: the
  // highest value of the bucket that holds rank ceil(p% of the count).
  function percentile(h, p) {
    if (!h.total) return null;
    const rank = Math.max(1, Math.min(h.total, Math.ceil(p / 100 * h.total)));
    let seen = 0;
    for (const [index, count] of h) {
      seen += count;
      if (seen >= rank) return bucketHighestUs(index) / 1000;
    }
    return bucketHighestUs(h[h.length - 1][0]) / 1000;
  }
  function merge(hs) {
    const m = new Map();
    for (const h of hs) for (const [i, c] of h) m.set(i, (m.get(i) || 0) + c);
    const out = [...m.entries()].sort((a, b) => a[0] - b[0]);
    out.total = out.reduce((s, e) => s + e[1], 0);
    return out;
  }

  const t = data.t;
  const hists = data.h.map(decode);
  const pcts = [50, 90, 95, 99, 100];
  const pctNames = ["p50", "p90", "p95", "p99", "max"];
  const latency = pcts.map(p => hists.map(h => percentile(h, p)));
  data.n = data.n || [];
  data.error_ids = data.error_ids || [];
  // Live: intervals arrive by server-sent events and are appended here.
  function append(i) {
    data.t.push(i.t); data.rps.push(i.rps); data.target.push(i.target);
    data.n.push(i.requests); data.errors.push(i.errors); data.vus.push(i.vus);
    data.in_flight.push(i.in_flight); data.agents.push(i.agents);
    data.limited.push(i.limited);
    // Errors by id: the first five ids seen, then "other".
    const ids = i.error_ids || {};
    const counts = new Map();
    for (const id of Object.keys(ids)) {
      let e = data.error_ids.find(x => x.id === id);
      if (!e && data.error_ids.length >= 5) e = data.error_ids.find(x => x.id === "other");
      if (!e) {
        e = { id: data.error_ids.length < 5 ? id : "other",
              n: new Array(data.t.length - 1).fill(0) };
        data.error_ids.push(e);
      }
      counts.set(e, (counts.get(e) || 0) + ids[id]);
    }
    for (const e of data.error_ids) e.n.push(counts.get(e) || 0);
    const h = decode(i.h);
    hists.push(h);
    pcts.forEach((p, k) => latency[k].push(percentile(h, p)));
  }
  const width = Math.min(1100, document.body.clientWidth - 40);
  const charts = [];

  // Generator-limited intervals: shaded, since their latencies are partly
  // the generator's own.
  const shade = {
    hooks: {
      drawClear: [u => {
        const ctx = u.ctx;
        ctx.save();
        ctx.fillStyle = "rgba(220, 60, 60, 0.12)";
        data.limited.forEach((lim, i) => {
          if (!lim) return;
          const x0 = u.valToPos(t[i] - data.interval_s, "x", true);
          const x1 = u.valToPos(t[i], "x", true);
          ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
        });
        ctx.restore();
      }],
    },
  };
  function chart(id, title, series, table, opts) {
    const el = document.getElementById(id);
    if (!el) return;
    const u = new uPlot(Object.assign({
      title, width, height: 240, plugins: [shade],
      scales: { x: { time: false } },
      axes: [{ label: "s since start" }, { size: 60 }],
      series: [{ label: "t" }].concat(series),
    }, opts || {}), table, el);
    charts.push(u);
  }
  const colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
  const select = document.getElementById("pick");
  function picked() {
    return select.value === "" ? null : data.requests[+select.value];
  }
  // The baseline's columns joined to this run's x (both are seconds since
  // their start): [x, ...columns, ...baseline columns].
  function withBaseline(x, columns, extra) {
    const b = data.baseline;
    if (!b || !b.t || !b.t.length) return [x].concat(columns);
    return uPlot.join([[x].concat(columns), [b.t].concat(extra(b))]);
  }
  const dashed = (label, stroke) => ({ label, stroke, dash: [6, 4], spanGaps: true });

  // The rate, latency and error charts show the whole run or the picked
  // request's own series; the VU chart is always the run's.
  function drawTime() {
    for (const u of charts) u.destroy();
    charts.length = 0;
    const q = picked();
    const own = q && q.n;
    const name = own ? " — " + q.s + " / " + q.r : "";
    let x, rps, n, lat, errs, errSeries;
    if (own) {
      x = data.rq_t;
      n = q.n;
      rps = q.n.map((c, i) => c / (data.rq_span[i] * data.rq_interval_s));
      lat = pctNames.map(k => q[k]);
      errs = [q.errors];
      errSeries = [{ label: "errors", stroke: colors[3], fill: "rgba(214,39,40,0.15)" }];
    } else {
      x = t; n = data.n; rps = data.rps; lat = latency;
      if (data.error_ids.length) {
        errs = data.error_ids.map(e => e.n);
        errSeries = data.error_ids.map((e, k) => ({ label: e.id, stroke: colors[(k + 3) % 6] }));
      } else {
        errs = [data.errors];
        errSeries = [{ label: "errors", stroke: colors[3], fill: "rgba(214,39,40,0.15)" }];
      }
    }
    const rateSeries = own ? [{ label: "achieved", stroke: colors[0], width: 2 }]
                           : [{ label: "target", stroke: "#999", dash: [6, 4] },
                              { label: "achieved", stroke: colors[0], width: 2 }];
    const baseline = !own && data.baseline && data.baseline.t;
    chart("chart-rate", "Requests per second" + name,
      rateSeries.concat(baseline ? [dashed("baseline achieved", colors[1])] : []),
      baseline ? withBaseline(x, [data.target, rps], b => [b.rps])
               : [x].concat(own ? [rps] : [data.target, rps]));
    chart("chart-latency", "Latency (ms, corrected)" + name,
      pctNames.map((p, k) => ({ label: p, stroke: colors[k] }))
        .concat(baseline ? [dashed("baseline p95", "#555")] : []),
      baseline ? withBaseline(x, lat, b => [b.p95]) : [x].concat(lat),
      { scales: { x: { time: false }, y: { distr: 3 } } });
    chart("chart-errors", (own ? "Errors per interval" : "Errors per interval, by id") + name,
      errSeries, [x].concat(errs));
    chart("chart-users", "VUs, requests in flight, agents reporting", [
      { label: "VUs", stroke: colors[0] },
      { label: "in flight", stroke: colors[1] },
      { label: "agents", stroke: colors[2] },
    ], [t, data.vus, data.in_flight, data.agents]);
    document.body.dataset.seriesRequests = String(n.reduce((a, c) => a + c, 0));
    document.body.dataset.seriesOf = own ? q.s + " / " + q.r : "whole run";
    document.body.dataset.baselineSeries = baseline ? "2" : "0";
  }

  // The percentile spectrum (HdrHistogram's plot): x is 1/(1-p) on a log
  // axis, so 90%, 99%, 99.9% are evenly spaced.
  const spectrumPoints = [];
  for (let k = 0; k <= 40; k++) spectrumPoints.push(100 - 100 / Math.pow(10, k / 10));
  const spectrumX = spectrumPoints.map(p => 1 / (1 - p / 100));
  // The whole run's latency: its requests' histograms (live: its intervals').
  let runHist = data.live ? merge(hists)
                          : merge(data.requests.map(r => decode(r.h)));
  const runService = merge(data.requests.map(r => decode(r.st)));
  let spectrum = null;
  function drawSpectrum() {
    const chosen = picked();
    const series = [];
    const columns = [];
    const line = (label, h, style) => {
      if (!h.total) return;
      series.push(Object.assign({ label }, style));
      columns.push(spectrumPoints.map(p => percentile(h, p)));
    };
    if (chosen) {
      line("whole run", runHist, { stroke: "#999", width: 2 });
      const name = chosen.s + " / " + chosen.r;
      line(name + " (corrected)", decode(chosen.h), { stroke: colors[0], width: 2 });
      line(name + " service time", decode(chosen.st), { stroke: colors[2], dash: [2, 3] });
    } else {
      line("whole run (corrected)", runHist, { stroke: colors[0], width: 2 });
      line("service time", runService, { stroke: colors[2], dash: [2, 3] });
    }
    if (data.baseline) line("baseline", decode(data.baseline.h), { stroke: colors[1], dash: [6, 4] });
    if (spectrum) spectrum.destroy();
    spectrum = new uPlot({
      title: "Latency by percentile (ms): corrected (from the intended start) and service time (from the send)",
      width, height: 280,
      scales: { x: { time: false, distr: 3 }, y: { distr: 3 } },
      axes: [{
        label: "percentile",
        splits: () => [1, 2, 10, 100, 1000, 10000],
        // uPlot passes null for the ticks it leaves out for space.
        values: (u, vals) => vals.map(v => v == null ? "" : +(100 - 100 / v).toFixed(2) + "%"),
      }, { size: 60 }],
      series: [{ label: "1/(1-p)" }].concat(series),
    }, [spectrumX].concat(columns), document.getElementById("chart-spectrum"));
    document.body.dataset.selected = chosen ? chosen.s + " / " + chosen.r : "whole run";
    document.body.dataset.spectrumSeries = String(series.length);
    for (const row of document.querySelectorAll("tr[data-request]"))
      row.classList.toggle("picked", row.dataset.request === select.value);
  }
  function draw() {
    drawTime();
    drawSpectrum();
  }
  select.addEventListener("change", draw);
  const wanted = /[#&]request=(\d+)/.exec(location.hash);
  if (wanted && +wanted[1] < data.requests.length) select.value = wanted[1];
  draw();

  // A capacity search: latency against the throughput achieved, a point a
  // measured step, in the order of their throughput.
  const capacityEl = document.getElementById("chart-capacity");
  if (data.capacity && capacityEl) {
    const c = data.capacity;
    const idx = c.achieved.map((_, i) => i)
      .filter(i => c.achieved[i] > 0)
      .sort((a, b) => c.achieved[a] - c.achieved[b]);
    const col = a => idx.map(i => a[i]);
    const dot = (label, stroke, width) => ({ label, stroke, width, points: { show: true, size: 7 } });
    new uPlot({
      title: "Latency against throughput, a point a step (ms)",
      width, height: 280,
      scales: { x: { time: false } },
      axes: [{ label: "achieved requests/s" }, { size: 60 }],
      series: [{ label: "achieved/s" }, dot("p50", colors[2], 1),
        dot("p95", colors[0], 2), dot("p99", colors[3], 1)],
    }, [col(c.achieved), col(c.p50), col(c.p95), col(c.p99)], capacityEl);
    document.body.dataset.capacityPoints = String(idx.length);
  }

  // For tests and for people: what the charts were drawn from.
  function mark() {
    const all = runHist.total ? percentile(runHist, 95) : 0;
    document.body.dataset.p95 = String(all);
    document.body.dataset.requests = String(runHist.total || 0);
    document.body.dataset.intervals = String(data.t.length);
    document.body.dataset.charts = String(charts.length + 1);
  }
  mark();
  document.body.dataset.ready = "1";

  if (data.live) {
    const status = document.getElementById("status");
    const verdict = document.getElementById("verdict");
    function redraw() {
      runHist = merge(hists);
      draw();
      mark();
      status.textContent = data.t.length + " s merged";
    }
    const events = new EventSource("events");
    events.addEventListener("history", e => {
      for (const i of JSON.parse(e.data)) append(i);
      redraw();
    });
    events.addEventListener("interval", e => {
      append(JSON.parse(e.data));
      redraw();
    });
    events.addEventListener("done", e => {
      const d = JSON.parse(e.data);
      verdict.textContent = d.status;
      verdict.className = "verdict " + d.status;
      status.textContent = "ended: exit " + d.exit_code + ", " + d.requests +
          " requests, p95 " + d.p95 + " ms";
      document.body.dataset.done = d.status;
      events.close();
    });
    const stop = document.getElementById("stop");
    if (stop) stop.addEventListener("click", () => {
      const token = prompt("The run's --dashboard-token:");
      if (!token) return;
      fetch("stop", { method: "POST", headers: { Authorization: "Bearer " + token } })
        .then(r => { status.textContent = r.ok ? "stopping" : "stop refused (" + r.status + ")"; });
    });
  }
})();
