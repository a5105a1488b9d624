#!/usr/bin/env bash
# Benchmark: verify every commit signature of a K-commit history (OpenPGP
# ed25519 + RSA-3072, SSH ed25519; trusted, untrusted, unsigned) with
# tollgate, side by side with a `git verify-commit` loop and one
# `git log --show-signature` over the same commits and keys.
# Usage: bench/signatures.sh [K]   (default 5000). Needs ../shared/bench, git, gpg, ssh-keygen.
source "$(dirname "$0")/common.sh"
gen="${TOLLGATE_BENCH_SIGNED:-../shared/bench/gen_signed_history.sh}"
if [ ! -f "$gen" ]; then
  echo "notice: $gen not found; set TOLLGATE_BENCH_SIGNED. Nothing measured." >&2
  exit 0
fi
k="${1:-5000}"
out="bench-out/sig-$k"
[ -f "$out/expected.json" ] || bash "$gen" "$k" "$out" >/dev/null
bin=$(measured_binary)
out="$(cd "$out" && pwd)"
# The same trust as git's: alice and bob's certificates, carol's SSH key.
cat > "$out/keys/signers.yaml" <<POLICY
signers:
  - name: alice
    openpgp: [alice-ed25519.asc]
  - name: bob
    openpgp: [bob-rsa3072.asc]
  - name: carol
    ssh: ["$(cut -d' ' -f1,2 "$out/keys/ssh/carol.pub")"]
POLICY
cd "$out/repo"
root=$(git rev-list --max-parents=0 HEAD)
range="$root..HEAD"
n=$(git rev-list --count "$range")
echo "== $n commits ($range), $(nproc) cores"

"$bin" check . --range "$range" --signers ../keys/signers.yaml --format json --output ../tollgate.json || true
python3 - ../tollgate.json ../expected.json <<'PY'
import json, sys
report, expected = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
rule = {"unsigned-commit": "unsigned", "untrusted-signer": "untrusted", "bad-signature": "bad"}
got = {f["commit"]["id"]: rule.get(f["rule_id"], f["rule_id"]) for f in report["findings"] if f.get("commit")}
cases = expected["commits"][1:]  # the root commit is the range's base
agree = sum(1 for c in cases if got.get(c["commit"], "trusted") == c["expected"])
print(f"tollgate verdicts: {agree}/{len(cases)} agree with expected.json")
PY

best() {  # best wall time of 3 runs, in seconds
  local t best=999999
  for _ in 1 2 3; do
    /usr/bin/time -o /tmp/tollgate-bench-time -f "%e %M" "$@" >/dev/null 2>&1 || true
    t=$(tail -1 /tmp/tollgate-bench-time | cut -d' ' -f1)
    best=$(python3 -c "print(min($best, $t))")
  done
  echo "$best"
}
t_tollgate=$(best "$bin" check . --range "$range" --signers ../keys/signers.yaml --format json)
rss=$(tail -1 /tmp/tollgate-bench-time | cut -d' ' -f2)
echo "tollgate check --range (all $n commits, parallel): ${t_tollgate} s, peak RSS ${rss} KiB"

export GNUPGHOME="$out/verify-gnupghome" GIT_CONFIG_GLOBAL="$out/verify.gitconfig" GIT_CONFIG_NOSYSTEM=1
start=$(date +%s.%N)
git log --show-signature "$range" >/dev/null 2>&1
t_log=$(python3 -c "print(round($(date +%s.%N) - $start, 2))")
echo "git log --show-signature: ${t_log} s"
start=$(date +%s.%N)
ok=0
for c in $(git rev-list "$range"); do
  if git verify-commit "$c" >/dev/null 2>&1; then ok=$((ok + 1)); fi
done
t_loop=$(python3 -c "print(round($(date +%s.%N) - $start, 2))")
echo "git verify-commit loop: ${t_loop} s ($ok of $n valid)"
python3 -c "print(f'ratio: {$t_loop / $t_tollgate:.0f}x faster than the verify-commit loop, {$t_log / $t_tollgate:.1f}x faster than git log --show-signature')"
gpgconf --kill gpg-agent 2>/dev/null || true
