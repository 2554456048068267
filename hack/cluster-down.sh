#!/usr/bin/env bash
# Stops the cluster hack/cluster-up.sh started and removes what it created, so
# that the next cluster-up starts from a clean slate:
#   - every pod sandbox and container (through the CRI, so each pod's CNI DEL
#     runs; then ctr for anything left), the containerd shims of this cluster;
#   - the processes (kubelet first, so it restarts nothing; etcd last);
#   - kube-proxy's and the kubelet's iptables chains, the two bridges, the ip
#     rule and routing table for pods, the mounts under the state directories;
#   - the kernel settings the cluster changed (restored to the saved values);
#   - etcd's data, the kubelet's directory, pod logs, IPAM state.
# Kept for a warm start: the PKI, the rendered configuration and containerd's
# image store. --purge removes those too.
#
#   hack/cluster-down.sh [--purge]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$HACK_DIR/cluster/lib.sh"

PURGE=0
for arg in "$@"; do
  case "$arg" in
    --purge) PURGE=1 ;;
    *) die "usage: hack/cluster-down.sh [--purge]" ;;
  esac
done
source "$HACK_DIR/cluster/kind.sh"
if kind_wanted; then kind_down; exit 0; fi
[ "$(id -u)" -eq 0 ] || die "cluster-down.sh must run as root"
cluster_lock
START=$SECONDS
BIN="$("$HACK_DIR/kube-binaries.sh" kube-proxy kubectl)"

ctr_k8s() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

# 1. Nothing may restart pods while they are removed.
stop_bg 20 kubelet

# 2. Pods and containers, with containerd up (started for the purpose when it
#    is not running but has state).
remove_workloads() {
  if ! is_running containerd; then
    [ -f "$ETC/containerd.toml" ] && [ -d "$CLUSTER_DIR/containerd" ] || return 0
    start_bg containerd containerd --config "$ETC/containerd.toml"
  fi
  if ! wait_until 30 "containerd" ctr --address "$CONTAINERD_SOCK" version; then
    clog "containerd is not answering; skipping the removal of pods through the CRI"
    return 0
  fi
  if [ -x "$CLUSTER_DIR/courier-cri" ]; then
    timeout 120 "$CLUSTER_DIR/courier-cri" -endpoint "unix://$CONTAINERD_SOCK" rm-pods >&2 ||
      clog "some pods could not be removed through the CRI; removing their containers with ctr"
  fi
  local id
  for id in $(ctr_k8s containers ls -q 2>/dev/null); do
    ctr_k8s tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      ctr_k8s tasks delete "$id" >/dev/null 2>&1 && break
      ctr_k8s tasks ls -q 2>/dev/null | grep -qx "$id" || break
      sleep 0.3
    done
    ctr_k8s containers rm "$id" >/dev/null 2>&1 || clog "could not remove container $id"
  done
  ctr_k8s snapshots --snapshotter overlayfs ls 2>/dev/null | awk 'NR > 1 && $3 == "Active" {print $1}' |
    while read -r id; do ctr_k8s snapshots --snapshotter overlayfs rm "$id" >/dev/null 2>&1 || true; done
}
remove_workloads

# 3. The rest of the processes: the apiserver's clients first (the apiserver
#    takes 30s or more to stop while they hold watches open), etcd after it.
stop_bg 20 kube-proxy kube-scheduler kube-controller-manager containerd
stop_bg 30 kube-apiserver
stop_bg 20 etcd

# Shims of this cluster's containerd (they outlive it by design), found by the
# socket address on their command line: only this cluster's.
for proc in /proc/[0-9]*; do
  cmdline="$(tr '\0' ' ' 2>/dev/null <"$proc/cmdline")" 2>/dev/null || continue
  case "$cmdline" in
    *containerd-shim*"-address $CONTAINERD_SOCK "*)
      pid="${proc#/proc/}"
      clog "stopping leftover shim $pid"
      kill -TERM "$pid" 2>/dev/null || true ;;
  esac
done

