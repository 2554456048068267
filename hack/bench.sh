#!/usr/bin/env bash
# Runs the benchmarks (bench/README.md), one after another: each writes a JSON
# result to bench/results/, and their rows are appended to the tables in
# bench/README.md. Benchmarks load both CPUs; run on a quiet machine, and
# read the load average every result records.
#
#   bash hack/bench.sh [--quick] [--profile] [benchmark...]
#
#   benchmark   webhook, broker, controllers, toolconnections, scanschedules (default: all)
#   --quick     seconds instead of minutes, small counts; results go to a
#               temporary directory and are printed, the README is left alone
#   --profile   also a CPU profile (node --cpu-prof) of the webhook, the broker
#               and the controllers, in a run of its own (profiling slows the
#               process, so its figures get no README row); the top functions
#               are in bench/results/<benchmark>-profile-*.json, the .cpuprofile
#               files (open them in Chrome DevTools) under ~/.cache/courier/profiles/
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
export PATH="$REPO_ROOT/node_modules/.bin:$PATH"

quick=false
profile=false
benchmarks=()
for arg in "$@"; do
  case "$arg" in
    --quick) quick=true ;;
    --profile) profile=true ;;
    webhook | broker | controllers | toolconnections | scanschedules) benchmarks+=("$arg") ;;
    *) die "unknown argument $arg (see the top of hack/bench.sh)" ;;
  esac
done
[[ ${#benchmarks[@]} -gt 0 ]] || benchmarks=(webhook broker controllers toolconnections scanschedules)

command -v taskset >/dev/null || die "taskset (util-linux) is needed to pin processes to CPUs"
[[ "$(nproc)" -ge 2 ]] || die "the benchmarks need 2 CPUs: one for the process measured, one for the load"
bash hack/kube-binaries.sh >/dev/null
log "node $(node --version), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

quick_results=""
if $quick; then
  quick_results="$(mktemp -d)"
  export COURIER_BENCH_RESULTS="$quick_results"
fi
# Each result file a benchmark writes is listed here (bench/support.ts writeResult).
COURIER_BENCH_MANIFEST="$(mktemp)"
export COURIER_BENCH_MANIFEST
trap 'rm -f "$COURIER_BENCH_MANIFEST"; [[ -z "$quick_results" ]] || rm -rf "$quick_results"' EXIT

# The arguments of each benchmark, full and quick.
args_for() {
  case "$1:$quick" in
    webhook:true | broker:true | controllers:true) echo "--quick" ;;
    toolconnections:false) echo "2000" ;;
    toolconnections:true) echo "200" ;;
    scanschedules:false) echo "500" ;;
    scanschedules:true) echo "50" ;;
    *) echo "" ;;
  esac
}

status=0
for benchmark in "${benchmarks[@]}"; do
  log "benchmark $benchmark $(args_for "$benchmark")"
  # shellcheck disable=SC2046 # the arguments are words
  node "bench/$benchmark.ts" $(args_for "$benchmark") || { status=1; log "benchmark $benchmark failed"; }
  if $profile && [[ "$benchmark" =~ ^(webhook|broker|controllers)$ ]]; then
    dir="$COURIER_CACHE/profiles/$benchmark-$(date -u +%Y%m%dT%H%M%SZ)"
    mkdir -p "$dir"
    log "profile $benchmark into $dir"
    case "$benchmark" in
      webhook | broker) profile_args=(--connections 16 --seconds "$($quick && echo 3 || echo 15)") ;;
      controllers) profile_args=($($quick && echo --quick || echo --connections 2000 --schedules 200)) ;;
    esac
    node "bench/$benchmark.ts" --profile "$dir" "${profile_args[@]}" || { status=1; log "profile of $benchmark failed"; }
  fi
done

# Profiled runs are slower by design: their results keep the profile, not a table row.
mapfile -t written < <(grep -v -- '-profile-' "$COURIER_BENCH_MANIFEST" || true)
if [[ ${#written[@]} -gt 0 ]]; then
  if $quick; then
    node bench/report.ts --print "${written[@]}"
  else
    node bench/report.ts "${written[@]}"
    prettier --write bench/README.md >/dev/null
    log "results: ${written[*]#"$REPO_ROOT/"}; rows appended to bench/README.md"
  fi
fi
log "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
