# SPDX-License-Identifier: BSD-3-Clause
"""Tests that need an outside tool (pebble, gnutls-cli, promtool, ...).

`needs(path, package)` decorates a test or a class. Where the tool is
missing, a developer's run skips it with the package to install; under
CI=true (as .ci/run runs) it fails instead, so a machine that lacks an
install step can never pass by skipping what it could not run.
"""
import os
import subprocess
import unittest


def in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def needs(*paths, package):
    missing = [p for p in paths if not os.path.exists(p)]
    if not missing:
        return lambda obj: obj
    why = "%s missing (Debian package %s; ./derper.sh deps installs it)" % (
        ", ".join(missing), package)
    if not in_ci():
        return unittest.skip(why)

    def fail(obj):
        if isinstance(obj, type):
            def setUpClass(cls):
                raise AssertionError("CI=true: " + why)
            obj.setUpClass = classmethod(setUpClass)
            return obj

        def failing(self, *a, **kw):
            self.fail("CI=true: " + why)
        failing.__name__ = obj.__name__
        return failing
    return fail


def peers_dir():
    """Where the peers (Tailscale's derper, derpc, tailscaled, tailnet-e2e,
    Hyper-DERP) are: $DERPER_PEERS; else ../shared/peers beside this
    checkout; else beside the repository it was cloned from, when that is a
    local path (a clean clone made elsewhere, as CI may make one)."""
    if os.environ.get("DERPER_PEERS"):
        return os.environ["DERPER_PEERS"]
    src = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    here = os.path.join(src, "..", "shared", "peers")
    if os.path.isdir(here):
        return os.path.abspath(here)
    try:
        origin = subprocess.run(["git", "-C", src, "remote", "get-url", "origin"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        origin = ""
    if origin.startswith("file://"):
        origin = origin[len("file://"):]
    if origin.startswith("/"):
        there = os.path.join(origin, "..", "shared", "peers")
        if os.path.isdir(there):
            return os.path.abspath(there)
    return os.path.abspath(here)
