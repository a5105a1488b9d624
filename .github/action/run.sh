#!/usr/bin/env bash
# Runs tollgate for the action: SARIF for code scanning, a Markdown job
# summary, annotations in the log. It records the exit code instead of
# failing, so that the SARIF upload runs first and alerts appear even when
# the gate fails.
set -uo pipefail

sarif="${INPUT_SARIF_FILE:-tollgate.sarif}"
args=(check "${INPUT_PATH:-.}")
if [ -n "${INPUT_CONFIG:-}" ]; then args+=(--config "$INPUT_CONFIG"); fi

range="${INPUT_RANGE:-}"
if [ -z "$range" ] && [ -f "${GITHUB_EVENT_PATH:-}" ]; then
  # The pull request's base..head, from the event payload.
  shas="$(python3 - "$GITHUB_EVENT_PATH" <<'PY' 2>/dev/null || true
import json, sys
event = json.load(open(sys.argv[1]))
pr = event.get("pull_request") or {}
base, head = (pr.get("base") or {}).get("sha"), (pr.get("head") or {}).get("sha")
if base and head:
    print(f"{base}..{head}")
PY
)"
  range="$shas"
fi
if [ -n "$range" ]; then args+=(--range "$range"); fi
# Only what the change brings fails the step; existing findings stay listed.
if [ "${INPUT_NEW_ONLY:-true}" = "true" ]; then args+=(--new-only); fi
summary_args=()
if [ "${INPUT_RENDERED_DIFF:-true}" != "true" ]; then summary_args+=(--no-rendered-diff); fi
if [ "${INPUT_DELIVERY_MAP:-true}" != "true" ]; then summary_args+=(--no-delivery-map); fi

extra=()
if [ -n "${INPUT_ARGS:-}" ]; then read -r -a extra <<< "$INPUT_ARGS"; fi

tollgate "${args[@]}" "${extra[@]}" --no-rendered-diff --format sarif --output "$sarif" --sarif-category "${INPUT_SARIF_CATEGORY:-tollgate}" >/dev/null
sarif_code=$?
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  tollgate "${args[@]}" "${extra[@]}" "${summary_args[@]}" --format markdown >> "$GITHUB_STEP_SUMMARY"
fi
tollgate "${args[@]}" "${extra[@]}" "${summary_args[@]}" --format "${INPUT_FORMAT:-github}" --fail-on "${INPUT_FAIL_ON:-error}"
code=$?
if [ "$sarif_code" = "2" ]; then code=2; fi

{
  if [ -f "$sarif" ]; then echo "sarif-file=$sarif"; else echo "sarif-file="; fi
  echo "exit-code=$code"
} >> "${GITHUB_OUTPUT:-/dev/null}"
exit 0
