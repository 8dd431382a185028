#!/usr/bin/env bash
# npm run setup: installs what remix-redis-oidc needs on a fresh Debian/Ubuntu
# machine with Node 24 (or 20.19+), then the npm packages, then a .env with a
# generated SESSION_SECRET. Safe to run again: it only installs what is missing.
#   - redis-server (Debian package): the local Redis for `npm run dev` and the tests
#   - chromium (Debian package): the browser tests
#   - nginx (Debian package): the proxy tests and `npm run compare` (started on loopback with a generated config)
#   - redis-tools (redis-cli) and openssl: the Redis Cluster and TLS tests (cluster creation, a test CA)
# As root it uses apt-get; with password-less sudo, sudo apt-get; otherwise it
# says what to run (and on macOS, what to install with Homebrew).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
node_minor=$(node -p 'process.versions.node.split(".")[1]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ] || { [ "$node_major" -eq 20 ] && [ "$node_minor" -lt 19 ]; }; then
  say "Node.js 20.19 or newer is required (found: $(node --version 2>/dev/null || echo none))."
  exit 1
fi
# Supported, as package.json's engines says and .ci/run tests: Node 24, and 20 from 20.19.
if [ "$node_major" -eq 20 ]; then
  say "note: Node.js 20 reached its end of life in April 2026; Node.js 24 is supported: prefer it."
elif [ "$node_major" -ne 24 ]; then
  say "note: Node.js $(node --version) is not tested here (CI tests 24 and 20.19+); it may work."
fi

have_chromium() {
  [ -n "${CHROMIUM_PATH:-}" ] && [ -x "${CHROMIUM_PATH}" ] && return 0
  [ -x /usr/bin/chromium ] || [ -x /usr/lib/chromium/chromium ] || [ -x /usr/bin/chromium-browser ]
}

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
have_chromium || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)

if [ ${#missing[@]} -gt 0 ]; then
  apt_install() {
    "$@" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "$@" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  }
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    say "installing ${missing[*]} from Debian's packages"
    apt_install env
  elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    say "installing ${missing[*]} from Debian's packages (sudo)"
    apt_install sudo env
  else
    say "missing: ${missing[*]}. This script installs them only as root or with password-less sudo. Please run:"
    if [ "$(uname -s)" = "Darwin" ]; then
      say "  brew install redis                     # local Redis for npm run dev and the tests"
      say "  brew install --cask chromium           # browser tests; then export CHROMIUM_PATH=\"/Applications/Chromium.app/Contents/MacOS/Chromium\""
      say "  brew install nginx                     # proxy tests and npm run compare"
    else
      say "  sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    fi
    say "Or point the app at a Redis you already run with REDIS_URL (see README, Configuration)."
    if [[ " ${missing[*]} " == *" redis-server "* ]] && [ -z "${REDIS_URL:-}" ]; then exit 1; fi
  fi
fi

say "installing npm packages (npm ci)"
npm ci --no-audit --no-fund

if [ ! -f .env ]; then
  secret=$(node -e 'process.stdout.write(require("node:crypto").randomBytes(32).toString("hex"))')
  sed "s/^SESSION_SECRET=.*/SESSION_SECRET=${secret}/" .env.example > .env
  say "wrote .env from .env.example with a generated SESSION_SECRET"
fi
say "done. Start everything with: npm run dev   (then open http://localhost:3000)"
