# SPDX-License-Identifier: BSD-3-Clause
"""cert.mode = "letsencrypt" against a real ACME server (Debian's pebble).

derper serves TLS only on port 443 in this mode, so each test runs the
relay in a network namespace of its own (198.18.x.2, ports 443 and 80),
with pebble on the host side of the veth (198.18.x.1) and
pebble-challtestsrv answering every name with the relay's address."""
import hashlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import acme_env  # noqa: E402
from acme_env import Netns, Pebble  # noqa: E402
from derpclient import Client  # noqa: E402
from relay import Relay  # noqa: E402
from tools import needs  # noqa: E402

HOST = "derp1.example.test"
SSLSCAN = "/usr/bin/sslscan"


def leaf_sha256(ip, port=443):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((ip, port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname=HOST) as t:
            return hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest()


@needs(acme_env.PEBBLE, acme_env.CHALLTESTSRV, package="pebble")
class AcmeTest(unittest.TestCase):
    subnet = 80

    def setUp(self):
        AcmeTest.subnet += 1
        self.ns = Netns("acme-%d-%d" % (os.getpid() % 10000, self.subnet), self.subnet)
        self.addCleanup(self.ns.cleanup)
        self.dir = tempfile.mkdtemp(prefix="derper-acme-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.pebble = None
        self.relay = None

    def tearDown(self):
        if self.relay:
            self.relay.stop()
            self.relay.cleanup()
        if self.pebble:
            self.pebble.cleanup()

    def start_pebble(self):
        if self.pebble:
            self.pebble.cleanup()
        self.pebble = Pebble(80, 443, bind_ip=self.ns.host_ip, target_ip=self.ns.ns_ip).start()
        return self.pebble

    def start_relay(self, http_port=80, prefix="acme", metrics=""):
        conf = os.path.join(self.dir, "derper.conf")
        with open(conf, "w") as f:
            f.write('hostname = "%s";\nlisten = "%s:443";\nhttp_port = %d;\n'
                    % (HOST, self.ns.ns_ip, http_port))
            f.write('key_file = "%s/derper.key";\nmetrics: { listen = "%s"; };\n'
                    % (self.dir, metrics))
            f.write('cert: { mode = "letsencrypt"; dir = "%s/certs"; acme_directory = "%s";'
                    ' acme_ca_file = "%s"; };\n'
                    % (self.dir, self.pebble.directory, self.pebble.ca))
            f.write('dataplane: { eal = [ "--file-prefix=%s%d" ]; };\n' % (prefix, self.subnet))
        self.relay = Relay(config_file=conf, netns=self.ns.name)
        return self.relay

    def wait_issued(self, count=1, timeout=60, since=0):
        """count issuances logged after line `since`, failing on a failure."""
        def issued(lines):
            return (sum("acme: certificate issued" in l for l in lines[since:]) >= count or
                    any("acme: issuance failed" in l for l in lines[since:]))
        self.relay.wait_until(issued, timeout)
        n = sum("acme: certificate issued" in l for l in self.relay.lines[since:])
        if n < count:
            self.fail("%d of %d certificates:\n%s\n%s" % (
                n, count, "".join(self.relay.lines[-20:]), self.pebble.logtail()))

    def served_chain(self):
        """The chain as served (s_client -showcerts), split into PEMs."""
        r = subprocess.run(["openssl", "s_client", "-connect", "%s:443" % self.ns.ns_ip,
                            "-servername", HOST, "-showcerts"],
                           input="", capture_output=True, text=True, timeout=30)
        return re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n",
                          r.stdout, re.S)

    def verify_chain(self):
        chain = self.served_chain()
        self.assertGreaterEqual(len(chain), 2)
        paths = {}
        for name, text in (("root", self.pebble.root_pem()), ("leaf", chain[0]),
                           ("untrusted", "".join(chain[1:]))):
            paths[name] = os.path.join(self.dir, name + ".pem")
            with open(paths[name], "w") as f:
                f.write(text)
        r = subprocess.run(["openssl", "verify", "-CAfile", paths["root"], "-untrusted",
                            paths["untrusted"], "-verify_hostname", HOST, paths["leaf"]],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(": OK", r.stdout)

    def test_http01_then_restart_reuses_the_certificate(self):
        self.start_pebble()
        relay = self.start_relay()
        self.wait_issued()
        self.assertEqual(relay.telemetry("/derper/acme")["challenge"], "http-01")
        self.verify_chain()
        leaf = leaf_sha256(self.ns.ns_ip)
        key = os.path.join(self.dir, "certs", HOST + ".key")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        # a restart with pebble gone: the stored certificate, no ACME at all
        relay.stop()
        relay.assert_clean()
        relay.cleanup()
        self.pebble.stop()
        relay = self.relay = self.start_relay()
        self.assertEqual(leaf_sha256(self.ns.ns_ip), leaf)
        state = relay.telemetry("/derper/acme")
        self.assertEqual((state["issued"], state["failures"]), (0, 0))
        self.assertGreater(state["next_attempt_in_s"], 86400)
        self.assertFalse(any("acme: ordering" in l for l in relay.lines))
        relay.stop()
        relay.assert_clean()

    def test_tls_alpn01_without_port_80(self):
        self.start_pebble()
        relay = self.start_relay(http_port=-1)
        self.wait_issued()
        self.assertEqual(relay.telemetry("/derper/acme")["challenge"], "tls-alpn-01")
        self.assertGreaterEqual(relay.telemetry("/derper/tls")["close_acme_tls_alpn"], 1)
        self.verify_chain()
        relay.stop()
        relay.assert_clean()

    def test_renewal_swaps_the_certificate_under_a_live_session(self):
        self.start_pebble()
        relay = self.start_relay()
        self.wait_issued()
        before = leaf_sha256(self.ns.ns_ip)
        a = Client(self.ns.ns_ip, 443, sni=HOST)
        b = Client(self.ns.ns_ip, 443, sni=HOST)
        a.send_packet(b.pub, b"before")
        self.assertEqual(b.recv_packet(), (a.pub, b"before"))
        relay.telemetry("/derper/acme_renew")
        self.wait_issued(count=2)
        self.assertNotEqual(leaf_sha256(self.ns.ns_ip), before)
        self.verify_chain()
        # the sessions from before the swap go on, both ways
        a.send_packet(b.pub, b"after")
        self.assertEqual(b.recv_packet(), (a.pub, b"after"))
        b.send_packet(a.pub, b"back")
        self.assertEqual(a.recv_packet(), (b.pub, b"back"))
        a.close()
        b.close()
        relay.stop()
        relay.assert_clean()

    def test_acme_down_keeps_the_certificate_and_backs_off(self):
        self.start_pebble()
        relay = self.start_relay()
        self.wait_issued()
        leaf = leaf_sha256(self.ns.ns_ip)
        self.pebble.stop()
        relay.telemetry("/derper/acme_renew")
        line = relay.wait_log("acme: issuance failed.*", timeout=60).group(0)
        self.assertRegex(line, r"retry_in_s=(6\d|7\d)\b")   # 1 min + jitter
        state = relay.telemetry("/derper/acme")
        self.assertEqual(state["failures"], 1)
        self.assertGreater(state["next_attempt_in_s"], 30)
        self.assertNotEqual(state["last_error"], "")
        self.assertEqual(leaf_sha256(self.ns.ns_ip), leaf)
        a = Client(self.ns.ns_ip, 443, sni=HOST)
        b = Client(self.ns.ns_ip, 443, sni=HOST)
        a.send_packet(b.pub, b"still")
        self.assertEqual(b.recv_packet(), (a.pub, b"still"))
        a.close()
        b.close()
        relay.stop()
        relay.assert_clean()

    def test_not_ready_until_a_real_certificate(self):
        import urllib.error
        import urllib.request
        self.pebble = Pebble(80, 443, bind_ip=self.ns.host_ip, target_ip=self.ns.ns_ip)
        relay = self.start_relay(metrics="%s:9375" % self.ns.ns_ip)   # pebble not running
        relay.wait_log('msg="metrics: serving"')
        relay.wait_log("acme: issuance failed")
        url = "http://%s:9375/readyz?verbose" % self.ns.ns_ip
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url, timeout=10)
        self.assertEqual(e.exception.code, 503)
        body = e.exception.read().decode()
        self.assertIn("[-] certificate", body)
        self.assertIn("[+] listener", body)
        self.pebble.start()
        since = len(relay.lines)
        relay.telemetry("/derper/acme_renew")
        self.wait_issued(since=since)
        with urllib.request.urlopen(url, timeout=10) as r:
            self.assertEqual(r.status, 200)
            self.assertIn("[+] certificate", r.read().decode())
        relay.stop()
        relay.assert_clean()

    @needs(SSLSCAN, package="sslscan")
    def test_sslscan_no_old_protocols_no_weak_ciphers(self):
        self.start_pebble()
        relay = self.start_relay()
        self.wait_issued()
        r = subprocess.run([SSLSCAN, "--no-colour", "--sni-name=" + HOST,
                            "%s:443" % self.ns.ns_ip], capture_output=True, text=True,
                           timeout=120)
        out = r.stdout
        self.assertIn("TLSv1.3   enabled", out)
        for proto in ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"):
            self.assertRegex(out, proto + r"\s+disabled")
        accepted = [l for l in out.splitlines() if l.startswith(("Preferred", "Accepted"))]
        self.assertTrue(accepted, out)
        for l in accepted:
            self.assertRegex(l, r"TLSv1\.[23]")
            bits = int(re.search(r"(\d+) bits", l).group(1))
            self.assertGreaterEqual(bits, 128, l)
            for weak in ("RC4", "DES", "NULL", "EXP", "MD5", "CBC", "SHA1 ", "anon"):
                self.assertNotIn(weak, l)
        relay.stop()
        relay.assert_clean()


class ManualReloadTest(unittest.TestCase):
    """SIGHUP in manual mode: the replaced files serve new handshakes, the
    sessions already up stay; files that do not load change nothing."""

    def test_sighup_reloads_manual_certificate(self):
        import signal
        d = tempfile.mkdtemp(prefix="derper-manual-")
        self.addCleanup(shutil.rmtree, d, True)
        relay = Relay(conf='cert: { mode = "manual"; dir = "%s"; };\n' % d, tls=False,
                      hostname="127.0.0.1")
        self.addCleanup(relay.cleanup)

        def leaf():
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as s:
                with ctx.wrap_socket(s, server_hostname="x") as t:
                    return hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest()

        first = leaf()
        a = Client("127.0.0.1", relay.port)
        b = Client("127.0.0.1", relay.port)
        crt, key = os.path.join(d, "127.0.0.1.crt"), os.path.join(d, "127.0.0.1.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key + ".new",
                        "-out", crt + ".new", "-days", "30", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        os.rename(key + ".new", key)
        os.rename(crt + ".new", crt)
        relay.proc.send_signal(signal.SIGHUP)
        relay.wait_log("SIGHUP: certificate reloaded")
        second = leaf()
        self.assertNotEqual(second, first)
        der = subprocess.run(["openssl", "x509", "-in", crt, "-outform", "DER"],
                             capture_output=True, check=True).stdout
        self.assertEqual(second, hashlib.sha256(der).hexdigest())
        a.send_packet(b.pub, b"across the swap")
        self.assertEqual(b.recv_packet(), (a.pub, b"across the swap"))
        # a broken file: refused, the current certificate stays
        with open(crt, "w") as f:
            f.write("not a certificate\n")
        relay.proc.send_signal(signal.SIGHUP)
        relay.wait_log("SIGHUP: certificate not reloaded")
        self.assertEqual(leaf(), second)
        b.send_packet(a.pub, b"still")
        self.assertEqual(a.recv_packet(), (b.pub, b"still"))
        a.close()
        b.close()
        relay.stop()
        relay.assert_clean()


if __name__ == "__main__":
    unittest.main(verbosity=2)
