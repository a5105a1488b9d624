#!/usr/bin/env bash
# Installs tollgate $TOLLGATE_VERSION for this runner and puts it on PATH:
# the release binary for the runner's OS/arch, verified against its published
# SHA-256; otherwise `cargo install --locked` from the action's own source,
# which is the pinned ref the workflow uses.
set -euo pipefail

version="${TOLLGATE_VERSION:?TOLLGATE_VERSION is required}"
root="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/tollgate-${version}"
bin="$root/bin/tollgate"
add_to_path() {
  echo "$root/bin" >> "${GITHUB_PATH:-/dev/null}"
  "$bin" --version
}

if [ -x "$bin" ] && "$bin" --version | grep -q "^tollgate ${version} "; then
  add_to_path
  exit 0
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) target=x86_64-unknown-linux-gnu ;;
  Linux-aarch64 | Linux-arm64) target=aarch64-unknown-linux-gnu ;;
  Darwin-arm64) target=aarch64-apple-darwin ;;
  Darwin-x86_64) target=x86_64-apple-darwin ;;
  *) target="" ;;
esac

installed=false
if [ -n "$target" ] && [ "${TOLLGATE_INSTALL_FROM_SOURCE:-false}" != "true" ]; then
  base="${TOLLGATE_RELEASE_URL:-https://github.com/tollgate-dev/tollgate/releases/download}/v${version}"
  archive="tollgate-${target}.tar.gz"
  tmp="$(mktemp -d)"
  if curl -fsSL --retry 3 -o "$tmp/$archive" "$base/$archive" && curl -fsSL --retry 3 -o "$tmp/$archive.sha256" "$base/$archive.sha256"; then
    expected="$(awk '{print $1}' "$tmp/$archive.sha256")"
    if command -v sha256sum >/dev/null; then actual="$(sha256sum "$tmp/$archive" | awk '{print $1}')"; else actual="$(shasum -a 256 "$tmp/$archive" | awk '{print $1}')"; fi
    if [ -n "$expected" ] && [ "$expected" = "$actual" ]; then
      mkdir -p "$root/bin"
      tar -xzf "$tmp/$archive" -C "$root/bin" tollgate
      installed=true
    else
      echo "::warning::tollgate ${version}: checksum mismatch for ${archive} (expected ${expected}, got ${actual}); building from source instead"
    fi
  else
    echo "tollgate ${version}: no release binary for ${target}; building from source"
  fi
  rm -rf "$tmp"
fi

if [ "$installed" != "true" ]; then
  source_dir="${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is required to build from source}"
  declared="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$source_dir/Cargo.toml" | head -n 1)"
  if [ "$declared" != "$version" ]; then
    echo "::error::the action's source is tollgate ${declared}, but version ${version} was requested; pin the action to v${version}"
    exit 2
  fi
  cargo install --locked --quiet --root "$root" --path "$source_dir"
fi
add_to_path
