# SPDX-License-Identifier: BSD-3-Clause
"""Client admission (docs/protocol.md §8; checklist items 32 and 33)
against stub LocalAPI and webhook servers that implement the documented
contract (admission_stubs.py).
"""
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import derpclient as dc  # noqa: E402
from admission_stubs import LocalAPIStub, WebhookStub  # noqa: E402
from relay import Relay  # noqa: E402
from nacl.public import PrivateKey  # noqa: E402

MESH_KEY = "3c" * 32


def connect(port, key=None, **kw):
    """A client that completed the handshake, or None when the relay
    closed the connection without a ServerInfo (a rejection)."""
    try:
        return dc.Client("127.0.0.1", port, key=key, **kw)
    except (dc.Closed, ConnectionError):
        return None


def relay_conf(tmp, name, verify, extra=""):
    return ('verify: { %s };\n'
            'dataplane: { eal = ["--file-prefix=verify%d_%s"]; };\n%s'
            % (verify, os.getpid(), name, extra))


class Base(unittest.TestCase):
    @classmethod
    def start(cls, name, verify, extra=""):
        if "relays" not in cls.__dict__:
            cls.relays = []
        r = Relay(conf=relay_conf(cls.tmp, name, verify, extra))
        cls.relays.append(r)
        return r

    @classmethod
    def tearDownClass(cls):
        try:
            for r in cls.relays:
                rc = r.stop()
                assert rc == 0, "derper exited %s:\n%s" % (rc, r.log())
                r.assert_clean()
        finally:
            for r in cls.relays:
                r.cleanup()
            cls.relays = []
            cls.cleanup_stubs()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def cleanup_stubs(cls):
        pass

    def assert_relays(self, a, b):
        data = os.urandom(64)
        a.send_packet(b.pub, data)
        self.assertEqual(b.recv_packet(), (a.pub, data))


class LocalAPIBase(Base):
    """A relay verifying through a LocalAPI stub (cls.api)."""

    @classmethod
    def cleanup_stubs(cls):
        cls.api.close()

    def allowed_key(self):
        k = PrivateKey.generate()
        self.api.allowed.add(bytes(k.public_key))
        return k


