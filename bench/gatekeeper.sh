#!/usr/bin/env bash
# Benchmark: the Gatekeeper library's general ConstraintTemplates (Rego and
# CEL), each with every sample constraint of its own, on the synthetic
# 1000-app repository, as files are written (no render) and with every
# built-in rule off. Reports wall time (best of 3), peak memory and the
# findings per constraint kind, so that a change can be checked for the
# same findings.
# Usage: bench/gatekeeper.sh [APPS]   (default 1000).
source "$(dirname "$0")/common.sh"
library="$conformance/gatekeeper-library/library/general"
require "$bench/gen_gitops_repo.py" "$library"
apps="${1:-1000}"
repo=$(synthetic_repo "$apps")
set_dir="bench-out/gatekeeper-set"
rm -rf "$set_dir" && mkdir -p "$set_dir"
# One file per template: the template, then its sample constraints (one per
# distinct kind and name). Samples needing external data are left out.
python3 - "$library" "$set_dir" <<'PY'
import os, sys
lib, out = sys.argv[1], sys.argv[2]
templates = constraints = 0
for name in sorted(os.listdir(lib)):
    folder = os.path.join(lib, name)
    template = os.path.join(folder, "template.yaml")
    if not os.path.isfile(template):
        continue
    text = open(template).read()
    if "externalData" in text or "external_data" in text:
        continue
    docs, seen = [text.rstrip() + "\n"], set()
    samples = os.path.join(folder, "samples")
    for sample in sorted(os.listdir(samples)) if os.path.isdir(samples) else []:
        path = os.path.join(samples, sample, "constraint.yaml")
        if not os.path.isfile(path):
            continue
        body = open(path).read()
        key = [l.split(":", 1)[1].strip() for l in body.splitlines() if l.startswith(("kind:", "  name:"))][:2]
        if tuple(key) in seen:
            continue
        seen.add(tuple(key))
        docs.append(body.rstrip() + "\n")
        constraints += 1
    templates += 1
    open(os.path.join(out, name + ".yaml"), "w").write("---\n".join(docs))
print(f"{templates} templates, {constraints} constraints", file=sys.stderr)
PY
bin=$(measured_binary)
cfg="bench-out/gatekeeper-only.yaml"
"$bin" rules --format json | python3 -c '
import json, sys
print("render:\n  kustomize: false\nrules:")
for r in json.load(sys.stdin):
    print("  " + r["id"] + ": {enabled: false}")' > "$cfg"
echo "== $apps apps, $(nproc) cores"
best=999999
for _ in 1 2 3; do
  /usr/bin/time -o /tmp/tollgate-bench-time -f "%e %M" "$bin" check "$repo" --config "$cfg" --policy "$set_dir" --format json >bench-out/gatekeeper.json 2>/dev/null || true
  best=$(python3 -c "print(min($best, $(tail -1 /tmp/tollgate-bench-time | cut -d' ' -f1)))")
done
rss=$(tail -1 /tmp/tollgate-bench-time | cut -d' ' -f2)
python3 - "$best" "$rss" <<'PY'
import collections, json, sys
findings = json.load(open("bench-out/gatekeeper.json"))["findings"]
by = collections.Counter(f["rule_id"].split("/")[0] for f in findings)
print(f"tollgate, Gatekeeper library only, files as written: {sys.argv[1]} s, peak RSS {sys.argv[2]} KiB, {len(findings)} findings")
for kind, n in sorted(by.items()):
    print(f"  {kind}: {n}")
PY
