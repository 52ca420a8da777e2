#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Build the container image with podman from k8s/Containerfile, offline:
#
#   k8s/image.sh            builds localhost/derper-dpdk:<version>
#
# No registry is reachable, so when the base images the Containerfile
# names (debian:12, debian:12-slim) are not in local storage they are made
# here: debootstrap --variant=minbase bookworm from the mirror the host's
# apt uses, with the host's apt sources copied in, imported with an
# explicit PATH (podman kube play runs a container with the image's
# environment only); the slim variant drops docs, man pages and locales
# and keeps apt from installing them again, as Debian's own slim image.
# The build never pulls (--pull=never), and the build stage's image is
# removed afterwards.
#
# podman's defaults fail on some hosts (crun refuses a hybrid cgroup
# layout; raising RLIMIT_NOFILE may not be permitted): when a trial
# container does not start, k8s/containers.conf (runc, explicit ulimits) is
# used through CONTAINERS_CONF (`k8s/image.sh env` prints the choice and
# the image name for the image tests).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=$(sed -n "s/^  version: '\([^']*\)',/\1/p" meson.build | head -1)
IMAGE=localhost/derper-dpdk:$VERSION
BASE=docker.io/library/debian:12
SLIM=docker.io/library/debian:12-slim
ENV_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'k8s/image.sh: %s\n' "$*" >&2; exit 1; }

# The first http(s) URI of the host's Debian sources for bookworm.
mirror() {
	local m
	m=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
	[ -n "$m" ] || m=$(awk '$1 == "deb" && $3 ~ /^bookworm$/ { print $2; exit }' \
		/etc/apt/sources.list 2>/dev/null)
	[ -n "$m" ] || die "no Debian mirror in /etc/apt/sources.list{,.d}"
	echo "$m"
}

# The mirror's host and address, so the build's containers resolve it as
# the host does (whatever resolver or hosts entry the host uses).
mirror_host() {
	local h
	h=$(mirror | sed -E 's#^[a-z]+://([^/:]+).*#\1#')
	echo "$h:$(getent ahostsv4 "$h" | awk '{ print $1; exit }')"
}

make_bases() {
	local root
	ROOTFS_TMP=$(mktemp -d /var/tmp/derper-rootfs.XXXXXX)
	trap 'rm -rf "$ROOTFS_TMP"' EXIT
	local tmp=$ROOTFS_TMP
	root=$tmp/root
	log "debootstrap --variant=minbase bookworm from $(mirror) (about 70 s)"
	debootstrap --variant=minbase bookworm "$root" "$(mirror)" >"$tmp/debootstrap.log" 2>&1 ||
		{ tail -20 "$tmp/debootstrap.log" >&2; die "debootstrap failed"; }
	# the host's apt sources, as they are (enabled files only)
	rm -f "$root/etc/apt/sources.list"
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] && install -m 0644 "$f" "$root$f"
	done
	chroot "$root" apt-get clean
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/*.log \
		"$root"/var/cache/debconf/*-old
	tar -C "$root" --numeric-owner -cf - . |
		podman import --change "ENV PATH=$ENV_PATH" --change 'CMD ["bash"]' - "$BASE" >/dev/null
	# slim: no docs, man pages or locales, now or from later installs
	cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
	find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
	find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
	rm -rf "$root"/usr/share/man/* "$root"/usr/share/groff/* "$root"/usr/share/info/* \
		"$root"/usr/share/locale/* "$root"/usr/share/lintian/* "$root"/usr/share/linda/*
	tar -C "$root" --numeric-owner -cf - . |
		podman import --change "ENV PATH=$ENV_PATH" --change 'CMD ["bash"]' - "$SLIM" >/dev/null
	rm -rf "$tmp"
	log "made $BASE and $SLIM ($(podman image inspect -f '{{.Size}}' "$SLIM" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
}

# CONTAINERS_CONF when podman's defaults cannot start a container here.
runtime_env() {
	if [ -z "${CONTAINERS_CONF:-}" ] &&
		! podman run --rm --pull=never --network none "$SLIM" true >/dev/null 2>&1; then
		export CONTAINERS_CONF=$PWD/k8s/containers.conf
		podman run --rm --pull=never --network none "$SLIM" true >/dev/null 2>&1 ||
			die "podman cannot run a container, with its defaults or with k8s/containers.conf"
		log "podman's defaults cannot run a container here: using k8s/containers.conf"
	fi
}

build() {
	command -v podman >/dev/null || die "podman is not installed (./derper.sh deps)"
	if ! podman image exists "$BASE" || ! podman image exists "$SLIM"; then
		make_bases
	fi
	runtime_env
	log "building $IMAGE (about 85 s)"
	podman build --pull=never --network host --add-host "$(mirror_host)" \
		-f k8s/Containerfile -t "$IMAGE" . >&2
	# the build stage, untagged once the final image exists
	podman image prune -f >/dev/null
	log "built $IMAGE ($(podman image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
}

case "${1:-build}" in
build) build ;;
env) # for the image tests: the image name and CONTAINERS_CONF, as shell
	runtime_env
	echo "IMAGE=$IMAGE"
	echo "CONTAINERS_CONF=${CONTAINERS_CONF:-}" ;;
*) sed -n '3,5p' "$0"; exit 2 ;;
esac
