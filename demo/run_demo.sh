#!/usr/bin/env bash
# run_demo.sh - echo-server benchmark used by `make demo`.
#
# Usage: demo/run_demo.sh BUILD_DIR [CONNS_LIST]      e.g.  demo/run_demo.sh build "100 1000"
# Env:   SECONDS_PER_RUN (default 3)  measured seconds per run
#        WARMUP          (default 1)  warmup seconds per run
#        LOAD_THREADS    (default 1)  echo_load --threads
#        VARIANTS        (default "threads/native threads/greenrun green epoll")
#                        the server variants to run, in this order (names below)
#        ROUNDS          (default 1)  runs of every variant, alternated; the table
#                        keeps each one's best (least server CPU per round trip), and
#                        "paired" lines give each variant's median ratio to the epoll
#                        run of the same round
#
# For every CONNS value and every server variant: start the server on port 0
# (pinned to CPU 0 when there are >= 2 CPUs), read its port from the first
# stdout line, drive it with BUILD_DIR/echo_load (pinned to CPU 1), stop it,
# and finally print a summary table.  Variants:
#   threads/native       BUILD_DIR/echo_threads               plain pthreads, no libgreen
#   threads/greenrun     BUILD_DIR/greenrun -- echo_threads   same binary under the preload
#   threads-1k/greenrun  BUILD_DIR/greenrun -- echo_threads -b 1024
#                        the same with a 1 KiB read buffer (one stack page per thread)
#   green                BUILD_DIR/echo_green                 written against libgreen
#   epoll                BUILD_DIR/echo_epoll                 optional hand-written baseline
#   go                   bench/echo_go.go, a goroutine per connection, built here with `go build`
#                        (optional: needs Go, Debian's golang-go; not in the default VARIANTS)
#   gevent               bench/echo_gevent.py, a gevent StreamServer (optional: needs a python3
#                        that imports gevent, Debian's python3-gevent; not in the default VARIANTS)
# Missing binaries (and tools) are skipped with a note; an unknown variant name is a usage
# error (exit status 2).  Exit status is non-zero if any run had errors (or
# its load generator / server failed).
set -euo pipefail

usage() { echo "usage: $0 BUILD_DIR [\"CONNS ...\"]" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage
BUILD_DIR=$1
CONNS_LIST=${2:-"100 1000"}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}
ROUNDS=${ROUNDS:-1}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "run_demo: bad ROUNDS '$ROUNDS'" >&2; exit 2; }
WARMUP=${WARMUP:-1}
LOAD_THREADS=${LOAD_THREADS:-1}
VARIANTS=${VARIANTS:-"threads/native threads/greenrun green epoll"}
KNOWN_VARIANTS="threads/native threads/greenrun threads-1k/greenrun green epoll go gevent"
BENCH_SRC=$(cd "$(dirname "$0")/.." && pwd)/bench   # echo_go.go, echo_gevent.py

LOAD=$BUILD_DIR/echo_load
if [[ ! -x $LOAD ]]; then
    echo "run_demo: $LOAD not found (build it first)" >&2
    exit 2
fi
for c in $CONNS_LIST; do
    [[ $c =~ ^[1-9][0-9]*$ ]] || { echo "run_demo: bad CONNS value '$c'" >&2; exit 2; }
