# SPDX-License-Identifier: BSD-3-Clause
"""Regional mesh (docs/protocol.md §7), checklist items 22-29.

MeshServerTest drives one relay with a mesh key from the independent Python
client acting as a mesh peer: WatchConns dumps and updates, PeerPresent
flags and addresses, ForwardPacket, ClosePeer, a watcher with the server's
own key, a wrong mesh key.

MeshRegionTest runs three relays on loopback that mesh with each other the
way derper nodes do (mesh.peers = every node, "host:port/dialhost", one
pre-shared key, certificates from a test CA): clients on different relays
reach each other; killing one relay leaves the others working and it
rejoins when restarted; a client that moves is reachable at its new home
within a second; PeerGone crosses the mesh.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import derpclient as dc  # noqa: E402
from relay import Relay  # noqa: E402
from nacl.public import PrivateKey  # noqa: E402

MESH_KEY = "5a" * 32


def write_secret(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def server_private_key(relay):
    with open(os.path.join(relay.dir, "derper.key")) as f:
        hexkey = json.load(f)["PrivateKey"].split(":", 1)[1]
    return PrivateKey(bytes.fromhex(hexkey))


def frames_until_pong(c, tag=b"sync!!!!"):
    """Everything c receives before the pong of a fresh ping."""
    c.conn.send_frame(dc.PING, tag)
    seen = []
    while True:
        t, p = c.read_frame()
        if t == dc.PONG and p == tag:
            return seen
        if t in (dc.KEEP_ALIVE, dc.PING):
            continue
        seen.append((t, p))


def frames_until_echo(c):
    """Everything c receives before a packet it sends to itself comes back.
    The packet takes the same path as c's earlier frames (through the
    forwarding lcore), so what those caused arrives first: for WatchConns,
    the dump of a small table."""
    tag = os.urandom(8)
    c.send_packet(c.pub, tag)
    seen = []
    while True:
        t, p = c.read_frame()
        if t == dc.RECV_PACKET and p == c.pub + tag:
            return seen
        if t in (dc.KEEP_ALIVE, dc.PING):
            continue
        seen.append((t, p))


def read_until(c, ftype, pred=lambda p: True, within=5.0):
    """The payload of the first frame of ftype satisfying pred."""
    c.conn.sock.settimeout(within)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        t, p = c.read_frame()
        if t == dc.PING:
            c.conn.send_frame(dc.PONG, p[:8])
        elif t == ftype and pred(p):
            return p
    raise AssertionError("no frame %#x in %.1fs" % (ftype, within))


def v4mapped(ip, port):
    return bytes(10) + b"\xff\xff" + socket.inet_aton(ip) + port.to_bytes(2, "big")


class MeshServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="derper-mesh-")
        psk = os.path.join(cls.tmp, "mesh.key")
        write_secret(psk, "  " + MESH_KEY + "\n")
        cls.relay = Relay(conf='mesh: { psk_file = "%s"; };\n' % psk)
        cls.port = cls.relay.port
        cls.relay.wait_log(r'msg="tls: mesh key loaded"')

    @classmethod
    def tearDownClass(cls):
        rc = cls.relay.stop()
        try:
            assert rc == 0, "derper exited %s:\n%s" % (rc, cls.relay.log())
            cls.relay.assert_clean()
        finally:
            cls.relay.cleanup()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def client(self, **kw):
        return dc.Client("127.0.0.1", self.port, **kw)

    def mesh_client(self, key=None, mesh_key=MESH_KEY):
        return self.client(key=key, client_info={"version": 2, "meshKey": mesh_key})

    def present_frames(self, seen):
        out = {}
        for t, p in seen:
            if t == dc.PEER_PRESENT:
                self.assertEqual(len(p), 51)
                out[p[:32]] = p
        return out

    def test_22_mesh_frames_without_key(self):
        # a regular client, and one with a wrong mesh key: no privileges
        for info in ({"version": 2}, {"version": 2, "meshKey": "ab" * 32}):
            for t, p in ((dc.WATCH_CONNS, b""), (dc.CLOSE_PEER, os.urandom(32)),
                         (dc.FORWARD_PACKET, os.urandom(64) + b"x")):
                c = self.client(client_info=info)
                c.conn.send_frame(t, p)
                self.assertTrue(c.expect_closed(), (info, t))

    def test_23_watch_conns(self):
        a = self.client()
        b = self.client(extra_headers=b"Ideal-Node: derp9\r\n")
        w = self.mesh_client()
        w.conn.send_frame(dc.WATCH_CONNS)
        got = self.present_frames(frames_until_echo(w))
        # everyone connected, the watcher included
        for c in (a, b, w):
            self.assertIn(c.pub, got)
            ip, port = c.conn.sock.getsockname()[:2]
            self.assertEqual(got[c.pub][32:50], v4mapped(ip, port))
        self.assertEqual(got[a.pub][50], 0x01)
        self.assertEqual(got[b.pub][50], 0x08)	# item 24: Ideal-Node
        self.assertEqual(got[w.pub][50], 0x02)	# item 24: mesh
        # a new client: PeerPresent; a prober shows 0x04
        p = self.client(client_info={"version": 2, "IsProber": True})
        frame = read_until(w, dc.PEER_PRESENT, lambda x: x[:32] == p.pub)
        self.assertEqual(frame[50], 0x04)
        # its disconnect: PeerGone(key, 0)
        p.close()
        gone = read_until(w, dc.PEER_GONE, lambda x: x[:32] == p.pub)
        self.assertEqual(gone[32:], b"\x00")
        for c in (a, b, w):
            c.close()

    def test_25_forward_packet(self):
        b = self.client()
        m = self.mesh_client()
        s = os.urandom(32)
        m.conn.send_frame(dc.FORWARD_PACKET, s + b.pub + b"forwarded")
        self.assertEqual(b.recv_packet(), (s, b"forwarded"))
        # unknown destination, disco payload: NotHere back to the mesh peer
        nobody = os.urandom(32)
        m.conn.send_frame(dc.FORWARD_PACKET, s + nobody + dc.disco_payload())
        gone = read_until(m, dc.PEER_GONE)
        self.assertEqual(gone, nobody + b"\x01")
        # a forwarded packet is not forwarded again, and a malformed one
        # (shorter than two keys) closes the mesh connection
        m.conn.send_frame(dc.FORWARD_PACKET, s + b"short")
        self.assertTrue(m.expect_closed())
        b.close()

    def test_26_close_peer(self):
        key = PrivateKey.generate()
        b1 = self.client(key=key)
        b2 = self.client(key=key)
        other = self.client()
        m = self.mesh_client()
        m.conn.send_frame(dc.CLOSE_PEER, bytes(key.public_key))
        self.assertTrue(b1.expect_closed())
        self.assertTrue(b2.expect_closed())
        # others are untouched; an unknown key is only logged
        m.conn.send_frame(dc.CLOSE_PEER, os.urandom(32))
        other.conn.send_frame(dc.PING, b"stillup!")
        self.assertEqual(read_until(other, dc.PONG), b"stillup!")
        m.conn.send_frame(dc.PING, b"meshup!!")
        self.assertEqual(read_until(m, dc.PONG), b"meshup!!")
        other.close()
        m.close()

    def test_27_watcher_with_server_key(self):
        a = self.client()
        me = self.mesh_client(key=server_private_key(self.relay))
        me.conn.send_frame(dc.WATCH_CONNS)
        seen = frames_until_echo(me)
        self.assertEqual([t for t, _ in seen if t == dc.PEER_PRESENT], [])
        a.close()
        me.close()

    def test_28_duplicate_and_watchers(self):
        key = PrivateKey.generate()
        w = self.mesh_client()
        w.conn.send_frame(dc.WATCH_CONNS)
        frames_until_echo(w)
        b1 = self.client(key=key)
        read_until(w, dc.PEER_PRESENT, lambda p: p[:32] == b1.pub)
        b2 = self.client(key=key)
        read_until(w, dc.PEER_PRESENT, lambda p: p[:32] == b2.pub)
        b1.close()
        # no PeerGone for b's key while b2 is connected
        self.assertNotIn(dc.PEER_GONE, [t for t, _ in frames_until_pong(w, b"dup1!!!!")])
        b2.close()
        gone = read_until(w, dc.PEER_GONE, lambda p: p[:32] == b2.pub)
        self.assertEqual(gone[32], 0)
        w.close()


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def make_certs(d, names):
    """A test CA and, per name, a certificate for it and 127.0.0.1."""
    def run(*args):
        subprocess.run(args, check=True, capture_output=True)
    ca_key, ca = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=derper test CA")
    for name in names:
        cdir = os.path.join(d, name)
        os.makedirs(cdir)
        key, csr, crt = (os.path.join(cdir, name + ext) for ext in (".key", ".csr", ".crt"))
        ext = os.path.join(cdir, "ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:%s,IP:127.0.0.1\n" % name)
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=" + name)
        run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
            "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext)
        os.chmod(key, 0o600)
    return ca


class MeshRegionTest(unittest.TestCase):
    N = 3

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="derper-region-")
        cls.names = ["derp%d.test" % (i + 1) for i in range(cls.N)]
        cls.ca = make_certs(cls.tmp, cls.names)
        cls.psk = os.path.join(cls.tmp, "mesh.key")
        write_secret(cls.psk, MESH_KEY)
        cls.ports = free_ports(cls.N)
        # every node lists every node, as derper deployments do. With a
        # port in the entry, the entry is not the node's bare name, so
        # each node dials itself once and stops when it sees its own key.
        cls.peers = ["%s:%d/127.0.0.1" % (n, p) for n, p in zip(cls.names, cls.ports)]
        cls.relays = [None] * cls.N
        for i in range(cls.N):
            cls.relays[i] = cls.start_relay(i)
        for i, r in enumerate(cls.relays):
            cls.wait_links(r, i)

    @classmethod
    def start_relay(cls, i):
        state = os.path.join(cls.tmp, "state%d" % i)
        os.makedirs(state, exist_ok=True)
        conf = ('cert: { mode = "manual"; dir = "%s"; };\n'
                'mesh: { psk_file = "%s"; ca_file = "%s"; peers = [%s]; };\n'
                'dataplane: { eal = ["--file-prefix=mesh%d_%d"]; };\n'
                % (os.path.join(cls.tmp, cls.names[i]), cls.psk, cls.ca,
                   ", ".join('"%s"' % p for p in cls.peers), os.getpid(), i))
        return Relay(conf=conf, tls=False, hostname=cls.names[i], state_dir=state,
                     listen="127.0.0.1:%d" % cls.ports[i])

    @classmethod
    def wait_links(cls, relay, i, timeout=30):
        """Every sibling link of relay i is up."""
        for j, name in enumerate(cls.names):
            if j != i:
                relay.wait_log(r'msg="mesh: link up" peer="%s:' % name, timeout)

    @classmethod
    def tearDownClass(cls):
        try:
            for r in cls.relays:
                if r is None:
                    continue
                rc = r.stop()
                assert rc == 0, "derper exited %s:\n%s" % (rc, r.log())
                r.assert_clean()
        finally:
            for r in cls.relays:
                if r is not None:
                    r.cleanup()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def client(self, i, key=None):
        return dc.Client("127.0.0.1", self.ports[i], key=key, sni=self.names[i])

    def deliver(self, a, b, data=None, within=10.0):
        """a sends to b until b receives it (the routes may still be
        propagating); returns the seconds it took."""
        data = data or os.urandom(16)
        t0 = time.monotonic()
        b.conn.sock.settimeout(0.05)
        while time.monotonic() - t0 < within:
            a.send_packet(b.pub, data)
            try:
                while True:
                    t, p = b.read_frame()
                    if t == dc.RECV_PACKET and p == a.pub + data:
                        b.conn.sock.settimeout(10)
                        return time.monotonic() - t0
                    if t == dc.PING:
                        b.conn.send_frame(dc.PONG, p[:8])
            except socket.timeout:
                continue  # a partial frame stays buffered in b.conn
        raise AssertionError("b never received a's packet")

    def test_1_self_detection(self):
        for i, r in enumerate(self.relays):
            r.wait_log(r'msg="mesh: peer is this server; not dialling it again" '
                       r'peer="%s:' % self.names[i])

    def test_2_across_the_region(self):
        a, b = self.client(0), self.client(2)
        self.deliver(a, b)
        self.deliver(b, a)
        # a heard from b; b leaves: relay 1 tells a, via the mesh (item 29)
        b.close()
        gone = read_until(a, dc.PEER_GONE, lambda p: p[:32] == b.pub, within=10)
        self.assertEqual(gone[32], 0)
        a.close()

    def test_3_relay_down_and_back(self):
        a, c = self.client(0), self.client(2)
        self.deliver(a, c)
        self.relays[1].kill()
        for i in (0, 2):
            self.relays[i].wait_log(r'msg="mesh: link down" peer="derp2.test:', 15)
        self.deliver(a, c)
        self.deliver(c, a)
        self.relays[1] = self.start_relay(1)
        self.wait_links(self.relays[1], 1)
        # the others redial it after their backoff; deliver() waits
        b = self.client(1)
        self.deliver(a, b, within=20)
        self.deliver(b, c, within=20)
        for x in (a, b, c):
            x.close()

    def test_4_client_moves(self):
        key = PrivateKey.generate()
        a = self.client(2)
        b = self.client(0, key=key)
        self.deliver(a, b)
        b.close()
        b = self.client(1, key=key)
        took = self.deliver(a, b, within=5)
        self.assertLess(took, 1.0, "reachable at its new home after %.2fs" % took)
        a.close()
        b.close()

    def test_5_news_from_a_link_wakes_an_idle_relay(self):
        """What a mesh link's thread hands the forwarder (here the peer's
        PeerGone) wakes a relay whose TLS thread sleeps, also when that
        thread runs the forwarder itself (inline forwarding: it must watch
        the forwarder's eventfd). Without the kick the news waits for the
        thread's next timer, up to 250 ms: twelve rounds all inside 150 ms
        tell the two apart."""
        a = self.client(0)
        for i in range(12):
            b = self.client(2)
            self.deliver(a, b)
            self.deliver(b, a)
            # not synchronisation: relay 0's threads run out of work and
            # go to sleep, the state under test
            time.sleep(0.3)
            t0 = time.monotonic()
            b.close()
            read_until(a, dc.PEER_GONE, lambda p: p[:32] == b.pub, within=10)
            took = time.monotonic() - t0
            self.assertLess(took, 0.15, "round %d: PeerGone after %.3fs" % (i, took))
        a.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
