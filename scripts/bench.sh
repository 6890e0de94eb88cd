#!/usr/bin/env bash
# make bench: measures g1relay on loopback with tests/tools/loadgen and prints a
# summary table (method and reference figures: docs/BENCHMARKS.md).
#
# Builds nothing (make does). Starts `g1relay run` on a free loopback port with a
# temporary data directory, then: fill to BENCH_FILL1 events (import if the
# binary has it, else pipelined publish), queries, ingest window 1 and 20 with 16
# publishers, fill to BENCH_FILL2, queries, fan-out to 1 000 subscriptions, memory,
# bytes on disk per event, and (when the relay supports them) the per-event cost
# of plugins.
#
# Environment:
#   G1RELAY_BIN, G1RELAY_TOOLS   binary and tools directory (default ./g1relay, build/tools)
#   BENCH_SMALL=1                quick run (small sizes, about a minute)
#   BENCH_FILL1, BENCH_FILL2     database sizes for queries (200000, 1000000)
#   BENCH_INGEST_EVENTS          events per ingest run (60000)
#   BENCH_QUERY_REQUESTS         REQs per query run (20000)
#   BENCH_QUERY_CONNECTIONS      concurrent REQ connections (8)
#   BENCH_FANOUT_SUBS, BENCH_FANOUT_EVENTS   fan-out size (1000, 100)
#   BENCH_FILL_MODE=import|publish   how to pre-populate (default import when available)
#   BENCH_PLUGINS=0              skip the plugin cost section
#   BENCH_SECTIONS="main node nojournal plugins"  which sections run (node: ingest again
#                                with a Node ws client, as the strfry reference was measured;
#                                nojournal: ingest again with journal = false, same database)
#   BENCH_DIR=DIR, BENCH_KEEP=1  where to work, and keep it afterwards
#   BENCH_RESULTS=FILE           also append every RESULT line to FILE
#   BENCH_REPEAT=N               run each ingest (loadgen and Node) and author+kind query N times,
#                                show the median (1)
#   BENCH_TIMEOUT=S              seconds of load one loadgen run may take (300)
#   BENCH_PACED_RATE=N           events/s of the steady-load ingest run (4000; 10 s of events)
#   BENCH_PERF=1                 perf record the relay during each run (perf-NAME.data in the
#                                work dir, use with BENCH_KEEP=1) and list time per library
#   BENCH_STRFRY=PATH            a strfry binary (built from source, see docs/BENCHMARKS.md): strfry
#                                gets the same FILL1 events (strfry import) and the same author+kind
#                                queries and ingest runs (loadgen and Node), each strfry run right
#                                after the same g1relay run, and the table shows the ratios measured
#                                in the same minutes. BENCH_STRFRY_CONF: its config file (default: a
#                                minimal one written to the work dir; db and port are set per run)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${G1RELAY_BIN:-$ROOT/g1relay}
TOOLS=${G1RELAY_TOOLS:-$ROOT/build/tools}
LOADGEN=$TOOLS/loadgen
[[ -x $BIN ]] || { echo "bench: $BIN not built (run make)" >&2; exit 1; }
[[ -x $LOADGEN ]] || { echo "bench: $LOADGEN not built (run make tools)" >&2; exit 1; }

if [[ ${BENCH_SMALL:-0} == 1 ]]; then
    d_fill1=20000 d_fill2=50000 d_ingest=5000 d_req=2000 d_subs=1000 d_fev=20
else
    d_fill1=200000 d_fill2=1000000 d_ingest=60000 d_req=20000 d_subs=1000 d_fev=100
fi
FILL1=${BENCH_FILL1:-$d_fill1}
FILL2=${BENCH_FILL2:-$d_fill2}
INGEST_EVENTS=${BENCH_INGEST_EVENTS:-$d_ingest}
QUERY_REQUESTS=${BENCH_QUERY_REQUESTS:-$d_req}
QUERY_CONNECTIONS=${BENCH_QUERY_CONNECTIONS:-8}
FANOUT_SUBS=${BENCH_FANOUT_SUBS:-$d_subs}
FANOUT_EVENTS=${BENCH_FANOUT_EVENTS:-$d_fev}
LG_TIMEOUT=${BENCH_TIMEOUT:-300}   # per loadgen run, seconds of load
REPEAT=${BENCH_REPEAT:-1}          # runs of each ingest and author+kind query; the median is shown
PACED_RATE=${BENCH_PACED_RATE:-4000} # events/s of the steady-load ingest run
((FILL2 >= FILL1)) || { echo "bench: BENCH_FILL2 must be >= BENCH_FILL1" >&2; exit 2; }

