# SPDX-License-Identifier: BSD-3-Clause
"""Tests that need an outside tool (pebble, gnutls-cli, promtool, ...).

`needs(path, package)` decorates a test or a class. Where the tool is
missing, a developer's run skips it with the package to install; under
CI=true (as .ci/run runs) it fails instead, so a machine that lacks an
install step can never pass by skipping what it could not run.
"""
import os
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
