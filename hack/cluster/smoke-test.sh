#!/usr/bin/env bash
# Proves the cluster from hack/cluster-up.sh runs real workloads. Each check
# prints PASS or FAIL; the exit status is the number of failures.
#
#   hack/cluster/smoke-test.sh [check ...]
#
# Checks: pod logs job token memory service nodeport exec dns.
# Note for test authors: Debian's busybox-static 1.35 wget segfaults with -T
# (exit 139); use `timeout N wget ...` instead. Everything runs in
# a throwaway namespace, deleted at the end (exercising the namespace
# controller and the garbage collector).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$HACK_DIR/cluster/lib.sh"

# shellcheck disable=SC2034 # used by kubectl_admin (cluster/lib.sh)
BIN="$("$HACK_DIR/kube-binaries.sh" kubectl)"
NS="courier-smoke-$$"
FAILURES=0
k() { kubectl_admin -n "$NS" "$@"; }

pass() { printf 'PASS %-9s %s\n' "$1" "$2"; }
fail() { printf 'FAIL %-9s %s\n' "$1" "$2"; FAILURES=$((FAILURES + 1)); }
timed() { local t0=$SECONDS; "$@"; local rc=$?; ELAPSED=$((SECONDS - t0)); return $rc; }

# busybox_pod NAME SCRIPT [VOLUMES_JSON VOLUME_MOUNTS_JSON]
busybox_pod() {
  k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app: $1}}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  volumes: ${3:-[]}
  containers:
  - name: main
    image: $BUSYBOX_IMAGE
    imagePullPolicy: Never
    command: [sh, -c]
    args:
    - |
$(sed 's/^/      /' <<<"$2")
    volumeMounts: ${4:-[]}
EOF
}
# succeeded POD [SECONDS]: waits until the pod has finished, true if it Succeeded.
succeeded() {
  local phase deadline=$((SECONDS + ${2:-60}))
  while ((SECONDS < deadline)); do
    phase="$(k get pod "$1" -o jsonpath='{.status.phase}' 2>/dev/null)" || true
    case "$phase" in Succeeded) return 0 ;; Failed) return 1 ;; esac
    sleep 0.5
  done
  return 1
}

check_pod() {
  busybox_pod hello 'echo hello from $(hostname)'
  if timed succeeded hello; then pass pod "a busybox pod Succeeded in ${ELAPSED}s"; else fail pod "$(k get pod hello -o wide 2>&1 | tail -1)"; fi
}

check_logs() {
  local out
  out="$(k logs hello 2>&1)"
  if [ "$out" = "hello from hello" ]; then pass logs "kubectl logs: $out"; else fail logs "kubectl logs: $out"; fi
}

check_job() {
  k apply -f - >/dev/null <<EOF
apiVersion: batch/v1
kind: Job
metadata: {name: count}
spec:
  completions: 2
  parallelism: 2
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: $BUSYBOX_IMAGE
        imagePullPolicy: Never
        command: [sh, -c, 'seq 3']
EOF
  if timed k wait --for=condition=Complete job/count --timeout=90s >/dev/null; then
    pass job "a Job with 2 completions completed in ${ELAPSED}s"
  else
    fail job "$(k get job count -o wide 2>&1 | tail -1)"
  fi
}

check_token() {
  # A projected service-account token with its own audience and expiry, next
  # to the default kube-api-access volume, and a request to the apiserver
  # through the kubernetes Service with the default token.
  busybox_pod token '
    t=/var/run/secrets/tokens/courier
    test -s $t || { echo "no projected token"; exit 1; }
    cut -d. -f2 $t | tr "_-" "/+" | base64 -d 2>/dev/null | grep -o "\"aud\":\[[^]]*\]"
    sa=/var/run/secrets/kubernetes.io/serviceaccount
    # Who am I, as the apiserver sees the default token (any authenticated
    # user may create a SelfSubjectReview).
    timeout 10 wget -q -O- --no-check-certificate --header "Authorization: Bearer $(cat $sa/token)" \
      --header "Content-Type: application/json" \
      --post-data "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"SelfSubjectReview\"}" \
      https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/apis/authentication.k8s.io/v1/selfsubjectreviews 2>&1 |
      grep -o "\"username\": *\"[^\"]*\""
  ' \
    '[{name: courier-token, projected: {sources: [{serviceAccountToken: {audience: courier-test, expirationSeconds: 3600, path: courier}}]}}]' \
    '[{name: courier-token, mountPath: /var/run/secrets/tokens}]'
  local out
  succeeded token || true
  out="$(k logs token 2>&1 | tr '\n' ' ')"
  if [[ "$out" == *'"aud":["courier-test"]'* ]]; then
    pass token "projected token mounted, ${out%% \"username*}"
  else
    fail token "$out"
  fi
  if [[ "$out" == *"system:serviceaccount:$NS:default"* ]]; then
    pass api "pod -> https://\$KUBERNETES_SERVICE_HOST (ClusterIP -> apiserver), authenticated as ${out##*\"username\": }"
  else
    fail api "the pod could not call the apiserver through the kubernetes Service: $out"
  fi
}

