#!/usr/bin/env bash
# Packages a built tollgate binary as the release asset the Action installs:
#   OUTDIR/tollgate-TARGET.tar.gz         (holding the single file `tollgate`)
#   OUTDIR/tollgate-TARGET.tar.gz.sha256  (`<sha256>  tollgate-TARGET.tar.gz`)
# .github/action/install.sh downloads both and installs the binary only when
# the archive's SHA-256 is the published one.
# Usage: package.sh TARGET BINARY OUTDIR
set -euo pipefail

target="${1:?usage: package.sh TARGET BINARY OUTDIR}"
binary="${2:?usage: package.sh TARGET BINARY OUTDIR}"
outdir="${3:?usage: package.sh TARGET BINARY OUTDIR}"
case "$target" in
  x86_64-unknown-linux-gnu | aarch64-unknown-linux-gnu | x86_64-apple-darwin | aarch64-apple-darwin) ;;
  *) echo "package.sh: unsupported target ${target}" >&2; exit 2 ;;
esac
[ -x "$binary" ] || { echo "package.sh: ${binary} is not an executable" >&2; exit 2; }

archive="tollgate-${target}.tar.gz"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp "$binary" "$stage/tollgate"
mkdir -p "$outdir"
tar -czf "$outdir/$archive" -C "$stage" tollgate
if command -v sha256sum >/dev/null; then
  (cd "$outdir" && sha256sum "$archive" > "$archive.sha256")
else
  (cd "$outdir" && shasum -a 256 "$archive" > "$archive.sha256")
fi
echo "$outdir/$archive"