# 4. Mounts under the state directories (kubelet volumes, its shared bind
#    mount, container rootfs and shm), deepest first.
unmount_under() {
  local dir="$1" target
  [ -d "$dir" ] || return 0
  for target in $(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null || clog "could not unmount $target"
  done
}
unmount_under "$CLUSTER_DIR/kubelet"
unmount_under "$RUN_DIR"
unmount_under "$CLUSTER_DIR/containerd"

# The kubelet's cgroups (kubepods, its QoS classes and pod cgroups) in every
# hierarchy; empty now that the containers are gone.
for hierarchy in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
  [ -d "$hierarchy" ] || continue
  find "$hierarchy" -depth -type d -exec rmdir {} + 2>/dev/null ||
    clog "could not remove all of $hierarchy (processes left in it?)"
done

# Network namespaces of pods whose CNI DEL did not run: those with an address
# in the pod subnet.
if [ -d /run/netns ]; then
  for ns in /run/netns/cni-*; do
    [ -e "$ns" ] || continue
    if ip -n "${ns##*/}" -4 addr show 2>/dev/null | grep -q "inet ${POD_SUBNET%.*}\."; then
      clog "removing leftover network namespace ${ns##*/}"
      ip netns delete "${ns##*/}" 2>/dev/null || { umount "$ns" 2>/dev/null; rm -f "$ns"; }
    fi
  done
fi

# 5. iptables: kube-proxy removes its own chains; the kubelet's canary and
#    hint chains and any CNI portmap chain left over go by name. Only this
#    cluster runs a kubelet or kube-proxy on this machine.
timeout 60 "$BIN/kube-proxy" --cleanup --v=0 >>"$LOGS/kube-proxy-cleanup.log" 2>&1 ||
  clog "kube-proxy --cleanup failed; see $LOGS/kube-proxy-cleanup.log"
for ipt in iptables ip6tables; do
  command -v "$ipt" >/dev/null || continue
  for table in filter nat mangle raw; do
    rules="$("$ipt" -t "$table" -S 2>/dev/null)" || continue
    # Jumps into the chains first, then the chains.
    jumps="$(grep -E '^-A .* -j (KUBE-|CNI-)' <<<"$rules" || true)"
    chains="$(grep -E '^-N (KUBE-|CNI-)' <<<"$rules" | cut -d' ' -f2 || true)"
    [ -n "$jumps$chains" ] || continue
    while read -r rule; do
      [ -n "$rule" ] && eval "$ipt -t $table ${rule/#-A/-D}" 2>/dev/null || true
    done <<<"$jumps"
    for chain in $chains; do "$ipt" -t "$table" -F "$chain" 2>/dev/null || true; done
    for chain in $chains; do
      "$ipt" -t "$table" -X "$chain" 2>/dev/null || clog "could not delete $ipt chain $table/$chain"
    done
  done
done

# 6. Bridges, rule and routing table.
while ip rule show priority "$POD_RULE_PRIORITY" | grep -q .; do
  ip rule del priority "$POD_RULE_PRIORITY" || break
done
ip route flush table "$POD_ROUTE_TABLE" 2>/dev/null || true
for link in "$POD_BRIDGE" "$NODE_BRIDGE"; do
  ip link show "$link" >/dev/null 2>&1 && ip link del "$link"
done
# Connection tracking entries of pod traffic.
conntrack -D -s "$POD_SUBNET" >/dev/null 2>&1 || true
conntrack -D -d "$POD_SUBNET" >/dev/null 2>&1 || true

# 7. Kernel settings.
if [ -s "$CLUSTER_DIR/sysctls.saved" ]; then
  while IFS='=' read -r key value; do
    [ -n "$value" ] && sysctl -qw "$key=$value" 2>/dev/null || true
  done <"$CLUSTER_DIR/sysctls.saved"
  rm -f "$CLUSTER_DIR/sysctls.saved"
  clog "restored $(tr '\n' ' ' <<<"${SAVED_SYSCTLS[*]}")"
fi

# 8. State.
rm -rf "$CLUSTER_DIR/etcd" "$CLUSTER_DIR/kubelet" "$CLUSTER_DIR/pod-logs" "$CLUSTER_DIR/cni-ipam" \
  "$RUN_DIR"
if [ "$PURGE" = 1 ]; then
  rm -rf "$CLUSTER_DIR"
  clog "purged $CLUSTER_DIR (PKI, images, logs)"
fi
clog "cluster down in $((SECONDS - START))s"
