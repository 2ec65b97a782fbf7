// Checks the Grafana dashboard against deploy/metrics.txt (NAME TYPE LABELS per line):
//  - the JSON parses, has panels, a `datasource` variable of type datasource (prometheus), and
//    every panel and query uses that variable rather than a fixed data source uid;
//  - every stampede_* name in a query is a family of the list, or a family plus a suffix its
//    type has (_bucket/_sum/_count for a histogram, _sum/_count for a summary);
//  - every label a query matches on ({label=...}), groups by (by/without (...)) or asks
//    label_values() for is one the series carry (the family's labels, le on _bucket, quantile
//    on a summary, and the scrape's job/instance/namespace/pod);
//  - every $variable is a dashboard variable or a Grafana built-in.
// With --rules FILE it also writes the queries, the variables substituted, as a Prometheus rule
// file, for `promtool check rules` to parse them with Prometheus' own PromQL parser.
//   node check-dashboard.mjs DASHBOARD.json METRICS.txt [--rules FILE]
import fs from "node:fs";

const [dashFile, metricsFile, flag, rulesFile] = process.argv.slice(2);
const problems = [];
let dash;
try {
  dash = JSON.parse(fs.readFileSync(dashFile, "utf8"));
} catch (e) {
  console.log(`${dashFile}: ${e.message}`);
  process.exit(1);
}

const families = new Map();
for (const line of fs.readFileSync(metricsFile, "utf8").split("\n")) {
  if (!line.trim() || line.startsWith("#")) continue;
  const [name, type, labels = "-"] = line.trim().split(/\s+/);
  families.set(name, { type, labels: labels === "-" ? [] : labels.split(",") });
}
const SCRAPE_LABELS = ["job", "instance", "namespace", "pod"];
const SUFFIXES = { histogram: ["_bucket", "_sum", "_count"], summary: ["_sum", "_count"] };

// A series name -> the labels it carries, or null when it is not one the exporter serves.
function seriesLabels(name) {
  const direct = families.get(name);
  if (direct) {
    const extra = direct.type === "summary" ? ["quantile"] : [];
    return direct.type === "histogram" ? null : [...direct.labels, ...extra, ...SCRAPE_LABELS];
  }
  for (const [family, { type, labels }] of families) {
    for (const suffix of SUFFIXES[type] ?? []) {
      if (name === family + suffix) {
        return [...labels, ...(suffix === "_bucket" ? ["le"] : []), ...SCRAPE_LABELS];
      }
    }
  }
  return null;
}

const vars = dash.templating?.list ?? [];
const varNames = new Set(vars.map((v) => v.name));
const BUILTINS = new Set(["__rate_interval", "__interval", "__interval_ms", "__range",
  "__range_s", "__range_ms", "__from", "__to", "__dashboard", "__name"]);
const dsVar = vars.find((v) => v.name === "datasource");
if (!dsVar || dsVar.type !== "datasource" || dsVar.query !== "prometheus") {
  problems.push('no template variable "datasource" of type datasource with query prometheus');
}
if (!Array.isArray(dash.panels) || dash.panels.length === 0) problems.push("no panels");

// The queries: panel targets and query variables.
const queries = [];
for (const p of dash.panels ?? []) {
  const where = `panel ${p.id} "${p.title}"`;
  if (p.datasource?.uid !== "${datasource}") problems.push(`${where}: data source is not \${datasource}`);
  for (const t of p.targets ?? []) {
    if (t.datasource && t.datasource.uid !== "${datasource}") {
      problems.push(`${where} ${t.refId}: data source is not \${datasource}`);
    }
    if (typeof t.expr !== "string" || !t.expr.trim()) problems.push(`${where} ${t.refId}: no expr`);
    else queries.push({ where: `${where} ${t.refId}`, expr: t.expr, record: `dashboard:panel${p.id}_${t.refId}` });
  }
}
for (const v of vars.filter((x) => x.type === "query")) {
  const text = typeof v.query === "string" ? v.query : v.query?.query;
  if (v.definition && text && v.definition !== text) problems.push(`variable ${v.name}: definition and query differ`);
  if (text) queries.push({ where: `variable ${v.name}`, expr: text, variable: true });
}

const usedMetrics = new Set();
for (const q of queries) {
  const e = q.expr;
  for (const m of e.matchAll(/\$\{?(\w+)(?::\w+)?\}?/g)) {
    if (!varNames.has(m[1]) && !BUILTINS.has(m[1])) problems.push(`${q.where}: unknown variable $${m[1]}`);
  }
  // The series in this query and the labels they carry.
  const inQuery = [];
  for (const m of e.matchAll(/\b(stampede_[a-z0-9_]+)\s*(\{([^}]*)\})?/g)) {
    const labels = seriesLabels(m[1]);
    if (!labels) {
      problems.push(`${q.where}: ${m[1]} is not in ${metricsFile}`);
      continue;
    }
    usedMetrics.add(m[1]);
    inQuery.push(labels);
    for (const matcher of (m[3] ?? "").matchAll(/([a-zA-Z_]\w*)\s*(=~|!~|!=|=)/g)) {
      if (!labels.includes(matcher[1])) problems.push(`${q.where}: ${m[1]} has no label ${matcher[1]}`);
    }
  }
  const anyLabel = new Set(inQuery.flat());
  for (const m of e.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    for (const label of m[1].split(",").map((s) => s.trim()).filter(Boolean)) {
      if (!anyLabel.has(label)) problems.push(`${q.where}: no series of the query has the label ${label} (by/without)`);
    }
  }
  const lv = e.match(/^label_values\(\s*(stampede_[a-z0-9_]+)[^,]*,\s*(\w+)\s*\)$/);
  if (q.variable && lv && !seriesLabels(lv[1])?.includes(lv[2])) {
    problems.push(`${q.where}: ${lv[1]} has no label ${lv[2]}`);
  }
}

if (flag === "--rules") {
  // Grafana's variables substituted by what they could expand to, for Prometheus' parser.
  const substitute = (e) => e
    .replace(/\$\{?__(rate_interval|interval|range)\}?/g, "1m")
    .replace(/\$\{?(\w+)(?::\w+)?\}?/g, ".*");
  const rules = queries.filter((q) => !q.variable).map((q) =>
    `      - record: ${q.record}\n        expr: ${JSON.stringify(substitute(q.expr))}`);
  fs.writeFileSync(rulesFile, `groups:\n  - name: dashboard\n    rules:\n${rules.join("\n")}\n`);
}

if (problems.length) {
  console.log([...new Set(problems)].join("\n"));
  process.exit(1);
}
console.log(`${dash.panels.length} panels, ${queries.length} queries, ${usedMetrics.size} series names, all in ${metricsFile} with their labels`);