check_memory() {
  busybox_pod memory 'grep " /cache " /proc/mounts && dd if=/dev/zero of=/cache/f bs=1M count=8 2>/dev/null && ls -la /cache/f' \
    '[{name: cache, emptyDir: {medium: Memory, sizeLimit: 64Mi}}]' '[{name: cache, mountPath: /cache}]'
  local out
  succeeded memory || true
  out="$(k logs memory 2>&1 | tr '\n' ' ')"
  if [[ "$out" == tmpfs\ /cache* ]]; then pass memory "emptyDir medium Memory: $out"; else fail memory "$out"; fi
}

check_service() {
  # An HTTP server (busybox httpd) behind a ClusterIP Service; one pod calls it
  # through the Service, and the server calls its own Service (hairpin).
  k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: $BUSYBOX_IMAGE
    imagePullPolicy: Never
    command: [sh, -c, 'mkdir -p /www && echo "served by \$(hostname)" > /www/index.html && exec httpd -f -p 8080 -h /www']
    ports: [{containerPort: 8080}]
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
EOF
  if ! k wait --for=condition=Ready pod/web --timeout=60s >/dev/null; then
    fail service "the web pod did not become Ready"; return
  fi
  local ip out
  ip="$(k get service web -o jsonpath='{.spec.clusterIP}')"
  busybox_pod client "timeout 5 wget -q -O- http://$ip/"
  succeeded client || true
  out="$(k logs client 2>&1)"
  if [ "$out" = "served by web" ]; then pass service "pod -> ClusterIP $ip:80 -> pod: $out"; else fail service "pod -> $ip: $out"; fi
  out="$(k exec web -- timeout 5 wget -q -O- "http://$ip/" 2>&1)" || true
  if [ "$out" = "served by web" ]; then pass hairpin "pod -> its own ClusterIP: $out"; else fail hairpin "$out"; fi
}

check_nodeport() {
  local port out
  port="$(k get service web -o jsonpath='{.spec.ports[0].nodePort}' 2>/dev/null)"
  [ -n "$port" ] || { fail nodeport "no web Service (run the service check first)"; return; }
  out="$(curl -fsS --max-time 5 "http://$NODE_IP:$port/" 2>&1)" || true
  if [ "$out" = "served by web" ]; then pass nodeport "host -> $NODE_IP:$port -> pod: $out"; else fail nodeport "$out"; fi
}

check_exec() {
  local out
  out="$(k exec web -- sh -c 'echo exec works in $(hostname)' 2>&1)" || true
  if [ "$out" = "exec works in web" ]; then pass exec "kubectl exec: $out"; else fail exec "$out"; fi
}

check_dns() {
  kubectl_admin -n kube-system get deployment coredns >/dev/null 2>&1 || { printf 'SKIP dns       no CoreDNS deployed\n'; return; }
  # CoreDNS answers for a Service's name; then the libc resolver of a
  # ClusterFirst pod finds the web Service (service check) by its short name
  # through the search path. busybox's nslookup ignores the search path.
  busybox_pod dns "nslookup kubernetes.default.svc.$CLUSTER_DOMAIN | grep -A1 '^Name:' | tail -1
    timeout 5 wget -q -O- http://web/ || echo 'no web Service'"
  succeeded dns || true
  local out
  out="$(k logs dns 2>&1 | tr '\n' ' ')"
  if [[ "$out" == *"Address: $API_SERVICE_IP"* ]]; then pass dns "kubernetes.default.svc resolves: ${out%% served*}"; else fail dns "$out"; fi
  if [[ "$out" == *"served by web"* ]]; then pass dns-name "http://web/ from a pod (search path): ${out##*Address: $API_SERVICE_IP }"
  else printf 'SKIP dns-name  %s\n' "$out"; fi
}

checks=("$@")
[ ${#checks[@]} -gt 0 ] || checks=(pod logs job token memory service nodeport exec dns)
kubectl_admin create namespace "$NS" >/dev/null
trap 'kubectl_admin delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT
wait_until 30 "the default ServiceAccount in $NS" k get serviceaccount default
START=$SECONDS
for c in "${checks[@]}"; do "check_$c"; done
printf 'checks took %ss; deleting namespace %s\n' "$((SECONDS - START))" "$NS"
if ! kubectl_admin delete namespace "$NS" --timeout=90s >/dev/null; then
  fail cleanup "namespace $NS was not deleted in 90s"
fi
exit "$FAILURES"
