// SPDX-License-Identifier: BSD-3-Clause
// Suite k8s: the manifests under k8s/, validated offline.
//
//   node tests/k8s/validate.mjs DERPER_BIN
//
// Every overlay is rendered with `kubectl kustomize`; each object is checked
// against the Kubernetes OpenAPI schemas (kubernetes-models' validators:
// types, enums, quantities), and again as a TypeScript object literal typed
// with kubernetes-types (tsc's excess-property check catches misspelled
// fields); the NetworkAttachmentDefinition and its CNI configuration
// against hand-written JSON schemas. Then the rules no schema knows: hugepages
// limits equal to requests with cpu/memory requested, DNS-1123 names, every
// mesh.peers entry is a replica of the StatefulSet, the ConfigMap's
// derper.conf passes `derper --check-config` through the image's entrypoint
// with the pod's environment, and the ports of Service, StatefulSet and
// derper.conf agree. Exit status: the number of failed checks.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Ajv from "ajv";
import YAML from "yaml";
import { ConfigMap, Namespace, Service, ServiceAccount } from "kubernetes-models/v1";
import { StatefulSet } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.resolve(HERE, "..", "..");
const DERPER = path.resolve(process.argv[2] || path.join(SRC, "build", "derper"));
const OVERLAYS = ["hostnetwork", "sriov", "sriov-1gi"];

let failures = 0;
let checks = 0;
function check(ok, what, detail = "") {
  checks++;
  if (!ok) {
    failures++;
    console.log(`FAIL ${what}${detail ? ": " + detail : ""}`);
  }
  return ok;
}

const models = {
  "v1/Namespace": Namespace,
  "v1/ServiceAccount": ServiceAccount,
  "v1/Service": Service,
  "v1/ConfigMap": ConfigMap,
  "apps/v1/StatefulSet": StatefulSet,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
};
const tsTypes = {
  "v1/Namespace": ["kubernetes-types/core/v1", "Namespace"],
  "v1/ServiceAccount": ["kubernetes-types/core/v1", "ServiceAccount"],
  "v1/Service": ["kubernetes-types/core/v1", "Service"],
  "v1/ConfigMap": ["kubernetes-types/core/v1", "ConfigMap"],
  "apps/v1/StatefulSet": ["kubernetes-types/apps/v1", "StatefulSet"],
  "policy/v1/PodDisruptionBudget": ["kubernetes-types/policy/v1", "PodDisruptionBudget"],
};

const ajv = new Ajv({ allErrors: true });
const nadSchema = ajv.compile(JSON.parse(fs.readFileSync(path.join(HERE, "nad.schema.json"))));
const cniSchema = ajv.compile(JSON.parse(fs.readFileSync(path.join(HERE, "cni.schema.json"))));

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IANA_SVC_NAME = /^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function render(overlay) {
  const text = execFileSync("kubectl", ["kustomize", path.join(SRC, "k8s", "overlays", overlay)],
    { encoding: "utf8" });
  return YAML.parseAllDocuments(text).map((d) => d.toJSON()).filter(Boolean);
}

function key(o) {
  return `${o.apiVersion}/${o.kind}`;
}

// -- schemas ---------------------------------------------------------------

function validateSchemas(overlay, objs, tsLines) {
  objs.forEach((o, i) => {
    const what = `${overlay}: ${o.kind}/${o.metadata?.name}`;
    if (o.kind === "NetworkAttachmentDefinition") {
      check(nadSchema(o), `${what} schema`, ajv.errorsText(nadSchema.errors));
      let cni = null;
      try {
        cni = JSON.parse(o.spec.config);
      } catch (e) {
        check(false, `${what} spec.config is JSON`, e.message);
        return;
      }
      check(cniSchema(cni), `${what} CNI config schema`, ajv.errorsText(cniSchema.errors));
      check(cni.name === o.metadata.name, `${what} CNI name is the object's name`);
      return;
    }
    const Model = models[key(o)];
    if (!check(Model, `${what} has a known kind`, key(o))) return;
    try {
      new Model(o).validate();
      check(true, `${what} OpenAPI`);
    } catch (e) {
      check(false, `${what} OpenAPI`, e.message);
    }
    const [mod, type] = tsTypes[key(o)];
    tsLines.push(`import type { ${type} as T${i} } from "${mod}";`);
    tsLines.push(`export const o${i}: T${i} = ${JSON.stringify(o, null, 2)};`);
  });
}

