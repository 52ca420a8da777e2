# SPDX-License-Identifier: BSD-3-Clause
"""Many sessions at once, and the graceful stop: SIGTERM sends every client
a Restarting frame before the relay closes and exits 0."""
import os
import resource
import signal
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import derpclient as dc  # noqa: E402
from relay import Relay  # noqa: E402

SESSIONS = int(os.environ.get("DERP_E2E_SESSIONS", "2000"))


def lock_step(test, a, b, n):
    """n round trips between clients a and b, each answer checked."""
    for i in range(n):
        a.send_packet(b.pub, struct.pack(">I", i))
        test.assertEqual(b.recv_packet(), (a.pub, struct.pack(">I", i)))
        b.send_packet(a.pub, struct.pack(">I", i))
        test.assertEqual(a.recv_packet(), (b.pub, struct.pack(">I", i)))


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

    def test_crowd_of_receivers_stops_the_spin(self):
        """The forwarder spins for a handful of flows and naps at once
        for a crowd (dataplane/spin_gate.h): a lock-step pair never makes a
        crowd; 40 receivers do, and are counted in spin_crowded."""
        a, b = dc.Client("127.0.0.1", self.relay.port), dc.Client("127.0.0.1", self.relay.port)
        lock_step(self, a, b, 300)
        self.assertEqual(self.relay.telemetry("/derper/stats")["spin_crowded"], 0)
        crowd = [dc.Client("127.0.0.1", self.relay.port) for _ in range(80)]
        # the verdict comes at the lcore's next idle turn after its 10 ms
        # window: keep the crowd sending until it is counted (bounded)
        deadline = time.monotonic() + 10
        rounds = 0
        while self.relay.telemetry("/derper/stats")["spin_crowded"] == 0:
            self.assertLess(time.monotonic(), deadline)
            for i in range(40):
                crowd[i].send_packet(crowd[40 + i].pub, struct.pack(">I", rounds))
            for i in range(40):
                self.assertEqual(crowd[40 + i].recv_packet(),
                                 (crowd[i].pub, struct.pack(">I", rounds)))
            rounds += 1
        for c in crowd + [a, b]:
            c.close()
        self.assertEqual(self.relay.stop(), 0)
        self.relay.assert_clean()

    def test_one_way_stream_stops_the_spin(self):
        """Nor does the forwarder spin for a one-way transfer
        (dataplane/spin_gate.h): a lock-step pair is all answers; 2,000
        packets from a to b with one back per sixteen are a stream, counted
        in spin_streaming."""
        a, b = dc.Client("127.0.0.1", self.relay.port), dc.Client("127.0.0.1", self.relay.port)
        lock_step(self, a, b, 300)
        self.assertEqual(self.relay.telemetry("/derper/stats")["spin_streaming"], 0)
        # the verdict comes at the forwarder's next idle turn after its
        # 10 ms window: keep the transfer going until it is counted (bounded)
        deadline = time.monotonic() + 10
        n = 0
        while self.relay.telemetry("/derper/stats")["spin_streaming"] == 0:
            self.assertLess(time.monotonic(), deadline)
            for _ in range(16):
                a.send_packet(b.pub, struct.pack(">I", n))
                n += 1
            for i in range(n - 16, n):
                self.assertEqual(b.recv_packet(), (a.pub, struct.pack(">I", i)))
            b.send_packet(a.pub, b"ack")
            self.assertEqual(a.recv_packet(), (b.pub, b"ack"))
        a.close()
        b.close()
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



