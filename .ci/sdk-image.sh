#!/usr/bin/env bash
# Builds the SDK-like images the container-engine tests run, unless podman already has them:
#   localhost/avocado-sdk:test        Debian 12 minbase + squashfs-tools + erofs-utils (host arch)
#   localhost/avocado-sdk:test-arm64  the same for arm64, built under QEMU user emulation
#   localhost/avocado-sdk:test-nfs    host arch, also with nfs-ganesha (as the Avocado SDK has it:
#                                     --runs-on runs it when this machine has no ganesha.nfsd)
# Usage: .ci/sdk-image.sh [amd64] [arm64] [nfs]   (default: amd64 arm64). Needs root, podman, debootstrap;
# arm64 also needs qemu-user-static and binfmt_misc. Registries are not reachable here, so the
# images are built from Debian packages and imported.
set -euo pipefail
export CONTAINERS_CONF=${CONTAINERS_CONF:-/etc/containers/avocado-test.conf}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
arches=("$@"); [ ${#arches[@]} -gt 0 ] || arches=(amd64 arm64)

for variant in "${arches[@]}"; do
  arch=$variant packages=squashfs-tools,erofs-utils
  [ "$variant" = nfs ] && arch=amd64 packages+=,nfs-ganesha,nfs-ganesha-vfs
  tag=test; [ "$variant" = amd64 ] || tag="test-$variant"
  image="localhost/avocado-sdk:$tag"
  if podman image exists "$image"; then echo "$image: present"; continue; fi
  if [ "$arch" != amd64 ]; then
    mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    update-binfmts --enable "qemu-$( [ "$arch" = arm64 ] && echo aarch64 || echo "$arch")"
  fi
  root=$(mktemp -d /var/tmp/avocado-sdk-root.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  start=$(date +%s)
  debootstrap --arch="$arch" --variant=minbase --include="$packages" bookworm "$root" "$mirror" >/dev/null
  tar -C "$root" -c . | podman import --arch "$arch" - "$image" >/dev/null
  rm -rf "$root"; trap - EXIT
  echo "$image: built in $(( $(date +%s) - start )) s"
done
