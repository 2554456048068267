#!/usr/bin/env bash
# Provides the pinned chart tools and prints one path a line:
#
#   hack/helm-tools.sh            helm, kubeconform, then the directory of
#                                 third-party CRDs the chart's optional objects
#                                 need (cert-manager's Issuer and Certificate,
#                                 the Prometheus operator's ServiceMonitor)
#
# helm and kubeconform come from, in order: PATH, when the binary there reports
# the pinned version; else the cache ($COURIER_CACHE, default ~/.cache/courier),
# built there once from their Go modules through the module proxy. The
# third-party CRDs are copied out of the pinned Go modules of cert-manager and
# the Prometheus operator, which ship them as plain YAML; the chart checks
# install them into a test apiserver so that those objects are validated and
# created for real rather than skipped. Re-running is cheap; builds take a
# lock, as hack/kube-binaries.sh does.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HELM_MODULE=helm.sh/helm/v4
KUBECONFORM_MODULE=github.com/yannh/kubeconform
CERT_MANAGER_MODULE=github.com/cert-manager/cert-manager
PROMETHEUS_OPERATOR_MODULE=github.com/prometheus-operator/prometheus-operator
TOOLS="$COURIER_CACHE/build/chart-tools"
CRDS_DIR="$COURIER_CACHE/chart-crds/cert-manager-v$CERT_MANAGER_VERSION-prometheus-operator-v$PROMETHEUS_OPERATOR_VERSION"

helm_version_of() { "$1" version --template '{{ .Version }}' 2>/dev/null || true; }
kubeconform_version_of() { "$1" -v 2>/dev/null || true; }

# go install of one module's command, its version stamped the way the
# project's own release builds stamp it.
install_helm() {
  local dir="$TOOLS/helm-v$HELM_VERSION"
  [ -x "$dir/helm" ] && return 0
  log "building helm v$HELM_VERSION from its Go module"
  rm -rf "$dir.tmp"
  GOBIN="$dir.tmp" go install -ldflags "-s -w -X $HELM_MODULE/internal/version.version=v$HELM_VERSION" \
    "$HELM_MODULE/cmd/helm@v$HELM_VERSION"
  rm -rf "$dir"; mv "$dir.tmp" "$dir"
}

install_kubeconform() {
  local dir="$TOOLS/kubeconform-v$KUBECONFORM_VERSION"
  [ -x "$dir/kubeconform" ] && return 0
  log "building kubeconform v$KUBECONFORM_VERSION from its Go module"
  rm -rf "$dir.tmp"
  GOBIN="$dir.tmp" go install -ldflags "-s -w -X main.version=v$KUBECONFORM_VERSION" \
    "$KUBECONFORM_MODULE/cmd/kubeconform@v$KUBECONFORM_VERSION"
  rm -rf "$dir"; mv "$dir.tmp" "$dir"
}

# Prints the binary: the one on PATH when it reports the pinned version, else
# the cached build.   provide_tool NAME PINNED VERSION_OF INSTALL
provide_tool() {
  local name="$1" pinned="$2" version_of="$3" install="$4" candidate version
  local cached="$TOOLS/$name-$pinned/$name"
  candidate="$(command -v "$name" 2>/dev/null || true)"
  if [ -n "$candidate" ] && [ "$candidate" != "$cached" ]; then
    version="$("$version_of" "$candidate")"
    if [ "$version" = "$pinned" ]; then printf '%s\n' "$candidate"; return; fi
    log "ignoring $candidate: it reports ${version:-no version}, not the pinned $pinned"
  fi
  with_lock "$name-$pinned" "$install"
  [ "$("$version_of" "$cached")" = "$pinned" ] || die "$cached does not report $pinned"
  printf '%s\n' "$cached"
}

# The module's directory in the module cache, downloaded through the proxy once.
module_dir() {
  go mod download -json "$1@v$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

install_crds() {
  [ -f "$CRDS_DIR/.complete" ] && return 0
  log "taking cert-manager v$CERT_MANAGER_VERSION and Prometheus operator v$PROMETHEUS_OPERATOR_VERSION CRDs from their Go modules"
  local cm po
  cm="$(module_dir "$CERT_MANAGER_MODULE" "$CERT_MANAGER_VERSION")"
  po="$(module_dir "$PROMETHEUS_OPERATOR_MODULE" "$PROMETHEUS_OPERATOR_VERSION")"
  [ -n "$cm" ] && [ -n "$po" ] || die "could not download the CRD modules"
  rm -rf "$CRDS_DIR"; mkdir -p "$CRDS_DIR"
  cp "$cm/deploy/crds/cert-manager.io_issuers.yaml" "$cm/deploy/crds/cert-manager.io_certificates.yaml" \
    "$po/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" "$CRDS_DIR/"
  chmod 0644 "$CRDS_DIR"/*.yaml
  touch "$CRDS_DIR/.complete"
}

mkdir -p "$TOOLS"
provide_tool helm "v$HELM_VERSION" helm_version_of install_helm
provide_tool kubeconform "v$KUBECONFORM_VERSION" kubeconform_version_of install_kubeconform
with_lock chart-crds install_crds
printf '%s\n' "$CRDS_DIR"
