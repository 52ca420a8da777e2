# SPDX-License-Identifier: BSD-3-Clause
"""limits.accept_rate and limits.client_bytes_per_sec, as an operator sees
them: a connection burst beyond the accept bucket is closed at once while
the relay keeps serving; a client sending faster than its rate is slowed
to it by TCP backpressure (nothing dropped) while others relay freely."""
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from derpclient import Client  # noqa: E402
from relay import Relay  # noqa: E402


class AcceptRateTest(unittest.TestCase):
    RATE, BURST, N = 20, 20, 500

    def test_burst_of_connects(self):
        with Relay(conf="limits: { accept_rate = %d.0; accept_burst = %d; };\n"
                   'dataplane: { eal = [ "--file-prefix=e2e-accept" ]; };\n'
                   % (self.RATE, self.BURST), tls=False) as r:
            t0 = time.monotonic()
            socks = [socket.create_connection(("127.0.0.1", r.port), timeout=10)
                     for _ in range(self.N)]
            elapsed = time.monotonic() - t0
            served = 0
            for s in socks:
                try:
                    s.sendall(b"GET /generate_204 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if s.recv(4096).startswith(b"HTTP/1.1 204"):
                        served += 1
                except OSError:
                    pass        # closed at once by the relay
                s.close()
            # the burst is served; beyond it, no more than the rate allows
            self.assertGreaterEqual(served, self.BURST)
            self.assertLessEqual(served, self.BURST + self.RATE * elapsed + 2)
            closes = r.telemetry("/derper/tls")["close_accept_rate"]
            self.assertEqual(closes, self.N - served)
            # the relay keeps running: clients get in as tokens come back
            def client():
                deadline = time.monotonic() + 10
                while True:
                    try:
                        return Client("127.0.0.1", r.port, use_tls=False)
                    except Exception:
                        self.assertLess(time.monotonic(), deadline)
                        time.sleep(1.0 / self.RATE)   # one token's time
            a, b = client(), client()
            a.send_packet(b.pub, b"alive")
            self.assertEqual(b.recv_packet(), (a.pub, b"alive"))
            a.close()
            b.close()
            r.stop()
            r.assert_clean()


class ClientRateTest(unittest.TestCase):
    RATE = 2_000_000          # bytes/s
    BURST = 100_000
    PKT, COUNT = 60_000, 100  # 6 MB

    def test_fast_sender_is_slowed_not_dropped(self):
        with Relay(conf="limits: { client_bytes_per_sec = %d; client_burst_bytes = %d; };\n"
                   'dataplane: { eal = [ "--file-prefix=e2e-client-rate" ]; };\n'
                   % (self.RATE, self.BURST)) as r:
            a = Client("127.0.0.1", r.port)
            b = Client("127.0.0.1", r.port)
            c = Client("127.0.0.1", r.port)
            d = Client("127.0.0.1", r.port)
            before = r.telemetry("/derper/tls")
            import threading
            done = {}

            def send():
                t0 = time.monotonic()
                for i in range(self.COUNT):
                    a.send_packet(b.pub, bytes([i]) * self.PKT)
                done["send"] = time.monotonic() - t0

            th = threading.Thread(target=send)
            t0 = time.monotonic()
            th.start()
            # another pair relays while A is being held back
            for i in range(20):
                c.send_packet(d.pub, b"c%d" % i)
                self.assertEqual(d.recv_packet(), (c.pub, b"c%d" % i))
            others = time.monotonic() - t0
            for i in range(self.COUNT):
                src, data = b.recv_packet()
                self.assertEqual((src, len(data), data[:1]), (a.pub, self.PKT, bytes([i])))
            elapsed = time.monotonic() - t0
            th.join()
            total = self.PKT * self.COUNT + 37 * self.COUNT
            # at most burst + rate * time went through
            self.assertGreaterEqual(elapsed, (total - self.BURST - 65568) / self.RATE)
            after = r.telemetry("/derper/tls")
            self.assertGreater(after["throttles"], before["throttles"])
            for k in after:
                if k.startswith("drop_"):
                    self.assertEqual(after[k], before[k], k)
            self.assertLess(others, elapsed)   # C and D were done long before
            for x in (a, b, c, d):
                x.close()
            r.stop()
            r.assert_clean()


if __name__ == "__main__":
    unittest.main(verbosity=2)
