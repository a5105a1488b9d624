#!/usr/bin/env bash
# Benchmark: the same conftest-style policy (../shared/bench/k8s-baseline.rego)
# on every document of the synthetic 1000-app repository, in tollgate (end to
# end: walk, parse, evaluate in parallel, report) and in the Go OPA engine
# (evaluation alone), side by side in one run. tollgate runs twice: on the
# files as written (the documents OPA evaluates: the like-for-like ratio) and
# as configured by default, on the render of every Kustomize root (about
# 1.6 times as many documents, and the denials production would see).
# Usage: bench/rego.sh [APPS]   (default 1000). Needs ../shared/bench and
# `pip install --ignore-requires-python --no-deps opa-golib-python-bindings`.
source "$(dirname "$0")/common.sh"
require "$bench/k8s-baseline.rego" "$bench/gen_gitops_repo.py"
apps="${1:-1000}"
repo=$(synthetic_repo "$apps")
bin=$(measured_binary)
policy="$bench/k8s-baseline.rego"
# Only the policy: every built-in rule off (a config outside the repository).
cfg="bench-out/rego-only.yaml"
"$bin" rules --format json | python3 -c '
import json, sys
ids = [r["id"] for r in json.load(sys.stdin)]
print("rules:")
for i in ids:
    print(f"  {i}: {{enabled: false}}")' > "$cfg"
echo "== $apps apps, $(nproc) cores"
best() {  # best wall time of 3 runs, in seconds; peak RSS of the last
  local best=999999
  for _ in 1 2 3; do
    /usr/bin/time -o /tmp/tollgate-bench-time -f "%e %M" "$@" >/dev/null 2>&1 || true
    best=$(python3 -c "print(min($best, $(tail -1 /tmp/tollgate-bench-time | cut -d' ' -f1)))")
  done
  echo "$best $(tail -1 /tmp/tollgate-bench-time | cut -d' ' -f2)"
}
# The same documents OPA evaluates: every file as written, no render.
written="bench-out/rego-only-as-written.yaml"
{ cat "$cfg"; printf 'render:\n  kustomize: false\n'; } > "$written"
read -r t_policy rss_policy < <(best "$bin" check "$repo" --config "$cfg" --policy "$policy" --format json)
read -r t_written rss_written < <(best "$bin" check "$repo" --config "$written" --policy "$policy" --format json)
read -r t_all rss_all < <(best "$bin" check "$repo" --policy "$policy" --format sarif)
denials=$({ "$bin" check "$repo" --config "$cfg" --policy "$policy" --format json || true; } | python3 -c '
import json, sys
print(sum(1 for f in json.load(sys.stdin)["findings"] if f["rule_id"] == "main.deny"))')
denials_written=$({ "$bin" check "$repo" --config "$written" --policy "$policy" --format json || true; } | python3 -c '
import json, sys
print(sum(1 for f in json.load(sys.stdin)["findings"] if f["rule_id"] == "main.deny"))')
echo "tollgate, policy only, on the render (walk + parse + render + evaluate + report): ${t_policy} s, peak RSS ${rss_policy} KiB, ${denials} denials"
echo "tollgate, policy only, files as written (the documents OPA gets): ${t_written} s, peak RSS ${rss_written} KiB, ${denials_written} denials"
echo "tollgate, policy + all built-in rules, SARIF: ${t_all} s, peak RSS ${rss_all} KiB"
opa=$(python3 bench/opa_eval.py "$policy" "$repo")
echo "OPA (Go, evaluation alone): $opa"
python3 -c "
import json
o = json.loads('$opa')
print(f'ratio, same documents: tollgate end to end is {o[\"eval_seconds\"] / $t_written:.1f}x faster than OPA evaluation alone; denials tollgate $denials_written vs OPA {o[\"denials\"]}')
print(f'ratio, tollgate judging the render (more documents: every overlay rendered): {o[\"eval_seconds\"] / $t_policy:.1f}x; denials $denials (what production runs, not the files)')"
