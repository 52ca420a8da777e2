# SPDX-License-Identifier: BSD-3-Clause
"""§13 item 21: an idle client gets a KeepAlive within 65 s of the
handshake, and again 60-65 s later. The server also pings clients that
can ack pings (our RTT measurement); a Pong answer is accepted silently.
Slow by nature (two minutes): it runs beside the other suites."""
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import derpclient as dc  # noqa: E402
from relay import Relay  # noqa: E402


class KeepAliveTest(unittest.TestCase):
    def test_21_keepalive_schedule(self):
        with Relay() as r:
            c = dc.Client("127.0.0.1", r.port, timeout=70)
            t0 = time.monotonic()
            seen = []
            while len(seen) < 2:
                t, p = c.read_frame()
                if t == dc.PING:
                    c.conn.send_frame(dc.PONG, p[:8])
                elif t == dc.KEEP_ALIVE:
                    self.assertEqual(p, b"")
                    seen.append(time.monotonic() - t0)
                else:
                    self.fail("unexpected frame %#x" % t)
            self.assertLess(seen[0], 66)
            self.assertLess(seen[1] - seen[0], 66)
            self.assertGreater(seen[1] - seen[0], 55)
            self.assertEqual(r.stop(), 0)
            r.assert_clean()


if __name__ == "__main__":
    unittest.main(verbosity=2)
