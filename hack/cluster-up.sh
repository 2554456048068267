#!/usr/bin/env bash
# Brings up a real single-node Kubernetes cluster on this machine, from
# processes (no systemd, no images to pull): containerd + runc + CNI bridge,
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
# kube-proxy (iptables), with a PKI made by openssl and locally built pause and
# busybox images. Waits until the node is Ready, then prints the admin
# kubeconfig's path. See docs/cluster.md.
#
#   sudo hack/cluster-up.sh            idempotent: starts what is not running
#   hack/cluster-down.sh               stops it and removes what it created
#
# Environment: COURIER_CLUSTER_DIR (default /var/lib/courier-cluster),
# COURIER_CLUSTER_RUN (/run/courier-cluster), CLUSTER_SKIP_APT=1 (never run
# apt-get), CLUSTER_WAIT=seconds for the node to become Ready (180),
# CLUSTER_DNS=0 (no CoreDNS: its first build takes about a minute),
# CLUSTER_USE_KIND=1|0 (kind instead, when a Docker engine and kind are there:
# the default; see hack/cluster/kind.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$HACK_DIR/cluster/lib.sh"
source "$HACK_DIR/cluster/pki.sh"
source "$HACK_DIR/cluster/images.sh"
source "$HACK_DIR/cluster/kind.sh"

# With a Docker engine and kind, the same cluster comes from kind (hack/cluster/kind.sh).
if kind_wanted; then kind_up; exit 0; fi

START=$SECONDS
[ "$(id -u)" -eq 0 ] || die "cluster-up.sh must run as root (containerd, kubelet, iptables, bridges)"
[ "$(uname -s)" = Linux ] || die "Linux only"
cluster_lock

