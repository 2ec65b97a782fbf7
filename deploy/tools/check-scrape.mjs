// Prepares a Prometheus configuration for Debian's promtool, which is built without Kubernetes
// service discovery: each kubernetes_sd_configs is checked here (known keys, a valid role) and
// replaced by a static target, so promtool checks everything else (relabelling included).
//   node check-scrape.mjs IN.yaml OUT.yaml   prints what it replaced; exit 1 on a problem.
import fs from "node:fs";
import YAML from "yaml";

const [input, output] = process.argv.slice(2);
const config = YAML.parse(fs.readFileSync(input, "utf8"));
// Prometheus' kubernetes_sd_config (docs: configuration/#kubernetes_sd_config).
const KEYS = new Set(["api_server", "role", "kubeconfig_file", "namespaces", "selectors",
  "attach_metadata", "basic_auth", "authorization", "oauth2", "proxy_url", "no_proxy",
  "proxy_from_environment", "proxy_connect_header", "follow_redirects", "enable_http2",
  "tls_config"]);
const ROLES = new Set(["node", "service", "pod", "endpoints", "endpointslice", "ingress"]);
const problems = [];
const replaced = [];
for (const job of config?.scrape_configs ?? []) {
  const sd = job.kubernetes_sd_configs;
  if (sd === undefined) continue;
  if (!Array.isArray(sd) || sd.length === 0) {
    problems.push(`${job.job_name}: kubernetes_sd_configs is not a list`);
    continue;
  }
  for (const entry of sd) {
    for (const key of Object.keys(entry ?? {})) {
      if (!KEYS.has(key)) problems.push(`${job.job_name}: kubernetes_sd_configs: unknown field ${key}`);
    }
    if (!ROLES.has(entry?.role)) problems.push(`${job.job_name}: kubernetes_sd_configs: role ${entry?.role} is not one of ${[...ROLES].join(", ")}`);
  }
  delete job.kubernetes_sd_configs;
  job.static_configs = [...(job.static_configs ?? []), { targets: ["10.0.0.1:9464"] }];
  replaced.push(job.job_name);
}
if (problems.length) {
  console.log(problems.join("\n"));
  process.exit(1);
}
fs.writeFileSync(output, YAML.stringify(config));
console.log(replaced.length ? `kubernetes_sd_configs of ${replaced.join(", ")} checked and replaced by a static target` : "no kubernetes_sd_configs");
