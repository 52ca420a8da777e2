# SPDX-License-Identifier: BSD-3-Clause
"""Start and stop a derper under test, with a generated configuration.

The relay listens on an ephemeral loopback port (msg="tls: serving" ...
port=N); it is ready at its own log line msg="derper: running", never
after a sleep.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

BIN = os.environ.get("DERPER_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "derper"))


class Relay:
    made = 0

    def __init__(self, conf="", args=(), env=None, tls=True, start=True,
                 hostname="localhost", state_dir=None, netns=None, listen="127.0.0.1:0",
                 config_file=None, cwd=None):
        self.dir = state_dir or tempfile.mkdtemp(prefix="derper-e2e-")
        self.own_dir = state_dir is None
        self.conf_path = config_file or os.path.join(self.dir, "derper.conf")
        self.cwd = cwd
        mode = 'cert: { mode = "selfsigned"; dir = "%s/certs"; };\n' % self.dir if tls else ""
        with open(os.devnull if config_file else self.conf_path, "w") as f:
            f.write('hostname = "%s";\n' % hostname)
            f.write('listen = "%s";\n' % listen)
            f.write("http_port = -1;\n")
            f.write('key_file = "%s/derper.key";\n' % self.dir)
            f.write('metrics: { listen = ""; };\n')
            f.write(mode)
            f.write(conf)
            if not re.search(r"^\s*dataplane\s*[:=]", conf, re.M):
                # a prefix of its own: relays on the default one share
                # /var/run/dpdk/rte, and one that exits removes the
                # telemetry socket another has just made there
                Relay.made += 1
                f.write('dataplane: { eal = [ "--file-prefix=e2e-%d-%d" ]; };\n'
                        % (os.getpid(), Relay.made))
        self.args = list(args)
        self.netns = netns
        self.env = dict(os.environ)
        # sanitizer findings end the process, so no test can miss them
        self.env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        for k in list(self.env):
            if k.startswith("DERP_"):
                del self.env[k]
        if env:
            self.env.update(env)
        self.proc = None
        self.lines = []
        self.port = None
        self.ready = threading.Event()
        self.cond = threading.Condition()
        if start:
            self.start()

    def start(self, timeout=30):
        self.lines = []
        self.ready.clear()
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        self.proc = subprocess.Popen(prefix + [BIN, "--config", self.conf_path] + self.args,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=self.env, text=True, errors="replace", cwd=self.cwd)
        threading.Thread(target=self._reader, daemon=True).start()
        if not self.ready.wait(timeout):
            self.kill()
            raise RuntimeError("derper did not start:\n" + "".join(self.lines))
        if self.port is None:
            raise RuntimeError("derper exited:\n" + "".join(self.lines))

    def _reader(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
            m = re.search(r'msg="tls: serving".* port=(\d+)', line)
            if m:
                self.port = int(m.group(1))
            # everything (ACME, mesh, metrics) has started after this line
            if 'msg="derper: running"' in line:
                self.ready.set()
        self.ready.set()
        with self.cond:
            self.cond.notify_all()

    def wait_log(self, pattern, timeout=10):
        """Wait for a log line matching pattern; return the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no log line /%s/ in:\n%s" % (pattern, "".join(self.lines[-30:])))
                self.cond.wait(left)

    def wait_until(self, pred, timeout=10):
        """Wait until pred(lines) is true (checked on every new line)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred(self.lines):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def log(self):
        return "".join(self.lines)

    def assert_clean(self):
        """No sanitizer finding and no error-level line in the log."""
        log = self.log()
        for bad in ("runtime error", "Sanitizer", "level=error"):
            if bad in log:
                raise AssertionError("%r in derper's log:\n%s" % (bad, log[-6000:]))

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError("derper did not exit within %ds" % timeout)
        return rc

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self):
        killed = bool(self.proc) and self.proc.poll() is None
        self.kill()
        # a killed relay leaves its telemetry socket and the EAL runtime
        # directory (a clean stop removes both); the default prefix may be
        # another running relay's, so only a test's own prefix is removed
        if killed and self.prefix() != "rte":
            run = "/var/run/dpdk/" + self.prefix()
            try:
                os.unlink(run + "/dpdk_telemetry.v2")
            except OSError:
                pass
            try:
                os.rmdir(run)
            except OSError:
                pass
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def prefix(self):
        """The EAL file prefix the relay runs with ("rte" by default)."""
        try:
            with open(self.conf_path) as f:
                m = re.search(r'--file-prefix[= ]([^"\s,\]]+)', f.read())
        except OSError:
            m = None
        return m.group(1) if m else "rte"

    def telemetry(self, cmd):
        """One DPDK telemetry command, the way dpdk-telemetry.py asks."""
        import json
        import socket as so
        s = so.socket(so.AF_UNIX, so.SOCK_SEQPACKET)
        s.settimeout(5)
        s.connect("/var/run/dpdk/%s/dpdk_telemetry.v2" % self.prefix())
        json.loads(s.recv(16384))
        s.send(cmd.encode())
        reply = json.loads(s.recv(1 << 20))
        s.close()
        return reply[cmd.split(",")[0]]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
