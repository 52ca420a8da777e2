# SPDX-License-Identifier: BSD-3-Clause
"""The derper command line as an operator uses it: --check-config on good
and broken files, --print-config, --help, --version, flags and DERP_*
variables reaching the running relay, and derpprobe against it."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from relay import BIN, Relay  # noqa: E402

SRC = os.path.join(os.path.dirname(__file__), "..", "..")
PROBE = os.environ.get("DERPPROBE_BIN", os.path.join(os.path.dirname(BIN), "derpprobe"))


def run(args, env=None, **kw):
    e = {k: v for k, v in os.environ.items() if not k.startswith("DERP_")}
    e.update(env or {})
    kw.setdefault("timeout", 60)
    return subprocess.run([BIN] + args, capture_output=True, text=True, env=e, **kw)


class CliTest(unittest.TestCase):
    def write(self, text):
        f = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
        f.write(text)
        f.close()
        self.addCleanup(os.unlink, f.name)
        return f.name

    def test_check_config_example_ok(self):
        r = run(["--check-config", "--config", os.path.join(SRC, "config/derper.conf.example")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration OK", r.stdout)

    def test_check_config_broken_has_line(self):
        path = self.write('hostname = "derp.example.com";\n\nstun: {\n  port = 70000;\n};\nlimts: { max_sessions = 1; };\n')
        r = run(["--check-config", "--config", path])
        self.assertEqual(r.returncode, 2)
        self.assertIn("%s:4: stun.port: 70000 is out of range 1..65535" % path, r.stderr)
        self.assertIn("%s:6: limts: unknown key (did you mean limits?)" % path, r.stderr)

    def test_check_config_syntax_error(self):
        path = self.write('hostname = "x"\nstun = {;\n')
        r = run(["--check-config", "--config", path])
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr, re.escape(path) + r":\d+: ")

    def test_print_config_precedence(self):
        path = self.write('hostname = "from-file.example.com";\nstun: { port = 3000; };\nhttp_port = 81;\n')
        r = run(["--print-config", "--config", path, "-stun-port", "4000", "--set", "dataplane.lcores=1"],
                env={"DERP_STUN_PORT": "3500", "DERP_HTTP_PORT": "82", "DERP_DOMAIN": "env.example.com"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('hostname = "env.example.com";  # env DERP_DOMAIN', r.stdout)
        self.assertIn("port = 4000;  # flag -stun-port", r.stdout)
        self.assertIn("http_port = 82;  # env DERP_HTTP_PORT", r.stdout)

    def test_help_and_version(self):
        r = run(["--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("-verify-client-url", r.stdout)
        self.assertIn("DERP_VERIFY_CLIENT_URL", r.stdout)
        r = run(["--version"])
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"derper-dpdk \S+ \(DPDK 22\.11")

    def test_bad_flag_refused(self):
        r = run(["-verify-clients", "true"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("unexpected argument", r.stderr)

    def test_startup_failure_names_cause(self):
        path = self.write('listen = "127.0.0.1:0";\nkey_file = "/proc/derper-no/x.key";\n'
                          'cert: { mode = "selfsigned"; dir = "/tmp"; };\nmetrics: { listen = ""; };\n')
        r = run(["--config", path])
        self.assertEqual(r.returncode, 1)
        self.assertIn("/proc/derper-no", r.stderr)

    def test_manual_key_readable_by_all_refused(self):
        """cert.mode manual: a TLS key file every user can read is refused
        at start, as the server and ACME account keys are."""
        d = tempfile.mkdtemp(prefix="derper-manual-")
        self.addCleanup(subprocess.run, ["rm", "-rf", d])
        key, crt = os.path.join(d, "127.0.0.1.key"), os.path.join(d, "127.0.0.1.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", crt], check=True, capture_output=True)
        path = self.write('hostname = "127.0.0.1";\nlisten = "127.0.0.1:0";\nhttp_port = -1;\n'
                          'key_file = "%s/derper.key";\ncert: { mode = "manual"; dir = "%s"; };\n'
                          'metrics: { listen = ""; };\n' % (d, d))
        os.chmod(key, 0o644)
        r = run(["--config", path], timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("%s is readable by every user (mode 644)" % key, r.stderr)
        os.chmod(key, 0o600)
        with Relay(config_file=path, tls=False) as relay:
            self.assertEqual(relay.stop(), 0)

    def test_env_reaches_relay_and_derpprobe(self):
        # DERP_ADDR and DERP_CERT_MODE as the container images set them
        d = tempfile.mkdtemp()
        self.addCleanup(subprocess.run, ["rm", "-rf", d])
        with Relay(env={"DERP_CERT_MODE": "selfsigned", "DERP_DOMAIN": "localhost",
                        "DERP_CERT_DIR": d + "/new/certs"}, tls=False) as r:
            r.wait_log(r"tls=yes")
            p = subprocess.run([PROBE, "--insecure", "--count", "50",
                                "https://127.0.0.1:%d/derp" % r.port],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("fast-start", p.stdout)
            self.assertIn("derpprobe: OK", p.stdout)
            self.assertEqual(r.stop(), 0)
            r.assert_clean()

    def test_derpprobe_reports_failures(self):
        with Relay(conf="derp = false;\n") as r:
            p = subprocess.run([PROBE, "--insecure", "https://127.0.0.1:%d" % r.port],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1)
            self.assertIn("FAIL: client A: upgrade refused: HTTP/1.1 404", p.stderr)
            p = subprocess.run([PROBE, "https://127.0.0.1:%d" % r.port],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1)
            self.assertIn("certificate verify failed", p.stderr)
            ca = os.path.join(r.dir, "certs", "localhost.crt")
            p = subprocess.run([PROBE, "--ca", ca, "--sni", "localhost",
                                "https://127.0.0.1:%d" % r.port],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1)  # verified now, but DERP is off
            self.assertIn("404", p.stderr)
        p = subprocess.run([PROBE, "--timeout", "2", "https://127.0.0.1:1"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn("connect 127.0.0.1:1", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
