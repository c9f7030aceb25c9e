#!/usr/bin/env bash
# base-image.sh: makes the two base images the Dockerfile starts FROM,
# debian:bookworm (build stage) and debian:bookworm-slim (runtime stage),
# with debootstrap and `docker import`, for machines that reach Debian's
# package mirror but no image registry. Where a registry is reachable the
# Dockerfile pulls the official images instead and this script is not needed.
#
# Both come from one minbase debootstrap, as the official images do
# (debuerreotype's minbase variant): debian:bookworm is that tree as is;
# debian:bookworm-slim is the same tree with documentation, man pages and
# locales removed and kept out of later installs by dpkg path excludes, the
# way the official -slim images are made.
#
#   deploy/docker/base-image.sh [WORKDIR]     (root; default WORKDIR build/image-base)
#
# Environment: MIRROR (default http://deb.debian.org/debian), SUITE (bookworm),
# FORCE=1 to rebuild images that already exist.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${1:-build/image-base}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SUITE=${SUITE:-bookworm}
ROOT=$WORK/rootfs

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

if [ "${FORCE:-0}" != 1 ] && have_image "debian:$SUITE" && have_image "debian:$SUITE-slim"; then
    echo "image-base: debian:$SUITE and debian:$SUITE-slim already present (FORCE=1 rebuilds)"
    exit 0
fi
command -v debootstrap >/dev/null || { echo "image-base: debootstrap missing (make deps-test)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "image-base: debootstrap needs root" >&2; exit 1; }

# a debootstrap that died leaves proc and sys mounted in the tree: unmount
# before removing anything, and never cross into another file system
s_clean() {
    local abs; abs=$(realpath -m "$WORK")
    awk -v r="$abs/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
    rm -rf --one-file-system "$WORK"
}
s_clean; mkdir -p "$WORK"
echo "image-base: debootstrap --variant=minbase $SUITE from $MIRROR"
debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" > "$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }

# the official images' sources: the release, its updates and security
rm -f "$ROOT/etc/apt/sources.list"
cat > "$ROOT/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
# no package caches kept in image layers (what the official images set)
cat > "$ROOT/etc/apt/apt.conf.d/docker-clean" <<'CONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
CONF
echo 'APT::Install-Recommends "false";' > "$ROOT/etc/apt/apt.conf.d/docker-no-recommends"
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/log/*.log
s_import() {   # tree, tag
    tar --numeric-owner -C "$1" -c . | docker import --change 'CMD ["bash"]' - "$2" >/dev/null
    echo "image-base: $2 $(docker image inspect -f '{{.Size}}' "$2" | awk '{printf "%.0f MB", $1/1e6}')"
}
s_import "$ROOT" "debian:$SUITE"

# slim: the same tree without docs, man pages and locales, and dpkg told to
# leave them out of every later install
cat > "$ROOT/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
CFG
find "$ROOT/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$ROOT/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$ROOT"/usr/share/man/* "$ROOT"/usr/share/groff/* "$ROOT"/usr/share/info/* \
       "$ROOT"/usr/share/lintian/* "$ROOT"/usr/share/linda/* "$ROOT"/usr/share/locale/*
s_import "$ROOT" "debian:$SUITE-slim"
rm -rf --one-file-system "$ROOT"
