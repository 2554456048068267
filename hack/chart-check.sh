#!/usr/bin/env bash
# Checks the Helm chart (charts/courier) the way `bash .ci/run` does, alone:
# runs the chart suite, test/integration/helm-chart.test.ts, which lints,
# validates every render with kubeconform -strict and a strict server-side
# dry run, refuses bad values, installs, upgrades and uninstalls on an
# apiserver of its own, and runs the manager and webhook under the chart's
# RBAC (docs/chart.md).
#
#   hack/chart-check.sh           run the suite
#   hack/chart-check.sh --sync    first regenerate what the chart copies or
#                                 derives (crds/, values.schema.json) with
#                                 hack/gen-chart.ts; the suite fails while
#                                 they are stale
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

sync=0
case "${1:-}" in
  "") ;;
  --sync) sync=1 ;;
  *) die "usage: hack/chart-check.sh [--sync]" ;;
esac

bash hack/deps.sh
export PATH="$REPO_ROOT/node_modules/.bin:$PATH"
bash hack/kube-binaries.sh >/dev/null
bash hack/helm-tools.sh >/dev/null
if [ "$sync" = 1 ]; then node hack/gen-chart.ts; fi
# The path first: --selectProjects takes every word after it as a project.
exec node --experimental-vm-modules node_modules/jest/bin/jest.js test/integration/helm-chart.test.ts \
  --selectProjects integration
