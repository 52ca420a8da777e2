# SPDX-License-Identifier: BSD-3-Clause
"""Hostile clients and faults (issue: reliability). Each case has a
measurable expectation: the connection is cut off for a counted reason
(/derper/tls), and a pair of well-behaved clients keeps relaying through
it all. Deadlines in this relay are short (2 s) so the cut-offs are quick.
"""
import os
import random
import resource
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import derpclient as dc  # noqa: E402
from relay import Relay  # noqa: E402

CONF = ("limits: { handshake_timeout_s = 2; http_head_timeout_s = 2; tcp_write_timeout_s = 2;"
        " send_queue_depth = 8; max_sessions = 5000; };\n"
        'dataplane: { eal = [ "--file-prefix=e2e-hostile" ]; };\n')


# B hears from other senders in some tests: their PeerGone frames are fine
SKIP = (dc.KEEP_ALIVE, dc.SERVER_KEY, dc.PING, dc.HEALTH, dc.PEER_GONE)


def wait_closed(sock, within):
    """Seconds until the peer closes the connection (reads are discarded)."""
    t0 = time.monotonic()
    sock.settimeout(within)
    try:
        while sock.recv(65536):
            pass
    except (ConnectionResetError, ssl.SSLError):
        pass
    except (socket.timeout, TimeoutError):
        raise AssertionError("still open after %.1f s" % within)
    return time.monotonic() - t0


class HostileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.relay = Relay(conf=CONF)
        cls.port = cls.relay.port
        cls.a = dc.Client("127.0.0.1", cls.port)
        cls.b = dc.Client("127.0.0.1", cls.port)

    @classmethod
    def tearDownClass(cls):
        cls.a.close()
        cls.b.close()
        cls.relay.stop()
        cls.relay.assert_clean()
        cls.relay.cleanup()

    def setUp(self):
        self.before = self.relay.telemetry("/derper/tls")

    def closed_for(self, reason, n=1):
        end = time.monotonic() + 10
        while True:
            d = self.relay.telemetry("/derper/tls")["close_" + reason] - self.before["close_" + reason]
            if d >= n or time.monotonic() > end:
                return d
            time.sleep(0.02)

    def tearDown(self):
        # the well-behaved pair is never disturbed
        msg = os.urandom(200)
        self.a.send_packet(self.b.pub, msg)
        self.assertEqual(self.b.recv_packet(skip=SKIP), (self.a.pub, msg))

    def tls(self, sock):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx.wrap_socket(sock, server_hostname="localhost")

    def test_slowloris_head(self):
        s = self.tls(socket.create_connection(("127.0.0.1", self.port)))
        head = b"GET /derp HTTP/1.1\r\nHost: localhost\r\nUpgrade: DERP\r\n"
        t0 = time.monotonic()
        try:
            for byte in head:            # a byte every 100 ms: 5+ s for the head
                s.sendall(bytes([byte]))
                time.sleep(0.1)
        except OSError:
            pass                         # cut off while trickling
        elapsed = time.monotonic() - t0 + wait_closed(s, 10)
        self.assertGreaterEqual(elapsed, 1.5)    # not before the deadline
        self.assertLess(elapsed, len(head) * 0.1)  # long before the head was done
        self.assertEqual(self.closed_for("handshake_timeout"), 1)

    def test_tls_handshake_never_finished(self):
        s = socket.create_connection(("127.0.0.1", self.port))
        s.sendall(b"\x16\x03\x01\x02\x00\x01")   # the start of a ClientHello, no more
        self.assertGreaterEqual(wait_closed(s, 10), 1.5)
        self.assertEqual(self.closed_for("handshake_timeout"), 1)

    def test_garbage_before_tls(self):
        s = socket.create_connection(("127.0.0.1", self.port))
        s.sendall(random.Random(7).randbytes(4096))
        wait_closed(s, 10)
        self.assertEqual(self.closed_for("tls_handshake"), 1)

    def test_4gib_frame_claim(self):
        c = dc.Client("127.0.0.1", self.port)
        c.conn.send_raw(struct.pack(">BI", dc.SEND_PACKET, 0xFFFFFFFF))
        self.assertTrue(c.expect_closed(within=5))
        self.assertEqual(self.closed_for("bad_frame"), 1)

    def test_websocket_huge_message(self):
        c = dc.Client("127.0.0.1", self.port, websocket=True)
        hdr = struct.pack(">BBQ", 0x82, 0x80 | 127, 1 << 40) + os.urandom(4)
        c.conn.send_raw(hdr)
        self.assertTrue(c.expect_closed(within=5))
        self.assertEqual(self.closed_for("websocket"), 1)

    def test_reader_that_never_reads(self):
        """Its queue head-drops, then the write timeout closes it; the sender
        is never blocked."""
        c = dc.Client("127.0.0.1", self.port)
        c.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        d = dc.Client("127.0.0.1", self.port)
        t0 = time.monotonic()

        def closed():
            return self.relay.telemetry("/derper/tls")["close_write_timeout"] > \
                self.before["close_write_timeout"]
        while not closed() and time.monotonic() - t0 < 30:
            for _ in range(200):
                d.send_packet(c.pub, b"x" * 1200)
            d.send_packet(self.b.pub, b"d is fine")
            self.assertEqual(self.b.recv_packet(skip=SKIP), (d.pub, b"d is fine"))
        self.assertEqual(self.closed_for("write_timeout"), 1)
        after = self.relay.telemetry("/derper/tls")
        self.assertGreater(after["drop_queue_head"], self.before["drop_queue_head"])
        c.close()
        d.close()

    def test_renegotiation_refused(self):
        """TLS 1.2 (OpenSSL's records): a client asking to renegotiate gets
        no new handshake; the connection goes on or ends, nothing else."""
        r = subprocess.run(["openssl", "s_client", "-tls1_2", "-connect", "127.0.0.1:%d" % self.port,
                            "-servername", "localhost"], input="R\n", capture_output=True,
                           text=True, timeout=30)
        self.assertIn("RENEGOTIATING", r.stderr)
        self.assertIn("no renegotiation", r.stderr)     # the relay's alert
        self.assertNotEqual(r.returncode, 0)

    def test_ten_thousand_connections_one_address(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 30000), hard))
        socks = []
        try:
            for _ in range(10000):
                socks.append(socket.create_connection(("127.0.0.1", self.port)))
            # max_sessions = 5000 (the pair and this test's own count too)
            refused = self.closed_for("max_sessions", 10000 - 5000 + 2)
            self.assertGreaterEqual(refused, 10000 - 5000 + 2 - 50)
            self.assertLessEqual(refused, 10000 - 5000 + 2)
        finally:
            for s in socks:
                s.close()
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        # the relay's table empties again: a new client gets in
        end = time.monotonic() + 20
        while True:
            try:
                c = dc.Client("127.0.0.1", self.port)
                break
            except (dc.Closed, OSError):
                self.assertLess(time.monotonic(), end)
                time.sleep(0.1)
        c.close()