WORK=${BENCH_DIR:-$(mktemp -d /tmp/g1relay-bench.XXXXXX)}
mkdir -p "$WORK"
RESULTS=$WORK/results.txt
: >"$RESULTS"
RELAY_PID=
PORT=
DATA=

cleanup() {
    stop_relay || true
    if declare -F peer_stop >/dev/null; then peer_stop || true; fi
    if [[ ${BENCH_KEEP:-0} != 1 && -z ${BENCH_DIR:-} ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# a port below the kernel's ephemeral range (client sockets take ports from there)
free_port() {
    local p lo
    lo=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    ((lo > 12000)) || lo=32768
    for _ in $(seq 1 100); do
        p=$((10000 + RANDOM % (lo - 10000)))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    echo "bench: no free port found" >&2
    return 1
}

# start_relay DATA_DIR [extra run options...]: on a free port (a few tries, as
# another process may take the port between the check and the bind)
start_relay() {
    local attempt
    for attempt in 1 2 3 4 5; do
        start_relay_once "$@" && return 0
        [[ $START_FAILURE == bind ]] || return 1
        log "port $PORT was taken, trying another"
    done
    return 1
}

START_FAILURE=
start_relay_once() {
    DATA=$1
    shift
    PORT=$(free_port)
    START_FAILURE=
    local mark
    mark=$(wc -l 2>/dev/null <"$WORK/relay.log" || echo 0)
    "$BIN" run --bind 127.0.0.1 --port "$PORT" --data "$DATA" --log-level warn "$@" \
        >>"$WORK/relay.log" 2>&1 &
    RELAY_PID=$!
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
        if ! kill -0 "$RELAY_PID" 2>/dev/null; then
            wait "$RELAY_PID" 2>/dev/null || true
            RELAY_PID=
            if tail -n +"$((mark + 1))" "$WORK/relay.log" | grep -qi 'cannot listen\|binding'; then
                START_FAILURE=bind
            else
                echo "bench: relay exited at start; log:" >&2
                tail -20 "$WORK/relay.log" >&2
            fi
            return 1
        fi
        sleep 0.1
    done
    echo "bench: relay did not listen on $PORT within 10 s" >&2
    return 1
}

stop_relay() {
    [[ -n $RELAY_PID ]] || return 0
    kill -TERM "$RELAY_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$RELAY_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$RELAY_PID" 2>/dev/null; then
        log "relay did not stop within 10 s, killing it"
        kill -KILL "$RELAY_PID" 2>/dev/null || true
    fi
    wait "$RELAY_PID" 2>/dev/null || true
    RELAY_PID=
}

url() { echo "ws://127.0.0.1:$PORT"; }

# kB of a field of /proc/PID/status (VmRSS, RssAnon, VmHWM)
proc_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# CPU seconds (user+system) used so far by the relay and its descendants (live
# write-policy processes, plus reaped children through cutime/cstime)
tree_pids() {
    local p=$1 c
    echo "$p"
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree_pids "$c"; done
}
relay_cpu() {
    local tck p
    tck=$(getconf CLK_TCK)
    for p in $(tree_pids "$RELAY_PID"); do cat "/proc/$p/stat" 2>/dev/null || true; done |
        awk -v t="$tck" '{ sub(/^.*\) /, ""); s += $12 + $13 + $14 + $15 } END { printf "%.3f\n", s / t }'
}

# get KEY "RESULT line"
get() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2; exit }'; }

LAST=
# run_measured NAME COMMAND...: runs a load generator, records its RESULT line
# (plus the relay's CPU seconds during the run) as LAST and in the results file.
run_measured() {
    local name=$1 out cpu0 cpu1 rc=0 perf_pid=
    shift
    if [[ ${BENCH_PERF:-0} == 1 ]] && command -v perf >/dev/null; then
        perf record -q -F 499 -g -p "$RELAY_PID" -o "$WORK/perf-$name.data" >/dev/null 2>&1 &
        perf_pid=$!
        sleep 0.3
    fi
    local args=() a
    for a in "$@"; do [[ $a == @URL@ ]] && args+=("$(url)") || args+=("$a"); done
    cpu0=$(relay_cpu)
    out=$("${args[@]}" --timeout "$LG_TIMEOUT") || rc=$?
    cpu1=$(relay_cpu)
    if [[ -n $perf_pid ]]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
        perf report -i "$WORK/perf-$name.data" --no-children --sort dso -g none 2>/dev/null |
            grep -v '^#' | grep -v '^$' | head -6 | sed "s/^/  perf $name: /" >>"$WORK/perf-summary.txt" || true
    fi
    LAST=$(grep '^RESULT' <<<"$out" | tail -1 || true)
    [[ -n $LAST ]] || LAST="RESULT $name complete=0"
    LAST="$LAST name=$name relay_cpu_s=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.3f", b - a }')"
    echo "$LAST" >>"$RESULTS"
    [[ -z ${BENCH_RESULTS:-} ]] || echo "$LAST" >>"$BENCH_RESULTS"
    ((rc == 0)) || log "$name exited $rc (figures kept, marked in the table)"
    return 0
}
lg() { local name=$1; shift; run_measured "$name" "$LOADGEN" "$@"; }
# lg_median KEY NAME loadgen-args...: BENCH_REPEAT runs, LAST = the run with the
# median KEY (all runs stay in the results file).
lg_median() { local key=$1 name=$2; shift 2; run_median "$key" "$name" "$LOADGEN" "$@"; }
# run_median KEY NAME COMMAND...: the same with any measured command (an argument
# @URL@ becomes the relay's URL). With a peer running (PEER_PID), each g1relay run
# is followed by the same run against the peer; PEER_LAST = the peer's median run.
PEER_PID= PEER_PORT= PEER_LAST=
run_median() {
    local key=$1 name=$2 i runs=() peer_runs=()
    shift 2
    for ((i = 1; i <= REPEAT; i++)); do
        run_measured "$name" "$@"
        runs+=("$(get "$key" "$LAST") $i")
        eval "RUN_$i=\$LAST"
        if [[ -n $PEER_PID ]]; then
            swap_peer
            run_measured "strfry-$name" "$@"
            swap_peer
            peer_runs+=("$(get "$key" "$LAST") $i")
            eval "PEER_RUN_$i=\$LAST"
        fi
    done
    PEER_LAST=
    [[ -z $PEER_PID ]] || PEER_LAST=$(median_run PEER_RUN_ "${peer_runs[@]}")
    LAST=$(median_run RUN_ "${runs[@]}")
}
# median_run PREFIX "VALUE INDEX"...: the RESULT line stored in PREFIX<index> of the
# median VALUE (tagged median_of when there were several runs)
median_run() {
    local prefix=$1 i line
    shift
    i=$(printf '%s\n' "$@" | sort -n | awk -v n="$REPEAT" 'NR == int((n + 1) / 2) { print $2 }')
    eval "line=\$$prefix$i"
    ((REPEAT == 1)) || line="$line median_of=$REPEAT"
    echo "$line"
}
# swap_peer: the measuring functions (url, relay_cpu) look at the peer, or back
swap_peer() {
    local p=$RELAY_PID q=$PORT
    RELAY_PID=$PEER_PID PORT=$PEER_PORT
    PEER_PID=$p PEER_PORT=$q
}

# ---- strfry, measured side by side (BENCH_STRFRY) ----
STRFRY=${BENCH_STRFRY:-}
if [[ -n $STRFRY ]]; then
    [[ -x $STRFRY ]] || { echo "bench: BENCH_STRFRY=$STRFRY is not an executable" >&2; exit 2; }
fi
# peer_start FILL_FILE: a strfry with its own database holding FILL_FILE's events
peer_start() {
    local conf=${BENCH_STRFRY_CONF:-$WORK/strfry.conf} db=$WORK/strfry-db/ t0 t1 n
    if [[ -z ${BENCH_STRFRY_CONF:-} ]]; then
        # strfry's defaults otherwise (signature checks, LMDB syncs, threads); nofiles
        # within this machine's hard limit, frames as large as g1relay accepts
        printf '%s\n' 'db = "./strfry-db/"' 'relay {' '    bind = "127.0.0.1"' '    port = 7777' \
            "    nofiles = $(ulimit -Hn)" '    maxWebsocketPayloadSize = 1048576' '}' >"$conf"
    fi
    mkdir -p "$db"
    n=$(wc -l <"$1")
    log "strfry import of $n events (its own checks)"
    t0=$(date +%s.%N)
    "$STRFRY" --config="$conf" --set db="$db" import <"$1" >"$WORK/strfry-import.log" 2>&1 ||
        { log "strfry import failed:"; tail -5 "$WORK/strfry-import.log" >&2; exit 1; }
    t1=$(date +%s.%N)
    echo "RESULT strfry-import events=$n events_per_s=$(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%.0f", n / (b - a) }')" >>"$RESULTS"
    local attempt
    for attempt in 1 2 3 4 5; do
        PEER_PORT=$(free_port)
        "$STRFRY" --config="$conf" --set db="$db" --set relay.port="$PEER_PORT" relay >>"$WORK/strfry.log" 2>&1 &
        PEER_PID=$!
        for _ in $(seq 1 100); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$PEER_PORT") 2>/dev/null; then
                log "strfry listening on $PEER_PORT"
                return 0
            fi
            kill -0 "$PEER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$PEER_PID" 2>/dev/null || true
        wait "$PEER_PID" 2>/dev/null || true
        PEER_PID=
    done
    echo "bench: strfry did not start; log:" >&2
    tail -20 "$WORK/strfry.log" >&2
    exit 1
}
peer_stop() {
    [[ -n $PEER_PID ]] || return 0
    PEER_MEM="$(proc_kb "$PEER_PID" VmRSS) $(proc_kb "$PEER_PID" RssAnon)"
    kill -TERM "$PEER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$PEER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PEER_PID" 2>/dev/null || true
    wait "$PEER_PID" 2>/dev/null || true
    PEER_PID=
}
PEER_MEM=

