#!/usr/bin/env bash
# Benchmark: what range mode costs on the 1000-app repository.
# A git copy of bench-out/repo-1000 (made by bench/run.sh) gets a commit
# `main`; then (a) a change to one application's base (3 overlays affected)
# and (b) a change to 100 applications' bases. Each is timed as a plain check
# of the work tree and as `--base main` (base guardrails, changed files,
# signatures, and the base commit's findings for new vs existing), best of 3.
# Usage: bench/range.sh
source "$(dirname "$0")/common.sh"
src=bench-out/repo-1000
if [ ! -d "$src" ]; then
  echo "notice: $src not found; run bench/run.sh 1000 first. Nothing measured." >&2
  exit 0
fi
bin=$(measured_binary)
repo=bench-out/range-1000
rm -rf "$repo"
cp -r "$src" "$repo"
g() { git -C "$repo" -c user.name=bench -c user.email=bench@example.com -c commit.gpgsign=false "$@"; }
g init -q -b main
g add -A
g commit -q -m base
best() {
  local best=""
  for _ in 1 2 3; do
    t=$( /usr/bin/time -f "%e %M" "$bin" "$@" --format sarif --output /dev/null 2>&1 >/dev/null | tail -1 || true)
    s=${t%% *}
    if [ -z "$best" ] || awk "BEGIN{exit !($s < ${best%% *})}"; then best="$t"; fi
  done
  echo "${best%% *} s, peak RSS $(( ${best##* } / 1024 )) MiB"
}
scenario() {
  local name="$1" count="$2"
  g checkout -q -B "$name" main
  local apps=("$repo"/apps/*)
  for app in "${apps[@]:0:$count}"; do
    sed -i 's/^\(\s*image: .*\):[^:@]*$/\1:9.9.9/' "$app/base/deployment.yaml"
  done
  g commit -q -am "$name"
  echo "== $name: $(g diff --name-only main | wc -l) file(s) changed"
  echo "plain check:       $(best check "$repo")"
  echo "range --base main: $(best check "$repo" --base main)"
}
scenario one-base 1
scenario hundred-bases 100