class FaultTest(unittest.TestCase):
    def test_tailscaled_hanging(self):
        """verify_clients with a tailscaled that accepts and never answers:
        the client is closed at verify.timeout_s, nobody else waits."""
        import tempfile
        import threading
        d = tempfile.mkdtemp(prefix="derper-hang-")
        path = os.path.join(d, "tailscaled.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(64)
        held = []
        stop = threading.Event()

        def accept():
            srv.settimeout(0.2)
            while not stop.is_set():
                try:
                    held.append(srv.accept()[0])   # and never a byte back
                except OSError:
                    pass
        th = threading.Thread(target=accept, daemon=True)
        th.start()
        try:
            r = Relay(conf='verify: { clients = true; socket = "%s"; timeout_s = 2; };\n'
                      'dataplane: { eal = [ "--file-prefix=e2e-hang" ]; };\n' % path)
            self.addCleanup(r.cleanup)
            c = dc.Client("127.0.0.1", r.port, handshake=False)
            c.server_pub = c.read_server_key()
            c.conn.sendall(c.client_info_frame(None))
            t0 = time.monotonic()
            self.assertTrue(c.expect_closed(within=15))
            self.assertGreaterEqual(time.monotonic() - t0, 1.5)
            t = r.telemetry("/derper/tls")
            self.assertEqual(t["close_verify_timeout"] + t["close_verify_rejected"], 1)
            self.assertGreaterEqual(len(held), 1)         # it did ask tailscaled
            r.stop()
            r.assert_clean()
        finally:
            stop.set()
            th.join()
            srv.close()
            for s in held:
                s.close()


    def test_sigkill_then_restart_keeps_identity(self):
        """The server key and the certificate survive SIGKILL; clients come
        back and relay."""
        import shutil
        import tempfile
        state = tempfile.mkdtemp(prefix="derper-kill-")
        self.addCleanup(shutil.rmtree, state, True)
        conf = 'dataplane: { eal = [ "--file-prefix=e2e-kill" ]; };\n'
        r = Relay(conf=conf, state_dir=state)
        a = dc.Client("127.0.0.1", r.port)
        key = a.server_pub
        cert = ssl.DER_cert_to_PEM_cert(a.conn.sock.getpeercert(binary_form=True))
        r.proc.send_signal(signal.SIGKILL)
        r.proc.wait(10)
        self.assertTrue(a.expect_closed(within=5))
        r2 = Relay(conf=conf, state_dir=state)
        self.addCleanup(r2.cleanup)
        b = dc.Client("127.0.0.1", r2.port)
        c = dc.Client("127.0.0.1", r2.port)
        self.assertEqual(b.server_pub, key)
        self.assertEqual(ssl.DER_cert_to_PEM_cert(b.conn.sock.getpeercert(binary_form=True)), cert)
        b.send_packet(c.pub, b"back")
        self.assertEqual(c.recv_packet(), (b.pub, b"back"))
        b.close()
        c.close()
        r2.stop()
        r2.assert_clean()


if __name__ == "__main__":
    unittest.main(verbosity=2)
