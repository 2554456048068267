#!/usr/bin/env bash
# README's first command: Courier's main job on its embedded defaults, with all
# set-up done on the way (Node dependencies, pinned Kubernetes binaries).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
bash hack/deps.sh
bash hack/kube-binaries.sh >/dev/null
exec "$REPO_ROOT/node_modules/.bin/node" hack/demo.ts "$@"
