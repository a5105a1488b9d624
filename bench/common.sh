# Sourced by the bench scripts that judge the synthetic repository:
#   source "$(dirname "$0")/common.sh" [CORPUS]
# Moves to the project root and sets `bench` (../shared/bench, or
# TOLLGATE_BENCH_DIR) and `conformance` (../shared/conformance, or
# TOLLGATE_CONFORMANCE). `require PATH...` ends the script with a notice
# (nothing measured) when a corpus is missing; `synthetic_repo APPS` prints
# the path of the generated APPS-application repository, generating it once.
# `measured_binary` builds tollgate and prints its path: by default with the
# profile the releases ship (`dist`: fat LTO, one codegen unit; what users
# run), or with TOLLGATE_PROFILE (`release` builds faster while iterating;
# `bench` keeps the line tables profilers need).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bench="${TOLLGATE_BENCH_DIR:-../shared/bench}"
conformance="${TOLLGATE_CONFORMANCE:-../shared/conformance}"

require() {
  for path in "$@"; do
    if [ ! -e "$path" ]; then
      echo "notice: $path not found; set TOLLGATE_BENCH_DIR / TOLLGATE_CONFORMANCE. Nothing measured." >&2
      exit 0
    fi
  done
}

synthetic_repo() {
  local repo="bench-out/repo-$1"
  [ -d "$repo" ] || python3 "$bench/gen_gitops_repo.py" "$1" "$repo" --seed 7 >/dev/null
  echo "$repo"
}

measured_binary() {
  local profile="${TOLLGATE_PROFILE:-dist}" dir
  cargo build --profile "$profile" -q -p tollgate >&2
  case "$profile" in
    dev | test) dir=debug ;;
    release | bench) dir=release ;;
    *) dir="$profile" ;;
  esac
  echo "$PWD/target/$dir/tollgate"
}
