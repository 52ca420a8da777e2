# SPDX-License-Identifier: BSD-3-Clause
"""A real ACME server for the e2e suite: Debian's pebble (Let's Encrypt's
test server) and pebble-challtestsrv as its DNS, on 127.0.0.1.

Debian ships neither a configuration nor an API certificate for pebble, so
this makes a throwaway CA and a pebble config in a temporary directory.
Pebble's habits the relay must survive are left on: 5 % of nonces are
rejected (badNonce), HTTP-01 tokens are fetched several times, the root is
new on every start (fetched from the management port). Only the random
validation sleeps are turned off (PEBBLE_VA_NOSLEEP), to keep tests fast.
"""
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request

PEBBLE = "/usr/bin/pebble"
CHALLTESTSRV = "/usr/bin/pebble-challtestsrv"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, timeout=30, host="127.0.0.1"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("exited: %s" % proc.args[0])
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s did not listen on %d" % (proc.args[0], port))


class Netns:
    """A namespace for the relay, joined to this one by a veth pair
    (198.18.x.1 here, 198.18.x.2 there): derper serves TLS only on port 443
    (or in manual mode), and 443/80 are free only in a namespace of our own.
    Always deleted by cleanup()."""

    def __init__(self, name, subnet):
        self.name = name
        self.host_ip = "198.18.%d.1" % subnet
        self.ns_ip = "198.18.%d.2" % subnet
        self.veth = "v" + name[-12:]
        self.cleanup()
        run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
        run("ip", "netns", "add", name)
        run("ip", "link", "add", self.veth, "type", "veth", "peer", "name", "eth0", "netns", name)
        run("ip", "addr", "add", self.host_ip + "/30", "dev", self.veth)
        run("ip", "link", "set", self.veth, "up")
        run("ip", "netns", "exec", name, "ip", "addr", "add", self.ns_ip + "/30", "dev", "eth0")
        run("ip", "netns", "exec", name, "ip", "link", "set", "eth0", "up")
        run("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")

    def cleanup(self):
        subprocess.run(["ip", "link", "del", self.veth], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


class Pebble:
    """pebble + challtestsrv; http_port/tls_port are where pebble validates,
    on target_ip (what the mock DNS answers for every name)."""

    def __init__(self, http_port, tls_port, bind_ip="127.0.0.1", target_ip="127.0.0.1"):
        self.dir = tempfile.mkdtemp(prefix="pebble-e2e-")
        self.bind_ip, self.target_ip = bind_ip, target_ip
        self.http_port, self.tls_port = http_port, tls_port
        self.api_port, self.mgmt_port = free_port(), free_port()
        self.dns_port, self.cts_mgmt = free_port(), free_port()
        self.ca = os.path.join(self.dir, "api-ca.pem")
        self._make_api_cert()
        self.procs = []
        self.log = open(os.path.join(self.dir, "pebble.log"), "w")

    def _make_api_cert(self):
        d = self.dir
        run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", d + "/api-ca.key", "-out", self.ca, "-days", "2",
            "-subj", "/CN=pebble e2e API CA")
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", d + "/api.key", "-out", d + "/api.csr", "-subj", "/CN=localhost")
        with open(d + "/ext", "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,IP:%s,DNS:localhost\n" % self.bind_ip)
        run("openssl", "x509", "-req", "-in", d + "/api.csr", "-CA", self.ca, "-CAkey",
            d + "/api-ca.key", "-CAcreateserial", "-out", d + "/api.pem", "-days", "2",
            "-extfile", d + "/ext")

    @property
    def directory(self):
        return "https://%s:%d/dir" % (self.bind_ip, self.api_port)

    def start(self):
        conf = {"pebble": {
            "listenAddress": "%s:%d" % (self.bind_ip, self.api_port),
            "managementListenAddress": "127.0.0.1:%d" % self.mgmt_port,
            "certificate": self.dir + "/api.pem", "privateKey": self.dir + "/api.key",
            "httpPort": self.http_port, "tlsPort": self.tls_port,
            "ocspResponderURL": "", "externalAccountBindingRequired": False}}
        with open(self.dir + "/pebble.json", "w") as f:
            json.dump(conf, f)
        cts = subprocess.Popen(
            [CHALLTESTSRV, "-defaultIPv4", self.target_ip, "-defaultIPv6", "",
             "-dns01", "127.0.0.1:%d" % self.dns_port, "-http01", "", "-https01", "",
             "-tlsalpn01", "", "-management", "127.0.0.1:%d" % self.cts_mgmt],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.procs.append(cts)
        wait_port(self.cts_mgmt, cts)
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1")
        p = subprocess.Popen([PEBBLE, "-config", self.dir + "/pebble.json",
                              "-dnsserver", "127.0.0.1:%d" % self.dns_port],
                             stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.procs.append(p)
        wait_port(self.api_port, p, host=self.bind_ip)
        return self

    def root_pem(self):
        """Pebble's issuing root, which changes on every start."""
        ctx = ssl.create_default_context(cafile=self.ca)
        with urllib.request.urlopen("https://127.0.0.1:%d/roots/0" % self.mgmt_port,
                                    context=ctx, timeout=10) as r:
            return r.read().decode()

    def stop(self):
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []

    def cleanup(self):
        self.stop()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def logtail(self):
        with open(self.dir + "/pebble.log") as f:
            return f.read()[-3000:]
