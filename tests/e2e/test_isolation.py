# SPDX-License-Identifier: BSD-3-Clause
"""Resource isolation under hostile load: what the victims see while one
class of attacker does its worst, and the counter of each defence.

- Pipelined requests that are never read: the relay stops reading such a
  connection while its unsent output is over the limit, so its memory
  stays bounded; a well-behaved pair relays in lock step meanwhile.
"""
import os
import socket
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import derpclient as dc  # noqa: E402
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
