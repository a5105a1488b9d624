#!/usr/bin/env bash
# Benchmark: tollgate's native Kustomize renders against a `kubectl kustomize`
# loop over the same roots, on a generated 1000-app repository.
# Usage: bench/render.sh [APPS] [SAMPLE]   (defaults: 1000 apps; kubectl timed
# on the first 200 roots and scaled to all of them). Needs ../shared/bench and
# kubectl (with kustomize v5.5).
source "$(dirname "$0")/common.sh"
gen="${TOLLGATE_BENCH_GENERATOR:-../shared/bench/gen_gitops_repo.py}"
apps="${1:-1000}"
sample="${2:-200}"
if [ ! -f "$gen" ] || ! command -v kubectl >/dev/null; then
  echo "notice: needs $gen and kubectl; nothing measured." >&2
  exit 0
fi
bin=$(measured_binary)
repo="bench-out/repo-$apps"
[ -d "$repo" ] || python3 "$gen" "$apps" "$repo" --seed 7 >/dev/null
# The roots: kustomizations no other kustomization includes.
roots=$(python3 - "$repo" <<'PY'
import os, sys, yaml
root = sys.argv[1]; dirs = {}; included = set()
for d, _, files in os.walk(root):
    if "kustomization.yaml" in files:
        rel = os.path.relpath(d, root)
        doc = yaml.safe_load(open(os.path.join(d, "kustomization.yaml"))) or {}
        dirs[rel] = doc
        for field in ("resources", "bases", "components"):
            for entry in doc.get(field) or []:
                if isinstance(entry, str):
                    included.add(os.path.normpath(os.path.join(rel, entry)))
for rel, doc in sorted(dirs.items()):
    if rel not in included and doc.get("kind") != "Component":
        print(rel)
PY
)
total=$(echo "$roots" | wc -l)
echo "== $apps apps: $total roots"
start=$(date +%s.%N)
# (A here-string: `echo | head` would end on SIGPIPE under pipefail.)
head -n "$sample" <<<"$roots" | while read -r r; do kubectl kustomize "$repo/$r" >/dev/null; done
end=$(date +%s.%N)
per=$(echo "($end - $start) / $sample" | bc -l)
printf 'kubectl kustomize: %.1f ms per root, %.0f s for all %s (scaled from %s)\n' \
  "$(echo "$per * 1000" | bc -l)" "$(echo "$per * $total" | bc -l)" "$total" "$sample"
# tollgate renders every root inside `check` (the render stage of --stats).
for _ in 1 2 3; do
  "$bin" check "$repo" --format json --output /dev/null --stats 2>&1 | grep '^stats:' || true
done