# --- 1. packages ------------------------------------------------------------
RUNC=/usr/sbin/runc
CNI_BIN_DIR=/usr/lib/cni
ensure_packages() {
  local missing=() cmd
  command -v containerd >/dev/null && command -v containerd-shim-runc-v2 >/dev/null || missing+=(containerd)
  [ -x "$RUNC" ] || missing+=(runc)
  [ -x "$CNI_BIN_DIR/bridge" ] && [ -x "$CNI_BIN_DIR/host-local" ] && [ -x "$CNI_BIN_DIR/portmap" ] &&
    [ -x "$CNI_BIN_DIR/loopback" ] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v conntrack >/dev/null || missing+=(conntrack)
  dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
  for cmd in openssl:openssl ip:iproute2 perl:perl-base setsid:util-linux curl:curl mountpoint:util-linux; do
    command -v "${cmd%%:*}" >/dev/null || missing+=("${cmd#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "${CLUSTER_SKIP_APT:-0}" = 1 ] && die "missing packages: ${missing[*]} (and CLUSTER_SKIP_APT=1)"
  clog "installing ${missing[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  if ! timeout 600 apt-get install -y --no-install-recommends "${missing[@]}" >"$LOGS/apt.log" 2>&1; then
    timeout 300 apt-get update >>"$LOGS/apt.log" 2>&1 || true
    timeout 600 apt-get install -y --no-install-recommends "${missing[@]}" >>"$LOGS/apt.log" 2>&1 ||
      die "apt-get install ${missing[*]} failed; see $LOGS/apt.log"
  fi
}

# --- 2. binaries --------------------------------------------------------------
cri_tool() { # builds hack/cluster/cri-tool once into the cache, prints its path
  local key src out
  key="$(cat "$CLUSTER_HACK/cri-tool/main.go" <(go version) | sha256sum | cut -c1-12)"
  out="$COURIER_CACHE/build/courier-cri-$key/courier-cri"
  if [ ! -x "$out" ]; then
    clog "building courier-cri (hack/cluster/cri-tool) against k8s.io/cri-api v0.${KUBE_VERSION#1.}"
    src="$COURIER_CACHE/src/courier-cri-$key"
    mkdir -p "$src" "$(dirname "$out")"
    cp "$CLUSTER_HACK/cri-tool/main.go" "$src/"
    printf 'module courier.local/cri-tool\n\ngo 1.26.0\n\nrequire (\n\tk8s.io/cri-api v0.%s\n\tgoogle.golang.org/grpc v1.82.1\n)\n' \
      "${KUBE_VERSION#1.}" >"$src/go.mod"
    (cd "$src" && GOFLAGS="$GOFLAGS -mod=mod" timeout 600 go build -ldflags "-s -w" -o "$out" .) \
      >"$LOGS/build-courier-cri.log" 2>&1 || { tail -20 "$LOGS/build-courier-cri.log" >&2; return 1; }
  fi
  printf '%s' "$out"
}

# --- 3. kernel settings and network -----------------------------------------
save_sysctls() {
  # Saved once per cluster lifetime: a second cluster-up must not record the
  # values the first one set.
  [ -s "$CLUSTER_DIR/sysctls.saved" ] && return 0
  local key
  for key in "${SAVED_SYSCTLS[@]}"; do
    printf '%s=%s\n' "$key" "$(sysctl -n "$key" 2>/dev/null)"
  done >"$CLUSTER_DIR/sysctls.saved"
}

setup_network() {
  save_sysctls
  # kube-proxy's rules must see traffic between pods on the same bridge
  # (a pod reaching a Service backed by a pod on this node).
  sysctl -qw net.bridge.bridge-nf-call-iptables=1
  # The bridge CNI plugin (isGateway) turns forwarding on anyway; pods can
  # still only reach their subnet and this machine's own addresses (ip rule).
  sysctl -qw net.ipv4.ip_forward=1

  # The node address: on a bridge without ports, since this kernel has no
  # dummy interfaces (CONFIG_DUMMY is not set).
  ip link show "$NODE_BRIDGE" >/dev/null 2>&1 || ip link add "$NODE_BRIDGE" type bridge
  ip addr replace "$NODE_IP/32" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up
  # The pods' bridge, made here (not by the CNI plugin) so the routing table
  # below can name it before the first pod exists.
  ip link show "$POD_BRIDGE" >/dev/null 2>&1 || ip link add "$POD_BRIDGE" type bridge
  ip addr replace "$POD_GATEWAY/${POD_SUBNET#*/}" dev "$POD_BRIDGE"
  ip link set "$POD_BRIDGE" up
  # Whatever arrives from a pod and is not for an address of this machine
  # (the local table comes first) may only go back to the pod subnet.
  ip route replace "$POD_SUBNET" dev "$POD_BRIDGE" src "$POD_GATEWAY" table "$POD_ROUTE_TABLE"
  ip route replace unreachable default table "$POD_ROUTE_TABLE"
  ip rule show priority "$POD_RULE_PRIORITY" | grep -q . ||
    ip rule add priority "$POD_RULE_PRIORITY" iif "$POD_BRIDGE" lookup "$POD_ROUTE_TABLE"
}

# The kubelet's directory as a shared mount: the root filesystem here has
# private propagation, and volumes with mountPropagation need a shared one.
setup_kubelet_dir() {
  local dir="$CLUSTER_DIR/kubelet"
  mkdir -p "$dir"
  if ! mountpoint -q "$dir"; then
    mount --bind "$dir" "$dir"
  fi
  mount --make-rshared "$dir"
}

# --- 4. configuration -----------------------------------------------------------
render() { # TEMPLATE OUT: replaces @@NAME@@ by $NAME
  TEMPLATE_VARS="$(declare -p ETC CLUSTER_DIR RUN_DIR CONTAINERD_SOCK PAUSE_IMAGE RUNC CNI_BIN_DIR \
    POD_BRIDGE POD_SUBNET POD_GATEWAY NODE_IP NODE_NAME PKI CLUSTER_DOMAIN DNS_SERVICE_IP CLUSTER_CIDR \
    MAX_OPEN_FILES COREDNS_IMAGE)" \
    perl -e '
      my %v; for (split /\n/, $ENV{TEMPLATE_VARS}) { $v{$1} = $2 if /^declare -\S* (\w+)="(.*)"$/ }
      while (<STDIN>) { s/@@(\w+)@@/exists $v{$1} ? $v{$1} : die "unknown template variable $1\n"/ge; print }
    ' <"$CLUSTER_HACK/templates/$1" >"$2.tmp"
  mv "$2.tmp" "$2"
}

write_configs() {
  MAX_OPEN_FILES="$(ulimit -Hn)"
  [ "$MAX_OPEN_FILES" = unlimited ] && MAX_OPEN_FILES=1000000
  mkdir -p "$ETC/cni" "$CLUSTER_DIR/pod-logs" "$CLUSTER_DIR/cni-ipam"
  render containerd.toml "$ETC/containerd.toml"
  render cni.conflist "$ETC/cni/10-courier.conflist"
  render kubelet.yaml "$ETC/kubelet.yaml"
  render kube-proxy.yaml "$ETC/kube-proxy.yaml"
  render kube-scheduler.yaml "$ETC/kube-scheduler.yaml"
  render coredns.yaml "$ETC/coredns.yaml"
}

# --- 5. processes -----------------------------------------------------------------
https_ok() { # URL: 200 from an endpoint with the admin certificate
  curl -fsS --max-time 3 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$1" >/dev/null
}

start_containerd() {
  start_bg containerd containerd --config "$ETC/containerd.toml"
  wait_until 30 "containerd's socket" ctr --address "$CONTAINERD_SOCK" version ||
    die "containerd did not start; see $LOGS/containerd.log"
}

start_etcd() {
  start_bg etcd "$BIN/etcd" --name courier --data-dir "$CLUSTER_DIR/etcd" \
    --listen-client-urls "$ETCD_CLIENT_URL" --advertise-client-urls "$ETCD_CLIENT_URL" \
    --listen-peer-urls "$ETCD_PEER_URL" --initial-advertise-peer-urls "$ETCD_PEER_URL" \
    --initial-cluster "courier=$ETCD_PEER_URL" --listen-metrics-urls "" \
    --unsafe-no-fsync=true --log-level=warn
  wait_until 30 "etcd" curl -fsS --max-time 2 "$ETCD_CLIENT_URL/health" || die "etcd did not start; see $LOGS/etcd.log"
}

start_apiserver() {
  # GODEBUG=tlssha1=1: busybox wget (the test image's TLS client) sends no
  # signature_algorithms extension, which in TLS 1.2 means SHA-1 signatures;
  # Go >= 1.24 refuses them ("TLS error from peer (alert code 40): handshake
  # failure" in the pod). Other clients still negotiate SHA-256 or better.
  start_bg kube-apiserver env GODEBUG=tlssha1=1 "$BIN/kube-apiserver" \
    --etcd-servers="$ETCD_CLIENT_URL" \
    --bind-address="$NODE_IP" --advertise-address="$NODE_IP" --secure-port="$API_PORT" \
    --cert-dir="$RUN_DIR/apiserver-certs" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$PKI/ca.crt" \
    --kubelet-preferred-address-types=InternalIP,Hostname \
    --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$PKI/front-proxy-client.crt" \
    --proxy-client-key-file="$PKI/front-proxy-client.key" \
    --enable-aggregator-routing=true \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --service-account-issuer="$SERVICE_ACCOUNT_ISSUER" \
    --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    --api-audiences="$SERVICE_ACCOUNT_ISSUER" \
    --authorization-mode=Node,RBAC \
    --enable-admission-plugins=NodeRestriction \
    --allow-privileged=true \
    --profiling=false \
    --v=1
  wait_until 90 "kube-apiserver /readyz" https_ok "$API_SERVER/readyz" ||
    die "kube-apiserver did not become ready; see $LOGS/kube-apiserver.log"
}

start_controller_manager() {
  start_bg kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig="$PKI/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig="$PKI/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig="$PKI/kube-controller-manager.kubeconfig" \
    --bind-address="$NODE_IP" --secure-port=10257 \
    --controllers='*' \
    --root-ca-file="$PKI/ca.crt" \
    --service-account-private-key-file="$PKI/sa.key" \
    --use-service-account-credentials=true \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --cluster-cidr="$CLUSTER_CIDR" --allocate-node-cidrs=false \
    --leader-elect=false \
    --profiling=false \
    --v=1
}

start_scheduler() {
  start_bg kube-scheduler "$BIN/kube-scheduler" \
    --config="$ETC/kube-scheduler.yaml" \
    --authentication-kubeconfig="$PKI/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig="$PKI/kube-scheduler.kubeconfig" \
    --bind-address="$NODE_IP" --secure-port=10259 \
    --profiling=false \
    --v=1
}

start_kubelet() {
  start_bg kubelet "$BIN/kubelet" \
    --config="$ETC/kubelet.yaml" \
    --kubeconfig="$PKI/kubelet.kubeconfig" \
    --root-dir="$CLUSTER_DIR/kubelet" \
    --hostname-override="$NODE_NAME" \
    --node-ip="$NODE_IP" \
    --v=1
}

start_kube_proxy() {
  start_bg kube-proxy "$BIN/kube-proxy" --config="$ETC/kube-proxy.yaml" --v=1
}

node_ready() {
  [ "$(kubectl_admin get node "$NODE_NAME" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

# --- main -------------------------------------------------------------------
mkdir -p "$CLUSTER_DIR" "$RUN_DIR" "$PIDS" "$ETC"
chmod 700 "$CLUSTER_DIR"
# A fresh start keeps the previous run's logs in logs.previous/.
running=0
for name in "${CLUSTER_COMPONENTS[@]}"; do is_running "$name" && running=1; done
if [ $running = 0 ] && [ -d "$LOGS" ]; then
  rm -rf "$LOGS.previous"
  mv "$LOGS" "$LOGS.previous"
fi
mkdir -p "$LOGS"
ensure_packages
clog "packages ready ($((SECONDS - START))s)"
BIN="$("$HACK_DIR/kube-binaries.sh" etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)"
CRI_TOOL="$(with_lock courier-cri cri_tool)" || die "could not build hack/cluster/cri-tool"
ln -sfn "$CRI_TOOL" "$CLUSTER_DIR/courier-cri"
clog "binaries ready ($((SECONDS - START))s)"

setup_network
setup_kubelet_dir
ensure_pki
write_configs
start_containerd
ensure_images
clog "containerd and images ready ($((SECONDS - START))s)"

start_etcd
start_apiserver
clog "kube-apiserver ready at $API_SERVER ($((SECONDS - START))s)"
start_controller_manager
start_scheduler
start_kubelet
start_kube_proxy

wait_until "${CLUSTER_WAIT:-180}" "node $NODE_NAME to be Ready" node_ready ||
  die "node $NODE_NAME is not Ready; see $LOGS/kubelet.log and $LOGS/containerd.log"
# What pods of a test need from the control plane: the default ServiceAccount
# (serviceaccount controller) and the kube-root-ca.crt ConfigMap (root CA
# publisher) in their namespace.
wait_until 60 "the default ServiceAccount" kubectl_admin get serviceaccount default -n default ||
  die "no default ServiceAccount; see $LOGS/kube-controller-manager.log"
wait_until 60 "the kube-root-ca.crt ConfigMap" kubectl_admin get configmap kube-root-ca.crt -n default ||
  die "no kube-root-ca.crt ConfigMap; see $LOGS/kube-controller-manager.log"

if [ "${CLUSTER_DNS:-1}" = 1 ]; then
  kubectl_admin apply -f "$ETC/coredns.yaml" >/dev/null
  kubectl_admin -n kube-system rollout status deployment/coredns --timeout=90s >/dev/null ||
    die "CoreDNS did not become available; see kubectl -n kube-system describe pod -l k8s-app=kube-dns"
  clog "cluster DNS ready at $DNS_SERVICE_IP ($COREDNS_IMAGE)"
fi

clog "cluster ready in $((SECONDS - START))s: node $NODE_NAME ($NODE_IP), images $PAUSE_IMAGE $BUSYBOX_IMAGE"
clog "export KUBECONFIG=$KUBECONFIG_ADMIN"
printf '%s\n' "$KUBECONFIG_ADMIN"
