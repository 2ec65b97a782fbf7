// Checks what the schemas cannot: that the rendered Stampede manifests fit together and keep
// the rules of deploy/k8s (README, Kubernetes section).
//  - the agents Job is Indexed with parallelism = completions = the controller's
//    --expect-agents, and a failed agent fails its index only (backoffLimitPerIndex 0, no
//    Job-wide backoffLimit, which would terminate all agents); the controller Job has
//    backoffLimit 0 (its exit status is the verdict); both restartPolicy Never;
//  - every flag in the containers' command lines is one the binary's --help lists;
//  - the agents dial the controller Service's gRPC port; the Service selects the controller pod
//    and its ports reach --listen and --metrics-listen; the prometheus.io/port annotation is
//    the metrics port;
//  - every file a flag names (plan, certificates, --out) lies under a volume mount that holds
//    it: a ConfigMap key, a Secret item, a writable volume for outputs;
//  - terminationGracePeriodSeconds exceeds the controller's 10 s drain (plus --metrics-hold);
//  - every container: non-root, read-only root filesystem, no privilege escalation, all
//    capabilities dropped, CPU and memory requests and limits, the image tag the build's version;
//  - NetworkPolicies: the agents accept no ingress; the controller only the agents on gRPC and
//    the metrics port.
//   node check-k8s-policy.mjs RENDERED.yaml --version V --controller-help FILE
//        --agent-help FILE [--plan-out FILE]
import fs from "node:fs";
import YAML from "yaml";

const argv = process.argv.slice(2);
const file = argv[0];
const opt = (name) => {
  const i = argv.indexOf(name);
  return i > 0 ? argv[i + 1] : undefined;
};
const version = opt("--version");
const objects = YAML.parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => d.toJSON()).filter(Boolean);
const problems = [];
const problem = (where, text) => problems.push(`${where}: ${text}`);

// The flags a binary's --help lists, and whether each takes a value.
function helpFlags(helpFile) {
  const flags = new Map();
  for (const line of fs.readFileSync(helpFile, "utf8").split("\n")) {
    const m = line.match(/^\s+(?:-\w,)?--([a-z0-9-]+)(?: ([A-Z]+))?/);
    if (m) flags.set(m[1], Boolean(m[2]));
  }
  return flags;
}
const known = { stampede: helpFlags(opt("--controller-help")), "stampede-agent": helpFlags(opt("--agent-help")) };

const find = (kind, pred) => objects.filter((o) => o.kind === kind && pred(o));
const jobs = find("Job", () => true);
const controllerJob = jobs.find((j) => j.metadata?.name === "stampede-controller");
const agentsJob = jobs.find((j) => j.metadata?.name === "stampede-agents");
if (!controllerJob || !agentsJob) {
  console.log(`${file}: expected the Jobs stampede-controller and stampede-agents`);
  process.exit(1);
}
const service = find("Service", (s) => s.metadata?.name === "stampede-controller")[0];
const podOf = (job) => job.spec?.template ?? {};
const matches = (selector, labels) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v) && Object.keys(selector ?? {}).length > 0;

