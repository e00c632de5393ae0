#!/usr/bin/env bash
# Installs the real OpenClaw gateway (openclaw@2026.2.26) into a cache folder outside the project's
# dependencies, for the differential suite in test/compat/. Idempotent: a finished install leaves a marker,
# a half one (no marker) is removed and redone; a lock keeps two runs from installing at once.
# Prints the install folder on stdout as its last line.
set -euo pipefail
version="2026.2.26"
root="${CLAWGATE_OPENCLAW_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/clawgate/openclaw-$version}"
marker="$root/.installed"
mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
flock 9
entry="$root/node_modules/openclaw/openclaw.mjs"
if [ -f "$marker" ] && [ -f "$entry" ]; then
  echo "$root"
  exit 0
fi
if [ -e "$root" ]; then echo "openclaw@$version: unfinished install in $root, starting over" >&2; fi
rm -rf "$root"
mkdir -p "$root"
# Its WhatsApp dependency names libsignal by a git URL the registry-only network cannot fetch; the
# registry package of the same project (6.0.0) replaces it. Install scripts are not needed to run the gateway.
cat >"$root/package.json" <<JSON
{
  "name": "clawgate-openclaw-reference",
  "private": true,
  "dependencies": { "openclaw": "$version" },
  "overrides": { "libsignal": "6.0.0" }
}
JSON
started=$SECONDS
( cd "$root" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error >&2 )
[ -f "$entry" ] || { echo "openclaw@$version installed without $entry" >&2; exit 1; }
date -u +%FT%TZ >"$marker"
echo "openclaw@$version installed in $((SECONDS - started)) s" >&2
echo "$root"