done
[[ -n ${VARIANTS// /} ]] || { echo "run_demo: VARIANTS is empty (known: $KNOWN_VARIANTS)" >&2; exit 2; }
for v in $VARIANTS; do
    [[ " $KNOWN_VARIANTS " == *" $v "* ]] ||
        { echo "run_demo: unknown variant '$v' (known: $KNOWN_VARIANTS)" >&2; exit 2; }
done

# "native" must really be native, even if the caller runs us with a preload.
unset LD_PRELOAD

TMP=$(mktemp -d "${TMPDIR:-/tmp}/run_demo.XXXXXX")
PIDS=()          # every process we started (or found) that may still be alive
GROUPS_=()       # process groups of servers (setsid), killed as a whole

alive() {        # alive PID: exists and is not a zombie
    local st
    st=$(sed -n 's/^.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $st && $st != Z && $st != X ]]
}

cleanup() {
    trap - EXIT INT TERM
    local p any=0
    # TERM first: `timeout` forwards it to echo_load (which runs in
    # timeout's own process group), a KILL would orphan it.
    for p in "${PIDS[@]}"; do
        if alive "$p"; then
            kill -TERM "$p" 2>/dev/null || true
            any=1
        fi
    done
    for p in "${GROUPS_[@]}"; do kill -TERM -- "-$p" 2>/dev/null && any=1; done
    if (( any )); then
        sleep 0.3
        for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
        for p in "${GROUPS_[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
    fi
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- file descriptors: each run needs CONNS sockets in the client and in
# the server (plus slack); raise the limit as far as we are allowed.
max_conns=0
for c in $CONNS_LIST; do
    if (( c > max_conns )); then max_conns=$c; fi
done
want=$(( max_conns + 1024 ))
hard=$(ulimit -Hn)
if [[ $hard != unlimited ]] && (( hard < want )); then
    ulimit -Hn "$want" 2>/dev/null || true     # only works as root
    hard=$(ulimit -Hn)
fi
if [[ $hard == unlimited ]]; then
    # "unlimited" is not accepted for RLIMIT_NOFILE beyond fs.nr_open.
    nr_open=$(cat /proc/sys/fs/nr_open 2>/dev/null || echo 1048576)
    ulimit -Sn "$nr_open" 2>/dev/null || ulimit -Sn "$want" 2>/dev/null || true
else
    ulimit -Sn "$hard" 2>/dev/null || true
fi
soft=$(ulimit -Sn)
if [[ $soft != unlimited ]] && (( soft < want )); then
    echo "run_demo: note: open-file limit is $soft, runs with more than $(( soft - 1024 )) connections may fail" >&2
fi

# ---- CPU placement: server on CPU 0, load generator on CPU 1.
PIN=()
LOAD_CPU=()
if (( $(nproc) >= 2 )) && command -v taskset >/dev/null; then
    PIN=(taskset -c 0)
    LOAD_CPU=(--cpu 1)
else
    echo "run_demo: note: fewer than 2 CPUs (or no taskset): server and load generator are not pinned" >&2
fi

# Time limit for one echo_load run: connect phase (<= 10 s) + warmup + window + slack.
LOAD_LIMIT=$(awk -v s="$SECONDS_PER_RUN" -v w="$WARMUP" 'BEGIN { printf "%d", s + w + 30 }')

# find_server PID NAME: PID itself if its comm is NAME, else the first
# descendant (breadth-first, 3 levels) whose comm is NAME, else PID.  The
# load generator must read /proc of the real server, even if a launcher such
# as greenrun forks it rather than exec'ing it.
find_server() {
    local root=$1 name=${2:0:15} level=0 p kids
    local -a todo=("$1") next
    while (( level < 4 && ${#todo[@]} > 0 )); do
        next=()
        for p in "${todo[@]}"; do
            if [[ $(cat "/proc/$p/comm" 2>/dev/null) == "$name" ]]; then
                echo "$p"
                return
            fi
            kids=$(pgrep -P "$p" 2>/dev/null || true)
            # shellcheck disable=SC2206  # word splitting wanted: one PID per word
            if [[ -n $kids ]]; then next+=($kids); fi
        done
        todo=("${next[@]}")
        level=$(( level + 1 ))
    done
    echo "$root"
}

# stop_server PID...: TERM, then KILL whatever is left after 2 s, then reap.
# Also signals the server's process group (see setsid below), so that
# nothing a launcher forked survives it.
stop_server() {
    local p i any
    for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${GROUPS_[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
    for (( i = 0; i < 20; i++ )); do
        any=0
        for p in "$@"; do
            if alive "$p"; then any=1; fi
        done
        (( any )) || break
        sleep 0.1
    done
    for p in "$@"; do kill -KILL "$p" 2>/dev/null || true; done
    for p in "${GROUPS_[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
    for p in "$@"; do wait "$p" 2>/dev/null || true; done
    GROUPS_=()
}

# pgid_is_self PID: PID leads its own process group.
pgid_is_self() {
    local pg
    pg=$(sed -n 's/^.*) . [0-9]* \([0-9]*\) .*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ $pg == "$1" ]]
}

ROWS=()          # one tab-separated row per run, for the final table
FAILED=0

# field KEY: value of KEY=... in $res (the RESULT line of echo_load).
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$res"; }

# run_one VARIANT CONNS SERVER_NAME CMD...   (CMD gets the port "0" appended)
run_one() {
    local variant=$1 conns=$2 name=$3
    shift 3
    local tag="$variant.$conns" port="" spid rpid lpid line i rc=0 res note="" bad=0
    tag=${tag//\//_}
    local sout=$TMP/$tag.server.out serr=$TMP/$tag.server.err
    local lout=$TMP/$tag.load.out lerr=$TMP/$tag.load.err

    echo "== $variant, $conns connections"
    # setsid: own process group (setsid execs in place here, $! stays the
    # server's PID), so a launcher's forked children can be killed with it.
    setsid "${PIN[@]}" "$@" 0 >"$sout" 2>"$serr" &
    spid=$!
    PIDS+=("$spid")

    # First stdout line must be "listening on PORT"; give it 10 s.
    for (( i = 0; i < 100; i++ )); do
        line=$(head -n 1 "$sout" 2>/dev/null || true)
        if [[ $line =~ ^listening\ on\ ([0-9]+) ]]; then
            port=${BASH_REMATCH[1]}
            break
        fi
        alive "$spid" || break
        sleep 0.1
    done
    if [[ -z $port ]]; then
        if pgid_is_self "$spid"; then GROUPS_+=("$spid"); fi
        echo "   server did not report its port; stderr:" >&2
        tail -n 5 "$serr" >&2 || true
        stop_server "$spid"
        PIDS=()
        ROWS+=("$variant	$conns	-	-	-	-	-	-	-	server failed to start")
        FAILED=1
        return
    fi
    if pgid_is_self "$spid"; then GROUPS_+=("$spid"); fi
    rpid=$(find_server "$spid" "$name")
    if [[ $rpid != "$spid" ]]; then PIDS+=("$rpid"); fi

    # In the background + wait, so that a TERM/INT to this script is acted
    # on at once (bash defers traps while a foreground child runs).
    timeout -k 5 "$LOAD_LIMIT" "$LOAD" --host 127.0.0.1 --port "$port" --conns "$conns" \
        --seconds "$SECONDS_PER_RUN" --warmup "$WARMUP" --size 64 --threads "$LOAD_THREADS" \
        --pid "$rpid" "${LOAD_CPU[@]}" --label "$variant" >"$lout" 2>"$lerr" &
    lpid=$!
    PIDS+=("$lpid")
    wait "$lpid" || rc=$?

    if ! alive "$rpid"; then
        note="server died"
        bad=1
    fi
    stop_server "$rpid" "$spid"
    PIDS=()

    res=$(grep -m 1 '^RESULT ' "$lout" || true)
    grep -v '^RESULT ' "$lout" | sed 's/^/   /' || true
    local errors stalled
    errors=$(field errors)
    stalled=$(field stalled)
    if [[ -z $res ]]; then
        note="${note:+$note, }no result (echo_load rc=$rc)"
        errors=${errors:-?}
    elif (( rc != 0 )); then
        note="${note:+$note, }echo_load rc=$rc"
    fi
    if [[ $rc != 0 || $errors != 0 ]]; then bad=1; fi
    # Starved connections (no round trip in the whole window) are reported,
    # but are not errors: plain threads starve a few at 10k connections.
    if [[ -n $stalled && $stalled != 0 ]]; then
        note="${note:+$note, }$stalled conns starved"
    fi
    if (( bad )); then
        FAILED=1
        if [[ -s $lerr ]]; then { echo "   echo_load stderr:"; tail -n 5 "$lerr" | sed 's/^/     /'; } >&2; fi
        if [[ -s $serr ]]; then { echo "   server stderr:"; tail -n 5 "$serr" | sed 's/^/     /'; } >&2; fi
    fi
    ROWS+=("$variant	$conns	$(field rt_per_s)	$(field p50_us)	$(field p99_us)	$(field server_us_per_rt)	$(field server_threads)	$(field server_rss_mib)	${errors:-?}	$note	$round")
}

# The variants that can run, each as "VARIANT<TAB>SERVER_NAME<TAB>CMD" with the words of CMD
# separated by US (0x1f: paths may hold spaces), and skip notes for the rest.
US=$'\x1f'
NOTES=()
skip() { NOTES+=("skipped $1: $2"); echo "== skipping $1: $2"; }
RUNNABLE=()
T=$BUILD_DIR/echo_threads
GR=$BUILD_DIR/greenrun
for v in $VARIANTS; do
    case $v in
    threads/native)
        if [[ -x $T ]]; then RUNNABLE+=("$v	echo_threads	$T"); else skip "$v" "$T not found"; fi ;;
    threads/greenrun | threads-1k/greenrun)
        args=""
        [[ $v == threads-1k/greenrun ]] && args="$US-b${US}1024"
        if [[ ! -x $T ]]; then
            skip "$v" "$T not found"
        elif [[ ! -x $GR ]]; then
            skip "$v" "$GR not found"
        else
            RUNNABLE+=("$v	echo_threads	$GR$US--$US$T$args")
        fi ;;
    green | epoll)
        bin=$BUILD_DIR/echo_$v
        if [[ -x $bin ]]; then
            RUNNABLE+=("$v	echo_$v	$bin")
        else
            skip "$v" "$bin not found$([[ $v == epoll ]] && echo " (optional)")"
        fi ;;
    go)
        # Built into TMP with a throw-away cache and HOME: nothing written outside it, no network
        # (the standard library only).
        if ! command -v go >/dev/null; then
            skip "$v" "no Go (optional: golang-go)"
        elif [[ ! -f $BENCH_SRC/echo_go.go ]]; then
            skip "$v" "$BENCH_SRC/echo_go.go not found"
        elif HOME=$TMP GOCACHE=$TMP/gocache GOPATH=$TMP/gopath GO111MODULE=off GOFLAGS='' \
            go build -o "$TMP/echo_go" "$BENCH_SRC/echo_go.go" >"$TMP/go_build.log" 2>&1; then
            RUNNABLE+=("$v	echo_go	$TMP/echo_go")
        else
            skip "$v" "cannot build bench/echo_go.go: $(head -n 1 "$TMP/go_build.log")"
        fi ;;
    gevent)
        # Debian's python3-gevent goes with /usr/bin/python3, which need not be the first python3
        # on PATH (pyenv and the like).
        py=""
        for cand in /usr/bin/python3 python3; do
            if "$cand" -c 'import gevent' 2>/dev/null; then py=$(command -v "$cand"); break; fi
        done
        if [[ ! -f $BENCH_SRC/echo_gevent.py ]]; then
            skip "$v" "$BENCH_SRC/echo_gevent.py not found"
        elif [[ -n $py ]]; then
            RUNNABLE+=("$v	${py##*/}	$py$US$BENCH_SRC/echo_gevent.py")
        else
            skip "$v" "no python3 with gevent (optional: python3-gevent)"
        fi ;;
    esac
done

# Rounds: every variant back to back at one CONNS value, so that they share the machine's state of
# the moment; the summary keeps each one's best round (a shared machine only ever adds time).
for (( round = 1; round <= ROUNDS; round++ )); do
    for c in $CONNS_LIST; do
        for r in "${RUNNABLE[@]}"; do
            IFS=$'\t' read -r v name cmd <<<"$r"
            IFS=$US read -r -a words <<<"$cmd"
            run_one "$v" "$c" "$name" "${words[@]}"
        done
    done
done

# ---- summary
echo
echo "echo benchmark: ${SECONDS_PER_RUN}s measured after ${WARMUP}s warmup, 64-byte round trips," \
     "$LOAD_THREADS load thread(s)${PIN:+, server on CPU 0, load on CPU 1}"
fmt='%-19s %7s %10s %10s %10s %10s %8s %8s %7s  %s\n'
# shellcheck disable=SC2059
printf "$fmt" variant conns "rt/s" "p50 us" "p99 us" "srv us/rt" "threads" "RSS MiB" errors note
# One line per variant and CONNS: the round with the least server CPU per round trip (the errors
# column counts every round's); with several rounds, the note gives the range of srv us/rt.
best_rows() {
    local r
    for r in "${ROWS[@]}"; do printf '%s\n' "$r"; done | awk -F'\t' -v rounds="$ROUNDS" '
        {
            k = $1 SUBSEP $2
            if (!(k in n)) order[++nk] = k
            n[k]++
            if ($9 ~ /^[0-9]+$/) errs[k] += $9; else bad[k] = 1
            if ($6 ~ /^[0-9.]+$/) {
                if (!(k in lo) || $6 + 0 < lo[k]) { lo[k] = $6 + 0; best[k] = $0 }
                if (!(k in hi) || $6 + 0 > hi[k]) hi[k] = $6 + 0
            } else if (!(k in best)) best[k] = $0
        }
        END {
            for (i = 1; i <= nk; i++) {
                k = order[i]
                split(best[k], f, "\t")
                f[9] = (k in bad) ? "?" : errs[k]
                note = f[10]
                if (rounds > 1 && (k in lo))
                    note = sprintf("best of %d (%.3f-%.3f)%s", n[k], lo[k], hi[k], note == "" ? "" : ", " note)
                printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], note
            }
        }'
}
while IFS=$'\t' read -r v c rt p50 p99 us thr rss err note; do
    # shellcheck disable=SC2059
    printf "$fmt" "$v" "$c" "$rt" "$p50" "$p99" "$us" "$thr" "$rss" "$err" "$note"
done < <(best_rows)
for n in "${NOTES[@]}"; do echo "note: $n"; done

# With several rounds and the epoll server among the variants: each variant's ratios to the epoll
# run of the same round (back to back, so the machine's state of the moment cancels out), and their
# median over the rounds. Best rounds taken apart favour whichever server varies most; the paired
# median does not.
paired_rows() {
    local r
    for r in "${ROWS[@]}"; do printf '%s\n' "$r"; done | awk -F'\t' '
        $6 ~ /^[0-9.]+$/ && $3 ~ /^[0-9.]+$/ && $3 > 0 { us[$1, $2, $11] = $6; rt[$1, $2, $11] = $3
            if (!(($1, $2) in seen)) { seen[$1, $2] = 1; order[++n] = $1 "\t" $2 } }
        function median(a, k,   i, j, t) {
            for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
            return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
        }
        END {
            for (i = 1; i <= n; i++) {
                split(order[i], vc, "\t")
                if (vc[1] == "epoll") continue
                k = 0; delete ru; delete rr
                for (key in us) {
                    split(key, p, SUBSEP)
                    if (p[1] != vc[1] || p[2] != vc[2] || !(("epoll", p[2], p[3]) in us)) continue
                    k++; ru[k] = us[key] / us["epoll", p[2], p[3]]; rr[k] = rt[key] / rt["epoll", p[2], p[3]]
                }
                if (k) printf "paired %s %s %.3f %.3f %d\n", vc[1], vc[2], median(ru, k), median(rr, k), k
            }
        }'
}
if (( ROUNDS > 1 )) && [[ " $VARIANTS " == *" epoll "* ]]; then
    pr=$(paired_rows)
    if [[ -n $pr ]]; then
        echo
        echo "paired with the epoll run of the same round, median over rounds:"
        echo "        variant             conns  srv-us/rt ratio  rt/s ratio  rounds"
        while read -r _ v c ur rr k; do
            printf 'paired  %-19s %6s %16s %11s %7s\n' "$v" "$c" "$ur" "$rr" "$k"
        done <<<"$pr"
    fi
fi

if (( FAILED )); then
    echo "run_demo: FAILED: at least one run had errors" >&2
    exit 1
fi
