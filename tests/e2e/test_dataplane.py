# SPDX-License-Identifier: BSD-3-Clause
"""The relay on a DPDK port in the test topology (tests/topology), in both
port modes: STUN answered by the poll loop (coturn's turnutils_stunclient
and Tailscale's request through derpprobe), DERP over TLS reaching the
relay (directly in shared mode, through the exception path in exclusive
mode), garbage ignored while answering goes on, counters through DPDK
telemetry."""
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
import unittest
import zlib

sys.path.insert(0, os.path.dirname(__file__))
from relay import BIN, Relay  # noqa: E402
import flood  # noqa: E402

TOPO = os.path.join(os.path.dirname(__file__), "..", "topology")
PROBE = os.environ.get("DERPPROBE_BIN", os.path.join(os.path.dirname(BIN), "derpprobe"))


def tailscale_request(txid):
    body = struct.pack(">HHI", 1, 20, 0x2112A442) + txid + struct.pack(">HH", 0x8022, 8) + b"tailnode"
    fp = (zlib.crc32(body) ^ 0x5354554E) & 0xFFFFFFFF
    return body + struct.pack(">HHI", 0x8028, 4, fp)


class DataplaneTest(unittest.TestCase):
    MODE = None
    NET = None
    NAME = None
    DEVICE = "net_af_packet0,iface=%s,framecnt=4096"
    EAL = ""
    DP_EXTRA = ""

    def setUp(self):
        if self.MODE is None:
            self.skipTest("base class")
        self.name = self.NAME or "dp%s" % self.MODE[0]
        self.n = self.NET
        subprocess.run([TOPO, "up", self.name, str(self.n), self.MODE], check=True,
                       capture_output=True)
        self.addCleanup(subprocess.run, [TOPO, "down", self.name], capture_output=True)
        self.srv_if = self.name[:10] + "-s"
        self.srv = "198.18.%d.1" % self.n
        gw = ' gateway = "198.18.%d.2";' % self.n if self.MODE == "exclusive" else ""
        conf = ('dataplane: { eal = [ "--file-prefix=%s"%s ];%s\n'
                '  ports = ( { device = "%s"; mode = "%s";'
                ' address = "%s/24"; exception_iface = "%sk";%s } ); };\n'
                % (self.name, self.EAL, self.DP_EXTRA, self.DEVICE % self.srv_if, self.MODE,
                   self.srv, self.name, gw))
        self.relay = Relay(conf=conf, netns=self.name + "-srv", listen=":0")
        self.addCleanup(self.relay.cleanup)

    def cli(self, *cmd, timeout=30):
        return subprocess.run(["ip", "netns", "exec", self.name + "-cli"] + list(cmd),
                              capture_output=True, text=True, timeout=timeout)

    def assert_only_stun_reaches_dataplane(self):
        """Shared mode: TCP to the relay is the kernel's, STUN the dataplane's,
        and no TCP segment is handed to the dataplane at all (a frame that
        came before the filter was attached may have been)."""
        start = self.relay.telemetry("/derper/stats")
        r = self.cli("curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}",
                     "https://%s:%d/derp/probe" % (self.srv, self.relay.port))
        self.assertEqual(r.stdout, "200", r.stderr)     # TCP: the kernel's
        before = self.relay.telemetry("/derper/stats")
        self.assertTrue(self.stun_answers(4))            # STUN: the dataplane's
        after = self.relay.telemetry("/derper/stats")
        self.assertGreater(after["stun_answered"], before["stun_answered"])
        # the TCP connection never reached the dataplane
        self.assertEqual(after["shared_other"], start["shared_other"])

    def test_turnutils_stunclient(self):
        r = self.cli("turnutils_stunclient", self.srv)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"UDP reflexive addr: 198\.18\.%d\.2:\d+" % self.n)

    def test_derpprobe_relay_and_tailscale_stun(self):
        r = self.cli(PROBE, "--insecure", "--count", "20", "--stun", self.srv + ":3478",
                     "https://%s:%d/derp" % (self.srv, self.relay.port), timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("stun: %s:3478 answered: you are 198.18.%d.2:" % (self.srv, self.n), r.stdout)
        self.assertIn("derpprobe: OK", r.stdout)

    def test_garbage_ignored_answering_continues(self):
        script = r'''
import os, socket, struct, sys, zlib
sys.path.insert(0, %r)
from test_dataplane import tailscale_request
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
dst = (%r, 3478)
good = tailscale_request(b"abcdefghijkl")
junk = [b"", b"x", good[:19], good[:30], b"\xff" * 40, good[:4] + b"\x21\x12\xa4\x43" + good[8:],
        good[:-1] + bytes([good[-1] ^ 1]), b"\x00\x11" + good[2:], os.urandom(1400)]
for j in junk:
    s.sendto(j, dst)
    try:
        s.recvfrom(2048)
        print("answered junk", j[:8].hex())
        sys.exit(1)
    except socket.timeout:
        pass
s.sendto(good, dst)
data, _ = s.recvfrom(2048)
assert data[:2] == b"\x01\x01" and data[8:20] == b"abcdefghijkl", data.hex()
print("ok")
''' % (os.path.dirname(os.path.abspath(__file__)), self.srv)
        r = self.cli("/usr/bin/python3", "-c", script)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ok", r.stdout)
        stats = self.relay.telemetry("/derper/stats")
        self.assertGreaterEqual(stats["stun_answered"], 1)
        self.assertGreaterEqual(stats["stun_drop_bad_fingerprint"] + stats["class_bad_checksum"], 1)
        self.assertGreaterEqual(stats["stun_drop_short"] + stats["class_truncated"], 1)
        self.assertGreaterEqual(stats["stun_drop_not_stun"], 1)
        self.assertGreaterEqual(stats["stun_drop_not_binding"], 1)

    def stun_answers(self, tries):
        """Does a Tailscale Binding Request from the client get answered,
        within `tries` half-second attempts?"""
        script = r'''
import socket, sys
sys.path.insert(0, %r)
from test_dataplane import tailscale_request
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
for i in range(%d):
    s.sendto(tailscale_request(b"linkflap%%04d" %% i), (%r, 3478))
    try:
        s.recvfrom(2048)
        print("answered")
        break
    except socket.timeout:
        pass
''' % (os.path.dirname(os.path.abspath(__file__)), tries, self.srv)
        return "answered" in self.cli("/usr/bin/python3", "-c", script).stdout

    def test_port_link_down_and_up(self):
        """The DPDK port's link goes down and comes back: STUN stops, then
        is answered again; the relay never restarts."""
        srv = ["ip", "netns", "exec", self.name + "-srv", "ip", "link", "set", self.srv_if]
        self.assertTrue(self.stun_answers(4))
        subprocess.run(srv + ["down"], check=True)
        self.assertFalse(self.stun_answers(2))
        subprocess.run(srv + ["up"], check=True)
        self.assertTrue(self.stun_answers(40))     # up to 20 s for the link to settle
        self.assertIsNone(self.relay.proc.poll())

    def test_flood_at_stalled_receivers(self):
        """50 receivers that never read flooded with 64 KiB packets for
        10 s (over TCP on this port's path: the kernel's in shared mode, the
        exception path in exclusive mode): a fresh pair relays in lock step
        without a loss, no DERP frame finds its pool empty, and STUN on the
        port keeps answering (the ports' buffers are their own). Run in
        every port mode of this file."""
        before = self.relay.telemetry("/derper/tls")
        r = self.cli("/usr/bin/python3", os.path.join(os.path.dirname(__file__), "flood.py"),
                     self.srv, str(self.relay.port), "--seconds", "10",
                     "--stun", "%s:3478" % self.srv, timeout=120)
        m = re.search(r"^FLOOD (.*)$", r.stdout, re.M)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        out = json.loads(m.group(1))
        after = self.relay.telemetry("/derper/tls")
        print("\n    %s no_mbuf +%d" % (out, after["drop_no_mbuf"] - before["drop_no_mbuf"]))
        self.assertEqual(r.returncode, 0, out)
        self.assertEqual(out["lost"], 0)
        self.assertLess(out["worst_ms"], flood.WORST_MS)
        self.assertEqual(after["drop_no_mbuf"], before["drop_no_mbuf"])
        self.assertGreater(out["stun_sent"], 100)
        # the port's rx ring is shared with the flood's TCP in exclusive
        # mode (af_packet drops when it overflows, as a NIC would): STUN
        # keeps answering, not every single request
        self.assertGreaterEqual(out["stun_answered"], 0.95 * out["stun_sent"])

    def tearDown(self):
        if self.relay.proc and self.relay.proc.poll() is None:
            self.assertEqual(self.relay.stop(), 0, self.relay.log()[-4000:])
            self.relay.assert_clean()


class SharedMode(DataplaneTest):
    MODE = "shared"
    NET = 10

    def test_kernel_keeps_tcp_dpdk_gets_stun(self):
        """The packet socket's filter copies only STUN to the port's ring
        (without it every TCP segment on the interface reached the lcore),
        and the idle lcore blocks on that socket instead of polling."""
        self.assertTrue(any("packet sockets see only STUN" in l and "sockets=1" in l
                            for l in self.relay.lines), self.relay.log()[-2000:])
        self.assert_only_stun_reaches_dataplane()
        # idle: blocked until a frame or a kick (1 s re-check), not napping
        # and polling every nap_us (which would be thousands of naps)
        before = self.relay.telemetry("/derper/stats")
        time.sleep(1.0)     # a window to count naps in, not synchronisation
        after = self.relay.telemetry("/derper/stats")
        self.assertLess(after["sleeps"] - before["sleeps"], 50)
        # the spin gate judges spins only (dataplane/spin_gate.h): an idle
        # lcore does not spin, so it neither closes the gate nor counts
        self.assertEqual(after["spin_gate_closed"], before["spin_gate_closed"])

    def test_forwarder_inline_ports_on_the_lcore(self):
        """Shared cores, one TLS thread, one lcore: the TLS thread runs the
        forwarder (telemetry's lcore 0) and the lcore keeps the port in a
        context of its own (lcore 1). STUN is answered on the lcore, DERP
        is routed by the forwarder alone, and DERP traffic does not wake
        the lcore: its port sees only STUN."""
        self.assertTrue(any('msg="dataplane: forwarding inline"' in l and "ports_on_lcore=yes" in l
                            for l in self.relay.lines), self.relay.log()[-2000:])
        fwd0, port0 = [self.relay.telemetry("/derper/lcore,%d" % i) for i in (0, 1)]
        r = self.cli(PROBE, "--insecure", "--count", "50", "--stun", self.srv + ":3478",
                     "https://%s:%d/derp" % (self.srv, self.relay.port), timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        fwd1, port1 = [self.relay.telemetry("/derper/lcore,%d" % i) for i in (0, 1)]
        # 50 round trips: 100 packets routed, all by the forwarder
        self.assertGreaterEqual(fwd1["derp_forwarded"] - fwd0["derp_forwarded"], 100)
        self.assertEqual(port1["derp_forwarded"], 0)
        self.assertEqual(port1["sessions_up"], 0)
        self.assertGreater(port1["stun_answered"], port0["stun_answered"])
        self.assertEqual(fwd1["stun_answered"], 0)
        self.assertEqual(fwd1["rx_pkts"], 0)
        # the lcore woke for the STUN request and its 1 s re-checks, not
        # for each of the 100 packets
        self.assertLess(port1["loops"] - port0["loops"], 50)


class SharedXdpMode(DataplaneTest):
    """net_af_xdp in shared mode: the relay's XDP program sends UDP to the
    STUN port to the AF_XDP socket and passes the rest to the kernel."""
    MODE = "shared"
    NET = 13
    NAME = "dpx"
    DEVICE = "net_af_xdp0,iface=%s"

    def test_kernel_keeps_tcp_dpdk_gets_stun(self):
        self.assertTrue(any("xdp_prog=" in l and "stun_redirect.bpf.o" in l
                            for l in self.relay.lines))
        link = subprocess.run(["ip", "netns", "exec", self.name + "-srv", "ip", "link", "show",
                               self.srv_if], capture_output=True, text=True).stdout
        self.assertIn("xdp", link)
        self.assert_only_stun_reaches_dataplane()


class ExclusiveMode(DataplaneTest):
    MODE = "exclusive"
    NET = 11

    def tcp_in_segs(self):
        snmp = subprocess.run(["ip", "netns", "exec", self.name + "-srv", "cat",
                               "/proc/net/snmp"], capture_output=True, text=True).stdout
        head, vals = [l.split() for l in snmp.splitlines() if l.startswith("Tcp:")][:2]
        return int(vals[head.index("InSegs")])

    def test_exception_path_carries_tcp(self):
        """TCP reaches the TLS listener through the exception interface, and
        only through it: the kernel does not also take the frames arriving
        on the port's own interface (weak host model), which would make it
        see every segment twice."""
        sysctl = subprocess.run(["ip", "netns", "exec", self.name + "-srv", "sysctl", "-n",
                                 "net.ipv4.conf.%s.rp_filter" % self.srv_if],
                                capture_output=True, text=True).stdout.strip()
        self.assertEqual(sysctl, "1")
        self.assertTrue(any("kernel kept off the port's interface" in l for l in self.relay.lines))
        segs0, exc0 = self.tcp_in_segs(), self.relay.telemetry("/derper/stats")["exception_in"]
        r = self.cli("curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}",
                     "https://%s:%d/derp/probe" % (self.srv, self.relay.port))
        self.assertEqual(r.stdout, "200", r.stderr)
        stats = self.relay.telemetry("/derper/stats")
        self.assertGreater(stats["exception_in"], 0)
        self.assertGreater(stats["exception_out"], 0)
        # every segment the kernel's TCP took came through the exception path
        self.assertGreater(self.tcp_in_segs() - segs0, 0)
        self.assertLessEqual(self.tcp_in_segs() - segs0, stats["exception_in"] - exc0)

    def test_exception_tap_raises_no_signals(self):
        """net_tap's Rx trigger stays off (the relay holds the real-time
        signals), so the kernel does not signal the process for every frame
        it writes into the exception interface: no tap fd is O_ASYNC."""
        self.assertTrue(any("No Rx trigger signal available" in l for l in self.relay.lines))
        pid = self.relay.proc.pid
        taps = [fd for fd in os.listdir("/proc/%d/fd" % pid)
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "/dev/net/tun"]
        self.assertTrue(taps)
        for fd in taps:
            info = open("/proc/%d/fdinfo/%s" % (pid, fd)).read()
            flags = int(re.search(r"flags:\s+([0-7]+)", info).group(1), 8)
            self.assertEqual(flags & os.O_ASYNC, 0, "tap fd %s is O_ASYNC" % fd)

    def test_gateway_policy_route(self):
        """dataplane.ports.gateway: replies from the port's address go back
        through its own router, whatever the namespace's default route."""
        ns = ["ip", "netns", "exec", self.name + "-srv"]
        rules = subprocess.run(ns + ["ip", "rule"], capture_output=True, text=True).stdout
        self.assertRegex(rules, r"1100:\s+from %s lookup 100" % re.escape(self.srv))
        routes = subprocess.run(ns + ["ip", "route", "show", "table", "100"],
                                capture_output=True, text=True).stdout
        self.assertIn("default via 198.18.%d.2 dev %sk" % (self.n, self.name), routes)
        self.assertIn("198.18.%d.0/24 dev %sk" % (self.n, self.name), routes)


STUN_MANY = r'''
import select, socket, sys
sys.path.insert(0, %r)
from test_dataplane import tailscale_request
socks = []
for i in range(%d):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    socks.append(s)
got = 0
for rnd in range(%d):
    for i, s in enumerate(socks):
        s.sendto(tailscale_request(b"mq%%03d%%07d" %% (i, rnd)), (%r, 3478))
    pend = set(socks)
    while pend:
        ready, _, _ = select.select(list(pend), [], [], 2)
        if not ready:
            break
        for s in ready:
            data, _ = s.recvfrom(2048)
            assert data[:2] == b"\x01\x01", data.hex()
            got += 1
            pend.discard(s)
print("answered %%d" %% got)
'''


class MultiLcore(DataplaneTest):
    """Two dataplane lcores (placed through EAL: this machine has two CPUs,
    so lcore 2 shares CPU 0 with the control thread), two queues on the
    port: af_packet's fanout hashes flows over them as RSS would. Every
    base test runs here too; this one checks the spread and the split of
    work: STUN on both lcores, DERP forwarding only on the first."""
    MODE = "exclusive"
    NET = 15
    NAME = "dpm"
    DEVICE = "net_af_packet0,iface=%s,framecnt=4096,qpairs=2"
    EAL = ', "--lcores", "0@0,1@1,2@0"'
    DP_EXTRA = " spin_us = 5; nap_us = 200;"   # a short spin: both lcores nap often

    def test_stun_spread_over_lcores_derp_on_one(self):
        self.assertTrue(any("lcores=2" in l and "idle=adaptive spin_us=5 nap_us=200" in l
                            for l in self.relay.lines))
        sources, rounds = 64, 4
        r = self.cli("/usr/bin/python3", "-c", STUN_MANY % (
            os.path.dirname(os.path.abspath(__file__)), sources, rounds, self.srv))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("answered %d" % (sources * rounds), r.stdout)
        r = self.cli(PROBE, "--insecure", "--count", "20",
                     "https://%s:%d/derp" % (self.srv, self.relay.port), timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        per = [self.relay.telemetry("/derper/lcore,%d" % i) for i in (0, 1)]
        total = self.relay.telemetry("/derper/stats")
        # 64 flows hashed over two queues: both get some (all on one
        # queue would have probability 2^-63)
        self.assertGreater(per[0]["stun_answered"], 0)
        self.assertGreater(per[1]["stun_answered"], 0)
        self.assertEqual(per[0]["stun_answered"] + per[1]["stun_answered"], sources * rounds)
        self.assertEqual(total["stun_answered"], sources * rounds)
        # one owner of the session table: lcore 0 forwards, lcore 1 never does
        self.assertGreaterEqual(per[0]["derp_forwarded"], 20)
        self.assertEqual(per[1]["derp_forwarded"], 0)
        self.assertEqual(per[1]["sessions_up"], 0)
        # TCP crossed the exception path (on whichever lcore its flow hashed to)
        self.assertGreater(per[0]["exception_in"] + per[1]["exception_in"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
