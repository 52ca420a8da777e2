# SPDX-License-Identifier: BSD-3-Clause
"""Resource isolation under hostile load: what the victims see while one
class of attacker does its worst, and the counter of each defence.

- Stalled receivers flooded with 64 KiB packets: their queues are bounded
  in bytes and all queues together to half the DERP pool, dropped from the
  biggest holders, so a fresh pair relays 1200-byte packets in lock step
  without a loss and no frame of theirs finds the pool empty.

- Pipelined requests that are never read: the relay stops reading such a
  connection while its unsent output is over the limit, so its memory
  stays bounded; a well-behaved pair relays in lock step meanwhile.
- Limits across threads and under exhaustion: limits.max_sessions holds
  for the relay with two TLS threads; out of descriptors, accepting pauses
  with a backoff (no spinning) and resumes when descriptors are free.
- Slow clients of the metrics listener: 50 connections that never finish
  their request, and scrapers that never read: /healthz and /readyz still
  answer within 100 ms, as a kubelet's liveness probe needs.
"""
import os
import resource
import select
import socket
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import derpclient as dc  # noqa: E402
import flood  # noqa: E402
from acme_env import free_port  # noqa: E402
from relay import Relay  # noqa: E402

SKIP = (dc.KEEP_ALIVE, dc.SERVER_KEY, dc.PING, dc.HEALTH, dc.PEER_GONE)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def tls_socket(port):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return ctx.wrap_socket(s, server_hostname="localhost")


class PipeliningTest(unittest.TestCase):
    CONNS = 16
    SECONDS = 10
    RSS_BOUND_KIB = 64 * 1024

    def setUp(self):
        # ASan's quarantine keeps freed blocks resident; bound it so RSS
        # measures what the relay holds, not what it freed
        env = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:quarantine_size_mb=8"}
        self.relay = Relay(conf='dataplane: { eal = [ "--file-prefix=e2e-isolation" ]; };\n',
                           env=env)
        self.addCleanup(self.relay.cleanup)

    def test_pipelined_requests_never_read(self):
        a = dc.Client("127.0.0.1", self.relay.port)
        b = dc.Client("127.0.0.1", self.relay.port)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        before = self.relay.telemetry("/derper/tls")
        rss0 = rss_kib(self.relay.proc.pid)
        stop = time.monotonic() + self.SECONDS
        sent = [0] * self.CONNS
        chunk = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n" * 64

        def attacker(i):
            s = tls_socket(self.relay.port)
            s.setblocking(False)
            try:
                while time.monotonic() < stop:
                    try:
                        sent[i] += s.send(chunk)
                    except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                        time.sleep(0.002)
                    except OSError:
                        break
            finally:
                s.close()

        threads = [threading.Thread(target=attacker, args=(i,)) for i in range(self.CONNS)]
        for t in threads:
            t.start()
        peak, relayed = rss0, 0
        while time.monotonic() < stop:
            msg = os.urandom(1200)
            a.send_packet(b.pub, msg)
            self.assertEqual(b.recv_packet(skip=SKIP), (a.pub, msg))
            relayed += 1
            peak = max(peak, rss_kib(self.relay.proc.pid))
        for t in threads:
            t.join()
        after = self.relay.telemetry("/derper/tls")
        print("\n    %d requests' bytes sent, relay RSS %d -> peak %d KiB, %d packets relayed, "
              "%d output pauses" % (sum(sent), rss0, peak, relayed,
                                    after["output_pauses"] - before["output_pauses"]))
        self.assertGreater(sum(sent), 0)
        self.assertGreater(after["output_pauses"], before["output_pauses"])
        self.assertLess(peak - rss0, self.RSS_BOUND_KIB)
        self.assertGreater(relayed, 100)
        self.assertEqual(self.relay.stop(), 0)
        self.relay.assert_clean()


