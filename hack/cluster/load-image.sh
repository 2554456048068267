#!/usr/bin/env bash
# Packs a directory into a single-layer OCI image and imports it into the
# running local cluster's containerd (nothing can be pulled on this machine),
# for pods with imagePullPolicy: Never.
#
#   hack/cluster/load-image.sh NAME:TAG ROOTFS_DIR [ENTRYPOINT [ARG...]]
#   hack/cluster/load-image.sh NAME:TAG ARCHIVE.tar     an OCI or docker-archive tar
#
# The rootfs must hold everything the entrypoint needs (static binaries, or
# the shared libraries too). Example:
#   mkdir -p /tmp/r && cp my-static-binary /tmp/r/app
#   hack/cluster/load-image.sh courier.local/app:dev /tmp/r /app --flag
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$HACK_DIR/cluster/lib.sh"
source "$HACK_DIR/cluster/images.sh"

[ $# -ge 2 ] || die "usage: hack/cluster/load-image.sh NAME:TAG ROOTFS_DIR|ARCHIVE [ENTRYPOINT [ARG...]]"
name="$1" src="$2"; shift 2
[[ "$name" == *:* ]] || die "give the image a tag: $name:TAG"
ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1 || die "the cluster's containerd is not running (hack/cluster-up.sh)"
if [ -f "$src" ]; then
  ctr_k8s images import --snapshotter overlayfs --base-name "${name%:*}" "$src" >/dev/null
else
  [ -d "$src" ] || die "no such directory or archive: $src"
  entrypoint="[]"
  if [ $# -gt 0 ]; then
    entrypoint="$(printf '%s\n' "$@" | perl -MJSON::PP -e 'my @a = <STDIN>; chomp @a; print JSON::PP->new->encode(\@a)')"
  fi
  archive="$(mktemp --suffix .tar)"
  oci_archive "$archive" "$name" "$src" "{\"Entrypoint\":$entrypoint,\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"]}"
  ctr_k8s images rm "$name" >/dev/null 2>&1 || true
  import_image "$name" "$archive"
  rm -f "$archive"
fi
ctr_k8s images ls "name==$name" | awk 'NR > 1 {print $1, $3, $4, $5}'
