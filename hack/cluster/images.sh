# shellcheck shell=bash disable=SC2034
# Local images of the cluster. Nothing can be pulled on this machine, so:
#   $PAUSE_IMAGE    hack/cluster/pause/main.go, a static Go binary (CGO_ENABLED=0)
#   $BUSYBOX_IMAGE  Debian's busybox-static, with a symlink per applet
#   $COREDNS_IMAGE  CoreDNS from its Go module (hack/cluster/coredns/main.go)
# Each is packed by hand into an OCI image-layout tar (one uncompressed layer,
# reproducible: sorted entries, uid/gid 0, mtime 0), cached in $IMAGES_CACHE,
# and imported into containerd's k8s.io namespace (the CRI's). Source it.

# oci_archive OUT IMAGE_NAME ROOTFS CONFIG_JSON: CONFIG_JSON is the image
# config's "config" object (Entrypoint, Cmd, Env...).
oci_archive() {
  local out="$1" name="$2" rootfs="$3" config="$4"
  local work
  work="$(mktemp -d)"
  mkdir -p "$work/blobs/sha256"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$rootfs" -cf "$work/layer.tar" .
  local layer_digest layer_size
  layer_digest="$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
  layer_size="$(stat -c %s "$work/layer.tar")"
  mv "$work/layer.tar" "$work/blobs/sha256/$layer_digest"

  blob() { # writes stdin as a blob, prints "digest size"
    local tmp="$work/blob.tmp" d
    cat >"$tmp"
    d="$(sha256sum "$tmp" | cut -d' ' -f1)"
    mv "$tmp" "$work/blobs/sha256/$d"
    printf '%s %s' "$d" "$(stat -c %s "$work/blobs/sha256/$d")"
  }
  local cfg man
  cfg="$(printf '{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"hack/cluster/images.sh"}]}' \
    "$config" "$layer_digest" | blob)"
  man="$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "${cfg% *}" "${cfg#* }" "$layer_digest" "$layer_size" | blob)"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "${man% *}" "${man#* }" "$name" "${name##*:}" >"$work/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work" -cf "$out.tmp" oci-layout index.json blobs
  mv "$out.tmp" "$out"
  rm -rf "$work"
}

build_pause_image() {
  local src="$CLUSTER_HACK/pause/main.go" key out
  key="$(cat "$src" <(go version) | sha256sum | cut -c1-12)"
  out="$IMAGES_CACHE/pause-$key.tar"
  if [ ! -s "$out" ]; then
    clog "building $PAUSE_IMAGE from hack/cluster/pause/main.go"
    local rootfs
    rootfs="$(mktemp -d)"
    (cd "$CLUSTER_HACK/pause" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -ldflags "-s -w" -o "$rootfs/pause" main.go)
    oci_archive "$out" "$PAUSE_IMAGE" "$rootfs" '{"Entrypoint":["/pause"],"User":"65535:65535"}'
    rm -rf "$rootfs"
  fi
  printf '%s' "$out"
}

build_busybox_image() {
  local key out
  key="$( (cat /bin/busybox; printf '%s' "$BUSYBOX_IMAGE") | sha256sum | cut -c1-12)"
  out="$IMAGES_CACHE/busybox-$key.tar"
  if [ ! -s "$out" ]; then
    clog "building $BUSYBOX_IMAGE from Debian's busybox-static"
    local rootfs applet
    rootfs="$(mktemp -d)"
    mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home,var/tmp}
    chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
    chmod 700 "$rootfs/root"
    cp /bin/busybox "$rootfs/bin/busybox"
    for applet in $(/bin/busybox --list-full); do
      [ -e "$rootfs/$applet" ] || ln -s /bin/busybox "$rootfs/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$rootfs/etc/passwd"
    printf 'root:x:0:\nnobody:x:65534:\n' >"$rootfs/etc/group"
    oci_archive "$out" "$BUSYBOX_IMAGE" "$rootfs" \
      '{"Cmd":["sh"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}'
    rm -rf "$rootfs"
  fi
  printf '%s' "$out"
}

build_coredns_image() {
  local key out src
  key="$(cat "$CLUSTER_HACK/coredns/main.go" <(go version) <(printf '%s' "$COREDNS_VERSION") | sha256sum | cut -c1-12)"
  out="$IMAGES_CACHE/coredns-$key.tar"
  if [ ! -s "$out" ]; then
    clog "building $COREDNS_IMAGE from github.com/coredns/coredns@v$COREDNS_VERSION (once; about a minute, log $LOGS/build-coredns.log)"
    src="$COURIER_CACHE/src/coredns-$key"
    mkdir -p "$src/rootfs/etc/coredns"
    cp "$CLUSTER_HACK/coredns/main.go" "$src/"
    printf 'module courier.local/coredns-build\n\ngo 1.26.0\n\nrequire github.com/coredns/coredns v%s\n' \
      "$COREDNS_VERSION" >"$src/go.mod"
    if ! (cd "$src" && GOFLAGS="$GOFLAGS -mod=mod" timeout 900 go build -ldflags "-s -w" -o "$src/rootfs/coredns" .) \
      >"$LOGS/build-coredns.log" 2>&1; then
      tail -20 "$LOGS/build-coredns.log" >&2
      return 1
    fi
    oci_archive "$out" "$COREDNS_IMAGE" "$src/rootfs" '{"Entrypoint":["/coredns"],"ExposedPorts":{"53/tcp":{},"53/udp":{}}}'
    rm -rf "$src"
  fi
  printf '%s' "$out"
}

ctr_k8s() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

# import_image NAME ARCHIVE: imports (and unpacks for overlayfs) unless
# containerd already holds NAME with the archive's manifest.
import_image() {
  local name="$1" archive="$2" want have
  want="$(tar -xOf "$archive" index.json | sed -n 's/.*"digest":"\(sha256:[0-9a-f]*\)".*/\1/p')"
  have="$(ctr_k8s images ls "name==$name" 2>/dev/null | awk 'NR > 1 {print $3}')"
  if [ "$have" = "$want" ]; then return 0; fi
  clog "importing $name into containerd (k8s.io namespace)"
  ctr_k8s images import --snapshotter overlayfs "$archive" >/dev/null
  ctr_k8s images label "$name" io.cri-containerd.pinned=pinned >/dev/null
}

ensure_images() {
  mkdir -p "$IMAGES_CACHE"
  local pause busybox
  pause="$(with_lock cluster-images build_pause_image)"
  busybox="$(with_lock cluster-images build_busybox_image)"
  import_image "$PAUSE_IMAGE" "$pause"
  import_image "$BUSYBOX_IMAGE" "$busybox"
  clog "images $PAUSE_IMAGE and $BUSYBOX_IMAGE ready ($((SECONDS - ${START:-0}))s)"
  if [ "${CLUSTER_DNS:-1}" = 1 ]; then
    local coredns
    if coredns="$(with_lock cluster-images build_coredns_image)"; then
      import_image "$COREDNS_IMAGE" "$coredns"
    else
      clog "warning: could not build CoreDNS; the cluster will have no DNS"
      CLUSTER_DNS=0
    fi
  fi
}