// A container's command line, $(VAR) expanded from its env values, parsed into its binary,
// positionals and flags (--name=value or --name value).
function commandLine(where, c) {
  const env = new Map((c.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
  const defined = new Set((c.env ?? []).map((e) => e.name));
  let tokens = [...(c.command ?? []), ...(c.args ?? [])].map((t) =>
    t.replace(/\$\((\w+)\)/g, (all, v) => {
      if (!defined.has(v) && v !== "JOB_COMPLETION_INDEX") problem(where, `$(${v}) is not an env var of the container`);
      return env.has(v) ? env.get(v) : all;
    }));
  if (/(^|\/)(ba|da)?sh$/.test(tokens[0] ?? "") && tokens[1] === "-c") tokens = tokens.slice(3);
  const binary = (tokens[0] ?? "").split("/").pop();
  const flagsOf = known[binary];
  const flags = new Map();
  const positionals = [];
  if (!flagsOf) {
    problem(where, `runs ${tokens[0]}, not stampede or stampede-agent`);
    return { binary, flags, positionals };
  }
  for (let i = 1; i < tokens.length; i++) {
    const t = tokens[i];
    if (!t.startsWith("--")) {
      positionals.push(t);
      continue;
    }
    const eq = t.indexOf("=");
    const name = t.slice(2, eq < 0 ? undefined : eq);
    if (!flagsOf.has(name)) {
      problem(where, `${binary} has no flag --${name}`);
      continue;
    }
    let value = eq < 0 ? undefined : t.slice(eq + 1);
    if (value === undefined && flagsOf.get(name)) value = tokens[++i];
    if (!flags.has(name)) flags.set(name, []);
    flags.get(name).push(value ?? true);
  }
  return { binary, flags, positionals };
}
const one = (cl, name) => cl.flags.get(name)?.at(-1);
const portOf = (addr) => Number(String(addr ?? "").split(":").pop());

// Which mount holds PATH in a pod, and is the file there?
function checkFile(where, pod, container, path, { writable = false } = {}) {
  if (writable && (path === "-" || path.startsWith("/dev/std"))) return;  // standard output
  const mount = (container.volumeMounts ?? [])
    .filter((m) => path.startsWith(m.mountPath.replace(/\/?$/, "/")))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  if (!mount) return problem(where, `${path} is on no volume (the root filesystem is read-only)`);
  const rel = path.slice(mount.mountPath.replace(/\/?$/, "/").length);
  const volume = (pod.spec?.volumes ?? []).find((v) => v.name === mount.name);
  if (!volume) return problem(where, `volume ${mount.name} (for ${path}) is not defined`);
  if (writable) {
    if (mount.readOnly || volume.configMap || volume.secret) problem(where, `${path} is on a read-only volume`);
    return;
  }
  const source = volume.secret ?? volume.configMap;
  if (!source) return;
  if (source.items) {
    if (!source.items.some((it) => it.path === rel)) problem(where, `${path}: volume ${mount.name} has no item with path ${rel}`);
  } else if (volume.configMap) {
    const cm = find("ConfigMap", (o) => o.metadata?.name === volume.configMap.name)[0];
    if (!cm) problem(where, `ConfigMap ${volume.configMap.name} is not among the rendered objects`);
    else if (!(rel in (cm.data ?? {}))) problem(where, `${path}: ConfigMap ${cm.metadata.name} has no key ${rel}`);
  }
}

// Every container of every pod template.
for (const job of jobs) {
  const pod = podOf(job);
  const podSc = pod.spec?.securityContext ?? {};
  for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    const where = `Job/${job.metadata.name} container ${c.name}`;
    const sc = c.securityContext ?? {};
    if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) problem(where, "runAsNonRoot is not true");
    if ((sc.runAsUser ?? podSc.runAsUser) === 0) problem(where, "runs as uid 0");
    if (sc.readOnlyRootFilesystem !== true) problem(where, "readOnlyRootFilesystem is not true");
    if (sc.allowPrivilegeEscalation !== false) problem(where, "allowPrivilegeEscalation is not false");
    if (sc.privileged) problem(where, "is privileged");
    if (!(sc.capabilities?.drop ?? []).includes("ALL")) problem(where, "does not drop ALL capabilities");
    if ((sc.capabilities?.add ?? []).length) problem(where, "adds capabilities");
    for (const kind of ["requests", "limits"]) {
      for (const r of ["cpu", "memory"]) {
        if (c.resources?.[kind]?.[r] === undefined) problem(where, `no ${r} ${kind.replace(/s$/, "")}`);
      }
    }
    const tag = String(c.image ?? "").split("/").pop().split(":")[1];
    if (version && tag !== version) problem(where, `image ${c.image}: tag is not the build's version ${version}`);
  }
  if (pod.spec?.restartPolicy !== "Never") problem(`Job/${job.metadata.name}`, "restartPolicy is not Never");
}

