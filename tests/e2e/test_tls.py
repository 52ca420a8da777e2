# SPDX-License-Identifier: BSD-3-Clause
"""TLS on the wire after the handshake: the relay carries TLS 1.3 records
itself (tls/record.c) and frees OpenSSL's connection object, so these tests
talk to it with TLS implementations other than the OpenSSL it was built
with where they can: GnuTLS's gnutls-cli (KeyUpdate both kinds, every
TLS 1.3 suite), Python's ssl module driven through a memory BIO (to put a
broken record on the wire), and a TLS 1.2 client (OpenSSL keeps those)."""
import os
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from acme_env import free_port  # noqa: E402
from derpclient import Client  # noqa: E402
from relay import Relay  # noqa: E402
from tools import needs  # noqa: E402

GNUTLS = "/usr/bin/gnutls-cli"


def tls_counters(relay, want, timeout=10):
    """/derper/tls once want(counters) holds (counters are published when a
    session ends, which the client may see a moment before the relay)."""
    end = time.monotonic() + timeout
    while True:
        c = relay.telemetry("/derper/tls")
        if want(c) or time.monotonic() > end:
            return c
        time.sleep(0.02)


def gnutls(port, script, priority=None):
    args = [GNUTLS, "--insecure", "--inline-commands", "-p", str(port), "127.0.0.1"]
    if priority:
        args[1:1] = ["--priority", priority]
    return subprocess.run(args, input=script, capture_output=True, text=True, timeout=30)


REQ = "GET /generate_204 HTTP/1.1\r\nHost: localhost\r\n\r\n"
LAST = "GET /generate_204 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


class TlsRecordTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.relay = Relay(conf='dataplane: { eal = [ "--file-prefix=e2e-tls" ]; };')

    @classmethod
    def tearDownClass(cls):
        cls.relay.stop()
        cls.relay.assert_clean()
        cls.relay.cleanup()

    @needs(GNUTLS, package="gnutls-bin")
    def test_gnutls_key_updates(self):
        before = self.relay.telemetry("/derper/tls")
        # ^rekey^: KeyUpdate asking for ours; ^rekey1^: only GnuTLS's key
        r = gnutls(self.relay.port, REQ + "^rekey^\n" + REQ + "^rekey1^\n" + LAST)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertIn("(TLS1.3", r.stdout)
        self.assertEqual(r.stdout.count("HTTP/1.1 204 No Content"), 3, r.stdout[-2000:])
        self.assertEqual(r.stdout.count("Rekey was completed"), 2)
        c = tls_counters(self.relay, lambda c: c["key_updates_in"] >= before["key_updates_in"] + 2)
        self.assertEqual(c["key_updates_in"] - before["key_updates_in"], 2)
        self.assertEqual(c["key_updates_out"] - before["key_updates_out"], 1)
        self.assertEqual(c["close_tls_record"], before["close_tls_record"])
        self.assertGreater(c["tls13_records"], before["tls13_records"])

    @needs(GNUTLS, package="gnutls-bin")
    def test_gnutls_every_suite(self):
        for cipher in ("AES-128-GCM", "AES-256-GCM", "CHACHA20-POLY1305"):
            with self.subTest(cipher=cipher):
                r = gnutls(self.relay.port, REQ + LAST,
                           priority="NORMAL:-CIPHER-ALL:+%s:-VERS-ALL:+VERS-TLS1.3" % cipher)
                self.assertEqual(r.returncode, 0, r.stderr[-2000:])
                self.assertIn("-(%s)" % cipher, r.stdout)
                self.assertEqual(r.stdout.count("HTTP/1.1 204 No Content"), 2)

    def test_relay_tls12_and_tls13(self):
        """A TLS 1.2 client (OpenSSL's records) and a TLS 1.3 one (ours)
        relay to each other."""
        before = self.relay.telemetry("/derper/tls")
        a = Client("127.0.0.1", self.relay.port, tls_max=ssl.TLSVersion.TLSv1_2)
        b = Client("127.0.0.1", self.relay.port)
        self.assertEqual(a.conn.tls_version, "TLSv1.2")
        self.assertEqual(b.conn.tls_version, "TLSv1.3")
        big = os.urandom(65536)
        a.send_packet(b.pub, big)
        self.assertEqual(b.recv_packet(), (a.pub, big))
        b.send_packet(a.pub, b"x" * 1200)
        self.assertEqual(a.recv_packet(), (b.pub, b"x" * 1200))
        c = self.relay.telemetry("/derper/tls")
        self.assertEqual(c["tls_openssl"] - before["tls_openssl"], 1)
        self.assertEqual(c["tls13_records"] - before["tls13_records"], 1)
        a.close()
        b.close()

    def test_broken_record_closes_only_that_session(self):
        """A record whose tag does not verify closes its session, counted as
        tls_record; another session goes on relaying."""
        before = self.relay.telemetry("/derper/tls")
        a = Client("127.0.0.1", self.relay.port)
        b = Client("127.0.0.1", self.relay.port)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        sock = socket.create_connection(("127.0.0.1", self.relay.port), timeout=10)
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(out.read())
                inc.write(sock.recv(65536))
        sock.sendall(out.read())
        obj.write(b"GET /generate_204 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        record = bytearray(out.read())
        record[-1] ^= 0x55          # the AEAD tag
        sock.sendall(bytes(record))
        sock.settimeout(10)
        data = sock.recv(65536)     # the relay closes without answering
        while data:
            self.assertNotIn(b"204", data)
            data = sock.recv(65536)
        sock.close()
        c = tls_counters(self.relay, lambda c: c["close_tls_record"] > before["close_tls_record"])
        self.assertEqual(c["close_tls_record"] - before["close_tls_record"], 1)
        a.send_packet(b.pub, b"still here")
        self.assertEqual(b.recv_packet(), (a.pub, b"still here"))
        a.close()
        b.close()


class Port80Test(unittest.TestCase):
    """docs/protocol.md §10.2, checklist item 39: the plain-HTTP companion
    of a TLS listener (http_port)."""

    def test_port80_companion(self):
        import http.client
        p80 = free_port()
        with Relay(args=["-http-port", str(p80)]) as r:
            self.assertTrue(any("http_port=%d" % p80 in l for l in r.lines))

            def get(method, path, headers=None, body=None):
                c = http.client.HTTPConnection("127.0.0.1", p80, timeout=10)
                c.request(method, path, body=body, headers=headers or {})
                resp = c.getresponse()
                data = resp.read()
                c.close()
                return resp, data

            resp, body = get("GET", "/anything?q=1")
            self.assertEqual(resp.status, 302)
            self.assertEqual(resp.getheader("Location"), "https://127.0.0.1:%d/anything?q=1" % p80)
            self.assertIn(b"Found</a>", body)
            resp, _ = get("GET", "/generate_204", {"X-Tailscale-Challenge": "abc"})
            self.assertEqual(resp.status, 204)
            self.assertEqual(resp.getheader("X-Tailscale-Response"), "response abc")
            resp, body = get("POST", "/derp", body=b"x")
            self.assertEqual((resp.status, body), (400, b"Use HTTPS\n"))
            # no DERP on port 80: an upgrade request is redirected too
            resp, _ = get("GET", "/derp", {"Upgrade": "DERP", "Connection": "Upgrade"})
            self.assertEqual(resp.status, 302)
            # loopback may see /debug/: "/" goes there
            resp, _ = get("GET", "/")
            self.assertEqual(resp.getheader("Location"), "https://127.0.0.1:%d/debug/" % p80)
            # and TLS DERP on the main port is unaffected
            a = Client("127.0.0.1", r.port)
            b = Client("127.0.0.1", r.port)
            a.send_packet(b.pub, b"hi")
            self.assertEqual(b.recv_packet(), (a.pub, b"hi"))
            a.close()
            b.close()
            r.stop()
            r.assert_clean()


if __name__ == "__main__":
    unittest.main(verbosity=2)
