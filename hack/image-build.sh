#!/usr/bin/env bash
# Builds Courier's container image from the real Dockerfile with buildah, on
# a machine without a Docker engine and without a reachable image registry.
# The base image the Dockerfile names is made locally first
# (hack/image/base.sh); the build stage's `npm install` uses the npm registry.
# See docs/image.md.
#
#   hack/image-build.sh          as root; prints the OCI archive's path
#   hack/image-build.sh --load   ... and imports it into the local cluster's
#                                containerd (hack/cluster-up.sh must be up)
#
# The image is tagged courier.local/courier:<package.json version> and
# courier.local/courier:dev, in buildah's storage and in the archive
# ($COURIER_CACHE/image/courier-<version>.oci.tar). Idempotent: a second run
# reuses the base image, buildah's layer cache and the archive.
#
# Environment: IMAGE_ISOLATION (buildah's --isolation: oci, the default, runs
# build steps with runc; chroot needs no runtime), DEBIAN_MIRROR (default: the
# mirror apt uses here), SOURCE_DATE_EPOCH (the image's dates; default: the
# last commit's), IMAGE_BUILD_CA (the CA bundle for the npm registry;
# default: npm's cafile here, else NODE_EXTRA_CA_CERTS), IMAGE_SKIP_APT=1
# (never run apt-get).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$HACK_DIR/image/base.sh"
shopt -s inherit_errexit

IMAGE_REPO=courier.local/courier
load=0
for arg in "$@"; do
  case "$arg" in
    --load) load=1 ;;
    -h | --help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument $arg (usage: hack/image-build.sh [--load])" ;;
  esac
done
[ "$(id -u)" -eq 0 ] || die "hack/image-build.sh must run as root (buildah's storage, debootstrap)"

ensure_packages() {
  local missing=()
  command -v buildah >/dev/null || missing+=(buildah)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ -s /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "${IMAGE_SKIP_APT:-0}" = 1 ] && die "missing packages: ${missing[*]} (and IMAGE_SKIP_APT=1)"
  log "installing ${missing[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
    die "apt-get install ${missing[*]} failed"
}

image_id() { buildah inspect --type image --format '{{.FromImageID}}' "$1"; }

# export_archive VERSION ARCHIVE: writes both tags into one OCI archive (an
# image layout with an index entry per tag, compressed layers), unless the
# archive already holds the image buildah has under those tags.
export_archive() {
  local version="$1" archive="$2" id layout
  id="$(image_id "$IMAGE_REPO:$version")"
  if [ -s "$archive" ] && [ "$(cat "$archive.id" 2>/dev/null)" = "$id" ]; then return 0; fi
  layout="$(mktemp -d "$IMAGE_CACHE/.layout.XXXXXX")"
  buildah push --quiet "$IMAGE_REPO:$version" "oci:$layout:$IMAGE_REPO:$version"
  buildah push --quiet "$IMAGE_REPO:$version" "oci:$layout:$IMAGE_REPO:dev"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$layout" -cf "$archive.tmp" .
  mv "$archive.tmp" "$archive"
  printf '%s\n' "$id" >"$archive.id"
  rm -rf "$layout"
}

START=$SECONDS
ensure_packages
mkdir -p "$IMAGE_CACHE"
base="$(ensure_base_image)"
log "base image $base ready ($((SECONDS - START))s)"

version="$(package_json version)"
# The CA bundle npm trusts here: this machine reaches the npm registry through
# a TLS-intercepting proxy. It goes in as a build secret, never into a layer.
secret=()
ca="${IMAGE_BUILD_CA:-$(npm config get cafile 2>/dev/null || true)}"
[ "$ca" = null ] && ca=""
ca="${ca:-${NODE_EXTRA_CA_CERTS:-}}"
if [ -n "$ca" ]; then
  [ -s "$ca" ] || die "the CA bundle $ca (IMAGE_BUILD_CA, npm's cafile or NODE_EXTRA_CA_CERTS) is missing or empty"
  secret=(--secret "id=npm-ca,src=$ca")
fi
# Every date in the image (layer mtimes, created) is this one, so the same
# sources and lockfile give the same image, digest included.
epoch="${SOURCE_DATE_EPOCH:-$(git -C "$REPO_ROOT" log -1 --format=%ct 2>/dev/null || date +%s)}"
# --network host: the build stage's `npm install` reaches the npm registry the
# way this machine does (its resolv.conf and routes), with no CNI set up for
# buildah. --pull=never: the base image is the local one made above.
log "building $IMAGE_REPO:$version from the Dockerfile (isolation ${IMAGE_ISOLATION:-oci})"
previous="$(image_id "$IMAGE_REPO:$version" 2>/dev/null || true)"
buildah bud --quiet --pull=never --layers --network host --isolation "${IMAGE_ISOLATION:-oci}" "${secret[@]}" \
  --timestamp "$epoch" \
  --tag "$IMAGE_REPO:$version" --tag "$IMAGE_REPO:dev" \
  --file "$REPO_ROOT/Dockerfile" "$REPO_ROOT" >"$IMAGE_CACHE/build.log" 2>&1 ||
  { tail -30 "$IMAGE_CACHE/build.log" >&2; die "buildah bud failed; see $IMAGE_CACHE/build.log"; }
log "built $IMAGE_REPO:$version ($((SECONDS - START))s)"
# The image these tags held before, now untagged; the build stage's layers
# stay, they are the cache of the next build.
if [ -n "$previous" ] && [ "$previous" != "$(image_id "$IMAGE_REPO:$version")" ]; then
  buildah rmi "$previous" >/dev/null 2>&1 || true
fi

archive="$IMAGE_CACHE/courier-$version.oci.tar"
with_lock image-archive export_archive "$version" "$archive"
log "archive $archive ($((SECONDS - START))s)"

if [ "$load" = 1 ]; then
  "$HACK_DIR/cluster/load-image.sh" "$IMAGE_REPO:$version" "$archive" >/dev/null
  log "loaded $IMAGE_REPO:$version and $IMAGE_REPO:dev into the cluster's containerd ($((SECONDS - START))s)"
fi
printf '%s\n' "$archive"
