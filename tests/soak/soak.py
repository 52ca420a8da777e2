#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Soak: the relay under churn for a bounded time (not in CI by default).

    sudo tests/soak/soak.py [--minutes 5] [--workers 300] [--build build-rel]

Hundreds of client threads connect over TLS, relay packets to random peers
that are connected at the moment, and disconnect at random, for N minutes;
thousands of sessions come and go. At the same time a client namespace
sends Tailscale STUN requests at the relay's DPDK port (net_af_packet on a
veth, shared mode). The first fifth of the run is warm-up. At the end, with
every client gone, the relay must be alive and:
  - RSS within 10 % of its level after warm-up;
  - file descriptors and the mempool's in-use count back to their baseline;
  - every STUN request answered or counted as dropped; exit 0 on SIGTERM.
Exit status 0 when all hold; the figures are printed either way.
"""
import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "e2e"))
import derpclient as dc  # noqa: E402
from relay import Relay  # noqa: E402

TOPO = os.path.join(SRC, "tests", "topology")
NAME, NET = "soak", 44


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class Churn:
    def __init__(self, port, end):
        self.port, self.end = port, end
        self.lock = threading.Lock()
        self.online = {}            # pub -> True
        self.connects = self.sent = self.received = self.errors = 0

    def worker(self, seed):
        rnd = random.Random(seed)
        while time.monotonic() < self.end:
            try:
                c = dc.Client("127.0.0.1", self.port, timeout=10)
            except Exception:
                with self.lock:
                    self.errors += 1
                continue
            c.conn.sock.settimeout(0.2)
            with self.lock:
                self.connects += 1
                self.online[c.pub] = True
            life = time.monotonic() + rnd.uniform(0.5, 8)
            try:
                while time.monotonic() < min(life, self.end):
                    with self.lock:
                        peers = list(self.online)
                    dst = rnd.choice(peers)
                    c.send_packet(dst, os.urandom(rnd.choice((64, 1200, 1400))))
                    with self.lock:
                        self.sent += 1
                    try:
                        while True:
                            c.recv_packet(skip=(dc.KEEP_ALIVE, dc.PING, dc.HEALTH, dc.PEER_GONE,
                                                dc.PEER_PRESENT))
                            with self.lock:
                                self.received += 1
                    except (socket.timeout, TimeoutError):
                        pass
            except Exception:
                with self.lock:
                    self.errors += 1
            with self.lock:
                self.online.pop(c.pub, None)
            c.close()


STUN_LOAD = r'''
import socket, struct, sys, time, zlib
end = time.monotonic() + float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
sent = got = 0
def req(i):
    body = struct.pack(">HHI", 1, 20, 0x2112A442) + i.to_bytes(12, "big") + struct.pack(">HH", 0x8022, 8) + b"tailnode"
    return body + struct.pack(">HHI", 0x8028, 4, (zlib.crc32(body) ^ 0x5354554E) & 0xFFFFFFFF)
while time.monotonic() < end:
    for _ in range(50):
        s.sendto(req(sent), (sys.argv[1], 3478)); sent += 1
    try:
        while True:
            s.recv(2048); got += 1
    except BlockingIOError:
        pass
    time.sleep(0.005)
time.sleep(0.5)
try:
    while True:
        s.recv(2048); got += 1
except BlockingIOError:
    pass
print(sent, got)
'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--workers", type=int, default=300)
    ap.add_argument("--build", default=os.path.join(SRC, "build-rel"))
    a = ap.parse_args()
    os.environ["DERPER_BIN"] = os.path.join(a.build, "derper")
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    subprocess.run([TOPO, "up", NAME, str(NET), "shared", "--srv-root"], check=True,
                   capture_output=True)
    srv = "198.18.%d.1" % NET
    relay = None
    ok = True
    try:
        relay = Relay(conf='dataplane: { eal = [ "--file-prefix=soak" ]; ports = ( { device = '
                      '"net_af_packet0,iface=%s-s,framecnt=4096"; mode = "shared"; address = "%s/24"; } ); };\n'
                      % (NAME, srv))
        pid = relay.proc.pid
        secs = a.minutes * 60
        base = {"fds": nfds(pid), "mbufs": relay.telemetry("/derper/stats")["mempool_in_use"]}
        stun = subprocess.Popen(["ip", "netns", "exec", NAME + "-cli", "/usr/bin/python3", "-c",
                                 STUN_LOAD, srv, str(secs)], stdout=subprocess.PIPE, text=True)
        churn = Churn(relay.port, time.monotonic() + secs)
        threads = [threading.Thread(target=churn.worker, args=(i,)) for i in range(a.workers)]
        for t in threads:
            t.start()
        time.sleep(secs / 5)                       # warm-up
        warm = {"rss": rss_kb(pid), "sessions": len(churn.online)}
        for t in threads:
            t.join()
        sent, got = map(int, stun.communicate(timeout=60)[0].split())
        # every client is gone: wait for the relay to have closed them all
        deadline = time.monotonic() + 30
        while relay.telemetry("/derper/tls")["accepts"] != sum(
                v for k, v in relay.telemetry("/derper/tls").items() if k.startswith("close_")):
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        time.sleep(11)                             # one malloc_trim period
        end = {"rss": rss_kb(pid), "fds": nfds(pid),
               "mbufs": relay.telemetry("/derper/stats")["mempool_in_use"]}
        stats = relay.telemetry("/derper/stats")
        print("soak: %.1f min, %d workers: %d sessions, %d packets sent, %d received, %d client errors"
              % (a.minutes, a.workers, churn.connects, churn.sent, churn.received, churn.errors))
        print("soak: STUN %d sent, %d answered (relay: %d answered)" % (sent, got, stats["stun_answered"]))
        print("soak: RSS %d KiB after warm-up (%d sessions), %d KiB at the end (%+.1f %%)"
              % (warm["rss"], warm["sessions"], end["rss"], 100.0 * (end["rss"] - warm["rss"]) / warm["rss"]))
        print("soak: fds %d -> %d, mempool in use %d -> %d"
              % (base["fds"], end["fds"], base["mbufs"], end["mbufs"]))
        checks = [
            ("relay alive", relay.proc.poll() is None),
            ("RSS within 10 % of warm-up", end["rss"] <= warm["rss"] * 1.10),
            ("fds back to baseline", end["fds"] == base["fds"]),
            ("mempool back to baseline", end["mbufs"] == base["mbufs"]),
            ("STUN answered", got > 0 and stats["stun_answered"] >= got),
            ("thousands of sessions", churn.connects >= 1000),
        ]
        code = relay.stop(signal.SIGTERM)
        checks.append(("exit 0 on SIGTERM", code == 0))
        for what, good in checks:
            print("%s %s" % ("ok  " if good else "FAIL", what))
            ok &= good
    finally:
        if relay:
            relay.cleanup()
        subprocess.run([TOPO, "down", NAME, "--srv-root"], capture_output=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