function typecheck(overlay, tsLines) {
  const dir = path.join(HERE, "out");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${overlay}.ts`);
  fs.writeFileSync(file, tsLines.join("\n") + "\n");
  const r = spawnSync(path.join(HERE, "node_modules", ".bin", "tsc"),
    ["--noEmit", "--strict", "--skipLibCheck", "--moduleResolution", "bundler", "--module", "esnext",
      "--target", "es2020", "--types", "", "--typeRoots", path.join(HERE, "node_modules"), file],
    { encoding: "utf8", cwd: HERE });
  check(r.status === 0, `${overlay}: TypeScript excess-property check`, (r.stdout + r.stderr).slice(0, 2000));
}

// -- rules no schema checks --------------------------------------------------

function quantity(q) {
  const m = String(q).match(/^([0-9.]+)([a-zA-Z]*)$/);
  if (!m) return NaN;
  const units = { "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };
  return parseFloat(m[1]) * (units[m[2]] ?? NaN);
}

function checkResources(overlay, sts) {
  for (const c of sts.spec.template.spec.containers) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    const huge = Object.keys({ ...req, ...lim }).filter((k) => k.startsWith("hugepages-"));
    check(huge.length > 0, `${overlay}: container ${c.name} requests hugepages`);
    for (const h of huge)
      check(req[h] !== undefined && quantity(req[h]) === quantity(lim[h]),
        `${overlay}: ${c.name} ${h} limits == requests`, `${req[h]} vs ${lim[h]}`);
    check(req.cpu !== undefined || req.memory !== undefined,
      `${overlay}: ${c.name} with hugepages requests cpu or memory`);
    for (const r of ["cpu", "memory"])
      check(quantity(req[r]) === quantity(lim[r]),
        `${overlay}: ${c.name} ${r} limits == requests (Guaranteed QoS, whole cores)`);
    const media = sts.spec.template.spec.volumes.filter((v) => v.emptyDir?.medium?.startsWith("HugePages"));
    check(media.length === 1, `${overlay}: one hugepages emptyDir`);
    const size = huge[0]?.slice("hugepages-".length);
    check(media[0] && (media[0].emptyDir.medium === "HugePages" || media[0].emptyDir.medium === `HugePages-${size}`),
      `${overlay}: the hugepages volume's medium matches ${huge[0]}`, media[0]?.emptyDir.medium);
  }
}

function checkNames(overlay, objs) {
  for (const o of objs) {
    const n = o.metadata.name;
    const label = ["Service", "Namespace", "StatefulSet"].includes(o.kind);
    check((label ? DNS1123_LABEL : DNS1123_SUBDOMAIN).test(n) && n.length <= (label ? 63 : 253),
      `${overlay}: ${o.kind} name "${n}" is DNS-1123`);
    if (o.kind === "Service")
      for (const p of o.spec.ports) check(IANA_SVC_NAME.test(p.name) && p.name.length <= 15,
        `${overlay}: Service port name "${p.name}"`);
    if (o.kind === "StatefulSet") {
      const spec = o.spec.template.spec;
      check(o.metadata.name.length + 1 + String(o.spec.replicas - 1).length <= 63,
        `${overlay}: pod names fit a DNS label`);
      for (const c of spec.containers) {
        check(DNS1123_LABEL.test(c.name), `${overlay}: container name "${c.name}"`);
        for (const p of c.ports ?? []) check(IANA_SVC_NAME.test(p.name) && p.name.length <= 15,
          `${overlay}: container port name "${p.name}"`);
      }
      for (const v of spec.volumes ?? []) check(DNS1123_LABEL.test(v.name), `${overlay}: volume name "${v.name}"`);
    }
  }
}

// The container's environment as the kubelet would make it for pod `pod`.
function podEnv(c, pod) {
  const env = {};
  for (const e of c.env ?? []) {
    let v = e.value ?? "";
    if (e.valueFrom?.fieldRef?.fieldPath === "metadata.name") v = pod;
    else if (e.valueFrom?.fieldRef?.fieldPath === "status.podIP") v = "127.0.0.1";
    else if (e.valueFrom) v = "";
    // $(VAR) of variables defined earlier, as Kubernetes expands them
    v = v.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n) => (n in env ? env[n] : m));
    env[e.name] = v;
  }
  return env;
}

