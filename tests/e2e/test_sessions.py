# SPDX-License-Identifier: BSD-3-Clause
"""Many sessions at once, and the graceful stop: SIGTERM sends every client
a Restarting frame before the relay closes and exits 0."""
import os
import resource
import signal
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import derpclient as dc  # noqa: E402
from relay import Relay  # noqa: E402

SESSIONS = int(os.environ.get("DERP_E2E_SESSIONS", "2000"))


class SessionsTest(unittest.TestCase):
    def setUp(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.relay = Relay(conf='shutdown: { reconnect_in_ms = 1500; try_for_ms = 60000; };\n')

    def tearDown(self):
        self.relay.cleanup()

    def test_many_sessions_each_relay_one_packet(self):
        clients = [dc.Client("127.0.0.1", self.relay.port) for _ in range(SESSIONS)]
        half = SESSIONS // 2
        for i in range(half):
            clients[i].send_packet(clients[half + i].pub, struct.pack(">I", i))
        for i in range(half):
            src, data = clients[half + i].recv_packet()
            self.assertEqual((src, data), (clients[i].pub, struct.pack(">I", i)))
        for c in clients:
            c.close()
        self.assertEqual(self.relay.stop(), 0)
        self.relay.assert_clean()

    def test_sigterm_sends_restarting(self):
        clients = [dc.Client("127.0.0.1", self.relay.port) for _ in range(100)]
        self.relay.proc.send_signal(signal.SIGTERM)
        for c in clients:
            frames = []
            try:
                while True:
                    frames.append(c.read_frame())
            except dc.Closed:
                pass
            self.assertIn((dc.RESTARTING, struct.pack(">II", 1500, 60000)), frames)
            c.close()
        self.assertEqual(self.relay.stop(), 0)
        self.relay.wait_log(r'msg="derper: sessions told to reconnect" restarting=100')
        self.relay.assert_clean()


if __name__ == "__main__":
    unittest.main(verbosity=2)
