# SPDX-License-Identifier: BSD-3-Clause
"""A WireGuard tunnel between two real Tailscale nodes through the relay on
its DPDK port (../shared/peers/tailnet-e2e: tsnet v1.34.2 under Tailscale's
test control server, forced onto the relay's region).

The relay runs in the server namespace of the test topology with a
shared-mode net_af_packet port; the nodes run in the client namespace and
know the relay only by its DERP map entry (198.18.17.1). The test checks
what a Tailscale user would: netcheck gets its STUN answer from the DPDK
port, the nodes reach each other with the path through DERP, 2 MiB go each
way intact (SHA-256 checked by tailnet-e2e), disco and TSMP pings answer;
and on the relay's side, the STUN answers and the relayed packets and bytes
are counted.
"""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from relay import Relay  # noqa: E402
from tools import in_ci, peers_dir  # noqa: E402

PEERS = peers_dir()
TAILNET = os.path.join(PEERS, "tailnet-e2e")
TOPO = os.path.join(os.path.dirname(__file__), "..", "topology")
NAME, NET = "tun", 17
SRV = "198.18.%d.1" % NET
BYTES = 2 << 20


class TunnelTest(unittest.TestCase):
    def setUp(self):
        if not os.access(TAILNET, os.X_OK):
            if in_ci():
                self.fail("%s missing (../shared/peers)" % TAILNET)
            self.skipTest("tailnet-e2e missing")
        subprocess.run([TOPO, "up", NAME, str(NET), "shared"], check=True, capture_output=True)
        self.addCleanup(subprocess.run, [TOPO, "down", NAME], capture_output=True)
        conf = ('dataplane: { eal = [ "--file-prefix=e2e-tunnel" ];\n'
                '  ports = ( { device = "net_af_packet0,iface=%s-s,framecnt=4096";'
                ' mode = "shared"; address = "%s/24"; } ); };\n' % (NAME, SRV))
        self.relay = Relay(conf=conf, netns=NAME + "-srv", listen=":0")
        self.addCleanup(self.relay.cleanup)

    def test_tunnel_through_the_relay(self):
        stats0 = self.relay.telemetry("/derper/stats")
        tls0 = self.relay.telemetry("/derper/tls")
        r = subprocess.run(
            ["ip", "netns", "exec", NAME + "-cli", TAILNET, "-derp-host", "localhost",
             "-derp-ip", SRV, "-derp-port", str(self.relay.port), "-stun-port", "3478",
             "-insecure", "-require-stun", "-bytes", str(BYTES), "-timeout", "120s"],
            capture_output=True, text=True, timeout=180)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, out[-3000:])
        self.assertRegex(r.stdout, r"(?m)^TAILNET OK ")
        # netcheck's UDP STUN went to the DPDK port and was answered there
        self.assertRegex(r.stdout, r'(?m)^NETCHECK udp=true .*global_v4="198\.18\.%d\.2:\d+"' % NET)
        stats = self.relay.telemetry("/derper/stats")
        self.assertGreater(stats["stun_answered"], stats0["stun_answered"])
        # the nodes' traffic took the DERP path through this relay
        self.assertRegex(r.stdout, r"(?m)^PATH derp")
        tls = self.relay.telemetry("/derper/tls")
        relayed = tls["bytes_out"] - tls0["bytes_out"]
        print("\n    %s\n    %s\n    relayed %d packets, %d bytes; STUN answered %d; drops %s" % (
            re.search(r"(?m)^NETCHECK .*$", r.stdout).group(0),
            re.search(r"(?m)^TAILNET OK .*$", r.stdout).group(0),
            tls["packets_out"] - tls0["packets_out"], relayed,
            stats["stun_answered"] - stats0["stun_answered"],
            {k: v - tls0[k] for k, v in tls.items() if k.startswith("drop_") and v != tls0[k]}))
        # both directions' payload (WireGuard adds to it) crossed the relay
        self.assertGreater(relayed, 2 * BYTES)
        self.assertEqual(self.relay.stop(), 0)
        self.relay.assert_clean()


if __name__ == "__main__":
    unittest.main()