class FloodTest(unittest.TestCase):
    STALLED = 50
    SENDERS = 4
    SECONDS = 10

    def test_stalled_receivers_flooded(self):
        relay = Relay(conf='dataplane: { mbufs = 16383; eal = [ "--file-prefix=e2e-iso-flood" ]; };\n')
        self.addCleanup(relay.cleanup)
        before = relay.telemetry("/derper/tls")
        out = flood.run("127.0.0.1", relay.port, self.SECONDS, self.STALLED, self.SENDERS)
        after = relay.telemetry("/derper/tls")
        d = {k: after[k] - before[k] for k in ("drop_no_mbuf", "drop_queue_bytes",
                                                "drop_over_budget", "drop_pool_reserve",
                                                "drop_ring_full", "drop_queue_head",
                                                "close_write_timeout", "read_yields")}
        fwd = relay.telemetry("/derper/stats")
        print("\n    %s\n    %s forwarding drop_ring_full %d" % (out, d, fwd["drop_ring_full"]))
        # every packet of the pair arrived, none waited behind the flood
        # for long (about 10 ms at worst here; before the read budget
        # held, 1-5 s), and none of anybody's found the pool empty
        self.assertEqual(out["lost"], 0, out)
        self.assertGreater(out["relayed"], 10)
        self.assertLess(out["worst_ms"], flood.WORST_MS)
        self.assertEqual(d["drop_no_mbuf"], 0)
        self.assertGreater(d["drop_queue_bytes"] + d["drop_over_budget"] +
                           d["drop_pool_reserve"], 0)
        # the senders' reading stopped at their share of each turn (64 KiB)
        # and went on after the others': before, a size_t that wrapped
        # let one sender's turn read megabytes while the pair waited
        self.assertGreater(d["read_yields"], 0)
        self.assertEqual(relay.stop(), 0)
        relay.assert_clean()

def cpu_seconds(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


class LimitsTest(unittest.TestCase):
    def test_max_sessions_across_threads(self):
        relay = Relay(conf='limits: { max_sessions = 20; };\n'
                           'dataplane: { tls_threads = 2; eal = [ "--file-prefix=e2e-iso-max" ]; };\n')
        self.addCleanup(relay.cleanup)
        before = relay.telemetry("/derper/tls")
        socks = [socket.create_connection(("127.0.0.1", relay.port)) for _ in range(40)]
        end = time.monotonic() + 10
        while True:
            c = relay.telemetry("/derper/tls")
            if c["close_max_sessions"] - before["close_max_sessions"] >= 20 or time.monotonic() > end:
                break
            time.sleep(0.05)
        # both threads accepted (SO_REUSEPORT spreads 40 connections), yet
        # 20 in all were kept
        self.assertEqual(c["close_max_sessions"] - before["close_max_sessions"], 20)
        for s in socks:
            s.close()
        self.assertEqual(relay.stop(), 0)
        relay.assert_clean()

    def test_out_of_descriptors(self):
        relay = Relay(conf='dataplane: { eal = [ "--file-prefix=e2e-iso-fd" ]; };\n')
        self.addCleanup(relay.cleanup)
        pid = relay.proc.pid
        limit = len(os.listdir("/proc/%d/fd" % pid)) + 8
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, limit))
        before = relay.telemetry("/derper/tls")
        socks = [socket.create_connection(("127.0.0.1", relay.port)) for _ in range(40)]
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(2)                    # measuring: a spinning accept loop burns a core
        used = cpu_seconds(pid) - cpu0
        after = relay.telemetry("/derper/tls")
        print("\n    fd limit %d: %d accept pauses, relay CPU %.2f s in %.1f s" % (
            limit, after["accept_pauses"] - before["accept_pauses"], used, time.monotonic() - t0))
        self.assertGreater(after["accept_pauses"], before["accept_pauses"])
        self.assertLess(used, 0.5)
        # descriptors come back: the relay accepts and relays again
        for s in socks:
            s.close()
        end = time.monotonic() + 15
        while True:
            try:
                a = dc.Client("127.0.0.1", relay.port)
                b = dc.Client("127.0.0.1", relay.port)
                break
            except (OSError, AssertionError):
                if time.monotonic() > end:
                    raise
                time.sleep(0.2)
        a.send_packet(b.pub, b"after EMFILE")
        self.assertEqual(b.recv_packet(skip=SKIP), (a.pub, b"after EMFILE"))
        a.close()
        b.close()
        self.assertEqual(relay.stop(), 0)
        relay.assert_clean()


