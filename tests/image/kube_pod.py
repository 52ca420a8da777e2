# SPDX-License-Identifier: BSD-3-Clause
"""The StatefulSet of a rendered overlay (kubectl kustomize k8s/overlays/...)
as one Pod that `podman kube play` (podman 4.3) runs like a kubelet would:
replica 0 of the set, with the overlay's ConfigMap beside it.

Two kinds of change, kept apart:
- test settings, given by the caller: the image, where state and
  hugepages live on this host, the interface, and DERP_* overrides (a
  test runs without Let's Encrypt or tailscaled, on ports of its own);
- podman 4.3's differences from a kubelet, each named where it is made.
"""
import copy
import re

import yaml

POD_NAME = "derper-tok-0"


def _expand(value, env):
    # podman 4.3 passes $(VAR) through literally; a kubelet expands
    # references to variables defined earlier in the list
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: env.get(m.group(1), m.group(0)), value)


def configmap_names(rendered):
    return [d["metadata"]["name"] for d in yaml.safe_load_all(rendered)
            if d and d["kind"] == "ConfigMap"]


def convert(rendered, image, state_dir, huge_dir, mesh_key_file, iface, env=None, args=None):
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    cms = [d for d in docs if d["kind"] == "ConfigMap"]
    tmpl = sts["spec"]["template"]
    spec = copy.deepcopy(tmpl["spec"])
    for k in ("affinity", "serviceAccountName", "automountServiceAccountToken", "dnsPolicy"):
        # scheduling and API access: nothing to do on one host without an API server
        spec.pop(k, None)
    c = spec["containers"][0]
    c["image"] = image
    c["imagePullPolicy"] = "Never"
    # podman 4.3 refuses containerPorts in a pod on the host's network
    c.pop("ports", None)
    # podman 4.3 ignores hugepages resources (the node's pages are mounted
    # below instead)
    for k in ("limits", "requests"):
        for r in list(c.get("resources", {}).get(k, {})):
            if r.startswith("hugepages-"):
                del c["resources"][k][r]

    overrides = dict(env or {})
    overrides.setdefault("DERP_IFACE", iface)
    values = {}
    out_env = []
    for e in c.get("env", []):
        name = e["name"]
        if name in overrides:
            e = {"name": name, "value": overrides.pop(name)}
        elif "valueFrom" in e and e["valueFrom"].get("fieldRef", {}).get("fieldPath") == \
                "metadata.name":
            e = {"name": name, "value": POD_NAME}    # the downward API's answer
        if "value" in e:
            e["value"] = _expand(str(e["value"]), values)
            values[name] = e["value"]
        out_env.append(e)
    out_env += [{"name": k, "value": v} for k, v in overrides.items()]
    c["env"] = out_env
    final = {e["name"]: e.get("value") for e in out_env}
    if args:
        c["args"] = list(args)

    mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
    vols = []
    for v in spec.get("volumes", []):
        if v["name"] == "tailscaled-socket" and final.get("DERP_VERIFY_CLIENTS") == "false":
            # verification off in the test: no tailscaled socket to mount
            c["volumeMounts"] = [m for m in c["volumeMounts"] if m["name"] != v["name"]]
            continue
        if v.get("emptyDir", {}).get("medium") == "HugePages":
            # podman 4.3 makes emptyDir: HugePages a plain directory: the
            # host's hugetlbfs mount instead
            v = {"name": v["name"], "hostPath": {"path": huge_dir, "type": "Directory"}}
        elif "secret" in v:
            # podman 4.3 panics on a secret volume without `optional`,
            # mounts Secret data still base64-encoded and ignores
            # defaultMode (the relay refuses a key file others may read):
            # the key file itself, mode 0600, from the host
            sub = mounts[v["name"]]
            sub["mountPath"] = sub["mountPath"].rstrip("/") + "/mesh.key"
            v = {"name": v["name"], "hostPath": {"path": mesh_key_file, "type": "File"}}
        vols.append(v)
    for claim in sts["spec"].get("volumeClaimTemplates", []):
        # the StatefulSet's claim: a directory on this host
        vols.append({"name": claim["metadata"]["name"],
                     "hostPath": {"path": state_dir, "type": "Directory"}})
    spec["volumes"] = vols
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": POD_NAME, "labels": dict(tmpl["metadata"].get("labels", {}))},
           "spec": spec}
    out = []
    for cm in cms:
        cm = copy.deepcopy(cm)
        cm["metadata"].pop("namespace", None)
        out.append(cm)
    out.append(pod)
    return yaml.safe_dump_all(out, sort_keys=False)
