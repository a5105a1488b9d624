"""The Go OPA engine (OPA compiled as a shared library, from PyPI's
opa-golib-python-bindings) evaluating one conftest-style policy on every YAML
document of a repository: the peer tollgate's Rego gate is measured against.
Only evaluation is timed (YAML parsing and JSON encoding are not).

    python3 bench/opa_eval.py POLICY.rego REPO
"""
import json
import os
import sys
import time

import yaml
from opa_bindings import OpaEngine

policy_path, repo = sys.argv[1], sys.argv[2]
docs = []
for base, dirs, files in os.walk(repo):
    dirs[:] = [d for d in dirs if not d.startswith(".git")]
    for name in sorted(files):
        if name.endswith((".yaml", ".yml")):
            with open(os.path.join(base, name)) as f:
                try:
                    docs.extend(d for d in yaml.safe_load_all(f) if d is not None)
                except yaml.YAMLError:
                    pass
engine = OpaEngine()
engine.add_policy(policy_path, open(policy_path).read())
denials = 0
start = time.perf_counter()
for doc in docs:
    try:
        result = engine.eval_document("main.deny", doc)
    except Exception:
        continue
    denials += len(result or [])
elapsed = time.perf_counter() - start
print(json.dumps({"documents": len(docs), "denials": denials, "eval_seconds": round(elapsed, 3),
                  "us_per_document": round(elapsed / max(len(docs), 1) * 1e6, 1)}))
