#!/usr/bin/env bash
# Benchmark: discovery + parse + rules + SARIF on synthetic GitOps repositories.
# Usage: bench/run.sh [APPS...]   (default: 100 1000). Needs ../shared/bench.
source "$(dirname "$0")/common.sh"
gen="${TOLLGATE_BENCH_GENERATOR:-../shared/bench/gen_gitops_repo.py}"
if [ ! -f "$gen" ]; then
  echo "notice: $gen not found; set TOLLGATE_BENCH_GENERATOR. Nothing measured." >&2
  exit 0
fi
bin=$(measured_binary)
mkdir -p bench-out
for n in "${@:-100 1000}"; do
  for apps in $n; do
    repo="bench-out/repo-$apps"
    [ -d "$repo" ] || python3 "$gen" "$apps" "$repo" --seed 7 >/dev/null
    size=$(du -sm "$repo" | cut -f1)
    echo "== $apps apps ($size MiB on disk)"
    "$bin" check "$repo" --format sarif --output bench-out/out-$apps.sarif --stats || true
    # Wall time and peak RSS of the whole process, best of 3.
    for _ in 1 2 3; do
      /usr/bin/time -f "wall %e s, peak RSS %M KiB" "$bin" check "$repo" --format sarif --output bench-out/out-$apps.sarif 2>&1 >/dev/null | tail -1 || true
    done
  done
done
