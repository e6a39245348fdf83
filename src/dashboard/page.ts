// The dashboard's one page: plain HTML and a script that polls /api/state
// every 2 s and draws with Chart.js (served by the dashboard from node_modules).
// Every value from the API is set with textContent, never as HTML.
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>depl dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
  h1 { font-size: 1.4em; margin: 0 0 .2em; }
  .muted { color: #777; }
  #app-box { margin-bottom: .6em; }
  .hosts { display: flex; flex-wrap: wrap; gap: 1em; margin: 1em 0; }
  .host { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .8em 1em; min-width: 22em; }
  .traffic b { font-family: ui-monospace, monospace; }
  table { border-collapse: collapse; margin-top: .5em; }
  td, th { padding: .15em .7em .15em 0; text-align: left; font-family: ui-monospace, monospace; font-size: 13px; }
  th { font-family: system-ui, sans-serif; color: #555; font-weight: 600; }
  .live { color: #1565c0; font-weight: 600; } .canary { color: #e65100; font-weight: 600; } .previous { color: #555; }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 1em; }
  .chart { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .6em; height: 260px; }
  form { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .8em 1em; margin: 1em 0; display: flex; gap: .6em; flex-wrap: wrap; align-items: center; }
  #result { white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: 13px; }
  .error { color: #b71c1c; } .ok { color: #1b5e20; }
  #alarm { background: #b71c1c; color: #fff; font-weight: 600; font-size: 1.1em; padding: .7em 1em; border-radius: 6px; margin: .6em 0; }
</style>
</head>
<body>
<div id="app-box" hidden>app <select id="app"></select></div>
<h1 id="title">depl</h1>
<div class="muted" id="updated">loading…</div>
<div id="alarm" role="alert" hidden></div>
<div class="hosts" id="hosts"></div>
<div id="scope-box" hidden>charts for <select id="scope"><option value="">all hosts (summed)</option></select></div>
<div class="charts">
  <div class="chart"><canvas id="c-requests"></canvas></div>
  <div class="chart"><canvas id="c-errors"></canvas></div>
  <div class="chart"><canvas id="c-p95"></canvas></div>
</div>
<form id="act">
  <label>action <select id="action">
    <option value="promote">promote</option>
    <option value="canary">canary</option>
    <option value="stop">stop canary</option>
    <option value="rollback">rollback</option>
  </select></label>
  <label>version <select id="version"></select></label>
  <label>share <input id="percent" size="4" value="10">%</label>
  <label>token <input id="token" type="password" size="16" autocomplete="off"></label>
  <button id="go" type="submit">Apply…</button>
  <span id="result"></span>
</form>
<script src="/static/chart.umd.min.js"></script>
<script>
(function () {
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; };
  const tokenInput = $("token");
  const appSel = $("app");
  const tokenKey = () => "depl-token:" + (appSel.value || "");
  tokenInput.value = sessionStorage.getItem(tokenKey()) || "";
  const headers = () => tokenInput.value ? { authorization: "Bearer " + tokenInput.value } : {};
  const colors = { live: "#1565c0", canary: "#e65100", previous: "#9e9e9e", unanswered: "#b71c1c", site: "#212121" };
  const extra = ["#6a1b9a", "#2e7d32", "#00838f", "#ad1457"];
  const mk = (id, title, unit) => new Chart($(id), {
    type: "line",
    data: { labels: [], datasets: [] },
    // A point without requests is null and stays a gap: no line is drawn across it.
    options: { animation: false, maintainAspectRatio: false, spanGaps: false,
      plugins: { title: { display: true, text: title }, legend: { position: "bottom", labels: { usePointStyle: true, pointStyle: "line" } } },
      scales: { y: { beginAtZero: true, title: { display: true, text: unit } } } },
  });
  const charts = { requests: mk("c-requests", "requests per second", "req/s"), errors: mk("c-errors", "5xx rate", "%"), p95: mk("c-p95", "p95 latency", "ms") };
  window.deplCharts = charts;
  let roles = {};
  function roleOf(v) { return roles[v] || "other"; }
  function render(s) {
    if (s.apps.length > 1) {
      $("app-box").hidden = false;
      if (appSel.options.length !== s.apps.length) {
        appSel.replaceChildren(...s.apps.map((a) => { const o = el("option", a.app + " (" + a.domain + ")"); o.value = a.app; return o; }));
        appSel.value = s.app;
      }
    }
    if (appSel.value && appSel.value !== s.app) return; // an answer for the app shown before the choice
    $("title").textContent = "depl: " + s.app + " (" + s.domain + ")";
    $("updated").textContent = "updated " + s.at.slice(11, 19) + " UTC · " + s.hosts.length + " host(s) · points of " + s.bucket_sec + " s" + (s.actions ? "" : " · actions off (no DASHBOARD_TOKEN secret)");
    roles = {};
    const hosts = $("hosts");
    hosts.replaceChildren();
    const versions = new Set();
    for (const h of s.hosts) {
      const box = el("div", undefined, "host");
      box.dataset.host = h.name;
      box.append(el("h3", h.name));
      const t = h.traffic || {};
      const tr = el("div", undefined, "traffic");
      tr.append("live ", el("b", t.live || "none", "live"), " · previous ", el("b", t.previous || "none", "previous"), " · canary ",
        el("b", t.canary ? t.canary.version + " at " + t.canary.percent + "%" : "none", "canary"));
      box.append(tr);
      if (t.live) roles[t.live] = "live";
      if (t.previous && !roles[t.previous]) roles[t.previous] = "previous";
      if (t.canary) roles[t.canary.version] = "canary " + t.canary.percent + "%";
      if (h.error) box.append(el("div", h.error, "error"));
      const table = el("table");
      const head = el("tr"); for (const c of ["release", "state", "health", "process"]) head.append(el("th", c));
      table.append(head);
      for (const r of h.releases) {
        versions.add(r.version);
        const row = el("tr");
        row.append(el("td", r.version), el("td", r.state, r.state.split(" ")[0]), el("td", r.health), el("td", r.process));
        table.append(row);
      }
      box.append(table);
      hosts.append(box);
    }
    const sel = $("version");
    const chosen = sel.value;
    sel.replaceChildren(...[...versions].sort().reverse().map((v) => { const o = el("option", v + " (" + roleOf(v) + ")"); o.value = v; return o; }));
    if (versions.has(chosen)) sel.value = chosen;
    const scope = $("scope");
    if (s.host_series) {
      $("scope-box").hidden = false;
      const names = Object.keys(s.host_series);
      if (scope.options.length !== names.length + 1) {
        const was = scope.value;
        scope.replaceChildren(el("option", "all hosts (summed)"), ...names.map((n) => { const o = el("option", n); o.value = n; return o; }));
        scope.options[0].value = "";
        scope.value = names.includes(was) ? was : "";
      }
    }
    const byHost = scope.value && s.host_series && s.host_series[scope.value];
    const series = byHost ? s.host_series[scope.value] : s.series;
    const site = byHost && s.host_site ? s.host_site[scope.value] : s.site;
    const alarm = $("alarm");
    // The whole app's, whichever host the charts show.
    if (s.failing) {
      const f = s.failing;
      const lost = s.series.filter((x) => x.kind === "unanswered").reduce((n, x) => n + x.requests.slice(-2).reduce((a, b) => a + b, 0), 0);
      alarm.textContent = "The site is failing now: " + (f.rate * 100).toFixed(1) + "% of requests answered 5xx in the last " + f.seconds + " s (" + f.s5xx + " of " + f.requests + (lost ? "; " + lost + " reached no version" : "") + ")";
      alarm.hidden = false;
    } else alarm.hidden = true;
    // Points before the first request logged (a dashboard just started, a quiet app) are left out, down to a minute.
    const firstSeen = site.requests.findIndex((n) => n > 0);
    const from = Math.max(0, Math.min(firstSeen < 0 ? site.t.length : firstSeen, site.t.length - 12));
    const cut = (a) => a.slice(from);
    const labels = cut(site.t).map((t) => new Date(t * 1000).toISOString().slice(11, 19));
    const shown = series.filter((x) => x.requests.some((n) => n > 0));
    let k = 0;
    const color = (v) => { const r = roleOf(v).split(" ")[0]; return colors[r] || extra[k++ % extra.length]; };
    const sets = shown.map((x) => x.kind === "unanswered"
      ? { x, label: "no version answered (" + x.route + (x.version ? " " + x.version : "") + ")", color: colors.unanswered, dash: [6, 3] }
      : { x, label: x.version + " (" + roleOf(x.version) + ")", color: color(x.version) });
    const line = (d, data) => ({ label: d.label, data, borderColor: d.color, backgroundColor: d.color, borderDash: d.dash || [], pointRadius: 0, borderWidth: 2, tension: 0.2 });
    const set = (chart, f, only, more) => {
      chart.data.labels = labels;
      chart.data.datasets = sets.filter((d) => !only || only(d.x)).map((d) => line(d, cut(f(d.x)))).concat(more || []);
      chart.update();
    };
    // A single point between gaps is drawn as a dot, or it would not show at all.
    const dots = (data) => data.map((y, i) => (y !== null && data[i - 1] == null && data[i + 1] == null ? 3 : 0));
    const siteRate = cut(site.errorRate).map((r) => (r === null ? null : r * 100));
    const siteLine = { ...line({ label: "site as users saw it (every request)", color: colors.site, dash: [2, 2] }, siteRate), pointRadius: dots(siteRate) };
    set(charts.requests, (x) => x.requests.map((n) => n / s.bucket_sec));
    set(charts.errors, (x) => x.errorRate.map((r, i) => (x.requests[i] ? r * 100 : null)), null, [siteLine]);
    set(charts.p95, (x) => x.p95, (x) => x.kind !== "unanswered");
    for (const c of [charts.errors, charts.p95]) for (const d of c.data.datasets) if (!Array.isArray(d.pointRadius)) d.pointRadius = dots(d.data);
    charts.errors.update(); charts.p95.update();
  }
  async function refresh() {
    try {
      const r = await fetch("/api/state" + (appSel.value ? "?app=" + encodeURIComponent(appSel.value) : ""), { headers: headers() });
      const s = await r.json();
      if (!r.ok) { $("updated").textContent = s.error; return; }
      render(s);
    } catch (e) { $("updated").textContent = "dashboard unreachable: " + e.message; }
  }
  $("act").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(tokenKey(), tokenInput.value);
    const action = $("action").value, version = $("version").value, percent = $("percent").value;
    const app = appSel.value ? appSel.value + ": " : "";
    const what = app + (action === "promote" ? "promote " + version + " (all traffic)" : action === "canary" ? "send " + percent + "% of clients to " + version
      : action === "stop" ? "stop the canary (everyone back on live)" : "roll back to the previous version");
    if (!confirm("Really " + what + "?")) return;
    const res = $("result");
    res.className = ""; res.textContent = "working…";
    try {
      const r = await fetch("/api/action", { method: "POST", headers: { "content-type": "application/json", ...headers() },
        body: JSON.stringify({ app: appSel.value || undefined, action, version, percent, confirm: true }) });
      const body = await r.json();
      res.className = r.ok ? "ok" : "error";
      res.textContent = r.ok ? body.output.join("\\n") : body.error;
    } catch (e) { res.className = "error"; res.textContent = e.message; }
    refresh();
  });
  appSel.addEventListener("change", () => {
    tokenInput.value = sessionStorage.getItem(tokenKey()) || "";
    $("result").textContent = "";
    $("scope").replaceChildren(el("option", "all hosts (summed)"));
    $("scope").options[0].value = "";
    $("scope-box").hidden = true;
    refresh();
  });
  refresh();
  setInterval(refresh, 2000);
})();
</script>
</body>
</html>
`;
