# SPDX-License-Identifier: BSD-3-Clause
"""The quick start of `./derper.sh run` minus apt and the build: the
embedded config/quickstart.conf with its veth and client namespace. The
issue's "done when": curl -k https://127.0.0.1:<port>/ answers, STUN is
answered from a client namespace, derpprobe passes, SIGTERM exits 0."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from relay import BIN, Relay  # noqa: E402

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOPO = os.path.join(SRC, "tests", "topology")
PROBE = os.environ.get("DERPPROBE_BIN", os.path.join(os.path.dirname(BIN), "derpprobe"))


class QuickStartTest(unittest.TestCase):
    def test_quickstart(self):
        cwd = tempfile.mkdtemp(prefix="derper-qs-")
        self.addCleanup(shutil.rmtree, cwd, True)
        subprocess.run([TOPO, "up", "derp", "0", "shared", "--srv-root"], check=True,
                       capture_output=True)
        self.addCleanup(subprocess.run, [TOPO, "down", "derp", "--srv-root"])
        relay = Relay(config_file=os.path.join(SRC, "config/quickstart.conf"), cwd=cwd)
        self.addCleanup(relay.cleanup)
        self.assertEqual(relay.port, 8443)
        r = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}",
                            "https://127.0.0.1:8443/"], capture_output=True, text=True)
        self.assertEqual(r.stdout, "200", relay.log())
        r = subprocess.run(["ip", "netns", "exec", "derp-cli", "turnutils_stunclient", "198.18.0.1"],
                           capture_output=True, text=True, timeout=30)
        self.assertIn("UDP reflexive addr: 198.18.0.2:", r.stdout, r.stderr)
        r = subprocess.run([PROBE, "--insecure", "https://127.0.0.1:8443/derp"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(os.path.exists(os.path.join(cwd, ".run", "derper.key")))
        self.assertEqual(relay.stop(), 0)
        relay.assert_clean()


if __name__ == "__main__":
    unittest.main(verbosity=2)