class LocalAPITest(LocalAPIBase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="derper-verify-")
        psk = os.path.join(cls.tmp, "mesh.key")
        with open(psk, "w") as f:
            f.write(MESH_KEY)
        os.chmod(psk, 0o600)
        cls.sock = os.path.join(cls.tmp, "tailscaled.sock")
        cls.api = LocalAPIStub(cls.sock)
        cls.relay = cls.start("local", 'clients = true; socket = "%s";' % cls.sock,
                              'mesh: { psk_file = "%s"; };\n' % psk)
        cls.port = cls.relay.port


    def whois(self, key):
        path = "/localapi/v0/whois?addr=nodekey%3A" + bytes(key.public_key).hex()
        return self.api.seen(lambda r: r["path"] == path)

    def test_33_request_and_admit(self):
        ka, kb = self.allowed_key(), self.allowed_key()
        a, b = connect(self.port, ka), connect(self.port, kb)
        self.assertIsNotNone(a)
        self.assertIsNotNone(b)
        req = self.whois(ka)
        self.assertEqual(len(req), 1)
        self.assertEqual(req[0]["method"], "GET")
        self.assertEqual(req[0]["headers"].get("Host"), "local-tailscaled.sock")
        self.assertTrue(req[0]["headers"].get("Tailscale-Cap", "").isdigit())
        self.assertNotIn("Referer", req[0]["headers"])
        self.assertNotIn("Origin", req[0]["headers"])
        self.assert_relays(a, b)
        self.assert_relays(b, a)
        a.close()
        b.close()

    def test_33_unknown_key_closed(self):
        k = PrivateKey.generate()
        self.assertIsNone(connect(self.port, k))
        self.assertEqual(len(self.whois(k)), 1)
        self.relay.wait_log(r'msg="admission: client rejected".* reason=unknown_key')

    def test_cache(self):
        # a reconnect storm asks tailscaled once per key and TTL
        ka, ku = self.allowed_key(), PrivateKey.generate()
        for _ in range(5):
            c = connect(self.port, ka)
            self.assertIsNotNone(c)
            c.close()
            self.assertIsNone(connect(self.port, ku))
        self.assertEqual(len(self.whois(ka)), 1)
        self.assertEqual(len(self.whois(ku)), 1)
        tel = self.relay.telemetry("/derper/admission")
        self.assertGreaterEqual(tel["cache_hits"], 8)
        self.assertGreaterEqual(tel["rejected_unknown_key"], 5)

    def test_concurrent_lookups_share_one(self):
        k = self.allowed_key()
        got = []

        def one():
            got.append(connect(self.port, k))
        threads = [threading.Thread(target=one) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertTrue(all(c is not None for c in got))
        self.assertEqual(len(self.whois(k)), 1)
        for c in got:
            c.close()

    def test_41_pipelined_while_verifying(self):
        kb = self.allowed_key()
        b = connect(self.port, kb)
        # fast start: ClientInfo, NotePreferred and a SendPacket in one
        # write, all before the verdict
        ka = self.allowed_key()
        probe = connect(self.port, self.allowed_key())
        server_pub = probe.server_pub
        probe.close()
        a = dc.Client("127.0.0.1", self.port, key=ka, fast_start_key=server_pub,
                      handshake=False)
        a.conn.send_frame(dc.NOTE_PREFERRED, b"\x01")
        a.send_packet(b.pub, b"sent-while-verifying")
        a.handshake()
        self.assertEqual(b.recv_packet(), (a.pub, b"sent-while-verifying"))
        a.close()
        b.close()

    def test_mesh_peer_not_asked(self):
        k = PrivateKey.generate()
        m = connect(self.port, k, client_info={"version": 2, "meshKey": MESH_KEY})
        self.assertIsNotNone(m)
        self.assertEqual(self.whois(k), [])
        m.close()

    def test_33_localapi_down_fails_closed(self):
        r = self.start("down", 'clients = true; socket = "%s/nonexistent.sock";' % self.tmp)
        k = PrivateKey.generate()
        self.assertIsNone(connect(r.port, k))
        r.wait_log(r'msg="admission: client rejected".* reason=localapi_unreachable')


class LegacyLocalAPITest(LocalAPIBase):
    """A tailscaled older than v1.70 (no whois by node key): the relay finds
    out from its first answer, says so once (log and metric), and admits by
    the node's status peer list, fetched on demand at most every
    verify.refresh_ms, never once per connection."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="derper-verify-legacy-")
        cls.sock = os.path.join(cls.tmp, "tailscaled.sock")
        cls.api = LocalAPIStub(cls.sock, legacy=True)
        cls.relay = cls.start("legacy", 'clients = true; socket = "%s"; refresh_ms = 300;'
                              ' negative_ttl_s = 1;' % cls.sock)
        cls.port = cls.relay.port


    def status_calls(self):
        return len(self.api.seen(lambda r: r["path"] == "/localapi/v0/status"))

    def test_peers_admitted_others_refused(self):
        ka, kb = self.allowed_key(), self.allowed_key()
        a, b = connect(self.port, ka), connect(self.port, kb)
        self.assertIsNotNone(a)
        self.assertIsNotNone(b)
        self.assert_relays(a, b)
        self.assertIsNone(connect(self.port, PrivateKey.generate()))
        self.relay.wait_log(r'msg="admission: tailscaled verification mode" mode=status')
        tel = self.relay.telemetry("/derper/admission")
        self.assertEqual(tel["localapi_mode"], 2)
        self.assertGreaterEqual(tel["rejected_unknown_key"], 1)
        self.assertEqual(tel["rejected_version_skew"], 0)
        a.close()
        b.close()

    def test_no_lookup_per_connection(self):
        keys = [self.allowed_key() for _ in range(10)]
        self.assertIsNotNone(connect(self.port, keys[0]))   # the list now has them
        calls = self.status_calls()
        got = [connect(self.port, k) for k in keys for _ in range(3)]
        self.assertTrue(all(c is not None for c in got))
        self.assertLessEqual(self.status_calls() - calls, 1)
        for c in got:
            c.close()

    def test_new_peer_admitted_within_a_second(self):
        connect(self.port, self.allowed_key())          # a list exists
        k = PrivateKey.generate()
        self.assertIsNone(connect(self.port, k))       # not a peer yet
        self.api.allowed.add(bytes(k.public_key))        # the tailnet learns it
        t0 = time.monotonic()
        c = None
        while c is None and time.monotonic() - t0 < 5:
            c = connect(self.port, k)
            if c is None:
                time.sleep(0.1)
        self.assertIsNotNone(c)
        # negative_ttl_s = 1, refresh_ms = 300: a second and a bit
        self.assertLess(time.monotonic() - t0, 2.0)
        c.close()

    def test_tailscaled_down_then_back(self):
        k = self.allowed_key()
        self.api.close()
        self.assertIsNone(connect(self.port, PrivateKey.generate()))
        self.relay.wait_log(r'reason=localapi_unreachable')
        type(self).api = LocalAPIStub(self.sock, legacy=True)
        self.api.allowed.add(bytes(k.public_key))
        c = None
        t0 = time.monotonic()
        while c is None and time.monotonic() - t0 < 10:
            c = connect(self.port, k)
            if c is None:
                time.sleep(0.2)
        self.assertIsNotNone(c)
        c.close()


class WebhookTest(Base):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="derper-webhook-")
        cls.hook = WebhookStub()
        # no caching here: every connect asks the webhook
        cls.relay = cls.start("hook", 'url = "%s"; timeout_s = 2; cache_ttl_s = 0; '
                              'negative_ttl_s = 0;' % cls.hook.url)
        cls.port = cls.relay.port

    @classmethod
    def cleanup_stubs(cls):
        cls.hook.close()

    def setUp(self):
        self.hook.status = 200

    def allowed_key(self):
        k = PrivateKey.generate()
        self.hook.allowed.add(bytes(k.public_key))
        return k

    def posts(self, key):
        want = "nodekey:" + bytes(key.public_key).hex()
        return self.hook.seen(lambda r: (r["body"] or {}).get("NodePublic") == want)

    def test_32_request_and_allow(self):
        ka, kb = self.allowed_key(), self.allowed_key()
        a, b = connect(self.port, ka), connect(self.port, kb)
        self.assertIsNotNone(a)
        self.assertIsNotNone(b)
        req = self.posts(ka)
        self.assertEqual(len(req), 1)
        self.assertEqual(req[0]["method"], "POST")
        self.assertEqual(req[0]["path"], "/verify")
        self.assertEqual(req[0]["body"], {"NodePublic": "nodekey:" + bytes(ka.public_key).hex(),
                                          "Source": "127.0.0.1"})
        self.assertNotIn("Content-Type", req[0]["headers"])
        self.assert_relays(a, b)
        a.close()
        b.close()

    def test_32_allow_false_rejects(self):
        k = PrivateKey.generate()
        self.assertIsNone(connect(self.port, k))
        self.assertEqual(len(self.posts(k)), 1)

    def test_32_status_500_rejects_even_fail_open(self):
        self.hook.status = 500
        k = self.allowed_key()
        self.assertIsNone(connect(self.port, k))
        self.relay.wait_log(r'msg="admission: client rejected".* reason=webhook_status')

    def test_slow_webhook_deadline(self):
        # one client's verdict hangs; its session is closed at the
        # deadline (timeout_s = 2) while others keep relaying
        a, b = connect(self.port, self.allowed_key()), connect(self.port, self.allowed_key())
        slow = self.allowed_key()
        self.hook.delay[bytes(slow.public_key).hex()] = 8
        result = {}

        def slow_connect():
            t0 = time.monotonic()
            result["client"] = connect(self.port, slow)
            result["took"] = time.monotonic() - t0
        t = threading.Thread(target=slow_connect)
        t.start()
        while not self.posts(slow):
            self.assert_relays(a, b)  # the webhook has not been asked yet
        relayed = 0
        while t.is_alive():
            self.assert_relays(a, b)
            self.assert_relays(b, a)
            relayed += 2
        t.join()
        self.assertIsNone(result["client"])
        self.assertGreaterEqual(result["took"], 1.5)
        self.assertLess(result["took"], 6)
        self.assertGreater(relayed, 0)
        a.close()
        b.close()

    def test_32_webhook_down(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        dead = "http://127.0.0.1:%d/verify" % s.getsockname()[1]
        s.close()  # nothing listens there now: connection refused
        r_open = self.start("open", 'url = "%s";' % dead)
        r_closed = self.start("closed", 'url = "%s"; url_fail_open = false;' % dead)
        c = connect(r_open.port, PrivateKey.generate())
        self.assertIsNotNone(c)
        c.close()
        self.assertIsNone(connect(r_closed.port, PrivateKey.generate()))
        r_closed.wait_log(r'reason=webhook_unreachable')


class BothChecksTest(Base):
    """tailscaled first, then the webhook; both must pass."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="derper-both-")
        cls.sock = os.path.join(cls.tmp, "tailscaled.sock")
        cls.api = LocalAPIStub(cls.sock)
        cls.hook = WebhookStub()
        cls.relay = cls.start("both", 'clients = true; socket = "%s"; url = "%s";'
                              % (cls.sock, cls.hook.url))
        cls.port = cls.relay.port

    @classmethod
    def cleanup_stubs(cls):
        cls.api.close()
        cls.hook.close()

    def test_both(self):
        def key(api, hook):
            k = PrivateKey.generate()
            if api:
                self.api.allowed.add(bytes(k.public_key))
            if hook:
                self.hook.allowed.add(bytes(k.public_key))
            return k
        def asked_hook(k):
            return self.hook.seen(
                lambda r: (r["body"] or {}).get("NodePublic") == "nodekey:" + bytes(k.public_key).hex())
        ok = key(True, True)
        c = connect(self.port, ok)
        self.assertIsNotNone(c)
        c.close()
        self.assertIsNone(connect(self.port, key(True, False)))
        no_api = key(False, True)
        self.assertIsNone(connect(self.port, no_api))
        self.assertEqual(asked_hook(no_api), [])  # tailscaled said no first


if __name__ == "__main__":
    unittest.main(verbosity=2)
