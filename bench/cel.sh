#!/usr/bin/env bash
# Benchmark: the Kyverno policy library's offline ValidatingPolicies (the
# `*-vpol/` folders, without resource/http/globalContext/image lookups) on
# the synthetic 1000-app repository, against the classic engine running the
# equivalent ClusterPolicies (the same policy names in the folders without
# a suffix) and against the `validate.cel` ClusterPolicies (`*-cel/`).
# Only policies present in all three forms are measured, so each engine
# does the same work. Reports wall time (best of 3), peak memory, time per
# policy, and the findings each set produced.
# Usage: bench/cel.sh [APPS]   (default 1000).
source "$(dirname "$0")/common.sh"
library="$conformance/kyverno-policies"
require "$bench/gen_gitops_repo.py" "$library"
apps="${1:-1000}"
repo=$(synthetic_repo "$apps")
sets="bench-out/cel-sets"
rm -rf "$sets" && mkdir -p "$sets/vpol" "$sets/classic" "$sets/cel"
python3 - "$library" "$sets" <<'PY'
import os, re, shutil, sys
lib, out = sys.argv[1], sys.argv[2]
live = re.compile(r"resource\.(Get|List|get|list)|http\.|globalContext|GetMetadata|getMetadata")
classic_skip = re.compile(r"^\s*(cel|podSecurity|manifests|assert|mutate|generate|verifyImages|apiCall|configMap|imageRegistry|globalReference):", re.M)
found = {"vpol": {}, "classic": {}, "cel": {}}
for category in sorted(os.listdir(lib)):
    base = category
    form = "classic"
    for suffix in ("-vpol", "-cel"):
        if category.endswith(suffix):
            base, form = category[: -len(suffix)], suffix[1:]
    if category.endswith(("-mpol", "-gpol")) or not os.path.isdir(os.path.join(lib, category)):
        continue
    for root, dirs, files in os.walk(os.path.join(lib, category)):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for f in files:
            if not f.endswith(".yaml"):
                continue
            p = os.path.join(root, f)
            text = open(p, encoding="utf-8", errors="replace").read()
            name = os.path.relpath(root, os.path.join(lib, category))
            if form == "vpol":
                if "kind: ValidatingPolicy" not in text or live.search(text):
                    continue
            elif form == "cel":
                if not re.search(r"^kind:\s*ClusterPolicy", text, re.M) or not re.search(r"^\s*cel:", text, re.M) or live.search(text) or "paramKind" in text:
                    continue
            else:
                if not re.search(r"^kind:\s*(ClusterPolicy|Policy)\s*$", text, re.M) or classic_skip.search(text):
                    continue
            found[form][(base, name)] = p
common = sorted(set(found["vpol"]) & set(found["classic"]) & set(found["cel"]))
for form in found:
    for i, key in enumerate(common):
        shutil.copy(found[form][key], os.path.join(out, form, f"{i:04d}.yaml"))
print(f"{len(common)} policies in all three forms", file=sys.stderr)
PY
bin=$(measured_binary)
cfg="bench-out/kyverno-only.yaml"
"$bin" rules --format json | python3 -c '
import json, sys
print("rules:")
for r in json.load(sys.stdin):
    print("  " + r["id"] + ": {enabled: false}")' > "$cfg"
n=$(ls "$sets/vpol" | wc -l)
echo "== $apps apps, $(nproc) cores, $n policies in each form"
for form in classic cel vpol; do
  best=999999
  for _ in 1 2 3; do
    /usr/bin/time -o /tmp/tollgate-bench-time -f "%e %M" "$bin" check "$repo" --config "$cfg" --kyverno "$sets/$form" --format json >"bench-out/cel-$form.json" 2>/dev/null || true
    best=$(python3 -c "print(min($best, $(tail -1 /tmp/tollgate-bench-time | cut -d' ' -f1)))")
  done
  rss=$(tail -1 /tmp/tollgate-bench-time | cut -d' ' -f2)
  python3 - "$form" "$best" "$rss" "$n" <<'PY'
import json, sys, collections
form, best, rss, n = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
f = json.load(open(f"bench-out/cel-{form}.json"))["findings"]
by = collections.Counter("policy-error" if x["rule_id"] == "policy-error" else "violation" for x in f)
label = {"classic": "ClusterPolicy (classic engine)", "cel": "ClusterPolicy validate.cel", "vpol": "ValidatingPolicy"}[form]
print(f"{label:32} {best:6.2f} s  {best / max(n, 1) * 1000:7.1f} ms/policy  peak RSS {rss} KiB  {by['violation']} violations, {by['policy-error']} policy-error")
PY
done