class WebSocketPingsTest(unittest.TestCase):
    def test_pings_never_read(self):
        """A WebSocket DERP client sending pings without reading the pongs:
        past the output limit its pings go unanswered (counted), the relay
        keeps reading it, and nothing grows."""
        relay = Relay(conf='dataplane: { eal = [ "--file-prefix=e2e-iso-ws" ]; };\n',
                      env={"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:quarantine_size_mb=8"})
        self.addCleanup(relay.cleanup)
        a, b = dc.Client("127.0.0.1", relay.port), dc.Client("127.0.0.1", relay.port)
        w = dc.Client("127.0.0.1", relay.port, websocket=True)
        w.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        before = relay.telemetry("/derper/tls")
        rss0 = rss_kib(relay.proc.pid)
        ping = dc.ws_frame(0x9, b"p" * 125, mask=True)
        w.conn.sock.setblocking(False)
        end = time.monotonic() + 5
        sent = 0
        cut = False
        while time.monotonic() < end:
            if not cut:
                try:
                    sent += w.conn.sock.send(ping * 64)
                    continue
                except (ssl.SSLWantWriteError, BlockingIOError):
                    pass
                except (OSError, ssl.SSLError):
                    cut = True      # the write timeout closed it: fine too
            msg = os.urandom(200)
            a.send_packet(b.pub, msg)
            self.assertEqual(b.recv_packet(skip=SKIP), (a.pub, msg))
        after = relay.telemetry("/derper/tls")
        grew = rss_kib(relay.proc.pid) - rss0
        print("\n    %d bytes of pings sent, %d unanswered, cut off: %s, RSS +%d KiB" % (
            sent, after["output_pauses"] - before["output_pauses"], cut, grew))
        self.assertGreater(after["output_pauses"], before["output_pauses"])
        self.assertLess(grew, 64 * 1024)
        for c in (a, b, w):
            c.close()
        self.assertEqual(relay.stop(), 0)
        relay.assert_clean()


class MetricsListenerTest(unittest.TestCase):
    STALLED = 50
    BOUND_S = 0.1

    def setUp(self):
        self.mport = free_port()
        self.relay = Relay(args=["--set", "metrics.listen=127.0.0.1:%d" % self.mport])
        self.addCleanup(self.relay.cleanup)
        self.relay.wait_log('msg="metrics: serving"')

    def get(self, path, timeout=5):
        """The whole answer to GET path on the metrics port."""
        with socket.create_connection(("127.0.0.1", self.mport), timeout=timeout) as s:
            s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return data
                data += chunk

    def probe(self, path):
        """Status of GET path on the metrics port, and the seconds it took."""
        t0 = time.monotonic()
        data = self.get(path)
        return int(data.split(b" ", 2)[1]), time.monotonic() - t0

    def test_probes_answer_beside_stalled_clients(self):
        stalled = []
        for i in range(self.STALLED):
            s = socket.create_connection(("127.0.0.1", self.mport))
            s.sendall(b"GET /metr")          # a head that never ends
            stalled.append(s)
        for i in range(4):                   # scrapers that never read
            s = socket.create_connection(("127.0.0.1", self.mport))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            stalled.append(s)
        worst = 0.0
        for i in range(20):
            for path in ("/healthz", "/readyz"):
                status, took = self.probe(path)
                self.assertEqual(status, 200)
                worst = max(worst, took)
        print("\n    %d stalled clients, worst probe %.1f ms" % (len(stalled), worst * 1000))
        self.assertLess(worst, self.BOUND_S)
        for s in stalled:
            s.close()
        self.assertEqual(self.relay.stop(), 0)
        self.relay.assert_clean()

    def test_crowd_beyond_the_table(self):
        """More stalled clients than the listener serves at once: the
        oldest give way (counted), probes still answer."""
        stalled = [socket.create_connection(("127.0.0.1", self.mport)) for _ in range(80)]
        for s in stalled:
            s.sendall(b"GET /")
        status, took = self.probe("/healthz")
        self.assertEqual(status, 200)
        self.assertLess(took, self.BOUND_S)
        body = self.get("/metrics", timeout=None)
        self.assertRegex(body.decode(), r'derper_metrics_connections_closed_total\{reason="evicted"\} [1-9]')
        for s in stalled:
            s.close()
        self.assertEqual(self.relay.stop(), 0)
        self.relay.assert_clean()


if __name__ == "__main__":
    unittest.main(verbosity=2)
