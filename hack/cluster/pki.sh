# shellcheck shell=bash disable=SC2034
# PKI of the local cluster, with openssl: one CA (also the controller-manager's
# CSR signer), serving certificates for the apiserver and the kubelet, client
# certificates for every component and the admin, the service-account key
# pair, and a kubeconfig per client. Kept across cluster-up runs (a warm start
# reuses it); a certificate is reissued when missing, expiring within a day, or
# when the node name/addresses changed. Source it; do not run it.

# pki_sign NAME SUBJECT EXT_LINES...: signed by $PKI_CA (default ca), with an
# EC P-256 key, or RSA 2048 when PKI_RSA=1.
pki_sign() {
  local name="$1" subject="$2" ca="${PKI_CA:-ca}"; shift 2
  local ext
  ext="$(printf '%s\n' 'basicConstraints=critical,CA:FALSE' \
    'keyUsage=critical,digitalSignature,keyEncipherment' "$@")"
  if [ "${PKI_RSA:-0}" = 1 ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/$name.key" 2>/dev/null
  else
    openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key" 2>/dev/null
  fi
  chmod 600 "$PKI/$name.key"
  openssl req -new -key "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 365 -sha256 \
    -extfile <(printf '%s\n' "$ext") -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr"
}

pki_fresh() { # NAME: the certificate exists and is valid for one more day
  [ -s "$PKI/$1.crt" ] && [ -s "$PKI/$1.key" ] &&
    openssl x509 -checkend 86400 -noout -in "$PKI/$1.crt" >/dev/null 2>&1
}

write_kubeconfig() { # FILE USER_CERT_NAME
  local file="$1" name="$2"
  umask 077
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: courier-local
  cluster:
    server: $API_SERVER
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $(base64 -w0 <"$PKI/$name.crt")
    client-key-data: $(base64 -w0 <"$PKI/$name.key")
contexts:
- name: courier-local
  context:
    cluster: courier-local
    user: $name
current-context: courier-local
EOF
  umask 022
}

pki_ca() { # NAME CN
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$1.key" 2>/dev/null
  chmod 600 "$PKI/$1.key"
  openssl req -x509 -new -key "$PKI/$1.key" -subj "/CN=$2" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/$1.crt"
}

ensure_pki() {
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  local params="node=$NODE_NAME ip=$NODE_IP svc=$API_SERVICE_IP domain=$CLUSTER_DOMAIN"
  if ! pki_fresh ca; then
    clog "creating the cluster CA"
    find "$PKI" -maxdepth 1 -type f -delete
    pki_ca ca courier-local-cluster-ca
  fi
  # The aggregation layer's CA (kube-apiserver --requestheader-client-ca-file);
  # without it every component logs "missing content for CA bundle
  # client-ca::kube-system::extension-apiserver-authentication::requestheader-client-ca-file".
  pki_fresh front-proxy-ca || { rm -f "$PKI/front-proxy-client.crt"; pki_ca front-proxy-ca courier-local-front-proxy-ca; }
  if [ "$(cat "$PKI/params" 2>/dev/null)" != "$params" ]; then
    rm -f "$PKI/apiserver.crt" "$PKI/kubelet-serving.crt" "$PKI/kubelet.crt"
  fi
  if [ ! -s "$PKI/sa.key" ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
    chmod 600 "$PKI/sa.key"
    openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"
  fi

  local issued=()
  # RSA for the apiserver, which minimal TLS clients in test pods are likeliest
  # to handle (busybox wget's built-in TLS also needs GODEBUG=tlssha1=1 on the
  # apiserver, see cluster-up.sh).
  pki_fresh apiserver || { issued+=(apiserver); PKI_RSA=1 pki_sign apiserver "/CN=kube-apiserver" \
    'extendedKeyUsage=serverAuth' \
    "subjectAltName=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN,DNS:localhost,DNS:$NODE_NAME,IP:$NODE_IP,IP:$API_SERVICE_IP,IP:127.0.0.1"; }
  pki_fresh kubelet-serving || { issued+=(kubelet-serving); pki_sign kubelet-serving "/CN=$NODE_NAME" \
    'extendedKeyUsage=serverAuth' "subjectAltName=DNS:$NODE_NAME,IP:$NODE_IP"; }
  # Client certificates: the user name is the CN, the groups the O fields.
  local spec name subject
  for spec in \
    "admin|/O=system:masters/CN=courier-admin" \
    "apiserver-kubelet-client|/O=system:masters/CN=kube-apiserver-kubelet-client" \
    "kube-controller-manager|/CN=system:kube-controller-manager" \
    "kube-scheduler|/CN=system:kube-scheduler" \
    "kube-proxy|/CN=system:kube-proxy" \
    "kubelet|/O=system:nodes/CN=system:node:$NODE_NAME"; do
    name="${spec%%|*}" subject="${spec#*|}"
    pki_fresh "$name" || { issued+=("$name"); pki_sign "$name" "$subject" 'extendedKeyUsage=clientAuth'; }
  done
  pki_fresh front-proxy-client || { issued+=(front-proxy-client)
    PKI_CA=front-proxy-ca pki_sign front-proxy-client "/CN=front-proxy-client" 'extendedKeyUsage=clientAuth'; }
  printf '%s\n' "$params" >"$PKI/params"
  [ ${#issued[@]} -eq 0 ] || clog "issued certificates: ${issued[*]}"

  for name in admin kube-controller-manager kube-scheduler kube-proxy kubelet; do
    write_kubeconfig "$PKI/$name.kubeconfig" "$name"
  done
  cp "$PKI/admin.kubeconfig" "$KUBECONFIG_ADMIN"
  chmod 600 "$KUBECONFIG_ADMIN"
}