// Run the image's entrypoint on the ConfigMap, as pod 0 of the StatefulSet,
// with derper's --check-config or --print-config. Paths of the pod's volumes
// are mapped into a temporary directory.
function throughEntrypoint(overlay, objs, sts, args) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `derper-k8s-${overlay}-`));
  const map = (s) => s
    .replaceAll("/etc/derper-mesh/", `${tmp}/mesh/`)
    .replaceAll("/etc/derper-addresses/", `${tmp}/addresses/`)
    .replaceAll("/var/lib/derper", `${tmp}/state`)
    .replaceAll("/var/run/tailscale/", `${tmp}/tailscale/`);
  for (const d of ["conf", "mesh", "addresses", "state", "tailscale", "run"])
    fs.mkdirSync(path.join(tmp, d), { recursive: true });
  fs.writeFileSync(path.join(tmp, "mesh", "mesh.key"), "ab".repeat(32) + "\n", { mode: 0o400 });
  const volumes = sts.spec.template.spec.volumes;
  for (const cm of objs.filter((o) => o.kind === "ConfigMap")) {
    const vol = volumes.find((v) => v.configMap?.name === cm.metadata.name);
    const mount = sts.spec.template.spec.containers[0].volumeMounts.find((m) => m.name === vol?.name);
    const dir = mount?.mountPath === "/etc/derper" ? "conf" : "addresses";
    for (const [f, text] of Object.entries(cm.data)) fs.writeFileSync(path.join(tmp, dir, f), map(text));
  }
  const c = sts.spec.template.spec.containers[0];
  const env = podEnv(c, `${sts.metadata.name}-0`);
  for (const k of Object.keys(env)) env[k] = map(env[k]);
  if (env.DERP_IFACE) env.DERP_IFACE_ADDRESS = "198.18.0.1/24";   // the node's, found by the entrypoint
  for (const r of Object.keys(c.resources?.limits ?? {}).filter((k) => k.includes("/")))
    env[`PCIDEVICE_${r.toUpperCase().replace(/[./]/g, "_")}`] = "0000:3b:02.1";   // the device plugin's
  const r = spawnSync(path.join(SRC, "k8s", "entrypoint.sh"), args, {
    encoding: "utf8",
    env: { PATH: process.env.PATH, ...env, DERPER_CONFIG_DIR: `${tmp}/conf`,
      DERPER_RUN_DIR: `${tmp}/run`, DERPER_BIN: DERPER },
  });
  fs.rmSync(tmp, { recursive: true, force: true });
  return r;
}

function printed(text, k) {
  const m = text.match(new RegExp(`^\\s*${k} = (.*?);`, "m"));
  return m ? m[1].replace(/^"|"$/g, "") : undefined;
}

