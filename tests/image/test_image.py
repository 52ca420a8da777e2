# SPDX-License-Identifier: BSD-3-Clause
"""Smoke tests of the container image (./derper.sh image-test), with podman:

1. host network: the relay in the image becomes ready on a config mounted
   at /etc/derper, derpprobe inside the container relays both ways,
   Tailscale's own client (derpc check, ../shared/peers) passes from
   outside, and `podman stop` drains it to exit status 0;
2. the data path inside the container: 2 MiB hugepages reserved and
   mounted into it, net_af_packet in shared mode on a veth of a server
   namespace whose far end is in a client namespace (198.18.0.0/15), STUN
   answered from the client namespace; everything reverted afterwards;
3. `podman kube play` of the pod the hostnetwork overlay renders
   (tests/image/kube_pod.py turns the StatefulSet into a Pod with its
   ConfigMap and Secret, adjusted only where podman 4.3 differs from a
   kubelet): the pod becomes ready and relays.

Containers, pods, volumes, mounts and namespaces are removed even when a
step fails. Needs root, podman and the image (k8s/image.sh).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
TOPO = os.path.join(SRC, "tests", "topology")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "e2e"))
import kube_pod  # noqa: E402
from acme_env import free_port  # noqa: E402
from tools import peers_dir  # noqa: E402

PEERS = peers_dir()


def image_env():
    out = subprocess.run([os.path.join(SRC, "k8s", "image.sh"), "env"], check=True,
                         capture_output=True, text=True).stdout
    env = dict(line.split("=", 1) for line in out.split("\n") if "=" in line)
    return env["IMAGE"], env.get("CONTAINERS_CONF", "")


IMAGE, CONF = image_env()
ENV = dict(os.environ)
if CONF:
    ENV["CONTAINERS_CONF"] = CONF


def podman(*args, check=True, timeout=120):
    r = subprocess.run(["podman"] + list(args), capture_output=True, text=True, env=ENV,
                       timeout=timeout)
    if check and r.returncode:
        raise AssertionError("podman %s: %s" % (" ".join(args), (r.stdout + r.stderr)[-2000:]))
    return r


def wait_http(url, timeout=60):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError as e:
            last = e
        time.sleep(0.5)
    raise AssertionError("%s not ready: %s" % (url, last))


NR_HUGE = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
FREE_HUGE = "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"


def rd(path):
    with open(path) as f:
        return int(f.read())


def wr(path, value):
    with open(path, "w") as f:
        f.write(str(value))


def stun_answered(ns, srv, net):
    """coturn's STUN client in the client namespace: answered by the relay,
    with the client's own address?"""
    try:
        r = subprocess.run(["ip", "netns", "exec", ns + "-cli", "turnutils_stunclient", srv],
                           capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        return False
    return re.search(r"UDP reflexive addr: 198\.18\.%d\.2:\d+" % net, r.stdout) is not None


class ImageTest(unittest.TestCase):
    def setUp(self):
        self.assertEqual(podman("image", "exists", IMAGE, check=False).returncode, 0,
                         "%s is not built (./derper.sh image)" % IMAGE)
        self.tmp = tempfile.mkdtemp(prefix="derper-image-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def container(self, name, conf, *extra):
        """Runs the image detached with /etc/derper from `conf`."""
        etc = os.path.join(self.tmp, "etc")
        state = os.path.join(self.tmp, "state")
        os.makedirs(etc)
        os.makedirs(state)
        with open(os.path.join(etc, "derper.conf"), "w") as f:
            f.write(conf)
        podman("rm", "-f", name, check=False)
        self.addCleanup(podman, "rm", "-f", "-t", "0", name, check=False)
        podman("run", "-d", "--name", name, "--pull=never", "--privileged",
               "-v", "%s:/etc/derper:ro" % etc, "-v", "%s:/var/lib/derper" % state,
               *extra, IMAGE)
        return name

    def logs(self, name):
        return podman("logs", name, check=False).stdout + podman("logs", name, check=False).stderr

    def test_1_host_network(self):
        port, mport = free_port(), free_port()
        name = self.container("derper-it-host", (
            'hostname = "localhost";\nlisten = "127.0.0.1:%d";\nhttp_port = -1;\n'
            'key_file = "/var/lib/derper/derper.key";\n'
            'cert: { mode = "selfsigned"; dir = "/var/lib/derper/certs"; };\n'
            'metrics: { listen = "127.0.0.1:%d"; };\nstun: { enabled = false; };\n'
            'dataplane: { eal = [ "--file-prefix=derper-it-host" ]; };\n' % (port, mport)),
            "--network", "host")
        try:
            wait_http("http://127.0.0.1:%d/readyz" % mport)
        except AssertionError:
            raise AssertionError(self.logs(name)[-3000:])
        r = podman("exec", name, "derpprobe", "--insecure", "--count", "5",
                   "https://127.0.0.1:%d/derp" % port, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("derpprobe: OK", r.stdout)
        derpc = os.path.join(PEERS, "derpc")
        self.assertTrue(os.access(derpc, os.X_OK), "%s missing" % derpc)
        r = subprocess.run([derpc, "check", "https://127.0.0.1:%d/derp" % port, "-insecure",
                            "-sni", "localhost"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        podman("stop", "-t", "30", name)
        code = podman("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip()
        self.assertEqual(code, "0", self.logs(name)[-2000:])
        self.assertIn('msg="derper: stopped"', self.logs(name))

    def hugepages(self, pages=128):
        """2 MiB pages reserved and a hugetlbfs mount of them; both undone
        at cleanup."""
        before = rd(NR_HUGE)
        self.addCleanup(wr, NR_HUGE, before)
        wr(NR_HUGE, before + pages)
        self.assertGreaterEqual(rd(NR_HUGE), before + pages // 2,
                                "no 2 MiB hugepages here")
        huge = os.path.join(self.tmp, "huge")
        os.makedirs(huge)
        subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "none", huge],
                       check=True)
        self.addCleanup(subprocess.run, ["umount", huge], capture_output=True)
        return huge

    def assert_hugepages_used(self):
        free = rd(FREE_HUGE)
        self.assertLess(free, rd(NR_HUGE), "no hugepage in use")

    def test_2_data_path_with_hugepages(self):
        huge = self.hugepages()
        name_ns, net = "dimg", 19
        subprocess.run([TOPO, "up", name_ns, str(net), "shared"], check=True,
                       capture_output=True)
        self.addCleanup(subprocess.run, [TOPO, "down", name_ns], capture_output=True)
        srv = "198.18.%d.1" % net
        mport = free_port()
        name = self.container("derper-it-dp", (
            'hostname = "localhost";\nlisten = ":8443";\nhttp_port = -1;\n'
            'key_file = "/var/lib/derper/derper.key";\n'
            'cert: { mode = "selfsigned"; dir = "/var/lib/derper/certs"; };\n'
            'metrics: { listen = "127.0.0.1:%d"; };\n'
            'dataplane: { hugepages = "require"; eal = [ "--file-prefix=derper-it-dp" ];\n'
            '  ports = ( { device = "net_af_packet0,iface=%s-s,framecnt=4096";'
            ' mode = "shared"; address = "%s/24"; } ); };\n' % (mport, name_ns, srv)),
            "--network", "ns:/run/netns/%s-srv" % name_ns, "-v", "%s:/dev/hugepages" % huge)
        end = time.monotonic() + 60
        answered = False
        while time.monotonic() < end and not answered:
            answered = stun_answered(name_ns, srv, net)
            if not answered:
                self.assertEqual(podman("inspect", "-f", "{{.State.Running}}", name)
                                 .stdout.strip(), "true", self.logs(name)[-3000:])
                time.sleep(1)
        self.assertTrue(answered, self.logs(name)[-3000:])
        # the relay's memory came from the hugepages mounted into it
        self.assert_hugepages_used()
        self.assertNotIn("--no-huge", self.logs(name))
        podman("stop", "-t", "30", name)
        self.assertEqual(podman("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip(),
                         "0", self.logs(name)[-2000:])

    def test_3_kube_play_hostnetwork_overlay(self):
        name_ns, net = "kimg", 20
        # the pod is on the host's network: the server side of the veth in
        # the root namespace, the client namespace behind it
        subprocess.run([TOPO, "up", name_ns, str(net), "shared", "--srv-root"], check=True,
                       capture_output=True)
        self.addCleanup(subprocess.run, [TOPO, "down", name_ns, "--srv-root"],
                        capture_output=True)
        srv = "198.18.%d.1" % net
        port = free_port()
        huge = self.hugepages()
        play = os.path.join(self.tmp, "pod.yaml")
        state = os.path.join(self.tmp, "state")
        os.makedirs(state)
        mesh_key = os.path.join(self.tmp, "mesh.key")
        with open(os.open(mesh_key, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        rendered = subprocess.run(["kubectl", "kustomize",
                                   os.path.join(SRC, "k8s", "overlays", "hostnetwork")],
                                  check=True, capture_output=True, text=True).stdout
        # test settings: no Let's Encrypt, no tailscaled, a port of its own,
        # and no mesh peers (their names resolve only in a cluster)
        with open(play, "w") as f:
            f.write(kube_pod.convert(
                rendered, image=IMAGE, state_dir=state, huge_dir=huge, mesh_key_file=mesh_key,
                iface=name_ns + "-s",
                env={"DERP_ADDR": "127.0.0.1:%d" % port, "DERP_HTTP_PORT": "-1",
                     "DERP_CERT_MODE": "selfsigned", "DERP_VERIFY_CLIENTS": "false"},
                args=["--set", "mesh.peers="]))
        mport = 9375    # the overlay's metrics.listen, on the host's network
        self.addCleanup(podman, "kube", "down", play, check=False)
        # podman 4.3 keeps a volume per ConfigMap after `kube down`
        for cm in kube_pod.configmap_names(rendered):
            podman("volume", "rm", "-f", cm, check=False)
            self.addCleanup(podman, "volume", "rm", "-f", cm, check=False)
        self.addCleanup(podman, "pod", "rm", "-f", "-t", "0", kube_pod.POD_NAME, check=False)
        podman("kube", "play", play, timeout=300)
        try:
            wait_http("http://127.0.0.1:%d/readyz" % mport, timeout=90)
        except AssertionError:
            raise AssertionError(podman("logs", kube_pod.POD_NAME + "-derper", check=False)
                                 .stderr[-3000:])
        r = subprocess.run([os.path.join(PEERS, "derpc"), "check",
                            "https://127.0.0.1:%d/derp" % port, "-insecure", "-sni",
                            kube_pod.POD_NAME + ".example.com"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(stun_answered(name_ns, srv, net))
        self.assert_hugepages_used()


if __name__ == "__main__":
    unittest.main()
