# shellcheck shell=bash disable=SC2034
# Shared settings and helpers of hack/cluster-up.sh and hack/cluster-down.sh
# (a real single-node cluster on this machine, see docs/cluster.md).
# Source it after hack/lib.sh; do not run it.

CLUSTER_HACK="$HACK_DIR/cluster"

# Where the cluster lives. Everything the scripts create is under these two
# directories, on the bridges below, or in the iptables chains and the ip rule
# they name; cluster-down.sh removes it all (--purge also the PKI and images).
: "${COURIER_CLUSTER_DIR:=/var/lib/courier-cluster}"
: "${COURIER_CLUSTER_RUN:=/run/courier-cluster}"
CLUSTER_DIR="$COURIER_CLUSTER_DIR"
RUN_DIR="$COURIER_CLUSTER_RUN"
PKI="$CLUSTER_DIR/pki"
ETC="$CLUSTER_DIR/etc"
LOGS="$CLUSTER_DIR/logs"
PIDS="$RUN_DIR/pids"
KUBECONFIG_ADMIN="$CLUSTER_DIR/admin.kubeconfig"
CONTAINERD_SOCK="$RUN_DIR/containerd/containerd.sock"

# Addresses. All of them exist only on this machine: the node address sits on
# a bridge without ports (CONFIG_DUMMY is not in this kernel), pods sit on a
# second bridge, and an ip rule sends whatever pods address outside their own
# subnet (after kube-proxy's DNAT) to a table that only knows that subnet, so no
# pod traffic can leave the machine.
: "${CLUSTER_NODE_NAME:=courier-node}"
NODE_NAME="$CLUSTER_NODE_NAME"
NODE_BRIDGE=courier-host
NODE_IP=10.231.0.1
POD_BRIDGE=courier-cni0
POD_SUBNET=10.232.0.0/24
POD_GATEWAY=10.232.0.1
CLUSTER_CIDR=10.232.0.0/16
SERVICE_CIDR=10.233.0.0/24
API_SERVICE_IP=10.233.0.1
DNS_SERVICE_IP=10.233.0.10
POD_ROUTE_TABLE=231
POD_RULE_PRIORITY=2310
API_PORT=6443
API_SERVER="https://$NODE_IP:$API_PORT"
# etcd listens on loopback only (no pod can reach the host's loopback), on
# ports apart from etcd's defaults and from the test control plane's
# ephemeral ones.
ETCD_CLIENT_URL=http://127.0.0.1:12379
ETCD_PEER_URL=http://127.0.0.1:12380
CLUSTER_DOMAIN=cluster.local
SERVICE_ACCOUNT_ISSUER="https://kubernetes.default.svc.$CLUSTER_DOMAIN"

# Local images (nothing can be pulled here): built by hack/cluster/images.sh,
# imported into containerd's k8s.io namespace. Pods must use
# imagePullPolicy: Never (or IfNotPresent).
PAUSE_IMAGE=courier.local/pause:1.0
BUSYBOX_IMAGE=courier.local/busybox:1.35
IMAGES_CACHE="$COURIER_CACHE/cluster-images"
# Cluster DNS: CoreDNS built from its Go module with the plugins in
# hack/cluster/coredns/main.go. CLUSTER_DNS=0 skips it.
: "${COREDNS_VERSION:=1.14.7}"
COREDNS_IMAGE="courier.local/coredns:$COREDNS_VERSION"

# Kernel settings the kubelet and kube-proxy change; cluster-down restores them.
SAVED_SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops net.ipv4.ip_forward
  net.bridge.bridge-nf-call-iptables)

CLUSTER_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy)

# cluster_lock: one cluster-up/cluster-down at a time (held until exit).
cluster_lock() {
  mkdir -p "$COURIER_CACHE/locks"
  exec {CLUSTER_LOCK_FD}>"$COURIER_CACHE/locks/cluster.lock"
  flock -w 900 "$CLUSTER_LOCK_FD" || die "another cluster-up/cluster-down holds $COURIER_CACHE/locks/cluster.lock"
}

clog() { printf '[cluster %s] %s\n' "$(date +%T)" "$*" >&2; }

# is_running NAME: its pid file names a live process whose command line still
# mentions NAME (a pid left from before a reboot may belong to anything).
is_running() {
  local pidfile="$PIDS/$1.pid" pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$1"
}

# start_bg NAME COMMAND...: runs COMMAND in its own session (so it outlives the
# calling shell and its process group), appending to $LOGS/NAME.log.
start_bg() {
  local name="$1"; shift
  if is_running "$name"; then clog "$name already running (pid $(cat "$PIDS/$name.pid"))"; return 0; fi
  mkdir -p "$LOGS" "$PIDS"
  printf '\n===== %s %s\n' "$(date -Is)" "$*" >>"$LOGS/$name.log"
  # Without the cluster lock's descriptor: a daemon holding it would block
  # every later cluster-up/cluster-down (the lock is held while the fd is open).
  if [ -n "${CLUSTER_LOCK_FD:-}" ]; then
    setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null {CLUSTER_LOCK_FD}>&- &
  else
    setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  fi
  echo $! >"$PIDS/$name.pid"
  clog "started $name (pid $!, log $LOGS/$name.log)"
}

# stop_bg GRACE NAME...: SIGTERM to each, SIGKILL to those still alive after
# GRACE seconds.
stop_bg() {
  local grace="$1"; shift
  local name pid i alive
  local -A pids=()
  for name in "$@"; do
    [ -f "$PIDS/$name.pid" ] || continue
    pid="$(cat "$PIDS/$name.pid")"
    if is_running "$name"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids[$name]="$pid"
    else
      rm -f "$PIDS/$name.pid"
    fi
  done
  for ((i = 0; i < grace * 10; i++)); do
    alive=0
    for name in "${!pids[@]}"; do kill -0 "${pids[$name]}" 2>/dev/null && alive=1; done
    [ $alive = 1 ] || break
    sleep 0.1
  done
  for name in "${!pids[@]}"; do
    pid="${pids[$name]}"
    if kill -0 "$pid" 2>/dev/null; then
      clog "$name (pid $pid) ignored SIGTERM for ${grace}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    clog "stopped $name (pid $pid)"
    rm -f "$PIDS/$name.pid"
  done
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.5s.
wait_until() {
  local timeout="$1" what="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      clog "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 0.5
  done
}

kubectl_admin() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
