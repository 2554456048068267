#!/usr/bin/env bash
# Installs the Node dependencies, Node itself included (the `node` package
# pins the runtime), unless node_modules already matches package-lock.json.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
stamp=node_modules/.courier-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ ! -x node_modules/.bin/node ]; then
  log "installing Node dependencies (npm ci)"
  npm ci --no-audit --no-fund
  printf '%s\n' "$want" >"$stamp"
fi
