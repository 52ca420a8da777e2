#!/bin/sh
# derper-dpdk container entrypoint.
#
# 1. Per-pod values the manifests cannot template:
#    - DERP_ADDRESSES_FILE (SR-IOV overlay): a table "pod address/prefix
#      gateway"; this pod's line becomes DERP_PORT_ADDRESS and
#      DERP_PORT_GATEWAY.
#    - DERP_IFACE without DERP_IFACE_ADDRESS (hostNetwork overlay): the
#      interface's IPv4 address/prefix becomes DERP_IFACE_ADDRESS.
#    - DERP_DATAPLANE_CPUS=N: the last N CPUs this container may use become
#      dataplane.lcores (the others run the TLS and control threads).
# 2. ${NAME} in the *.conf files of $DERPER_CONFIG_DIR (the ConfigMap) is
#    replaced by the variable's value into $DERPER_RUN_DIR; comment lines
#    are left alone. An unset variable, or a value that could break out of
#    a configuration string, refuses to start.
# 3. exec derper on the result. The DERP_* variables reach derper as they
#    are (derper reads them itself), so the seed's env-only configuration
#    works by swapping the image. Extra arguments go to derper.
set -eu

SRC=${DERPER_CONFIG_DIR:-/etc/derper}
RUN=${DERPER_RUN_DIR:-/run/derper}
DERPER=${DERPER_BIN:-/usr/local/bin/derper}

die() {
	echo "derper-entrypoint: $*" >&2
	exit 2
}

if [ -n "${DERP_ADDRESSES_FILE:-}" ]; then
	[ -r "$DERP_ADDRESSES_FILE" ] || die "$DERP_ADDRESSES_FILE is not readable"
	[ -n "${MY_POD_NAME:-}" ] || die "MY_POD_NAME is not set (downward API)"
	line=$(awk -v pod="$MY_POD_NAME" '$1 == pod && NF >= 2 { print $2, ($3 == "" ? "-" : $3); exit }' \
		"$DERP_ADDRESSES_FILE")
	[ -n "$line" ] || die "$DERP_ADDRESSES_FILE has no line for $MY_POD_NAME"
	DERP_PORT_ADDRESS=${line%% *}
	DERP_PORT_GATEWAY=${line#* }
	[ "$DERP_PORT_GATEWAY" = "-" ] && DERP_PORT_GATEWAY=""
	export DERP_PORT_ADDRESS DERP_PORT_GATEWAY
fi

if [ -n "${DERP_IFACE:-}" ] && [ -z "${DERP_IFACE_ADDRESS:-}" ]; then
	DERP_IFACE_ADDRESS=$(ip -o -4 addr show dev "$DERP_IFACE" scope global 2>/dev/null |
		awk '{ print $4; exit }')
	[ -n "$DERP_IFACE_ADDRESS" ] || die "no IPv4 address on $DERP_IFACE (set DERP_IFACE_ADDRESS)"
	export DERP_IFACE_ADDRESS
fi

lcores=""
if [ -n "${DERP_DATAPLANE_CPUS:-}" ]; then
	cpus=$(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/self/status)
	lcores=$(echo "$cpus" | awk -v n="$DERP_DATAPLANE_CPUS" -F, '
		{ for (i = 1; i <= NF; i++) {
			m = split($i, r, "-"); lo = r[1] + 0; hi = (m == 2 ? r[2] : r[1]) + 0
			for (c = lo; c <= hi; c++) list[k++] = c } }
		END { if (n !~ /^[0-9]+$/ || n < 1 || k <= n) exit 1
		      s = ""; for (i = k - n; i < k; i++) s = s (s == "" ? "" : ",") list[i]
		      print s }') ||
		die "DERP_DATAPLANE_CPUS=$DERP_DATAPLANE_CPUS: this container may use CPUs $cpus, and one must stay for the TLS threads"
fi

mkdir -p "$RUN"
[ -r "$SRC/derper.conf" ] || die "$SRC/derper.conf is missing (the derper-config ConfigMap)"
for f in "$SRC"/*.conf; do
	awk '
		/^[ \t]*#/ { print; next }
		{
			out = ""; s = $0
			while (match(s, /\$\{[A-Za-z_][A-Za-z0-9_]*\}/)) {
				name = substr(s, RSTART + 2, RLENGTH - 3)
				if (!(name in ENVIRON)) {
					printf "%s:%d: ${%s} is not set\n", FILENAME, NR, name > "/dev/stderr"
					exit 3
				}
				v = ENVIRON[name]
				if (v ~ /["\\\n]/) {
					printf "%s:%d: ${%s} holds a quote or a backslash\n", FILENAME, NR, name > "/dev/stderr"
					exit 3
				}
				out = out substr(s, 1, RSTART - 1) v
				s = substr(s, RSTART + RLENGTH)
			}
			print out s
		}' "$f" >"$RUN/$(basename "$f")" || die "cannot prepare $f"
done

if [ -n "$lcores" ]; then
	exec "$DERPER" --config "$RUN/derper.conf" --set "dataplane.lcores=$lcores" "$@"
fi
exec "$DERPER" --config "$RUN/derper.conf" "$@"
