# Shared helpers for hack/ scripts. Source it; do not run it.
set -euo pipefail
HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HACK_DIR/.." && pwd)"
# shellcheck source=versions.env
source "$HACK_DIR/versions.env"
COURIER_CACHE="${COURIER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/courier}"
export GOFLAGS="${GOFLAGS:--buildvcs=false} -trimpath"
export CGO_ENABLED="${CGO_ENABLED:-0}"

log() { printf '[hack] %s\n' "$*" >&2; }
die() { printf '[hack] error: %s\n' "$*" >&2; exit 1; }

# Runs a command holding an exclusive lock, so parallel callers (several
# test workers, CI and a developer) build a cache entry only once.
with_lock() {
  local name="$1"; shift
  mkdir -p "$COURIER_CACHE/locks"
  exec {lockfd}>"$COURIER_CACHE/locks/$name.lock"
  flock "$lockfd"
  "$@"
  local rc=$?
  flock -u "$lockfd"
  return $rc
}
