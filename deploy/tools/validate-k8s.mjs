// Validates rendered Kubernetes manifests (a YAML stream per file) against the Kubernetes API
// schemas, strictly: every object is type-checked by the TypeScript compiler against
// kubernetes-types (generated from the Kubernetes OpenAPI), where an unknown or misspelled
// field is an error (excess-property check) as are wrong types and missing required fields;
// then kubernetes-models' JSON-schema validators check enums and formats.
//   node validate-k8s.mjs FILE...   exit 0 when every object is valid, 1 otherwise.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import ts from "typescript";
import YAML from "yaml";

const require = createRequire(import.meta.url);
const here = path.dirname(new URL(import.meta.url).pathname);

// apiVersion -> the kubernetes-types module and kubernetes-models folder.
function modulesOf(apiVersion) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const typesGroup = group === "" ? "core" : group.split(".")[0];
  const modelsGroup = group === "" ? "v1" : `${group}/${version}`;
  return { types: `kubernetes-types/${typesGroup}/${version}`, models: `kubernetes-models/${modelsGroup}` };
}

const objects = [];
for (const file of process.argv.slice(2)) {
  for (const doc of YAML.parseAllDocuments(fs.readFileSync(file, "utf8"))) {
    if (doc.errors.length) {
      console.error(`${file}: YAML: ${doc.errors[0].message}`);
      process.exit(1);
    }
    const o = doc.toJSON();
    if (o) objects.push({ file, o });
  }
}

let failures = 0;
const fail = (where, message) => {
  console.error(`${where}: ${message}`);
  failures++;
};
const nameOf = ({ file, o }) => `${file}: ${o.kind ?? "?"}/${o.metadata?.name ?? "?"}`;

// 1. The TypeScript check, one line per object so a diagnostic names its object.
const lines = [];
const imports = new Map();
objects.forEach((entry, i) => {
  const { o } = entry;
  if (typeof o.apiVersion !== "string" || typeof o.kind !== "string") {
    fail(nameOf(entry), "no apiVersion or kind");
    lines.push("");
    return;
  }
  const mod = modulesOf(o.apiVersion).types;
  const alias = `T${imports.size}`;
  const key = `${mod}#${o.kind}`;
  if (!imports.has(key)) imports.set(key, { mod, kind: o.kind, alias });
  lines.push(`export const o${i}: ${imports.get(key).alias} = ${JSON.stringify(o)};`);
});
const header = [...imports.values()].map((x) => `import type { ${x.kind} as ${x.alias} } from "${x.mod}";`);
const source = [...header, ...lines].join("\n");
const checkFile = path.join(here, "node_modules", ".validate-k8s.ts");
fs.writeFileSync(checkFile, source);
const program = ts.createProgram([checkFile], {
  strict: true, noEmit: true, skipLibCheck: true, module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Node10, types: [],
});
for (const d of ts.getPreEmitDiagnostics(program)) {
  const text = ts.flattenDiagnosticMessageText(d.messageText, "\n");
  if (!d.file) { fail("typescript", text); continue; }
  const { line } = d.file.getLineAndCharacterOfPosition(d.start);
  const index = line - header.length;
  fail(index >= 0 && index < objects.length ? nameOf(objects[index]) : "typescript", text);
}

// 2. The JSON-schema validators (enums, formats, required fields).
for (const entry of objects) {
  const { o } = entry;
  if (typeof o.apiVersion !== "string") continue;
  let Model;
  try {
    Model = require(`${modulesOf(o.apiVersion).models}/${o.kind}`)[o.kind];
  } catch {
    fail(nameOf(entry), `unknown kind ${o.kind} in ${o.apiVersion}`);
    continue;
  }
  try {
    new Model(o).validate();
  } catch (e) {
    fail(nameOf(entry), e.message);
  }
}

if (failures === 0) console.log(`${objects.length} objects valid`);
process.exit(failures === 0 ? 0 : 1);
