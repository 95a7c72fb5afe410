#!/usr/bin/env bash
# Prepares the remote host of the --runs-on tests (../shared/remote-host, a QEMU guest with its
# own kernel NFS client, sshd and podman): the host packages it needs (qemu, nfs-ganesha), its
# disk image (built once per machine and kept in $AV_RH_DIR), and the SDK images the tests run
# in the guest, written into that disk image offline (loading them over ssh takes minutes).
# Needs root; run after .ci/sdk-image.sh. The tests boot and stop the guest themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
export AV_RH_DIR=${AV_RH_DIR:-/var/cache/avocado/remote-host}
export CONTAINERS_CONF=${CONTAINERS_CONF:-/etc/containers/avocado-test.conf}
rh=$(cd ../shared/remote-host && pwd)/remote-host.sh
images=(localhost/avocado-sdk:test localhost/avocado-sdk:test-arm64 localhost/avocado-sdk:test-nfs)

if ! command -v qemu-system-x86_64 >/dev/null || ! command -v ganesha.nfsd >/dev/null; then "$rh" deps; fi
if [ -f "$AV_RH_DIR/qemu.pid" ] && kill -0 "$(cat "$AV_RH_DIR/qemu.pid")" 2>/dev/null; then
  echo "remote host: the guest is running; stop it first ($rh down)" >&2; exit 1
fi
if [ ! -f "$AV_RH_DIR/rootfs.img" ]; then
  start=$(date +%s)
  AV_RH_PODMAN=1 AV_RH_NODE=$(command -v node) "$rh" build
  rm -rf "$AV_RH_DIR/rootfs" "$AV_RH_DIR/images"   # the unpacked tree is only needed to build the image
  echo "remote host: guest image built in $(( $(date +%s) - start )) s"
fi

# The SDK images, by ID, that the guest's disk already holds.
wanted=""
for image in "${images[@]}"; do
  id=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null) || { echo "remote host: $image missing here; the tests that need it skip"; continue; }
  wanted+="$image $id"$'\n'
done
if [ -n "$wanted" ] && [ "$wanted" != "$(cat "$AV_RH_DIR/images" 2>/dev/null)"$'\n' ]; then
  start=$(date +%s)
  mnt=$(mktemp -d) run=$(mktemp -d)
  mount -o loop "$AV_RH_DIR/rootfs.img" "$mnt"
  trap 'umount "$mnt" 2>/dev/null; rmdir "$mnt"; rm -rf "$run"' EXIT
  store=(--root "$mnt/var/lib/containers/storage" --runroot "$run" --storage-driver overlay)
  while read -r image id; do
    [ -n "$image" ] || continue
    podman "${store[@]}" image exists "$image" && [ "$(podman "${store[@]}" image inspect --format '{{.Id}}' "$image")" = "$id" ] && continue
    podman save "$image" | podman "${store[@]}" load -q >/dev/null
  done <<<"$wanted"
  # podman's state database records the storage paths it was opened with (ours, not the guest's):
  # the guest creates its own; the images live in the storage itself.
  rm -f "$mnt/var/lib/containers/storage/libpod/bolt_state.db"
  # QEMU user emulation for the arm64 SDK image in the guest (registered by the tests).
  if [ -x /usr/bin/qemu-aarch64-static ]; then install -m 0755 /usr/bin/qemu-aarch64-static "$mnt/usr/local/bin/qemu-aarch64-static"; fi
  umount "$mnt"; rmdir "$mnt"; rm -rf "$run"; trap - EXIT
  printf '%s' "$wanted" > "$AV_RH_DIR/images"
  echo "remote host: SDK images written into the guest disk in $(( $(date +%s) - start )) s"
else
  echo "remote host: guest image and SDK images present ($AV_RH_DIR)"
fi
