#!/usr/bin/env bash
# Benchmark: the whole validate-capable part of the Kyverno policy library
# (every ClusterPolicy/Policy under ../shared/conformance/kyverno-policies
# whose rules tollgate evaluates: pattern, anyPattern, deny, foreach) on the
# synthetic 1000-app repository. Reports wall time, peak memory, and the
# policies/rules/objects evaluated. Policies are loaded once (autogen rules
# built once), objects are evaluated in parallel.
# Usage: bench/kyverno.sh [APPS]   (default 1000).
source "$(dirname "$0")/common.sh"
library="$conformance/kyverno-policies"
require "$bench/gen_gitops_repo.py" "$library"
apps="${1:-1000}"
repo=$(synthetic_repo "$apps")
# The validate-capable policies: no CEL, no podSecurity/manifests, no
# mutate/generate/verifyImages, no cluster lookups (apiCall, configMap,
# imageRegistry, globalReference), copied out of the library's test folders.
policies="bench-out/kyverno-validate"
rm -rf "$policies" && mkdir -p "$policies"
python3 - "$library" "$policies" <<'PY'
import os, re, shutil, sys
lib, out = sys.argv[1], sys.argv[2]
skip = re.compile(r"^\s*(cel|podSecurity|manifests|assert|mutate|generate|verifyImages|apiCall|configMap|imageRegistry|globalReference):", re.M)
n = 0
for root, dirs, files in os.walk(lib):
    dirs[:] = [d for d in dirs if not d.startswith(".")]
    for f in files:
        if not f.endswith(".yaml"):
            continue
        p = os.path.join(root, f)
        text = open(p, encoding="utf-8", errors="replace").read()
        if not re.search(r"^kind:\s*(ClusterPolicy|Policy)\s*$", text, re.M) or "kyverno.io/v1" not in text:
            continue
        if skip.search(text):
            continue
        n += 1
        shutil.copy(p, os.path.join(out, f"{n:04d}-{f}"))
print(f"{n} policies", file=sys.stderr)
PY
bin=$(measured_binary)
cfg="bench-out/kyverno-only.yaml"
"$bin" rules --format json | python3 -c '
import json, sys
print("rules:")
for r in json.load(sys.stdin):
    print("  " + r["id"] + ": {enabled: false}")' > "$cfg"
echo "== $apps apps, $(nproc) cores, $(ls "$policies" | wc -l) Kyverno policies"
best=999999
for _ in 1 2 3; do
  /usr/bin/time -o /tmp/tollgate-bench-time -f "%e %M" "$bin" check "$repo" --config "$cfg" --kyverno "$policies" --format json >bench-out/kyverno.json 2>/dev/null || true
  best=$(python3 -c "print(min($best, $(tail -1 /tmp/tollgate-bench-time | cut -d' ' -f1)))")
done
rss=$(tail -1 /tmp/tollgate-bench-time | cut -d' ' -f2)
python3 - "$best" "$rss" <<'PY'
import json, sys, collections
d = json.load(open("bench-out/kyverno.json"))
f = d["findings"]
by = collections.Counter("policy-error" if x["rule_id"] == "policy-error" else "violation" for x in f)
rules = len({x["rule_id"] for x in f if x["rule_id"] != "policy-error"})
print(f"tollgate (walk + parse + evaluate + report): {sys.argv[1]} s, peak RSS {sys.argv[2]} KiB")
print(f"findings: {by['violation']} violations of {rules} distinct rules, {by['policy-error']} policy-error")
PY
