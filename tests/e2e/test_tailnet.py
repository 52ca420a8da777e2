# SPDX-License-Identifier: BSD-3-Clause
"""Client verification with real Tailscale node software (../shared/peers:
tailscaled, tailscale and testcontrol, v1.34.2), on loopback.

A testcontrol hands out a one-region DERP map whose only node is the relay
under test; tailscaled nodes 1 and 2 log in to it, node 3 to a second
testcontrol (another tailnet) with the same DERP map. The relay verifies
clients through node 1's LocalAPI socket. v1.34.2 answers no whois by node
key, so the relay must fall back to node 1's status peer list:

- nodes 1 and 2 are admitted and `tailscale ping` between them gets pongs,
  the first through the relay (its forwarding counter moves; on loopback
  NAT traversal may find the direct path within the first ping);
- node 3 and a client with random keys are refused, counted;
- node 2 restarted with a new node key is admitted once its tailnet knows
  the new key;
- node 1's tailscaled stopped: new clients are refused
  (localapi_unreachable), and admitted again once it is back.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import derpclient as dc  # noqa: E402
from relay import Relay  # noqa: E402
from tools import in_ci, peers_dir  # noqa: E402
from nacl.public import PrivateKey  # noqa: E402

PEERS = peers_dir()
BINS = ("tailscaled", "tailscale", "testcontrol")


def have_peers():
    return all(os.access(os.path.join(PEERS, b), os.X_OK) for b in BINS)


class Control:
    def __init__(self, relay_port):
        self.proc = subprocess.Popen(
            [os.path.join(PEERS, "testcontrol"), "-listen", "127.0.0.1:0", "-derp-host",
             "localhost", "-derp-ip", "127.0.0.1", "-derp-port", str(relay_port),
             "-stun-port", "-1", "-insecure"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in self.proc.stdout:
            m = re.search(r"CONTROL URL (\S+)", line)
            if m:
                self.url = m.group(1)
                break
        else:
            raise RuntimeError("testcontrol did not start")

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Node:
    def __init__(self, base, name):
        self.dir = os.path.join(base, name)
        self.name = name
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "tailscaled.sock")
        self.proc = None

    def start(self):
        env = dict(os.environ, TS_LOGS_DIR=self.dir)
        self.log = open(os.path.join(self.dir, "log"), "a")
        self.proc = subprocess.Popen(
            [os.path.join(PEERS, "tailscaled"), "--tun=userspace-networking",
             "--socket=" + self.sock, "--state=" + os.path.join(self.dir, "state"),
             "--statedir=" + self.dir, "--port=0", "--no-logs-no-support"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        end = time.monotonic() + 20
        while not os.path.exists(self.sock):
            if time.monotonic() > end or self.proc.poll() is not None:
                raise RuntimeError("tailscaled %s did not start" % self.name)
            time.sleep(0.05)

    def cli(self, *args, timeout=60):
        return subprocess.run([os.path.join(PEERS, "tailscale"), "--socket=" + self.sock] +
                              list(args), capture_output=True, text=True, timeout=timeout)

    def up(self, control):
        r = self.cli("up", "--login-server=" + control.url, "--hostname=" + self.name)
        assert r.returncode == 0, r.stderr

    def status(self):
        return json.loads(self.cli("status", "--json").stdout)

    def node_key(self):
        return self.status()["Self"]["PublicKey"]

    def ip(self):
        return self.status()["Self"]["TailscaleIPs"][0]

    def stop(self, wipe=False):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.log.close()
        if wipe:
            for f in os.listdir(self.dir):
                if f != "log":
                    p = os.path.join(self.dir, f)
                    shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)


@unittest.skipUnless(have_peers() or in_ci(), "../shared/peers not present")
class TailnetVerifyTest(unittest.TestCase):
    def setUp(self):
        if not have_peers():
            self.fail("CI=true: ../shared/peers/{tailscaled,tailscale,testcontrol} missing")
        self.tmp = tempfile.mkdtemp(prefix="derper-tailnet-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.n1, self.n2, self.n3 = (Node(self.tmp, n) for n in ("node1", "node2", "node3"))
        self.relay = Relay(conf='verify: { clients = true; socket = "%s"; refresh_ms = 300;'
                                ' negative_ttl_s = 1; };\n'
                                'dataplane: { eal = [ "--file-prefix=e2e-tailnet" ]; };\n'
                           % self.n1.sock)
        self.addCleanup(self.relay.cleanup)
        self.c1 = Control(self.relay.port)
        self.addCleanup(self.c1.stop)
        self.c2 = Control(self.relay.port)
        self.addCleanup(self.c2.stop)
        for n in (self.n1, self.n2, self.n3):
            self.addCleanup(n.stop)
            n.start()
        self.n1.up(self.c1)
        self.n3.up(self.c2)

    def tel(self):
        return self.relay.telemetry("/derper/admission")

    def wait_for(self, pred, within, what):
        end = time.monotonic() + within
        while not pred():
            if time.monotonic() > end:
                self.fail("%s not within %d s; admission %s" % (what, within, self.tel()))
            time.sleep(0.2)

    def forwarded(self):
        return self.relay.telemetry("/derper/stats")["derp_forwarded"]

    def ping_through_relay(self, a, b, within=30):
        """`tailscale ping` from a to b right after b came up: the first
        pongs go via DERP, through the relay (before NAT traversal finds the
        direct loopback path, which it may do within the first ping); the
        relay's forwarding counter shows their packets went through it."""
        before = self.forwarded()
        end = time.monotonic() + within
        while time.monotonic() < end:
            r = a.cli("ping", "--c", "5", "--timeout", "5s", b.ip(), timeout=30)
            if "pong from" in r.stdout:
                break
            time.sleep(0.3)
        else:
            self.fail("no pong: %s %s; admission %s" % (r.stdout, r.stderr, self.tel()))
        self.wait_for(lambda: self.forwarded() > before, 10, "packets relayed between the nodes")
        return r.stdout

    def test_real_nodes(self):
        # 1 and 2 admitted; they reach each other through the relay
        self.n2.up(self.c1)
        out = self.ping_through_relay(self.n1, self.n2)
        print("\n    %s" % out.strip().replace("\n", "\n    "))
        t = self.tel()
        self.assertGreaterEqual(t["admitted"], 2)
        self.assertEqual(t["localapi_mode"], 2)            # v1.34.2: the peer list
        self.assertEqual(t["rejected_version_skew"], 0)
        self.relay.wait_log(r'msg="admission: tailscaled verification mode" mode=status')
        # node 3 (another tailnet) and random keys are refused
        self.wait_for(lambda: self.tel()["rejected_unknown_key"] >= 1, 30, "node 3 refused")
        k3 = self.n3.node_key()
        self.relay.wait_log(r'msg="admission: client rejected".* reason=unknown_key')
        with self.assertRaises((dc.Closed, ConnectionError)):
            dc.Client("127.0.0.1", self.relay.port, key=PrivateKey.generate())
        self.assertNotIn(k3, json.dumps(self.n1.status().get("Peer", {})))
        # node 2 with a new node key: admitted once its tailnet knows it
        old = self.n2.node_key()
        self.n2.stop(wipe=True)
        self.n2.start()
        self.n2.up(self.c1)
        self.assertNotEqual(self.n2.node_key(), old)
        self.ping_through_relay(self.n1, self.n2)
        # node 1's tailscaled stopped: new clients refused, then admitted again
        self.n1.stop()
        before = self.tel()["rejected_localapi_unreachable"]
        with self.assertRaises((dc.Closed, ConnectionError)):
            dc.Client("127.0.0.1", self.relay.port, key=PrivateKey.generate())
        self.wait_for(lambda: self.tel()["rejected_localapi_unreachable"] > before, 15,
                      "localapi_unreachable")
        self.n1.start()
        self.ping_through_relay(self.n1, self.n2, within=60)
        self.assertEqual(self.relay.stop(), 0)
        self.relay.assert_clean()


if __name__ == "__main__":
    unittest.main(verbosity=2)
