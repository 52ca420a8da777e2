#!/bin/sh
# The Debian packages a built derper needs at run time, one per line: the
# owners of every library the binaries link, and DPDK's bus, mempool and
# net PMD plugins (loaded at run time from the plugin directory, so ldd
# cannot see them). Used by the Containerfile's build stage, and by the
# k8s test suite on this machine's build.
#
#   k8s/runtime-packages.sh build-rel/derper build-rel/derpprobe
set -eu
[ $# -gt 0 ] || { echo "usage: $0 BINARY..." >&2; exit 2; }
{
	for lib in $(ldd "$@" | awk '/=> \// { print $3 }' | sort -u); do
		real=$(readlink -f "$lib")
		# merged /usr: dpkg may know the file under either name
		dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null ||
			{ echo "runtime-packages: no package owns $lib" >&2; exit 1; }
	done | cut -d: -f1
	dpkg-query -W -f '${Package}\n' 'librte-bus-*' 'librte-mempool-*' 'librte-net-*'
} | sort -u