function checkConfig(overlay, objs, sts) {
  const r = throughEntrypoint(overlay, objs, sts, ["--check-config"]);
  check(r.status === 0, `${overlay}: derper --check-config on the ConfigMap (pod 0's environment)`,
    r.stdout + r.stderr);
  const p = throughEntrypoint(overlay, objs, sts, ["--print-config"]);
  if (!check(p.status === 0, `${overlay}: derper --print-config`, p.stderr)) return;
  const conf = p.stdout;
  const c = sts.spec.template.spec.containers[0];
  const svc = objs.find((o) => o.kind === "Service" && o.metadata.name === sts.spec.serviceName);
  check(svc && svc.spec.clusterIP === "None", `${overlay}: the StatefulSet's service is headless`);
  const cport = (n) => c.ports.find((p) => p.name === n);
  const want = {
    derp: Number((printed(conf, "listen") ?? "").split(":").pop()),
    http: Number(printed(conf, "http_port")),
    stun: Number(conf.match(/^stun: \{[\s\S]*?^\s*port = (\d+);/m)?.[1]),
    metrics: Number((conf.match(/^metrics: \{[\s\S]*?^\s*listen = "(.*?)";/m)?.[1] ?? "").split(":").pop()),
  };
  for (const [name, port] of Object.entries(want)) {
    check(cport(name)?.containerPort === port, `${overlay}: container port ${name} is derper.conf's ${port}`,
      JSON.stringify(cport(name)));
    if (name !== "metrics") {
      const sp = svc?.spec.ports.find((p) => p.name === name);
      check(sp && sp.port === port && (sp.targetPort === name || sp.targetPort === port) &&
        sp.protocol === (name === "stun" ? "UDP" : "TCP"), `${overlay}: Service port ${name}`, JSON.stringify(sp));
    }
  }
  check(cport("stun")?.protocol === "UDP", `${overlay}: the STUN port is UDP`);
  for (const probe of ["readinessProbe", "livenessProbe", "startupProbe"])
    check(c[probe]?.httpGet?.port === "metrics", `${overlay}: ${probe} on the metrics port`);
  check(c.readinessProbe?.httpGet?.path === "/readyz", `${overlay}: readiness is /readyz`);
  check(c.livenessProbe?.httpGet?.path === "/healthz", `${overlay}: liveness is /healthz`);
  const drain = Number(conf.match(/drain_timeout_s = (\d+);/)?.[1]);
  check(sts.spec.template.spec.terminationGracePeriodSeconds >= drain + 10,
    `${overlay}: terminationGracePeriodSeconds covers the drain (${drain} s) with margin`);
  // mesh.peers: exactly the replicas, by DERP name, dialled via the Service
  const peers = [...(conf.match(/peers = \[([\s\S]*?)\];/)?.[1] ?? "").matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  const env = podEnv(c, `${sts.metadata.name}-0`);
  const domain = env.DOMAIN;
  const ns = sts.metadata.namespace;
  const expect = [];
  for (let i = 0; i < sts.spec.replicas; i++)
    expect.push(`${sts.metadata.name}-${i}.${domain}/${sts.metadata.name}-${i}.${sts.spec.serviceName}.${ns}.svc.cluster.local`);
  check(JSON.stringify([...peers].sort()) === JSON.stringify(expect.sort()),
    `${overlay}: mesh.peers are the ${sts.spec.replicas} replicas`, `${peers} vs ${expect}`);
  check(env.DERP_DOMAIN === `${sts.metadata.name}-0.${domain}`, `${overlay}: pod 0's DERP name`, env.DERP_DOMAIN);
  check(printed(conf, "hostname") === env.DERP_DOMAIN, `${overlay}: derper takes its hostname from DERP_DOMAIN`);
}

function checkSecurity(overlay, sts) {
  const spec = sts.spec.template.spec;
  const c = spec.containers[0];
  check(c.securityContext?.privileged === true, `${overlay}: privileged`);
  for (const cap of ["IPC_LOCK", "NET_ADMIN"])
    check(c.securityContext?.capabilities?.add?.includes(cap), `${overlay}: capability ${cap}`);
  const sock = spec.volumes.find((v) => v.hostPath?.path === "/var/run/tailscale/tailscaled.sock");
  check(sock?.hostPath.type === "Socket", `${overlay}: tailscaled socket hostPath of type Socket`);
  const anti = spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.[0];
  check(anti?.topologyKey === "kubernetes.io/hostname", `${overlay}: one replica per node`);
  check(sts.spec.volumeClaimTemplates?.some((t) => c.volumeMounts.some((m) => m.name === t.metadata.name &&
    m.mountPath === "/var/lib/derper")), `${overlay}: /var/lib/derper (key, certificates) on a claim`);
  check(sts.spec.replicas === 3, `${overlay}: three replicas`);
}

function checkPdb(overlay, objs, sts) {
  const pdb = objs.find((o) => o.kind === "PodDisruptionBudget");
  check(pdb?.spec.maxUnavailable === 1, `${overlay}: PDB maxUnavailable 1`);
  const sel = pdb?.spec.selector.matchLabels ?? {};
  const labels = sts.spec.template.metadata.labels;
  check(Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => labels[k] === v),
    `${overlay}: the PDB selects the StatefulSet's pods`);
}

function checkSriov(overlay, objs, sts) {
  if (!overlay.startsWith("sriov")) return;
  const nad = objs.find((o) => o.kind === "NetworkAttachmentDefinition");
  const tmpl = sts.spec.template;
  check(tmpl.metadata.annotations?.["k8s.v1.cni.cncf.io/networks"] === nad?.metadata.name,
    `${overlay}: pods attach the NetworkAttachmentDefinition`);
  const res = nad?.metadata.annotations?.["k8s.v1.cni.cncf.io/resourceName"];
  const c = tmpl.spec.containers[0];
  check(res && c.resources.requests[res] === "1" && c.resources.limits[res] === "1",
    `${overlay}: one ${res} VF requested`);
  const cm = objs.find((o) => o.kind === "ConfigMap" && o.data?.addresses);
  const rows = (cm?.data.addresses ?? "").split("\n").filter((l) => l.trim() && !l.startsWith("#"));
  for (let i = 0; i < sts.spec.replicas; i++)
    check(rows.some((l) => l.split(/\s+/)[0] === `${sts.metadata.name}-${i}`),
      `${overlay}: an address for ${sts.metadata.name}-${i}`);
}

// -- main --------------------------------------------------------------------

for (const overlay of OVERLAYS) {
  let objs;
  try {
    objs = render(overlay);
  } catch (e) {
    check(false, `${overlay}: kubectl kustomize`, e.message);
    continue;
  }
  const tsLines = [];
  validateSchemas(overlay, objs, tsLines);
  typecheck(overlay, tsLines);
  checkNames(overlay, objs);
  const sts = objs.find((o) => o.kind === "StatefulSet");
  if (!check(sts, `${overlay}: a StatefulSet`)) continue;
  checkResources(overlay, sts);
  checkSecurity(overlay, sts);
  checkPdb(overlay, objs, sts);
  checkSriov(overlay, objs, sts);
  checkConfig(overlay, objs, sts);
}
console.log(`${checks - failures}/${checks} checks passed`);
process.exit(failures ? 1 : 0);
