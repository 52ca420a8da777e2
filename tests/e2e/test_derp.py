# SPDX-License-Identifier: BSD-3-Clause
"""DERP over TLS against a running derper: the conformance checklist of
docs/protocol.md §13, item by item (the item number is in each test name),
plus malformed input and the relay's own promises.
"""
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import derpclient as dc  # noqa: E402
from relay import Relay  # noqa: E402
from nacl.public import PrivateKey  # noqa: E402


def http(port, raw, use_tls=True):
    """Send a raw request, return (status, headers dict, body)."""
    c = dc.Conn("127.0.0.1", port, use_tls=use_tls)
    c.send_raw(raw)
    head = c.read_http_head()
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for ln in lines[1:]:
        k, v = ln.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    body = c.read_exact(n) if n and not raw.startswith(b"HEAD") else b""
    c.close()
    return status, headers, body, lines[0]


class DerpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.relay = Relay(conf="limits: { handshake_timeout_s = 2; };\n")
        cls.port = cls.relay.port

    @classmethod
    def tearDownClass(cls):
        rc = cls.relay.stop()
        try:
            assert rc == 0, "derper exited %s:\n%s" % (rc, cls.relay.log())
            cls.relay.assert_clean()
        finally:
            cls.relay.cleanup()

    def client(self, **kw):
        return dc.Client("127.0.0.1", self.port, **kw)

    def pair(self):
        return self.client(), self.client()

    def assert_alive(self, c):
        """Ping/pong proves the session is up and read in order."""
        c.conn.send_frame(dc.PING, b"alive!!!")
        while True:
            t, p = c.read_frame()
            if t == dc.PONG:
                self.assertEqual(p, b"alive!!!")
                return
            self.assertIn(t, (dc.KEEP_ALIVE, dc.PEER_GONE, dc.RECV_PACKET, dc.PING))

    def stop_relay(self):
        """SIGSTOP, returning once the relay has stopped (kill returns
        before the signal has taken effect on another CPU)."""
        pid = self.relay.proc.pid
        os.kill(pid, signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "T":
                    return
        self.fail("the relay did not stop")

    def assert_eof_close_counted(self, before, timeout=5):
        """A session closes on its client's EOF within timeout (polled)."""
        deadline = time.monotonic() + timeout
        while True:
            after = self.relay.telemetry("/derper/tls")
            if after["close_eof"] > before["close_eof"] or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        self.assertGreater(after["close_eof"], before["close_eof"])

    def frames_until_pong(self, c):
        """Every frame c receives before the pong of a fresh ping."""
        c.conn.send_frame(dc.PING, b"frames!!")
        seen = []
        while True:
            t, p = c.read_frame()
            if t == dc.PONG and p == b"frames!!":
                return seen
            seen.append((t, p))

    # -- §13 items 1-12: upgrade and handshake --------------------------------
    def test_01_no_upgrade_426(self):
        st, h, body, _ = http(self.port, b"GET /derp HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(st, 426)
        self.assertIn(b"DERP requires connection upgrade", body)

    def test_02_101_response_exact(self):
        c = self.client(handshake=False)
        head = c.response_head.split("\r\n")
        self.assertEqual(head[0], "HTTP/1.1 101 Switching Protocols")
        self.assertEqual(head[1:5], ["Upgrade: DERP", "Connection: Upgrade", "Derp-Version: 2",
                                     head[4]])
        m = re.fullmatch(r"Derp-Public-Key: ([0-9a-f]{64})", head[4])
        self.assertIsNotNone(m, head[4])
        self.assertEqual(len(head), 5)
        key = c.read_server_key()
        self.assertEqual(key.hex(), m.group(1))
        c.close()

    def test_03_fast_start_first_bytes(self):
        key = self.client().server_pub
        c = dc.Conn("127.0.0.1", self.port)
        c.send_raw(b"GET /derp HTTP/1.1\r\nHost: x\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n"
                   b"Derp-Fast-Start: 1\r\n\r\n")
        first = c.read_exact(13)
        self.assertEqual(first, bytes.fromhex("0100000028") + dc.MAGIC)
        self.assertEqual(c.read_exact(32), key)
        c.close()

    def test_04_meta_cert(self):
        key = self.client().server_pub
        out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.port,
                              "-servername", "localhost", "-tls1_3", "-showcerts"],
                             input=b"", capture_output=True, timeout=20).stdout.decode()
        pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
        self.assertGreaterEqual(len(pems), 2)
        meta = subprocess.run(["openssl", "x509", "-noout", "-subject", "-serial"],
                              input=pems[-1].encode(), capture_output=True).stdout.decode()
        self.assertIn("CN = derpkey" + key.hex(), meta)
        self.assertIn("serial=02", meta)

    def test_05_fast_start_pipelined_client_info(self):
        key = self.client().server_pub
        c = self.client(fast_start_key=key)
        self.assertEqual(c.server_info["version"], 2)
        self.assertIsNone(c.response_head)
        self.assert_alive(c)

    def test_06_server_info(self):
        c = self.client(client_info={"version": 2, "CanAckPings": True})
        self.assertEqual(c.server_info, {"version": 2})

    def test_07_first_frame_not_client_info(self):
        c = self.client(handshake=False)
        c.read_server_key()
        c.conn.send_frame(dc.NOTE_PREFERRED, b"\x01")
        self.assertTrue(c.expect_closed())

    def test_08_box_to_wrong_key(self):
        c = self.client(handshake=False)
        c.read_server_key()
        c.server_pub = bytes(PrivateKey.generate().public_key)
        c.conn.sendall(c.client_info_frame(None))
        self.assertTrue(c.expect_closed())

    def test_09_client_info_length(self):
        for n in (55, 262145):
            c = self.client(handshake=False)
            c.read_server_key()
            try:
                c.conn.send_frame(dc.CLIENT_INFO, os.urandom(min(n, 64)) + b"\0" * max(0, n - 64))
            except OSError:
                pass   # closed while we were still sending: fine
            self.assertTrue(c.expect_closed(), n)

    def test_10_zero_client_key(self):
        c = self.client(handshake=False)
        c.server_pub = c.read_server_key()
        frame = c.client_info_frame(None)
        c.conn.sendall(frame[:5] + b"\0" * 32 + frame[37:])
        self.assertTrue(c.expect_closed())

    def test_11_silent_client_cut_off(self):
        # handshake_timeout_s = 2 in this relay's configuration
        c = self.client(handshake=False)
        c.read_server_key()
        t0 = time.monotonic()
        self.assertTrue(c.expect_closed(within=15))
        self.assertGreaterEqual(time.monotonic() - t0, 1.0)

    def test_12_bad_mesh_key(self):
        for mk in ("", "a" * 63, None):
            c = self.client(handshake=False)
            c.server_pub = c.read_server_key()
            c.conn.sendall(c.client_info_frame({"version": 2, "meshKey": mk}))
            self.assertTrue(c.expect_closed(), mk)

    # -- 13-21: relaying ---------------------------------------------------------
    def test_13_relay_sizes(self):
        a, b = self.pair()
        for n in (0, 1, 1200, 1280, 65536):
            data = os.urandom(n)
            a.send_packet(b.pub, data)
            src, got = b.recv_packet()
            self.assertEqual(src, a.pub)
            self.assertEqual(got, data, n)
            b.send_packet(a.pub, data)
            src, got = a.recv_packet()
            self.assertEqual((src, got), (b.pub, data))

    def test_14_oversize_closes_sender_only(self):
        a, b = self.pair()
        c = self.client()
        try:
            a.send_packet(b.pub, b"x" * 65537)
        except OSError:
            pass   # the server hung up before taking it all: that is the point
        self.assertTrue(a.expect_closed())
        c.send_packet(b.pub, b"still here")
        self.assertEqual(b.recv_packet(), (c.pub, b"still here"))

    def test_15_not_here_rate_limited(self):
        a = self.client()
        dst = bytes(PrivateKey.generate().public_key)
        for _ in range(10):
            a.send_packet(dst, dc.disco_payload())
        a.conn.sock.settimeout(0.5)
        got = []
        try:
            while True:
                t, p = a.read_frame()
                if t == dc.PEER_GONE:
                    got.append(p)
        except (socket.timeout, TimeoutError):
            pass
        a.conn.sock.settimeout(10)
        self.assertGreaterEqual(len(got), 1)
        self.assertLessEqual(len(got), 3)
        self.assertEqual(got[0], dst + b"\x01")

    def test_16_unknown_non_disco_silent(self):
        a = self.client()
        a.send_packet(bytes(PrivateKey.generate().public_key), b"wireguard-ish" * 10)
        self.assert_alive(a)   # the pong comes first: no PeerGone before it

    def test_17_peer_gone_disconnected(self):
        a, b = self.pair()
        c = self.client()
        a.send_packet(b.pub, b"hello")
        self.assertEqual(b.recv_packet(), (a.pub, b"hello"))
        a.close()
        t, p = b.read_frame()
        while t in (dc.KEEP_ALIVE, dc.PING):
            t, p = b.read_frame()
        self.assertEqual((t, p), (dc.PEER_GONE, a.pub + b"\x00"))
        self.assert_alive(c)   # c never heard from a: nothing before the pong

    def test_18_ping_pong(self):
        a = self.client()
        a.conn.send_frame(dc.PING, b"12345678")
        self.assertEqual(a.read_frame(), (dc.PONG, b"12345678"))
        a.conn.send_frame(dc.PING, b"abcdefghXXXX")
        self.assertEqual(a.read_frame(), (dc.PONG, b"abcdefgh"))
        b = self.client()
        b.conn.send_frame(dc.PING, b"1234567")
        self.assertTrue(b.expect_closed())
        c = self.client()
        c.conn.send_frame(dc.PING, b"x" * 1001)
        self.assertTrue(c.expect_closed())

    def test_19_note_preferred(self):
        a = self.client()
        a.conn.send_frame(dc.NOTE_PREFERRED, b"\x01")
        self.assert_alive(a)
        a.conn.send_frame(dc.NOTE_PREFERRED, b"\x01\x01")
        self.assertTrue(a.expect_closed())

    def test_20_unknown_frame_skipped(self):
        a, b = self.pair()
        a.conn.send_frame(0x7F, os.urandom(100))
        a.send_packet(b.pub, b"after unknown")
        self.assertEqual(b.recv_packet(), (a.pub, b"after unknown"))

    def test_22_mesh_frames_need_mesh_key(self):
        for t, p in ((dc.WATCH_CONNS, b""), (dc.CLOSE_PEER, os.urandom(32)),
                     (dc.FORWARD_PACKET, os.urandom(64) + b"x")):
            a = self.client()
            a.conn.send_frame(t, p)
            self.assertTrue(a.expect_closed(), hex(t))

    # -- 28, 30, 31: duplicates, slow readers, WebSocket ---------------------
    def test_28_duplicate_key_last_writer(self):
        key = PrivateKey.generate()
        b1 = self.client(key=key)
        b2 = self.client(key=key)
        a = self.client()
        self.assert_alive(b2)           # b2's registration is processed
        a.send_packet(b1.pub, b"to-b2")
        self.assertEqual(b2.recv_packet(), (a.pub, b"to-b2"))
        # b1 is told it no longer gets the key's packets (Health frame)
        t, p = b1.read_frame()
        while t in (dc.KEEP_ALIVE, dc.PING):
            t, p = b1.read_frame()
        self.assertEqual(t, dc.HEALTH)
        self.assertIn(b"another connection for this node key", p)
        b1.conn.send_frame(dc.NOTE_PREFERRED, b"\x01")   # b1 speaks
        # the ACTIVE notice travels through the dataplane, so the clearing
        # (empty Health) may arrive before or after the pong
        seen = self.frames_until_pong(b1)
        for t, p in seen:
            self.assertIn(t, (dc.KEEP_ALIVE, dc.PEER_GONE, dc.RECV_PACKET,
                              dc.PING, dc.HEALTH))
        cleared = (dc.HEALTH, b"") in seen
        # retry briefly until b1 is active again and its problem is cleared
        deadline = time.monotonic() + 5
        b1.conn.sock.settimeout(0.3)
        while True:
            a.send_packet(b1.pub, b"to-b1")
            try:
                t, p = b1.read_frame()
                while t != dc.RECV_PACKET:
                    cleared |= (t, p) == (dc.HEALTH, b"")
                    t, p = b1.read_frame()
                if (p[:32], p[32:]) == (a.pub, b"to-b1"):
                    break
            except (socket.timeout, TimeoutError):
                self.assertLess(time.monotonic(), deadline, "b1 never became active")
        b1.conn.sock.settimeout(10)
        self.assertTrue(cleared)
        w = self.client()   # a watcher-free check: b1 leaves, b2 takes over
        b1.close()
        deadline = time.monotonic() + 5
        b2.conn.sock.settimeout(0.3)
        while True:
            a.send_packet(b2.pub, b"back-to-b2")
            try:
                src, data = b2.recv_packet()
                if data == b"back-to-b2":
                    break
            except (socket.timeout, TimeoutError):
                self.assertLess(time.monotonic(), deadline, "b2 never took over")
        # a had sent to the key: no PeerGone, the key is still here
        self.assert_alive(a)
        w.close()

    def test_30_slow_reader_head_drop(self):
        a = self.client()
        b = dc.Client("127.0.0.1", self.port, handshake=False, rcvbuf=4096)
        b.server_pub = b.read_server_key()
        b.conn.sendall(b.client_info_frame(None))
        t, _ = b.read_frame()
        self.assertEqual(t, dc.SERVER_INFO)
        n = 3000
        for i in range(n):
            a.send_packet(b.pub, struct.pack(">I", i) + b"p" * 1000)
        self.assert_alive(a)            # the sender is never blocked
        seen = []
        b.conn.sock.settimeout(2)
        try:
            while True:
                src, data = b.recv_packet()
                seen.append(struct.unpack(">I", data[:4])[0])
                if seen[-1] == n - 1:
                    break
        except (socket.timeout, TimeoutError):
            pass
        self.assertEqual(seen, sorted(seen))     # order kept within the queue
        self.assertEqual(seen[-1], n - 1)        # the newest survives
        self.assertLess(len(seen), n)            # the oldest were dropped

    def test_30_burst_to_a_reader_is_not_dropped(self):
        """A burst the relay reads in one turn (200 packets in one write)
        reaches a receiver that reads, in order and whole: a full queue is
        written to the socket before anything is dropped, as derper's
        writer drains its queue while its reader fills it."""
        a, b = self.pair()
        self.assert_alive(b)            # b's registration is processed
        n = 200
        burst = b"".join(struct.pack(">BI", dc.SEND_PACKET, 32 + 4 + 100) + b.pub +
                         struct.pack(">I", i) + b"q" * 100 for i in range(n))
        before = self.relay.telemetry("/derper/tls")
        a.conn.sendall(burst)
        b.conn.sock.settimeout(5)
        seen = [struct.unpack(">I", b.recv_packet()[1][:4])[0] for _ in range(n)]
        self.assertEqual(seen, list(range(n)))
        after = self.relay.telemetry("/derper/tls")
        self.assertEqual(after["drop_queue_head"], before["drop_queue_head"])
        self.assertGreater(after["early_flushes"], before["early_flushes"])

    def test_30_lock_step_reads_once_per_packet(self):
        """A packet that arrives alone is read with one recv: a read
        shorter than the buffer emptied the socket, and under edge-
        triggered epoll the next byte raises a new event, so the relay
        does not ask again only to hear EAGAIN (before: two reads a
        packet)."""
        a, b = self.pair()
        self.assert_alive(b)
        n = 100
        before = self.relay.telemetry("/derper/tls")
        for i in range(n):
            a.send_packet(b.pub, struct.pack(">I", i))
            self.assertEqual(b.recv_packet(), (a.pub, struct.pack(">I", i)))
        after = self.relay.telemetry("/derper/tls")
        self.assertGreaterEqual(after["reads"] - before["reads"], n)
        self.assertLess(after["reads"] - before["reads"], 1.5 * n)

    def test_30_data_then_fin_in_one_segment(self):
        """A last packet and the client's FIN read together still end the
        session (the short read does not end the turn once epoll has
        reported the FIN): the peer hears PeerGone and the close is
        counted as the client's."""
        a, b = self.pair()
        self.assert_alive(a)
        before = self.relay.telemetry("/derper/tls")
        # stopped, the relay finds both in the socket at once (loopback
        # queues them before send and shutdown return): one event that
        # reports the FIN, one read that returns the packet short
        self.stop_relay()
        try:
            b.conn.sendall(struct.pack(">BI", dc.SEND_PACKET, 32 + 4) + a.pub + b"last")
            b.conn.sock.shutdown(socket.SHUT_WR)
        finally:
            os.kill(self.relay.proc.pid, signal.SIGCONT)
        a.conn.sock.settimeout(5)
        self.assertEqual(a.recv_packet(), (b.pub, b"last"))
        self.assert_eof_close_counted(before)

    def test_30_partial_record_then_fin(self):
        """Part of a TLS record and then the client's FIN, both queued
        before the relay reads: the short read returns no plaintext, and
        the relay still reads on to the end of the stream and closes the
        session, instead of waiting for an event that will not come."""
        a = self.client()
        self.assert_alive(a)
        before = self.relay.telemetry("/derper/tls")
        self.stop_relay()
        try:
            # an application-data record header that promises 64 bytes,
            # then 10 of them, written under the TLS layer
            os.write(a.conn.sock.fileno(), b"\x17\x03\x03\x00\x40" + b"x" * 10)
            a.conn.sock.shutdown(socket.SHUT_WR)
        finally:
            os.kill(self.relay.proc.pid, signal.SIGCONT)
        self.assert_eof_close_counted(before)

    def test_31_websocket(self):
        a = self.client(websocket=True)
        self.assertIn("Sec-WebSocket-Protocol: derp", a.response_head)
        b = self.client()
        a.send_packet(b.pub, b"from ws")
        self.assertEqual(b.recv_packet(), (a.pub, b"from ws"))
        b.send_packet(a.pub, b"to ws" * 3000)
        self.assertEqual(a.recv_packet(), (b.pub, b"to ws" * 3000))
        # a frame split across messages, and two frames in one message
        frame = struct.pack(">BI", dc.SEND_PACKET, 32 + 5) + b.pub + b"split"
        a.conn.send_raw(dc.ws_frame(2, frame[:7]) + dc.ws_frame(2, frame[7:] + frame))
        self.assertEqual(b.recv_packet(), (a.pub, b"split"))
        self.assertEqual(b.recv_packet(), (a.pub, b"split"))
        a.conn.send_raw(dc.ws_frame(1, b"text is not allowed"))
        with self.assertRaises(dc.Closed) as cm:
            while True:
                a.read_frame()
        self.assertIn("1003", str(cm.exception))

    # -- 36-38, 41-43 --------------------------------------------------------------
    def test_36_probe(self):
        for path in (b"/derp/probe", b"/derp/latency-check"):
            st, h, _, _ = http(self.port, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual((st, h.get("access-control-allow-origin")), (200, "*"))
            st, h, _, _ = http(self.port, b"HEAD " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(st, 200)
            st, _, body, _ = http(self.port, b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(st, 405)
            self.assertIn(b"bogus probe method", body)

    def test_37_generate_204(self):
        st, h, _, _ = http(self.port, b"GET /generate_204 HTTP/1.1\r\nHost: x\r\n"
                                      b"X-Tailscale-Challenge: ts_derp.example.com\r\n\r\n")
        self.assertEqual(st, 204)
        self.assertEqual(h.get("x-tailscale-response"), "response ts_derp.example.com")
        for bad in (b"a" * 65, b"has space"):
            st, h, _, _ = http(self.port, b"GET /generate_204 HTTP/1.1\r\nHost: x\r\n"
                                          b"X-Tailscale-Challenge: " + bad + b"\r\n\r\n")
            self.assertEqual(st, 204)
            self.assertNotIn("x-tailscale-response", h)

    def test_38_robots_and_home(self):
        st, _, body, _ = http(self.port, b"GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual((st, body), (200, b"User-agent: *\nDisallow: /\n"))
        st, h, body, _ = http(self.port, b"GET /some/unknown/path HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(st, 200)
        self.assertIn(b"DERP", body)
        self.assertTrue(h["content-type"].startswith("text/html"))

    def test_41_frames_before_server_info(self):
        b = self.client()
        a = dc.Client("127.0.0.1", self.port, handshake=False)
        a.server_pub = a.read_server_key()
        # ClientInfo, NotePreferred and a SendPacket in one write
        a.conn.sendall(a.client_info_frame(None)
                       + struct.pack(">BI", dc.NOTE_PREFERRED, 1) + b"\x01"
                       + struct.pack(">BI", dc.SEND_PACKET, 32 + 4) + b.pub + b"fast")
        t, _ = a.read_frame()
        self.assertEqual(t, dc.SERVER_INFO)
        self.assertEqual(b.recv_packet(), (a.pub, b"fast"))

    def test_42_server_info_first(self):
        a = self.client()
        key = PrivateKey.generate()
        pub = bytes(key.public_key)
        for _ in range(50):               # a floods the key before it exists
            a.send_packet(pub, b"early")
        for _ in range(5):
            b = self.client(key=key, handshake=False)
            b.server_pub = b.read_server_key()
            b.conn.sendall(b.client_info_frame(None))
            a.send_packet(pub, b"during")
            t, _ = b.read_frame()
            self.assertEqual(t, dc.SERVER_INFO)
            b.close()

    def test_43_second_client_info_ignored(self):
        a, b = self.pair()
        a.conn.sendall(a.client_info_frame(None))
        a.send_packet(b.pub, b"still up")
        self.assertEqual(b.recv_packet(), (a.pub, b"still up"))

    # -- malformed input never hurts another session --------------------------------
    def test_garbage_does_not_disturb_others(self):
        a, b = self.pair()
        junk = [b"\x16\x03\x01garbage-before-tls", b"GET / HTTP/9.9\r\n\r\n",
                b"GET /derp HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
                b"\xff" * 5000]
        for j in junk:
            s = socket.create_connection(("127.0.0.1", self.port))
            s.sendall(j)
            s.close()
        huge = self.client(handshake=False)
        huge.read_server_key()
        huge.conn.send_raw(struct.pack(">BI", dc.CLIENT_INFO, 0xFFFFFFFF))
        self.assertTrue(huge.expect_closed())
        a.send_packet(b.pub, b"unharmed")
        self.assertEqual(b.recv_packet(), (a.pub, b"unharmed"))

    def test_http_head_limits(self):
        st, _, _, _ = http(self.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        self.assertEqual(st, 431)
        st, _, _, _ = http(self.port, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n")
        self.assertEqual(st, 505)
        st, _, _, _ = http(self.port, b"GET / HTTP/1.1\r\n\r\n")
        self.assertEqual(st, 400)

    def test_keep_alive_requests(self):
        c = dc.Conn("127.0.0.1", self.port)
        for _ in range(3):
            c.send_raw(b"GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            head = c.read_http_head()
            self.assertTrue(head.startswith("HTTP/1.1 200"))
            n = int(re.search(r"Content-Length: (\d+)", head).group(1))
            c.read_exact(n)
        c.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
