#!/usr/bin/env bash
# Provides pinned Kubernetes and etcd binaries and prints the directory that
# holds them all (like controller-runtime's KUBEBUILDER_ASSETS).
#
#   hack/kube-binaries.sh [binary ...]      default: the test control plane set
#
# Each binary comes from, in order:
#   1. $KUBEBUILDER_ASSETS, when set (the user chose it explicitly);
#   2. PATH, when its version has the pinned major.minor;
#   3. the cache ($COURIER_CACHE, default ~/.cache/courier), built there once
#      from the Go modules through the module proxy.
# Re-running is cheap: nothing is rebuilt that is already in the cache.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KUBE_MINOR="${KUBE_VERSION%.*}"
ASSETS="$COURIER_CACHE/assets/k8s-v$KUBE_VERSION-etcd-v$ETCD_VERSION"
BUILT="$COURIER_CACHE/build/k8s-v$KUBE_VERSION/bin"
ETCD_BUILT="$COURIER_CACHE/build/etcd-v$ETCD_VERSION/bin"
KUBE_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(etcd kube-apiserver kube-controller-manager kubectl)

# Prints the version a binary reports, as vX.Y.Z, or nothing.
binary_version() {
  local bin="$1" out
  case "$(basename "$bin")" in
    etcd) out="$("$bin" --version 2>/dev/null | awk '/etcd Version/ {print "v"$3}')" ;;
    kubectl) out="$("$bin" version --client -o json 2>/dev/null | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | head -1)" ;;
    *) out="$("$bin" --version 2>/dev/null | awk '{print $2}')" ;;
  esac
  printf '%s' "$out"
}

pinned_version() {
  if [ "$1" = etcd ]; then printf 'v%s' "$ETCD_VERSION"; else printf 'v%s' "$KUBE_VERSION"; fi
}

version_acceptable() {
  local name="$1" version="$2"
  if [ "$name" = etcd ]; then
    [[ "$version" == "v${ETCD_VERSION%.*}."* ]]
  else
    [[ "$version" == "v$KUBE_MINOR."* ]]
  fi
}

build_kubernetes() {
  [ -x "$BUILT/kube-apiserver" ] && [ -x "$BUILT/kubectl" ] && [ -x "$BUILT/kubelet" ] && return 0
  local src="$COURIER_CACHE/src/kubernetes-v$KUBE_VERSION" minor="${KUBE_MINOR#*.}"
  log "building Kubernetes v$KUBE_VERSION (${KUBE_CMDS[*]}) from its Go modules; this takes a while once"
  mkdir -p "$src" "$BUILT"
  # k8s.io/kubernetes points its staging modules at ./staging; as a dependency
  # each must be replaced by its published v0.X.Y twin instead.
  {
    printf 'module courier.local/kubernetes-build\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes v%s\n\n' "$KUBE_VERSION"
    go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" >/dev/null
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#replace \1 => \1 v0.'"${KUBE_VERSION#1.}"'#p' \
      "$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v$KUBE_VERSION.mod"
  } >"$src/go.mod"
  printf 'package main\n' >"$src/doc.go"
  local pkg="k8s.io/component-base/version" cpkg="k8s.io/client-go/pkg/version" ldflags="-s -w"
  for p in "$pkg" "$cpkg"; do
    ldflags+=" -X $p.gitVersion=v$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  local pkgs=()
  for c in "${KUBE_CMDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  (cd "$src" && go build -mod=mod -ldflags "$ldflags" -o "$BUILT/" "${pkgs[@]}")
}

build_etcd() {
  [ -x "$ETCD_BUILT/etcd" ] && return 0
  local src="$COURIER_CACHE/src/etcd-v$ETCD_VERSION"
  log "building etcd v$ETCD_VERSION from its Go module"
  mkdir -p "$src" "$ETCD_BUILT"
  printf 'module courier.local/etcd-build\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$ETCD_VERSION" >"$src/go.mod"
  printf 'package main\n' >"$src/doc.go"
  (cd "$src" && go build -mod=mod -ldflags "-s -w" -o "$ETCD_BUILT/etcd" go.etcd.io/etcd/server/v3)
}

# Finds or builds one binary and links it into $ASSETS.
provide() {
  local name="$1" candidate version
  # Resolved before: keep it, so every call of a test run uses the same binary.
  if [ -z "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$ASSETS/$name" ]; then return; fi
  if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/$name" ]; then
    ln -sfn "$KUBEBUILDER_ASSETS/$name" "$ASSETS/$name"; return
  fi
  candidate="$(command -v "$name" 2>/dev/null || true)"
  if [ -n "$candidate" ] && [[ "$candidate" != "$ASSETS/"* ]]; then
    version="$(binary_version "$candidate")"
    if version_acceptable "$name" "$version"; then
      ln -sfn "$candidate" "$ASSETS/$name"; return
    fi
    log "ignoring $candidate: it is ${version:-of unknown version}, not the pinned $(pinned_version "$name")"
  fi
  if [ "$name" = etcd ]; then
    with_lock "etcd-v$ETCD_VERSION" build_etcd
    ln -sfn "$ETCD_BUILT/etcd" "$ASSETS/etcd"
  else
    with_lock "k8s-v$KUBE_VERSION" build_kubernetes
    [ -x "$BUILT/$name" ] || die "no such Kubernetes binary: $name"
    ln -sfn "$BUILT/$name" "$ASSETS/$name"
  fi
}

mkdir -p "$ASSETS"
for name in "${wanted[@]}"; do provide "$name"; done
printf '%s\n' "$ASSETS"
