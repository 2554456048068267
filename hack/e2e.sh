#!/usr/bin/env bash
# The end-to-end suite (e2e/) on a real single-node cluster: brings the
# cluster up (hack/cluster-up.sh), builds Courier's image and loads it into
# the node's containerd (hack/image-build.sh --load), and runs the suite,
# which installs Courier with its Helm chart. As root. hack/test.sh runs it
# last; it also runs alone:
#
#   hack/e2e.sh                 cluster left running afterwards (fast re-runs)
#   E2E_CLUSTER_DOWN=1 hack/e2e.sh   ... and taken down at the end
#
# Another cluster (kind, a cloud one): skip this script, set the variables
# e2e/support.ts lists, and run `jest --selectProjects e2e`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$HACK_DIR/cluster/kind.sh"
cd "$REPO_ROOT"
kind_wanted || [ "$(id -u)" -eq 0 ] || die "hack/e2e.sh must run as root (kubelet, containerd, buildah)"

bash hack/deps.sh
export PATH="$REPO_ROOT/node_modules/.bin:$PATH"
assets="$(bash hack/kube-binaries.sh)"
mapfile -t chart_tools < <(bash hack/helm-tools.sh)
bash hack/peers.sh install moto >/dev/null

log "cluster up"
kubeconfig="$(bash hack/cluster-up.sh | tail -1)"
if [ "${E2E_CLUSTER_DOWN:-0}" = 1 ]; then trap 'bash hack/cluster-down.sh >&2' EXIT; fi
version="$(node -p 'require("./package.json").version')"
export COURIER_E2E_KUBECONFIG="$kubeconfig"
export COURIER_E2E_IMAGE="courier.local/courier:$version"
if kind_wanted; then
  log "image build (docker) and kind load"
  kind_image "$COURIER_E2E_IMAGE"
  COURIER_E2E_HOST_ADDRESS="$(kind_host_address)"
  export COURIER_E2E_PULL_POLICY=IfNotPresent COURIER_E2E_HOST_ADDRESS
else
  log "image build and load"
  bash hack/image-build.sh --load >/dev/null
  # Loaded into containerd, never pulled.
  export COURIER_E2E_PULL_POLICY=Never
  COURIER_E2E_IMAGE_ID="$(cat "$COURIER_CACHE/image/courier-$version.oci.tar.id")"
  export COURIER_E2E_IMAGE_ID
  # The node's address (docs/cluster.md): pods reach it, so moto listens there.
  export COURIER_E2E_HOST_ADDRESS=10.231.0.1
  # The cluster's etcd (loopback, no TLS): the leak search reads every key.
  export COURIER_E2E_ETCD_URL=http://127.0.0.1:12379
fi
export KUBECTL="$assets/kubectl" HELM="${chart_tools[0]}"
log "e2e suite"
node --experimental-vm-modules node_modules/jest/bin/jest.js --selectProjects e2e --runInBand --forceExit "$@"