// The controller.
const cPod = podOf(controllerJob);
const cContainer = cPod.spec?.containers?.[0] ?? {};
const cWhere = "Job/stampede-controller";
const ctl = commandLine(cWhere, cContainer);
if (controllerJob.spec?.backoffLimit !== 0) problem(cWhere, "backoffLimit is not 0 (a failed test must not be retried)");
if (ctl.positionals[0] !== "run") problem(cWhere, "does not run `stampede run`");
const planPath = ctl.positionals[1];
if (!planPath) problem(cWhere, "no plan file");
else checkFile(cWhere, cPod, cContainer, planPath);
const expect = Number(one(ctl, "expect-agents"));
for (const f of ["tls-ca", "tls-cert", "tls-key"]) {
  if (!one(ctl, f)) problem(cWhere, `no --${f} (the control plane must be mTLS)`);
  else checkFile(cWhere, cPod, cContainer, one(ctl, f));
}
if (!one(ctl, "agent-san")) problem(cWhere, "no --agent-san");
if (ctl.flags.has("insecure")) problem(cWhere, "--insecure");
for (const out of ctl.flags.get("out") ?? []) checkFile(cWhere, cPod, cContainer, String(out).slice(String(out).indexOf("=") + 1), { writable: true });
if (!(ctl.flags.get("out") ?? []).some((o) => String(o).startsWith("json="))) problem(cWhere, "no --out json=FILE: the result is not kept");
const listenPort = portOf(one(ctl, "listen"));
const metricsPort = portOf(one(ctl, "metrics-listen"));
const hold = Number(one(ctl, "metrics-hold") ?? 0);
const drain = 10;
if (!(cPod.spec?.terminationGracePeriodSeconds > drain + hold)) {
  problem(cWhere, `terminationGracePeriodSeconds ${cPod.spec?.terminationGracePeriodSeconds} is not above the ${drain} s drain + ${hold} s --metrics-hold`);
}
const ann = cPod.metadata?.annotations ?? {};
if (ann["prometheus.io/scrape"] !== "true") problem(cWhere, "no prometheus.io/scrape: \"true\" annotation");
if (Number(ann["prometheus.io/port"]) !== metricsPort) problem(cWhere, `prometheus.io/port ${ann["prometheus.io/port"]} is not the --metrics-listen port ${metricsPort}`);
const containerPort = (p) => {
  if (typeof p === "number") return p;
  return (cContainer.ports ?? []).find((x) => x.name === p)?.containerPort;
};

// The agents.
const aPod = podOf(agentsJob);
const aContainer = aPod.spec?.containers?.[0] ?? {};
const aWhere = "Job/stampede-agents";
const agent = commandLine(aWhere, aContainer);
const { parallelism, completions, completionMode } = agentsJob.spec ?? {};
if (completionMode !== "Indexed") problem(aWhere, "completionMode is not Indexed");
const { backoffLimit, backoffLimitPerIndex } = agentsJob.spec ?? {};
if (backoffLimitPerIndex !== 0) problem(aWhere, "backoffLimitPerIndex is not 0 (a failed agent is not retried; only its index fails)");
if (backoffLimit !== undefined && backoffLimit < 2147483647) {
  problem(aWhere, `backoffLimit ${backoffLimit}: a Job-wide limit terminates every agent once it is reached`);
}
if (!(parallelism === completions && completions === expect)) {
  problem(aWhere, `agent count: parallelism ${parallelism}, completions ${completions} and the controller's --expect-agents ${expect} must be equal`);
}
if (!String(one(agent, "agent-id") ?? "").includes("$(JOB_COMPLETION_INDEX)")) problem(aWhere, "--agent-id does not carry $(JOB_COMPLETION_INDEX)");
for (const f of ["tls-ca", "tls-cert", "tls-key"]) {
  if (!one(agent, f)) problem(aWhere, `no --${f} (the control plane must be mTLS)`);
  else checkFile(aWhere, aPod, aContainer, one(agent, f));
}
if (!(aPod.spec?.terminationGracePeriodSeconds > drain)) problem(aWhere, `terminationGracePeriodSeconds is not above the ${drain} s drain`);
const [dialHost, dialPort] = String(one(agent, "controller") ?? "").split(":");

