#!/usr/bin/env bash
# Installs what g1relay needs to build and test on Debian 12, only what is missing:
# the Debian build packages, and the pinned npm test dependencies (tests/package-lock.json).
# Safe to run again; does nothing when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# ca-certificates: trust for https:// and wss:// Ğ1 nodes and upstreams; openssl: the
# throw-away certificate authority of tests/e2e/tls_nodes.test.mjs.
debian_packages=(build-essential pkg-config clang libwebsockets-dev libsecp256k1-dev
                 libsodium-dev liblmdb-dev libcjson-dev libxxhash-dev lmdb-utils nodejs npm curl
                 ca-certificates openssl)
missing=()
for p in "${debian_packages[@]}"; do
  # nodejs/npm may come from elsewhere (a newer Node); accept any working binary.
  case "$p" in
    nodejs) command -v node >/dev/null && continue ;;
    npm) command -v npm >/dev/null && continue ;;
    clang) command -v clang >/dev/null && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm test dependencies, pinned by tests/package-lock.json.
stamp=tests/node_modules/.g1relay-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s tests/package-lock.json "$stamp"; then
  echo "bootstrap: installing npm test dependencies (npm ci)"
  (cd tests && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  cp tests/package-lock.json "$stamp"
fi