def cpu_ticks(pid, name):
    """utime + stime of the relay's thread called name, in clock ticks."""
    for tid in os.listdir("/proc/%d/task" % pid):
        base = "/proc/%d/task/%s/" % (pid, tid)
        with open(base + "comm") as f:
            if f.read().strip() != name:
                continue
        with open(base + "stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    raise AssertionError("no thread %s" % name)


def threads(pid):
    """name -> (allowed CPUs, scheduler slice in ns or None) per thread."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        base = "/proc/%d/task/%s/" % (pid, tid)
        with open(base + "comm") as f:
            name = f.read().strip()
        cpus = set()
        with open(base + "status") as f:
            for line in f:
                if line.startswith("Cpus_allowed_list:"):
                    for part in line.split(":")[1].strip().split(","):
                        lo, _, hi = part.partition("-")
                        cpus.update(range(int(lo), int(hi or lo) + 1))
        sl = None
        with open(base + "sched") as f:
            for line in f:
                if line.startswith("se.slice"):
                    sl = int(line.split(":")[1])
        out[name] = (cpus, sl)
    return out


class ThreadPlacementTest(unittest.TestCase):
    """Where the forwarder and the TLS thread run, and the slice the
    latency-critical threads ask of the scheduler. On shared cores (idle =
    adaptive) with one TLS thread and one lcore, the TLS thread runs the
    forwarder itself (inline forwarding, dataplane/dataplane.h): it may run
    on every CPU and asks for the shortest slice, so a wake-up preempts
    other work at once (the kernel shows it in se.slice from 6.6; 0.1 ms is
    what it asks), and the lcore's thread, with no port here, stays parked
    (with ports it polls them: e2e/dataplane). With dedicated
    lcores (poll) the lcore forwards and the TLS thread keeps off its
    CPU."""

    def start(self, idle, prefix):
        r = Relay(conf='dataplane: { idle = "%s"; eal = [ "--file-prefix=%s" ]; };\n'
                  % (idle, prefix))
        self.addCleanup(r.cleanup)
        # the threads name themselves and set their slice as they start,
        # which may be just after the listener says it serves
        deadline = time.monotonic() + 10
        while True:
            t = threads(r.proc.pid)
            ready = [t.get(n) for n in ("rte-worker-1", "derper-tls0")]
            if all(ready) and (idle == "poll" or ready[1][1] in (None, 100000)):
                return r, t
            if time.monotonic() > deadline:
                self.fail("threads not started, or no short slice: %s" % t)
            time.sleep(0.01)

    def test_adaptive_forwards_on_the_tls_thread(self):
        r, t = self.start("adaptive", "e2e-place-a")
        self.assertTrue(any('msg="dataplane: forwarding inline"' in l for l in r.lines), r.log())
        tls_cpus, tls_slice = t["derper-tls0"]
        self.assertEqual(tls_cpus, set(os.sched_getaffinity(0)), t)
        if tls_slice is not None:
            # the other threads keep the slice the relay inherited
            with open("/proc/self/sched") as f:
                own = [int(x.split(":")[1]) for x in f if x.startswith("se.slice")][0]
            self.assertNotEqual(own, 100000, "run from a thread of the default slice")
            self.assertEqual(t["derper"][1], own, t)
            self.assertEqual(tls_slice, 100000, t)
        # a lock-step pair: the forwarder's passes are counted, and the
        # parked lcore thread spends no CPU on them
        worker0, before = cpu_ticks(r.proc.pid, "rte-worker-1"), r.telemetry("/derper/stats")
        a, b = dc.Client("127.0.0.1", r.port), dc.Client("127.0.0.1", r.port)
        lock_step(self, a, b, 300)
        after = r.telemetry("/derper/stats")
        self.assertGreaterEqual(after["loops"] - before["loops"], 600)
        self.assertEqual(cpu_ticks(r.proc.pid, "rte-worker-1"), worker0)
        a.close()
        b.close()
        self.assertEqual(r.stop(), 0)

    def test_poll_tls_thread_keeps_off_the_lcore_cpu(self):
        if len(os.sched_getaffinity(0)) < 2:
            self.skipTest("one CPU: nothing to keep off")
        r, t = self.start("poll", "e2e-place-p")
        self.assertFalse(any("forwarding inline" in l for l in r.lines), r.log())
        lcore_cpus, tls_cpus = t["rte-worker-1"][0], t["derper-tls0"][0]
        self.assertTrue(tls_cpus, t)
        self.assertFalse(lcore_cpus & tls_cpus, t)
        self.assertEqual(r.stop(), 0)

    def test_clean_stop_leaves_no_runtime_dir(self):
        """The EAL's runtime directory (the telemetry socket's) goes with
        the relay on a clean stop, as the socket does."""
        r, _ = self.start("adaptive", "e2e-place-d")
        run = "/var/run/dpdk/e2e-place-d"
        self.assertTrue(os.path.exists(run + "/dpdk_telemetry.v2"))
        self.assertEqual(r.stop(), 0)
        self.assertFalse(os.path.exists(run))


if __name__ == "__main__":
    unittest.main(verbosity=2)