// The Service between them.
if (!service) problem(file, "no Service stampede-controller");
else {
  const sWhere = "Service/stampede-controller";
  if ((service.spec?.type ?? "ClusterIP") !== "ClusterIP") problem(sWhere, "is not ClusterIP");
  if (!matches(service.spec?.selector, cPod.metadata?.labels)) problem(sWhere, "does not select the controller pod");
  if (matches(service.spec?.selector, aPod.metadata?.labels)) problem(sWhere, "selects the agent pods too");
  const ns = service.metadata?.namespace;
  const names = [service.metadata.name, ...(ns ? [`${service.metadata.name}.${ns}`, `${service.metadata.name}.${ns}.svc`, `${service.metadata.name}.${ns}.svc.cluster.local`] : [])];
  if (!names.includes(dialHost)) problem(aWhere, `--controller ${dialHost} is not the Service (${names.join(" / ")})`);
  const byPort = (n) => (service.spec?.ports ?? []).find((p) => p.port === n);
  const grpc = byPort(Number(dialPort));
  if (!grpc) problem(aWhere, `--controller port ${dialPort} is not a port of the Service`);
  else if (containerPort(grpc.targetPort ?? grpc.port) !== listenPort) problem(sWhere, `port ${grpc.port} does not reach --listen port ${listenPort}`);
  if (!(service.spec?.ports ?? []).some((p) => containerPort(p.targetPort ?? p.port) === metricsPort)) problem(sWhere, `no port reaches the --metrics-listen port ${metricsPort}`);
}

// The network policies.
const policies = find("NetworkPolicy", () => true);
const selecting = (labels) => policies.filter((p) => matches(p.spec?.podSelector?.matchLabels, labels));
const aPolicies = selecting(aPod.metadata?.labels);
if (!aPolicies.some((p) => (p.spec?.policyTypes ?? []).includes("Ingress") && !(p.spec?.ingress ?? []).length)) {
  problem(aWhere, "no NetworkPolicy denies all ingress to the agent pods");
}
if (aPolicies.some((p) => (p.spec?.ingress ?? []).length)) problem(aWhere, "a NetworkPolicy lets ingress into the agent pods");
const cPolicies = selecting(cPod.metadata?.labels);
if (!cPolicies.some((p) => (p.spec?.policyTypes ?? []).includes("Ingress"))) problem(cWhere, "no NetworkPolicy restricts ingress to the controller pod");
for (const p of cPolicies) {
  for (const rule of p.spec?.ingress ?? []) {
    const ports = (rule.ports ?? []).map((x) => containerPort(x.port));
    if (!ports.length || !rule.from?.length) problem(`NetworkPolicy/${p.metadata.name}`, "a rule allows any port or any source");
    for (const port of ports) {
      if (port !== listenPort && port !== metricsPort) problem(`NetworkPolicy/${p.metadata.name}`, `allows port ${port}`);
    }
    if (ports.includes(listenPort) && !rule.from.every((f) => f.podSelector && !f.namespaceSelector && !f.ipBlock && matches(f.podSelector.matchLabels, aPod.metadata?.labels))) {
      problem(`NetworkPolicy/${p.metadata.name}`, `the gRPC port ${listenPort} is open to more than the agent pods`);
    }
  }
}
if (!cPolicies.some((p) => (p.spec?.ingress ?? []).some((r) => (r.ports ?? []).some((x) => containerPort(x.port) === listenPort)))) {
  problem(cWhere, `no NetworkPolicy lets the agents reach the gRPC port ${listenPort}`);
}

// The plan the controller will read, for stampede validate.
const planOut = opt("--plan-out");
if (planOut && planPath) {
  const mount = (cContainer.volumeMounts ?? []).find((m) => planPath.startsWith(m.mountPath.replace(/\/?$/, "/")));
  const volume = (cPod.spec?.volumes ?? []).find((v) => v.name === mount?.name);
  const cm = find("ConfigMap", (o) => o.metadata?.name === volume?.configMap?.name)[0];
  const key = planPath.slice(mount?.mountPath.replace(/\/?$/, "/").length ?? 0);
  if (cm?.data?.[key] !== undefined) fs.writeFileSync(planOut, cm.data[key]);
}

if (problems.length) {
  console.log([...new Set(problems)].join("\n"));
  process.exit(1);
}
console.log(`${expect} agents (parallelism = completions = --expect-agents), flags known to the binaries, files on their volumes, Service and ports consistent, hardened containers, ingress closed`);
