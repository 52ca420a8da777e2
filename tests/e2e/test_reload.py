# SPDX-License-Identifier: BSD-3-Clause
"""SIGHUP reloads derper.conf: reloadable keys (limits, verify settings, log
level, shutdown) take effect without dropping a session; a broken file or a
change to a key that needs a restart is refused, and the running
configuration stays."""
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from derpclient import Client, Closed  # noqa: E402
from relay import Relay  # noqa: E402

LIMITS = "limits: { max_sessions = %d; };\n"


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.relay = Relay(conf=LIMITS % 0 + 'dataplane: { eal = [ "--file-prefix=e2e-reload" ]; };\n')
        self.addCleanup(self.relay.cleanup)

    def edit(self, old, new):
        with open(self.relay.conf_path) as f:
            text = f.read()
        self.assertIn(old, text)
        with open(self.relay.conf_path, "w") as f:
            f.write(text.replace(old, new))

    def hup(self, expect):
        n = len(self.relay.lines)
        self.relay.proc.send_signal(signal.SIGHUP)
        self.assertTrue(self.relay.wait_until(
            lambda lines: any(expect in l for l in lines[n:]), timeout=10),
            "no %r after SIGHUP:\n%s" % (expect, "".join(self.relay.lines[n:])))
        return [l for l in self.relay.lines[n:] if expect in l][0]

    def relays(self, a, b, msg):
        a.send_packet(b.pub, msg)
        self.assertEqual(b.recv_packet(), (a.pub, msg))

    def test_limit_applies_sessions_stay(self):
        r = self.relay
        a = Client("127.0.0.1", r.port)
        b = Client("127.0.0.1", r.port)
        self.edit(LIMITS % 0, LIMITS % 3)
        line = self.hup("configuration reloaded")
        self.assertIn('changed="limits.max_sessions"', line)
        self.relays(a, b, b"same sessions")          # nobody dropped
        c = Client("127.0.0.1", r.port)               # the third fits
        before = r.telemetry("/derper/tls")["close_max_sessions"]
        with self.assertRaises((Closed, OSError)):
            Client("127.0.0.1", r.port)               # the fourth does not
        self.assertEqual(r.telemetry("/derper/tls")["close_max_sessions"], before + 1)
        self.relays(c, a, b"c to a")
        for x in (a, b, c):
            x.close()
        r.stop()
        r.assert_clean()

    def test_broken_file_refused(self):
        r = self.relay
        a = Client("127.0.0.1", r.port)
        b = Client("127.0.0.1", r.port)
        self.edit(LIMITS % 0, "limits: { max_sessions = -5; };\nlimts: { x = 1; };\n")
        line = self.hup("configuration refused")
        self.assertIn("derper.conf:", line)                   # file:line
        self.assertIn("limits.max_sessions", line)
        self.assertIn("did you mean limits?", line)
        self.relays(a, b, b"still here")
        # the running configuration is the old one: no session limit
        extra = [Client("127.0.0.1", r.port) for _ in range(3)]
        for x in [a, b] + extra:
            x.close()
        r.stop()
        r.assert_clean()

    def test_fixed_key_refused(self):
        r = self.relay
        self.edit(LIMITS % 0, LIMITS % 0 + 'stun: { port = 3479; };\nhome = "blank";\n')
        line = self.hup("need a restart")
        self.assertIn("stun.port", line)
        self.assertIn("home", line)
        self.assertNotIn("max_sessions", line)

    def test_log_level(self):
        r = self.relay
        self.edit(LIMITS % 0, LIMITS % 0 + 'log: { level = "debug"; };\n')
        self.assertIn('changed="log.level"', self.hup("configuration reloaded"))
        n = len(r.lines)
        a = Client("127.0.0.1", r.port)
        a.close()
        self.assertTrue(r.wait_until(lambda lines: any(
            'level=debug msg="tls: session closed"' in l for l in lines[n:]), timeout=10))
        self.assertIn("configuration unchanged", self.hup("configuration unchanged"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
