#!/bin/bash
# Builds strfry (https://github.com/hoytech/strfry) from source, only to measure it
# side by side with g1relay: `BENCH_STRFRY=DIR/strfry make bench` (docs/BENCHMARKS.md).
# Nothing in g1relay's build or tests needs it.
#
#   scripts/build-strfry.sh [DIR]     clone into DIR (default /tmp/strfry-src) and build
#   STRFRY_SRC=DIR scripts/build-strfry.sh
#                                     build an existing checkout whose submodules are in
#                                     place (for machines that cannot reach GitHub)
#   STRFRY_JOBS=N                     parallel compile jobs (default: the number of CPUs)
#
# Prints the path of the binary on its last line. Installs strfry's Debian build
# dependencies when run as root and they are missing.
set -euo pipefail
DIR=${STRFRY_SRC:-${1:-/tmp/strfry-src}}
JOBS=${STRFRY_JOBS:-$(nproc)}
DEPS=(build-essential git libyaml-perl libtemplate-perl libregexp-grammars-perl libssl-dev zlib1g-dev
    liblmdb-dev libflatbuffers-dev libsecp256k1-dev libzstd-dev flatbuffers-compiler)

missing=()
for p in "${DEPS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
    if [[ $(id -u) == 0 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
        echo "build-strfry: missing Debian packages (install them as root): ${missing[*]}" >&2
        exit 1
    fi
fi

if [[ -z ${STRFRY_SRC:-} && ! -d $DIR/.git ]]; then
    git clone https://github.com/hoytech/strfry "$DIR"
    git -C "$DIR" submodule update --init
    make -C "$DIR" setup-golpe # golpe's own submodules
fi
[[ -f $DIR/golpe/rules.mk ]] || { echo "build-strfry: $DIR has no golpe submodule (git submodule update --init)" >&2; exit 1; }
cd "$DIR"
make -j"$JOBS" NPROC="$JOBS"
[[ -x $DIR/strfry ]] || { echo "build-strfry: no binary at $DIR/strfry" >&2; exit 1; }
echo "$DIR/strfry"
