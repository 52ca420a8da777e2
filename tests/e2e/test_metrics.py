# SPDX-License-Identifier: BSD-3-Clause
"""The metrics listener (metrics.listen): /metrics checked by promtool
(Debian's prometheus: no parse error, no lint finding) and parsed again
by python3-prometheus-client in OpenMetrics mode; the figures follow
what the relay did; /healthz and /readyz for Kubernetes probes."""
import os
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from acme_env import free_port  # noqa: E402
from derpclient import Client  # noqa: E402
from relay import Relay  # noqa: E402
from tools import needs  # noqa: E402

PROMTOOL = "/usr/bin/promtool"


def get(port, path, accept=None, method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    if accept:
        req.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def samples(text):
    """{(name, frozenset(labels)): value} from the 0.0.4 text."""
    from prometheus_client.parser import text_string_to_metric_families
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


class MetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mport = free_port()
        cls.relay = Relay(args=["--set", "metrics.listen=127.0.0.1:%d" % cls.mport])
        cls.relay.wait_log('msg="metrics: serving"')   # starts after the DERP listener

    @classmethod
    def tearDownClass(cls):
        cls.relay.stop()
        cls.relay.assert_clean()
        cls.relay.cleanup()

    def metrics(self):
        status, ctype, body = get(self.mport, "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(ctype, "text/plain; version=0.0.4; charset=utf-8")
        return body

    def scrape_until(self, ready, what):
        """Samples once ready(samples) holds; bounded (10 s)."""
        end = time.monotonic() + 10
        while True:
            m = samples(self.metrics())
            if ready(m):
                return m
            self.assertLess(time.monotonic(), end, what)
            time.sleep(0.01)

    @needs(PROMTOOL, package="prometheus")
    def test_promtool_clean(self):
        a = Client("127.0.0.1", self.relay.port)
        b = Client("127.0.0.1", self.relay.port)
        a.send_packet(b.pub, b"x")
        b.recv_packet()
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=self.metrics(),
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), "", "lint findings")
        a.close()
        b.close()

    def test_openmetrics_parses(self):
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
        status, ctype, body = get(self.mport, "/metrics",
                                  accept="application/openmetrics-text; version=1.0.0")
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("application/openmetrics-text"), ctype)
        self.assertTrue(body.endswith("# EOF\n"))
        fams = {f.name: f for f in text_string_to_metric_families(body)}
        self.assertEqual(fams["derper_packets"].type, "counter")
        self.assertEqual(fams["derper_ping_rtt_seconds"].type, "histogram")
        self.assertEqual(fams["derper_sessions"].type, "gauge")

    def test_figures_follow_traffic(self):
        before = samples(self.metrics())
        a = Client("127.0.0.1", self.relay.port)
        b = Client("127.0.0.1", self.relay.port)
        for i in range(5):
            a.send_packet(b.pub, b"p%d" % i)
            self.assertEqual(b.recv_packet(), (a.pub, b"p%d" % i))
        key = lambda n, **l: (n, frozenset(l.items()))  # noqa: E731
        delivered = key("derper_packets_total", direction="delivered")
        # a packet counts as delivered once its write returned, which the
        # client may see a moment before the relay's counter moves
        m = self.scrape_until(lambda m: m[delivered] - before.get(delivered, 0) >= 5,
                              "delivered counter stuck")

        def delta(n, **l):
            return m[key(n, **l)] - before.get(key(n, **l), 0)
        self.assertEqual(delta("derper_packets_total", direction="received"), 5)
        self.assertEqual(delta("derper_packets_total", direction="delivered"), 5)
        self.assertEqual(delta("derper_packet_bytes_total", direction="received"), 10)
        self.assertEqual(m[key("derper_sessions", transport="tls")], 2)
        self.assertEqual(delta("derper_sessions_opened_total"), 2)
        self.assertEqual(delta("derper_tls_sessions_total", records="relay_tls13"), 2)
        self.assertEqual(delta("derper_send_queue_depth_count"), 5)
        # every delivered packet has its time in the relay counted once,
        # in one bucket; the buckets are cumulative and end at +Inf
        self.assertEqual(delta("derper_forward_delay_seconds_count"), 5)
        self.assertEqual(delta("derper_forward_delay_seconds_bucket", le="+Inf"), 5)
        les = sorted((float(dict(l)["le"]), v) for (n, l), v in m.items()
                     if n == "derper_forward_delay_seconds_bucket")
        self.assertEqual(len(les), 15)
        self.assertEqual([v for _, v in les], sorted(v for _, v in les))
        self.assertGreater(delta("derper_forward_delay_seconds_sum"), 0)
        self.assertLess(delta("derper_forward_delay_seconds_sum"), 5 * 10.0)
        a.close()
        b.close()
        # the gauge comes back down once the relay has seen both closes
        m = self.scrape_until(lambda m: m[key("derper_sessions", transport="tls")] == 0,
                              "sessions gauge stuck")

        def closes(s):
            return sum(v for (n, _), v in s.items() if n == "derper_session_closes_total")
        # both counted (eof, or read_error when the client's close was a reset)
        self.assertEqual(closes(m) - closes(before), 2)

    def test_health_endpoints(self):
        self.assertEqual(get(self.mport, "/healthz")[::2], (200, "ok\n"))
        status, _, body = get(self.mport, "/readyz?verbose")
        self.assertEqual(status, 200, body)
        for check in ("listener", "dataplane", "certificate", "mesh"):
            self.assertIn("[+] " + check, body)
        self.assertEqual(get(self.mport, "/readyz")[::2], (200, "ok\n"))
        self.assertEqual(get(self.mport, "/nope")[0], 404)
        self.assertEqual(get(self.mport, "/metrics", method="POST")[0], 405)
        # never on the public port
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            with urllib.request.urlopen("https://127.0.0.1:%d/metrics" % self.relay.port,
                                        context=ctx, timeout=10) as r:
                body = r.read().decode()
        except urllib.error.HTTPError as e:
            body = e.read().decode()
        self.assertNotIn("derper_packets_total", body)


if __name__ == "__main__":
    unittest.main(verbosity=2)
