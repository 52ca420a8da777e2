#!/usr/bin/env bash
# derper-dpdk: one entry point for people and CI.
#
#   ./derper.sh run    install what is missing, build, run the relay on the
#                      quick-start config (no NIC, no hugepages, no domain)
#   ./derper.sh test   install, build with ASan+UBSan, run every suite, then
#                      build the container image and smoke-test it
#   ./derper.sh build  install and build (release-like, build/)
#   ./derper.sh image  build the container image localhost/derper-dpdk:<version>
#   ./derper.sh image-test   smoke-test that image (podman, root)
#   ./derper.sh deps   install the Debian packages only
set -euo pipefail
cd "$(dirname "$0")"

PKGS=(meson ninja-build pkg-config gcc libdpdk-dev dpdk libssl-dev openssl
      libsodium-dev libconfig-dev libcunit1-dev libjansson-dev
      libcurl4-openssl-dev python3-nacl python3-websockets curl iproute2
      ethtool coturn clang-14 libclang-rt-14-dev gnutls-bin pebble sslscan
      prometheus python3-prometheus-client python3-yaml shellcheck spin
      libzmq5 podman buildah debootstrap runc catatonit iperf3)
# libzmq5: the Hyper-DERP peer of tests/bench/run-relay; podman, buildah,
# debootstrap, runc, catatonit (podman kube play's pause): the container
# image (k8s/image.sh) and its tests
# Commands the k8s suite runs that a machine may already have from another
# source (NodeSource's nodejs brings its own npm): installed from Debian
# only when the command is missing.
CMD_PKGS=(node:nodejs npm:npm)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

deps() {
	local missing=()
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	for cp in "${CMD_PKGS[@]}"; do
		command -v "${cp%%:*}" >/dev/null || missing+=("${cp#*:}")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing: ${missing[*]}"
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# only promtool is wanted from Debian's prometheus: no server left running
	if printf '%s\n' "${missing[@]}" | grep -qx prometheus && command -v systemctl >/dev/null; then
		$sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
	fi
}

# kubectl renders the k8s overlays (kustomize components need kubectl >= 1.21);
# Debian 12's kubernetes-client is 1.20, so it is not installed from there.
check_kubectl() {
	local v
	if ! v=$(kubectl version --client -o json 2>/dev/null); then
		log "kubectl >= 1.21 is not installed: the k8s suite renders k8s/ with 'kubectl kustomize' and will fail"
		return 1
	fi
	v=$(sed -n 's/.*"minor": *"\([0-9]*\).*/\1/p' <<<"$v" | head -1)
	if [ "${v:-0}" -lt 21 ]; then
		log "kubectl 1.$v is too old for kustomize components (>= 1.21): the k8s suite will fail"
		return 1
	fi
}

build() {
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >/dev/null
	else
		meson configure "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir"
}

cmd_run() {
	deps
	build build -Dbuildtype=release -Db_lto=true -Dtests=false
	mkdir -p .run
	# the quick start's "NIC": a veth pair, this side in the root namespace,
	# the client side in netns derp-cli (198.18.0.0/24, test addresses)
	tests/topology up derp 0 shared --srv-root >/dev/null
	trap 'tests/topology down derp --srv-root' EXIT
	log "starting derper on config/quickstart.conf (Ctrl-C stops it)"
	cat >&2 <<MSG
    DERP:   https://127.0.0.1:8443/derp   (self-signed certificate)
    STUN:   198.18.0.1:3478 on veth derp-s, answered by the DPDK poll loop
    check:  build/derpprobe --insecure https://127.0.0.1:8443/derp
            curl -k https://127.0.0.1:8443/
            ip netns exec derp-cli turnutils_stunclient 198.18.0.1
MSG
	build/derper --config config/quickstart.conf "$@"
}

cmd_test() {
	deps
	check_kubectl || true
	# every test must pass without hugepages too: the suites use --no-huge
	build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true -Dtests=true
	# sanitizer options: the default test setup in tests/meson.build
	log "unit, dpdk, e2e and k8s suites under ASan+UBSan"
	meson test -C build-asan --print-errorlogs --num-processes 2 "$@"
	# the container image, built and smoke-tested (a few minutes)
	if [ $# -eq 0 ]; then
		cmd_image
		cmd_image_test
	fi
}

# localhost/derper-dpdk:<version>, offline, with podman (k8s/image.sh)
cmd_image() {
	log "container image (k8s/Containerfile)"
	k8s/image.sh build
}

# The image's smoke tests: host network, the data path with hugepages,
# podman kube play of the hostnetwork overlay (tests/image/test_image.py)
cmd_image_test() {
	log "container image smoke tests"
	(cd tests/image && /usr/bin/python3 -W ignore::ResourceWarning -m unittest -v test_image)
}

case "${1:-}" in
run) shift; cmd_run "$@" ;;
test) shift; cmd_test "$@" ;;
build) deps; build build -Dbuildtype=release -Db_lto=true ;;
image) deps; cmd_image ;;
image-test) deps; cmd_image_test ;;
deps) deps ;;
*) sed -n '3,11p' "$0"; exit 2 ;;
esac
