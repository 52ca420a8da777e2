# SPDX-License-Identifier: BSD-3-Clause
"""The Prometheus and Grafana kit (k8s/components/monitoring): the alert
rules pass `promtool check rules` and their unit tests (`promtool test
rules`), the PrometheusRule carries the same rules, the component renders,
and every metric name the rules and the dashboard use is in a scrape of a
running relay (with ACME, a mesh and the webhook configured, so that every
family is there)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.request

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from acme_env import free_port  # noqa: E402
from relay import Relay  # noqa: E402
from tools import needs  # noqa: E402

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KIT = os.path.join(SRC, "k8s", "components", "monitoring")
PROMTOOL = "/usr/bin/promtool"


def used_names():
    """derper_* series names in the rules and the dashboard's queries."""
    text = open(os.path.join(KIT, "derper.rules.yaml")).read()
    dash = json.load(open(os.path.join(KIT, "dashboard.json")))
    for p in dash["panels"]:
        text += "\n".join(t["expr"] for t in p.get("targets", []))
    for v in dash["templating"]["list"]:
        text += "\n" + str(v.get("query", ""))
    return sorted(set(re.findall(r"\bderper_[a-z_]+", text)))


class MonitoringTest(unittest.TestCase):
    @needs(PROMTOOL, package="prometheus")
    def test_rules_check_and_unit_tests(self):
        r = subprocess.run([PROMTOOL, "check", "rules", "derper.rules.yaml"], cwd=KIT,
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS: 7 rules found", r.stdout)
        r = subprocess.run([PROMTOOL, "test", "rules", "derper.rules.test.yaml"], cwd=KIT,
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_prometheusrule_and_component(self):
        rules = yaml.safe_load(open(os.path.join(KIT, "derper.rules.yaml")))
        pr = yaml.safe_load(open(os.path.join(KIT, "prometheusrule.yaml")))
        self.assertEqual(pr["spec"], rules)
        tmp = tempfile.mkdtemp(dir=os.path.join(SRC, "k8s"))
        self.addCleanup(shutil.rmtree, tmp, True)
        with open(os.path.join(tmp, "kustomization.yaml"), "w") as f:
            f.write("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                    "namespace: derper\ncomponents:\n  - ../components/monitoring\n")
        r = subprocess.run(["kubectl", "kustomize", tmp], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        objs = {o["kind"]: o for o in yaml.safe_load_all(r.stdout)}
        self.assertEqual(set(objs), {"ConfigMap", "PodMonitor", "PrometheusRule"})
        self.assertEqual(objs["PodMonitor"]["spec"]["podMetricsEndpoints"][0]["port"], "metrics")
        self.assertEqual(objs["ConfigMap"]["metadata"]["labels"]["grafana_dashboard"], "1")
        self.assertEqual(json.loads(objs["ConfigMap"]["data"]["dashboard.json"]),
                         json.load(open(os.path.join(KIT, "dashboard.json"))))

    def test_names_exist_in_a_scrape(self):
        d = tempfile.mkdtemp(prefix="derper-mon-")
        self.addCleanup(shutil.rmtree, d, True)
        psk = os.path.join(d, "mesh.key")
        with open(psk, "w") as f:
            f.write("5a" * 32)
        os.chmod(psk, 0o600)
        mport = free_port()
        # letsencrypt on 443 (of a loopback address of its own) with an ACME
        # server that is not there, a mesh peer that is not there, a webhook
        # that is not there: every family of metrics is exported
        relay = Relay(tls=False, hostname="derp.test", listen="127.0.0.%d:443" % (2 + os.getpid() % 200),
                      args=["--set", "metrics.listen=127.0.0.1:%d" % mport],
                      conf='cert: { mode = "letsencrypt"; dir = "%s/certs";'
                           ' acme_directory = "https://127.0.0.1:9/dir"; };\n'
                           'mesh: { psk_file = "%s"; peers = [ "derp2.test/127.0.0.1:9" ]; };\n'
                           'verify: { url = "http://127.0.0.1:9/verify"; };\n'
                           'dataplane: { eal = [ "--file-prefix=e2e-monitoring" ]; };\n' % (d, psk))
        self.addCleanup(relay.cleanup)
        relay.wait_log('msg="metrics: serving"')
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10) as r:
            scrape = r.read().decode()
        exported = set(re.findall(r"^(derper_[a-z_]+)", scrape, re.M))
        missing = [n for n in used_names() if n not in exported]
        self.assertEqual(missing, [], "names the kit uses that the relay does not export")
        self.assertGreater(len(used_names()), 15)
        self.assertEqual(relay.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
