#!/usr/bin/env bash
# Settlement benchmark (issue 5), separate from scripts/bench.sh:
#  1. local work per intent, no node (tests/tools/settle_bench): intents added to the
#     outbox per second, intents/s through batching + signing + durable extrinsic
#     records, extrinsics per 1 000 intents;
#  2. end to end against the g1node stand-in with 1 s blocks (finality lag 2):
#     BENCH_SETTLE_INTENTS intents (1000) from BENCH_SETTLE_WALLETS wallets (4) through
#     `g1relay pay --file`: wall time, extrinsics per 1 000 intents (from the node's
#     ledger), time from intent to finalized (median and p95, from the outbox
#     timestamps), and one single payment's time to finalized.
# Prints RESULT lines. Environment: G1RELAY_BIN, G1RELAY_TOOLS, G1_SHARED,
# BENCH_SETTLE_INTENTS, BENCH_SETTLE_WALLETS, BENCH_SETTLE_BATCH_MAX (50),
# BENCH_SETTLE_WINDOW_MS (1000), BENCH_SETTLE_BLOCK_MS (1000).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${G1RELAY_BIN:-$ROOT/g1relay}
TOOLS=${G1RELAY_TOOLS:-$ROOT/build/tools}
SHARED=${G1_SHARED:-$(cd .. && pwd)/shared}
N=${BENCH_SETTLE_INTENTS:-1000}
W=${BENCH_SETTLE_WALLETS:-4}
BMAX=${BENCH_SETTLE_BATCH_MAX:-50}
WIN=${BENCH_SETTLE_WINDOW_MS:-1000}
BLOCK_MS=${BENCH_SETTLE_BLOCK_MS:-1000}
[[ -x $BIN ]] || { echo "bench-settlement: $BIN not built (run make)" >&2; exit 1; }
[[ -x $TOOLS/settle_bench ]] || { echo "bench-settlement: $TOOLS/settle_bench not built (run make tools)" >&2; exit 1; }

echo "== settlement: local batching and signing (no node)"
"$TOOLS/settle_bench" "$SHARED/g1/g1_metadata.scale" 10000 10 "$BMAX"

echo "== settlement: end to end, ${BLOCK_MS} ms blocks, $N intents from $W wallets"
WORK=$(mktemp -d /tmp/g1relay-bench-settle-XXXXXX)
NODE_PID=
cleanup() { [[ -n $NODE_PID ]] && kill "$NODE_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
export G1RELAY_PASSPHRASE=bench-settlement
node tests/g1node/g1node.mjs --port 0 --block-ms "$BLOCK_MS" --finality-lag 2 --state "$WORK/state.json" \
    --shared "$SHARED" --quiet > "$WORK/node.out" 2>&1 &
NODE_PID=$!
for _ in $(seq 100); do grep -q "listening on" "$WORK/node.out" && break; sleep 0.1; done
PORT=$(grep -o "listening on [0-9]*" "$WORK/node.out" | awk '{print $3}')
[[ -n $PORT ]] || { echo "bench-settlement: g1node did not start" >&2; cat "$WORK/node.out" >&2; exit 1; }
URL=http://127.0.0.1:$PORT
rpc() { curl -s -XPOST -H 'content-type: application/json' -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" "$URL"; }
mkdir -p "$WORK/data"
NPUBS=()
for w in $(seq "$W"); do
    np=$(printf '%064x' "$((w + 4096))")
    addr=$("$BIN" wallet create --npub "$np" --data "$WORK/data" 2>/dev/null)
    rpc test_setBalance "[\"$addr\", 1000000000]" > /dev/null
    NPUBS+=("$np")
done
PAYEES=$(cd tests && node -e "
const { keyFromName, address } = await import('./g1node/client.mjs');
console.log(Array.from({ length: 20 }, (_, i) => address(keyFromName('bench-payee-' + i))).join(' '));" --input-type=module)
read -r -a PAY <<< "$PAYEES"
: > "$WORK/intents.txt"
for i in $(seq 0 $((N - 1))); do
    echo "bench-$i ${NPUBS[$((i % W))]} ${PAY[$((i % 20))]} $((100 + i % 50))" >> "$WORK/intents.txt"
done
SET=(--set "batch_max=$BMAX" --set "batch_window_ms=$WIN" --set settlement_poll_ms=200 --set log_level=warn)
LEDGER0=$(rpc test_ledger '[]' | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).result.length))")
t0=$(date +%s.%N)
"$BIN" pay --file "$WORK/intents.txt" --g1-node "$URL" --data "$WORK/data" "${SET[@]}" --timeout 900 > "$WORK/out.txt"
t1=$(date +%s.%N)
rpc test_ledger '[]' > "$WORK/ledger.json"
node -e "
const fs = require('fs');
const lines = fs.readFileSync('$WORK/out.txt', 'utf8').trim().split('\n');
const lat = [];
let fin = 0;
for (const l of lines) {
  const f = Object.fromEntries(l.split(' ').filter((x) => x.includes('=')).map((x) => x.split('=')));
  if (l.split(' ')[1] === 'finalized') { fin++; lat.push(Number(f.updated) - Number(f.created)); }
}
lat.sort((a, b) => a - b);
const ledger = JSON.parse(fs.readFileSync('$WORK/ledger.json', 'utf8')).result.slice($LEDGER0);
const txs = new Set(ledger.map((e) => e.extrinsicHash)).size;
const wall = $t1 - $t0;
console.log('RESULT settle_e2e_intents', lines.length, 'finalized', fin);
console.log('RESULT settle_e2e_wall_s', wall.toFixed(1));
console.log('RESULT settle_e2e_intents_per_s', (fin / wall).toFixed(1));
console.log('RESULT settle_e2e_extrinsics_per_1000_intents', (1000 * txs / Math.max(fin, 1)).toFixed(1));
console.log('RESULT settle_e2e_intent_to_finalized_ms_median', lat[Math.floor(lat.length / 2)]);
console.log('RESULT settle_e2e_intent_to_finalized_ms_p95', lat[Math.floor(lat.length * 0.95)]);
"
t0=$(date +%s%N)
"$BIN" pay --from "${NPUBS[0]}" --to "${PAY[0]}" --amount 123 --key single-1 --g1-node "$URL" --data "$WORK/data" \
    --set batch_window_ms=0 --set settlement_poll_ms=100 --set log_level=warn > /dev/null
t1=$(date +%s%N)
echo "RESULT settle_single_payment_to_finalized_ms $(((t1 - t0) / 1000000))"