HAVE_IMPORT=0
if timeout 10 "$BIN" import --help >/dev/null 2>&1; then HAVE_IMPORT=1; fi
FILL_MODE=${BENCH_FILL_MODE:-$([[ $HAVE_IMPORT == 1 ]] && echo import || echo publish)}
HAVE_STATS=0
if timeout 10 "$BIN" stats --help >/dev/null 2>&1; then HAVE_STATS=1; fi

# fill FROM TO: brings the database from FROM to TO mix events.
declare -A FILL_RATE
PEER_FILL=
fill() {
    local from=$1 to=$2 n=$(($2 - $1)) t0 t1 file
    ((n > 0)) || return 0
    if [[ $FILL_MODE == import ]]; then
        file=$WORK/fill-$from-$to.jsonl
        log "generating $n events ($from..$to) for import"
        "$LOADGEN" fill --events "$n" --offset "$from" --out "$file" >>"$RESULTS"
        stop_relay
        log "g1relay import of $n events (ids and signatures verified)"
        t0=$(date +%s.%N)
        "$BIN" import --data "$DATA" --log-level warn "$file" >"$WORK/import-$to.log" 2>&1 ||
            { log "import failed:"; tail -5 "$WORK/import-$to.log" >&2; exit 1; }
        t1=$(date +%s.%N)
        FILL_RATE[$to]=$(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%.0f", n / (b - a) }')
        echo "RESULT import events=$n seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') events_per_s=${FILL_RATE[$to]}" >>"$RESULTS"
        if [[ -n $STRFRY && $from == 0 ]]; then PEER_FILL=$file; else rm -f "$file"; fi
        start_relay "$DATA"
    else
        if [[ -n $STRFRY && $from == 0 ]]; then
            PEER_FILL=$WORK/fill-$from-$to.jsonl
            "$LOADGEN" fill --events "$n" --offset "$from" --out "$PEER_FILL" >/dev/null
        fi
        log "publishing $n mix events ($from..$to), 4 connections, window 256"
        lg "fill-$to" fill --url "$(url)" --events "$n" --offset "$from" --connections 4 --window 256
        FILL_RATE[$to]=$(get events_per_s "$LAST")
    fi
}

query_at() {
    local size=$1
    log "query: author+kind 1, limit 100, $QUERY_CONNECTIONS connections, $QUERY_REQUESTS REQs at $size events"
    lg_median req_per_s "query-$size" query --url @URL@ --connections "$QUERY_CONNECTIONS" --requests "$QUERY_REQUESTS" --kinds 1 --limit 100
}

declare -A MEM
mem_snapshot() {
    MEM[$1]="$(proc_kb "$RELAY_PID" VmRSS) $(proc_kb "$RELAY_PID" RssAnon) $(proc_kb "$RELAY_PID" VmHWM)"
}

BENCH_START=$(date +%s)
log "binary $BIN, tools $TOOLS, work dir $WORK, fill mode $FILL_MODE"
log "sizes: fill $FILL1 then $FILL2, ingest $INGEST_EVENTS x2, $QUERY_REQUESTS REQs, fanout $FANOUT_SUBS subs x $FANOUT_EVENTS events"

want() { [[ " ${BENCH_SECTIONS:-main node nojournal plugins} " == *" $1 "* ]]; }
PQ1= PI1= PI20= PN1= PN20= IP= PIP=
I1= I20= Q1= Q2= QT= QF= F= STORED= STATS_PER_EVENT= DISK_BYTES=0 DISK_USED=0 STORED_NOTE=
MEM[after-ingest]="0 0 0"
MEM[end]="0 0 0"
if want main; then
start_relay "$WORK/data"
fill 0 "$FILL1"
if [[ -n $STRFRY ]]; then
    peer_start "$PEER_FILL"
    rm -f "$PEER_FILL"
fi
query_at "$FILL1"
Q1=$LAST PQ1=$PEER_LAST

# loadgen_ingest NAME WINDOW [WHAT]: 16 loadgen publishers keeping WINDOW EVENTs in
# flight each (1: each waits for its OK), the median run in LAST
loadgen_ingest() {
    log "ingest${3:-}: 16 publishers, window $2, $INGEST_EVENTS events"
    lg_median events_per_s "$1" ingest --url @URL@ --connections 16 --window "$2" --events "$INGEST_EVENTS"
}
loadgen_ingest ingest-w1 1
I1=$LAST PI1=$PEER_LAST
loadgen_ingest ingest-w20 20
I20=$LAST PI20=$PEER_LAST
# The same publishers at a fixed offered load (open loop, window 20 at most): OK
# latency when both relays carry the same events per second, which the closed-loop
# runs above do not give (each relay is driven at its own pace there).
PACED_EVENTS=$((PACED_RATE * 10))
((PACED_EVENTS <= INGEST_EVENTS)) || PACED_EVENTS=$INGEST_EVENTS
log "ingest at a steady $PACED_RATE events/s: 16 publishers, window 20 at most, $PACED_EVENTS events"
lg_median p99_ms ingest-paced ingest --url @URL@ --connections 16 --window 20 --events "$PACED_EVENTS" --rate "$PACED_RATE"
IP=$LAST PIP=$PEER_LAST
mem_snapshot after-ingest

# The strfry reference was measured with a Node `ws` client: the same two runs
# with such a client (tests/bench/ingest-node.mjs), for a like-for-like ratio.
N1= N20=
if want node && [[ -d $ROOT/tests/node_modules/ws ]] && command -v node >/dev/null; then
    # fresh notes for every run (each run must store new events, not duplicates)
    node_ingest() {
        "$LOADGEN" fill --notes --events "$INGEST_EVENTS" --out "$WORK/notes.jsonl" >/dev/null 2>&1 || return 1
        node "$ROOT/tests/bench/ingest-node.mjs" --url "$(url)" --connections 16 --window "$1" --file "$WORK/notes.jsonl" "${@:2}"
        local rc=$?
        rm -f "$WORK/notes.jsonl"
        return $rc
    }
    for w in 1 20; do
        log "ingest with the Node ws client: 16 publishers, window $w, $INGEST_EVENTS events"
        run_median events_per_s "node-w$w" node_ingest "$w"
        if [[ $w == 1 ]]; then N1=$LAST PN1=$PEER_LAST; else N20=$LAST PN20=$PEER_LAST; fi
    done
fi
peer_stop # measured at FILL1 only: the other sections are g1relay's own

# The same two loadgen runs with `journal = false` (one durable LMDB commit per
# group, the design before the write-ahead journal), same database, same minute:
# the ratio shows what the journal buys on this machine.
J1= J20=
if want nojournal; then
    stop_relay
    start_relay "$WORK/data" --set journal=false
    loadgen_ingest nojournal-w1 1 " with journal = false"
    J1=$LAST
    loadgen_ingest nojournal-w20 20 " with journal = false"
    J20=$LAST
    stop_relay
    start_relay "$WORK/data"
fi

fill "$FILL1" "$FILL2"
query_at "$FILL2"
Q2=$LAST
# other shapes, for information: a hashtag and the global feed of notes
QX=$((QUERY_REQUESTS / 4)); ((QX >= 500)) || QX=500
log "query: #t hashtag and kinds-only feed, limit 100, $QX REQs each at $FILL2 events"
lg "query-tag-$FILL2" query --url "$(url)" --connections "$QUERY_CONNECTIONS" --requests "$QX" \
    --filter '{"kinds":[1],"#t":["music"],"limit":100}'
QT=$LAST
lg "query-feed-$FILL2" query --url "$(url)" --connections "$QUERY_CONNECTIONS" --requests "$QX" \
    --filter '{"kinds":[1],"limit":100}'
QF=$LAST

log "fanout: $FANOUT_SUBS subscriptions over 50 connections, $FANOUT_EVENTS events"
lg fanout fanout --url "$(url)" --subscribers "$FANOUT_SUBS" --connections 50 --events "$FANOUT_EVENTS"
F=$LAST
mem_snapshot end

# ---- bytes on disk per event
stop_relay
DISK_BYTES=$(stat -c %s "$WORK/data/data.mdb" 2>/dev/null || echo 0)
DISK_USED=$(($(du -k "$WORK/data/data.mdb" 2>/dev/null | cut -f1 || echo 0) * 1024))
STORED=
if [[ $HAVE_STATS == 1 ]]; then
    "$BIN" stats --data "$WORK/data" >"$WORK/stats.txt" 2>&1 || true
    STORED=$(grep -Eim1 '^ *"?events"?[ :=]+[0-9]+' "$WORK/stats.txt" | grep -Eo '[0-9]+' | head -1 || true)
    STATS_PER_EVENT=$(awk '$1 == "used_bytes_per_event" { print $2 }' "$WORK/stats.txt")
fi
STORED_NOTE="(from g1relay stats)"
if [[ -z $STORED ]]; then
    # without stats: events sent and accepted (replaced profiles/contacts/articles included, so a lower bound per event)
    STORED=$((FILL2 + $(get ok "$I1" || echo 0) + $(get ok "$I20" || echo 0)))
    STORED_NOTE="(events accepted; replaced versions not subtracted)"
fi
fi

# ---- plugin cost (issue 3) -------------------------------------------------------
# HOOK: per-event cost of no plugin / in-process plugin / external write-policy
# program / per-kind bash script. Runs only when the binary accepts the options;
# the scripts live in tests/fixtures/bench/.
PLUG_ROWS=()
plugin_run() { # label events window extra-run-options...
    local label=$1 n=$2 w=$3
    shift 3
    start_relay "$WORK/plugin-$label" "$@" || { PLUG_ROWS+=("$label|relay did not start"); return 0; }
    lg "plugin-$label" ingest --url "$(url)" --connections 16 --window "$w" --events "$n"
    PLUG_ROWS+=("$label|$LAST")
    stop_relay
    rm -rf "$WORK/plugin-$label"
}
if want plugins && [[ ${BENCH_PLUGINS:-1} == 1 ]] && timeout 10 "$BIN" run --help 2>&1 | grep -q -- '--write-policy' &&
    [[ -d $ROOT/tests/fixtures/bench ]]; then
    PN=$((INGEST_EVENTS / 4)); ((PN >= 3000)) || PN=3000
    log "plugin cost: $PN events each (${PN}/5 for the bash-per-event filter), 16 publishers, window 20"
    printf 'plugins = ["kind_filter"]\n[plugin.kind_filter]\ndeny = [4, "20000-20999"]\n' >"$WORK/inprocess.conf"
    plugin_run none "$PN" 20
    plugin_run inprocess "$PN" 20 --config "$WORK/inprocess.conf"
    if [[ -x $TOOLS/policy_accept_all ]]; then
        plugin_run external-c "$PN" 20 --write-policy "$TOOLS/policy_accept_all"
    fi
    plugin_run external-bash "$PN" 20 --write-policy "$ROOT/tests/fixtures/bench/accept-policy.sh"
    plugin_run filter-dir-bash "$((PN / 5))" 20 --filter-dir "$ROOT/tests/fixtures/bench/filter"
fi

# ---- summary --------------------------------------------------------------------
fmt() { [[ -n $1 ]] && echo "$1" || echo "-"; }
mark() { [[ $(get complete "$1") == 1 ]] && echo "" || echo " (INCOMPLETE)"; }
kb_mb() { awk -v k="$1" 'BEGIN { printf "%.0f MB", k / 1024 }'; }
read -r RSS_I ANON_I HWM_I <<<"${MEM[after-ingest]}"
read -r RSS_E ANON_E HWM_E <<<"${MEM[end]}"
ratio() { awk -v a="$(get events_per_s "$1")" -v b="$(get events_per_s "$2")" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
cpu_per_ev() { awk -v c="$(get relay_cpu_s "$1")" -v n="$(get answered "$1")" 'BEGIN { if (n > 0) printf "%.0f", c / n * 1e6; else print "-" }'; }

{
echo
echo "g1relay benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))"
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: figures are noisy)"
echo
if want main; then
printf '%-46s %-38s %s\n' "measure" "g1relay" "strfry reference (issue 2)"
printf '%-46s %-38s %s\n' "----------------------------------------------" "--------------------------------------" "--------------------------"
printf '%-46s %-38s %s\n' "ingest, 16 publishers, window 1 (events/s)" "$(get events_per_s "$I1") (p50 $(get p50_ms "$I1") ms, p99 $(get p99_ms "$I1") ms)$(mark "$I1")" "5 900"
printf '%-46s %-38s %s\n' "ingest, 16 publishers, window 20 (events/s)" "$(get events_per_s "$I20") (p50 $(get p50_ms "$I20") ms, p99 $(get p99_ms "$I20") ms)$(mark "$I20")" "9 600"
[[ -z $IP ]] || printf '%-46s %-38s %s\n' "  steady $PACED_RATE events/s offered, window <= 20" "p50 $(get p50_ms "$IP") ms, p99 $(get p99_ms "$IP") ms ($(get events_per_s "$IP") ev/s)$(mark "$IP")" "-"
if [[ -n $N1 ]]; then
printf '%-46s %-38s %s\n' "  same, Node ws client, window 1" "$(get events_per_s "$N1") (p50 $(get p50_ms "$N1") ms, p99 $(get p99_ms "$N1") ms)$(mark "$N1")" "5 900 (Node client)"
printf '%-46s %-38s %s\n' "  same, Node ws client, window 20" "$(get events_per_s "$N20") (p50 $(get p50_ms "$N20") ms, p99 $(get p99_ms "$N20") ms)$(mark "$N20")" "9 600 (Node client)"
fi
if [[ -n $J1 ]]; then
printf '%-46s %-38s %s\n' "  journal = false (LMDB commit per group), w1" "$(get events_per_s "$J1") (p50 $(get p50_ms "$J1") ms, p99 $(get p99_ms "$J1") ms)$(mark "$J1")" "journal: $(ratio "$I1" "$J1")x"
printf '%-46s %-38s %s\n' "  journal = false (LMDB commit per group), w20" "$(get events_per_s "$J20") (p50 $(get p50_ms "$J20") ms, p99 $(get p99_ms "$J20") ms)$(mark "$J20")" "journal: $(ratio "$I20" "$J20")x"
fi
printf '%-46s %-38s %s\n' "relay CPU per ingested event (w1 / w20)" "$(cpu_per_ev "$I1") / $(cpu_per_ev "$I20") us" ""
printf '%-46s %-38s %s\n' "fill ($FILL_MODE) to $FILL1 / $FILL2 (events/s)" "$(fmt "${FILL_RATE[$FILL1]:-}") / $(fmt "${FILL_RATE[$FILL2]:-}")" ""
printf '%-46s %-38s %s\n' "query at $FILL1 events (REQ/s)" "$(get req_per_s "$Q1")$(mark "$Q1")" "2 850"
printf '%-46s %-38s %s\n' "  REQ->EOSE p50 / p99 (ms)" "$(get p50_ms "$Q1") / $(get p99_ms "$Q1") ($(get events_per_req "$Q1") events/REQ)" "2.6 / ~7"
printf '%-46s %-38s %s\n' "query at $FILL2 events (REQ/s)" "$(get req_per_s "$Q2")$(mark "$Q2")" "-"
printf '%-46s %-38s %s\n' "  REQ->EOSE p50 / p99 (ms)" "$(get p50_ms "$Q2") / $(get p99_ms "$Q2") ($(get events_per_req "$Q2") events/REQ)" "-"
printf '%-46s %-38s %s\n' "  #t hashtag, limit 100: REQ/s, p50 / p99 (ms)" "$(get req_per_s "$QT"), $(get p50_ms "$QT") / $(get p99_ms "$QT")$(mark "$QT")" "-"
printf '%-46s %-38s %s\n' "  kinds:[1] feed, limit 100: REQ/s, p50 / p99" "$(get req_per_s "$QF"), $(get p50_ms "$QF") / $(get p99_ms "$QF")$(mark "$QF")" "-"
printf '%-46s %-38s %s\n' "fanout to $FANOUT_SUBS subs: delivery p50 / p99 (ms)" "$(get p50_ms "$F") / $(get p99_ms "$F")$(mark "$F")" "-"
printf '%-46s %-38s %s\n' "  all subscribers reached p50 / p99 (ms)" "$(get all_p50_ms "$F") / $(get all_p99_ms "$F") (missing $(get missing "$F"))" "-"
printf '%-46s %-38s %s\n' "memory after ingest: VmRSS / RssAnon" "$(kb_mb "$RSS_I") / $(kb_mb "$ANON_I")" ""
printf '%-46s %-38s %s\n' "memory at end ($FILL2 events): VmRSS / RssAnon" "$(kb_mb "$RSS_E") / $(kb_mb "$ANON_E") (peak $(kb_mb "$HWM_E"))" "270 MB resident"
printf '%-46s %-38s %s\n' "bytes on disk per event" "$(awk -v b="$DISK_USED" -v n="$STORED" 'BEGIN { printf "%.0f", b / n }') ($STORED events, data.mdb $((DISK_USED / 1048576)) MB)" "1 200"
echo "  events counted $STORED_NOTE; data.mdb apparent size $((DISK_BYTES / 1048576)) MB${STATS_PER_EVENT:+; g1relay stats: $STATS_PER_EVENT used bytes per event}"
fi
if [[ -n $PQ1$PI1$PN1 ]]; then
    echo
    echo "side by side with strfry ($STRFRY), each strfry run right after the same g1relay run, $FILL1 events stored:"
    printf '%-40s %-30s %-30s %s\n' "  measure" "g1relay" "strfry" "g1relay / strfry"
    p99_cmp() { awk -v a="$1" -v b="$2" 'BEGIN { if (a <= 0 || b <= 0) print "-"; else if (a <= b) printf "%.2fx lower", b / a; else printf "%.2fx HIGHER", a / b }'; }
    side() { # label KEY unit OURS PEER
        local a b
        [[ -n $4 && -n $5 ]] || return 0
        a=$(get "$2" "$4") b=$(get "$2" "$5")
        printf '%-40s %-30s %-30s %s\n' "  $1" "$a $3 (p99 $(get p99_ms "$4") ms)$(mark "$4")" "$b $3 (p99 $(get p99_ms "$5") ms)$(mark "$5")" \
            "$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'), p99 $(p99_cmp "$(get p99_ms "$4")" "$(get p99_ms "$5")")"
    }
    side "ingest w1, loadgen" events_per_s "ev/s" "$I1" "$PI1"
    side "ingest w20, loadgen" events_per_s "ev/s" "$I20" "$PI20"
    side "ingest w1, Node ws client" events_per_s "ev/s" "$N1" "$PN1"
    side "ingest w20, Node ws client" events_per_s "ev/s" "$N20" "$PN20"
    side "author+kind REQ, limit 100" req_per_s "REQ/s" "$Q1" "$PQ1"
    if [[ -n $IP && -n $PIP ]]; then
        printf '%-40s %-30s %-30s %s\n' "  ingest at a steady $PACED_RATE ev/s, w<=20" "p50 $(get p50_ms "$IP"), p99 $(get p99_ms "$IP") ms$(mark "$IP")" \
            "p50 $(get p50_ms "$PIP"), p99 $(get p99_ms "$PIP") ms$(mark "$PIP")" "p99 $(p99_cmp "$(get p99_ms "$IP")" "$(get p99_ms "$PIP")")"
    fi
    printf '%-40s %-30s %-30s\n' "  relay CPU per event, loadgen w1 / w20" "$(cpu_per_ev "$I1") / $(cpu_per_ev "$I20") us" "$(cpu_per_ev "$PI1") / $(cpu_per_ev "$PI20") us"
    [[ -z $N1 ]] || printf '%-40s %-30s %-30s\n' "  relay CPU per event, Node w1 / w20" "$(cpu_per_ev "$N1") / $(cpu_per_ev "$N20") us" "$(cpu_per_ev "$PN1") / $(cpu_per_ev "$PN20") us"
    read -r PRSS PANON <<<"${PEER_MEM:-0 0}"
    printf '%-40s %-30s %-30s\n' "  memory after ingest: VmRSS / RssAnon" "$(kb_mb "$RSS_I") / $(kb_mb "$ANON_I")" "$(kb_mb "$PRSS") / $(kb_mb "$PANON")"
fi
if ((${#PLUG_ROWS[@]})); then
    echo
    echo "plugin cost: 16 publishers, window 20; CPU = relay + policy processes per event"
    printf '%-30s %-34s %-16s %s\n' "  configuration" "events/s" "CPU per event" "extra CPU vs none"
    base=
    for row in "${PLUG_ROWS[@]}"; do
        label=${row%%|*} r=${row#*|}
        cpu=$(cpu_per_ev "$r")
        [[ $label == none ]] && base=$cpu
        extra=$(awk -v a="$base" -v b="$cpu" 'BEGIN { if (a != "" && a != "-" && b != "-") printf "%+d us", b - a; else print "-" }')
        printf '%-30s %-34s %-16s %s\n' "  $label" "$(fmt "$(get events_per_s "$r")") (p50 $(get p50_ms "$r") ms)$(mark "$r")" "$cpu us" "$extra"
    done
fi
if [[ -s $WORK/perf-summary.txt ]]; then
    echo
    echo "relay samples per library (perf):"
    cat "$WORK/perf-summary.txt"
fi
echo
echo "wall time $(($(date +%s) - BENCH_START)) s; RESULT lines:"
cat "$RESULTS"
} | tee "$WORK/summary.txt"
