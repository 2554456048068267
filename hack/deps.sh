#!/usr/bin/env bash
# Installs the Node dependencies, Node itself included (the `node` package
# pins the runtime), unless node_modules already matches package-lock.json.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
stamp=node_modules/.courier-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ ! -x node_modules/.bin/node ]; then
  log "installing Node dependencies from package-lock.json"
  # Not `npm ci`: the registry reachable here serves no other platforms'
  # optional packages (e.g. @unrs/resolver-binding-darwin-*), so the lockfile
  # cannot list them and `npm ci` rejects it as out of sync. `npm install`
  # installs the locked versions all the same.
  npm install --no-audit --no-fund
  printf '%s\n' "$want" >"$stamp"
fi
