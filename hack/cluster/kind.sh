# shellcheck shell=bash
# The same single-node cluster on kind, for machines with a Docker engine and
# kind on PATH (a laptop, CI elsewhere). hack/cluster-up.sh, hack/cluster-down.sh
# and hack/e2e.sh use it when kind_wanted says so; on this project's machines
# (no Docker engine) they build the cluster from processes instead.
# Not exercised here: no Docker engine runs on this project's machines.
# Source it; do not run it.

KIND_CLUSTER="${KIND_CLUSTER:-courier}"
KIND_KUBECONFIG="$COURIER_CACHE/kind-$KIND_CLUSTER.kubeconfig"

# CLUSTER_USE_KIND=1 forces kind, 0 forbids it; unset: kind when it can run.
kind_wanted() {
  case "${CLUSTER_USE_KIND:-auto}" in
    1) return 0 ;;
    0) return 1 ;;
    *) command -v kind >/dev/null && command -v docker >/dev/null && docker info >/dev/null 2>&1 ;;
  esac
}

# Creates the cluster unless it exists; prints its kubeconfig's path.
kind_up() {
  mkdir -p "$COURIER_CACHE"
  if ! kind get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; then
    log "creating kind cluster $KIND_CLUSTER"
    kind create cluster --name "$KIND_CLUSTER" --wait 180s >&2
  fi
  kind get kubeconfig --name "$KIND_CLUSTER" >"$KIND_KUBECONFIG"
  printf '%s\n' "$KIND_KUBECONFIG"
}

kind_down() {
  kind delete cluster --name "$KIND_CLUSTER" >&2
  rm -f "$KIND_KUBECONFIG"
}

# Builds the image with Docker and loads it into the kind node.
kind_image() {
  local image="$1"
  docker build -t "$image" "$REPO_ROOT" >&2
  kind load docker-image --name "$KIND_CLUSTER" "$image" >&2
}

# The Docker network's gateway: this machine as the kind node's pods reach it.
kind_host_address() {
  docker network inspect kind --format '{{range .IPAM.Config}}{{if .Gateway}}{{.Gateway}} {{end}}{{end}}' |
    tr ' ' '\n' | grep -E '^[0-9]+\.' | head -1
}
