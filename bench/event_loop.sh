#!/usr/bin/env bash
# event_loop.sh - what the preload costs event-loop servers: server CPU per request natively and
# under greenrun, measured alternately in one run.
#
# Usage: bench/event_loop.sh BUILD_DIR
# Env:   EVLOOP_ROUNDS    (default 3)  pairs of runs per server (native, preloaded, native, ...)
#        EVLOOP_SECONDS   (default 3)  timed seconds of each run
#        EVLOOP_WARMUP    (default 1)  seconds of load before each timed window (0: none)
#        EVLOOP_CONNS     (default 50) connections of the load generator
#        EVLOOP_SERVERS   (default "nginx lighttpd haproxy redis memcached") which ones, in order
#        EVLOOP_MAX_OTHER (default 10) other load (% of a CPU, on CPU 0 or 1) that makes a run
#                                      "disturbed"
#        EVLOOP_RETRIES   (default 4)  spare pairs of the whole run (at most 2 per server), to make
#                                      up for pairs disturbed or with a run excluded
#        EVLOOP_INSTALL   (default 1)  install missing Debian packages (when root); 0: never
#        EVLOOP_SYSCALLS  (default 1)  count the server's system calls during the warm-up (perf); 0: never
#
# Programs that set O_NONBLOCK on their sockets and wait in epoll_wait themselves should run under
# the preload as natively. Per server: nginx (1 worker, a small static file), lighttpd (the same
# file), haproxy (a fixed response, `http-request return`), all three loaded by wrk; redis-server
# loaded by redis-benchmark (SET and GET); memcached -t 4 loaded by bench/memcache_load.c (gets and
# 1 in 10 sets; compiled here into BUILD_DIR/bench). Each server runs in the foreground with its
# config, logs and data in a temp dir, on 127.0.0.1 and a free port, pinned to CPU 0 (the load
# generator to CPU 1, as demo/run_demo.sh does); natively, then under BUILD_DIR/greenrun, ROUNDS
# pairs (native first in odd pairs, preloaded first in even ones), a fresh server each run.
#
# A run: the server is started, loaded for WARMUP seconds, then its CPU time is read before and
# after a load of SECONDS (the run time of every thread of its processes, /proc/PID/task/*/schedstat,
# in ns; checked against utime+stime of /proc/PID/stat, which also keeps the time of what exited);
# CPU per request = that CPU time / the requests the load generator completed. A run is excluded
# (and said why) if the load generator reports errors (non-2xx responses, socket errors, bad
# replies), the server died, or a preloaded server does not map libgreen_preload.so (a native one
# that does). The verdict figure is the median over the pairs of (preloaded us/request / native
# us/request of the same pair). The server's system calls per request, counted during the warm-up
# (perf stat's raw_syscalls:sys_enter tracepoint, where perf and the tracepoint are usable: not in
# the timed window, whose CPU time the tracepoint would add to), are what a noisy machine blurs
# less (they still move with the events each epoll_wait returns): what the preload adds to
# the calls the kernel serves. On a shared machine other programs take CPU from the server or the
# load generator: the busy time of CPUs 0 and 1 (/proc/stat) less the server's and the load
# generator's is the other load of the run; over EVLOOP_MAX_OTHER % the run is "disturbed", and
# its pair is made up for by a spare one while there are spare ones; the figures come from the
# ROUNDS least disturbed valid pairs (and say how many of those were disturbed).
#
# Missing packages (nginx-light lighttpd haproxy redis-server redis-tools memcached wrk) are
# installed with apt-get when root, with a policy-rc.d that keeps their services from starting
# (removed after, if this script created it); a daemon left running by the install anyway is
# stopped by PID. A server whose program or load generator is missing gets "n/a" figures, the
# reason on stderr.
#
# Output (stdout), one line per server and figure, for a parent script:
#   EVLOOP SERVER native_us_per_req X   median over the pairs used (server CPU us/request)
#   EVLOOP SERVER green_us_per_req X    the same, preloaded
#   EVLOOP SERVER ratio_median X        median of the pairs' ratios (preloaded / native): the verdict
#   EVLOOP SERVER ratio_min X, ratio_max X, ratios X,Y,Z (each pair's, in order)
#   EVLOOP SERVER native_rps X, green_rps X   medians of the requests per second
#   EVLOOP SERVER native_syscalls_per_req X, green_syscalls_per_req X   medians (n/a without perf)
#   EVLOOP SERVER pairs N               pairs the figures are from (ROUNDS, fewer if runs failed)
#   EVLOOP SERVER disturbed N           of those, pairs disturbed by other load
#   EVLOOP SERVER set_aside N           valid pairs left out (more disturbed than those used)
#   EVLOOP SERVER excluded N            runs excluded (errors, server died, preload not mapped)
#   EVLOOP SERVER note TEXT...          why a server has no figures (then the figures are n/a)
#   EVLOOP all seconds N, install_seconds N, load_start X, load_end X (1-minute load averages)
# "n/a" for a figure that could not be had. Per run lines and a summary table go to stderr.
# Exits 0 (whatever the figures), 2 on a usage error. Bounded: each server and load generator runs
# under timeout(1); with the defaults, the five servers take about 2.5 minutes on a quiet machine
# (3 with every spare pair used; plus the packages' install the first time). Every process started
# is stopped by PID, the temp dir removed.
set -uo pipefail

usage() {
    echo "usage: $0 BUILD_DIR   (env: EVLOOP_ROUNDS, EVLOOP_SECONDS, EVLOOP_WARMUP, EVLOOP_CONNS, EVLOOP_SERVERS," \
        "EVLOOP_MAX_OTHER, EVLOOP_RETRIES, EVLOOP_INSTALL, EVLOOP_SYSCALLS)" >&2
    exit 2
}
[[ $# -eq 1 && -d $1 ]] || usage
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${EVLOOP_ROUNDS:-3}
SECS=${EVLOOP_SECONDS:-3}
WARM=${EVLOOP_WARMUP:-1}
CONNS=${EVLOOP_CONNS:-50}
SERVERS=${EVLOOP_SERVERS:-"nginx lighttpd haproxy redis memcached"}
RETRIES=${EVLOOP_RETRIES:-4}
MAX_OTHER=${EVLOOP_MAX_OTHER:-10}
KNOWN="nginx lighttpd haproxy redis memcached"
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $SECS =~ ^[1-9][0-9]*$ && $WARM =~ ^[0-9]+$ && $CONNS =~ ^[1-9][0-9]*$ && $RETRIES =~ ^[0-9]+$ && $MAX_OTHER =~ ^[0-9]+$ ]] ||
    usage
for s in $SERVERS; do [[ " $KNOWN " == *" $s "* ]] || { echo "$0: unknown server '$s' (known: $KNOWN)" >&2; exit 2; }; done
unset LD_PRELOAD   # "native" must be native
PRELOAD=$BUILD/libgreen_preload.so
GREENRUN=$BUILD/greenrun
START=$SECONDS
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/evloop.XXXXXX") || { echo "evloop: cannot make a temp dir: no figures" >&2; exit 0; }
LIVE=()            # PIDs started by this script that may still run (timeout(1) processes, apt-get)
MADE_POLICY=0      # 1: /usr/sbin/policy-rc.d is ours, to be removed
# shellcheck disable=SC2317  # run by the EXIT trap (shellcheck 0.9 takes it for unreachable)
cleanup() {
    trap - EXIT INT TERM
    local p
    # A timeout(1) forwards TERM to the command it runs, and KILLs it 2-3 s later (-k).
    for p in "${LIVE[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${LIVE[@]}"; do wait "$p" 2>/dev/null; done
    if (( MADE_POLICY )); then rm -f /usr/sbin/policy-rc.d; fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

note() { echo "evloop: $*" >&2; }
out() { echo "EVLOOP $*"; }
# bg_wait CMD...: CMD in the background, waited for (a signal to this script is then acted on at
# once: bash defers traps while a foreground child runs). Returns CMD's status.
bg_wait() {
    local pid rc=0
    "$@" &
    pid=$!
    LIVE+=("$pid")
    wait "$pid" || rc=$?
    unlive "$pid"
    return $rc
}
unlive() { local p keep=(); for p in "${LIVE[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done; LIVE=("${keep[@]}"); }
alive() {   # alive PID: exists and is not a zombie
    local st
    st=$(sed -n 's/^.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $st && $st != Z && $st != X ]]
}
# find_bin NAME: its path (root's PATH has /usr/sbin, a user's may not), or nothing.
find_bin() { command -v "$1" 2>/dev/null || { [[ -x /usr/sbin/$1 ]] && echo "/usr/sbin/$1"; }; }
# median: of the numbers on stdin (one a line), nothing if none.
median() { awk 'NF' | sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.6f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fmt() { [[ -n ${1:-} ]] && awk -v v="$1" -v d="$2" 'BEGIN { printf "%." d "f", v }' || echo n/a; }

# ---- CPU placement ------------------------------------------------------------------------------
SRV_PIN=() LOAD_PIN=()
if (( $(nproc) >= 2 )) && command -v taskset >/dev/null; then
    SRV_PIN=(taskset -c 0) LOAD_PIN=(taskset -c 1)
else
    note "fewer than 2 CPUs (or no taskset): server and load generator are not pinned"
fi

# ---- system calls per request (perf stat on the tracepoint; optional) ---------------------------
SYSCOUNT=0
if [[ ${EVLOOP_SYSCALLS:-1} != 0 ]] && (( WARM > 0 )) && command -v perf >/dev/null &&
    perf stat -x, -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then
    SYSCOUNT=1
else
    note "no system call counts (EVLOOP_SYSCALLS=0, no warm-up, or perf or its raw_syscalls tracepoint unusable here)"
fi
# count_syscalls_start FILE PID...: perf stat attached to the PIDs (their threads), in the background;
# its PID on stdout. count_syscalls_end PERF_PID FILE: stopped; the count on stdout (empty if none).
count_syscalls_start() {
    local f=$1
    shift
    perf stat -x, -e raw_syscalls:sys_enter -o "$f" -p "$(IFS=,; echo "$*")" >/dev/null 2>&1 &
    echo $!
}
count_syscalls_end() {
    kill -INT "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    awk -F, '$3 ~ /raw_syscalls:sys_enter/ && $1 ~ /^[0-9]+$/ { print $1 }' "$2" 2>/dev/null
}

# ---- tools: Debian packages, memcache_load ------------------------------------------------------
# server -> "program:package ..." it needs (the load generator's too)
declare -A NEEDS=(
    [nginx]="nginx:nginx-light wrk:wrk" [lighttpd]="lighttpd:lighttpd wrk:wrk" [haproxy]="haproxy:haproxy wrk:wrk"
    [redis]="redis-server:redis-server redis-benchmark:redis-tools" [memcached]="memcached:memcached")
DAEMONS="nginx lighttpd haproxy redis-server memcached"
daemons() { local d; for d in $DAEMONS; do pgrep -x "$d"; done; }   # their PIDs, one a line
INSTALL_T0=$SECONDS
missing=()
for s in $SERVERS; do
    for np in ${NEEDS[$s]}; do
        if [[ -z $(find_bin "${np%%:*}") && " ${missing[*]} " != *" ${np#*:} "* ]]; then missing+=("${np#*:}"); fi
    done
done
if (( ${#missing[@]} )) && [[ ${EVLOOP_INSTALL:-1} != 0 && $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    note "installing Debian packages: ${missing[*]}"
    # Their postinst scripts would start the services: a policy-rc.d that says no (ours only if
    # there was none), and any daemon of those names not running before is stopped after.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && MADE_POLICY=1
    fi
    before=" $(daemons | tr '\n' ' ') "
    export DEBIAN_FRONTEND=noninteractive
    if ! bg_wait timeout -k 10 600 apt-get install -y -q --no-install-recommends "${missing[@]}" >"$TMP/apt.log" 2>&1; then
        # Perhaps stale package lists, or one package that cannot be had: update, then one by one.
        bg_wait timeout -k 10 300 apt-get update -q >>"$TMP/apt.log" 2>&1
        for p in "${missing[@]}"; do
            bg_wait timeout -k 10 600 apt-get install -y -q --no-install-recommends "$p" >>"$TMP/apt.log" 2>&1 ||
                note "cannot install $p: $(grep -E '^E:' "$TMP/apt.log" | tail -n 1)"
        done
    fi
    if (( MADE_POLICY )); then rm -f /usr/sbin/policy-rc.d; MADE_POLICY=0; fi
    for p in $(daemons); do
        [[ $before == *" $p "* ]] && continue
        note "stopping $(cat "/proc/$p/comm" 2>/dev/null) (PID $p), left running by the install"
        kill -TERM "$p" 2>/dev/null
        for (( i = 0; i < 30; i++ )); do alive "$p" || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
elif (( ${#missing[@]} )); then
    note "missing packages ${missing[*]}, not installed ($( [[ ${EVLOOP_INSTALL:-1} == 0 ]] && echo EVLOOP_INSTALL=0 || echo "not root or no apt-get"))"
fi
INSTALL_S=$(( SECONDS - INSTALL_T0 ))
MCLOAD=$BUILD/bench/memcache_load
if [[ " $SERVERS " == *" memcached "* ]] && [[ ! -x $MCLOAD || $HERE/memcache_load.c -nt $MCLOAD ]]; then
    mkdir -p "$BUILD/bench"
    ${CC:-cc} -std=gnu11 -O2 -g -Wall -Wextra -pthread "$HERE/memcache_load.c" -o "$MCLOAD" 2>"$TMP/cc.log" ||
        note "cannot build bench/memcache_load.c: $(head -n 1 "$TMP/cc.log")"
fi

# ---- processes and their CPU time ---------------------------------------------------------------
# tree_pids ROOT: ROOT and all its descendants.
tree_pids() {
    ps -e -o pid= -o ppid= 2>/dev/null | awk -v root="$1" '
        { kids[$2] = kids[$2] " " $1 }
        END { q[1] = root; n = 1
              for (i = 1; i <= n; i++) { print q[i]; m = split(kids[q[i]], k, " "); for (j = 1; j <= m; j++) q[++n] = k[j] } }'
}
# cpu_sample PID...: "TICKS NS": utime+stime+cutime+cstime of the processes summed (/proc/PID/stat,
# clock ticks: a child that exits and is reaped within the tree moves its time into its parent's
# cutime/cstime, nothing is lost), and the run time of their threads (/proc/PID/task/*/schedstat,
# ns: exact, where a tick is 10 ms, 1% of a second of CPU, but a thread that exits takes its own
# away). The runs use NS, and TICKS when the two disagree.
cpu_sample() {
    local p
    for p in "$@"; do
        cat "/proc/$p/stat" 2>/dev/null; echo
        cat "/proc/$p/task/"*/schedstat 2>/dev/null | sed 's/^/S /'
    done | awk '$1 == "S" { ns += $2; next }
                NF { sub(/^.*\) /, ""); split($0, f, " "); t += f[12] + f[13] + f[14] + f[15] }
                END { printf "%d %.0f\n", t, ns }'
}
# preload_count PID...: how many of them map libgreen_preload.so.
preload_count() {
    local p n=0
    for p in "$@"; do grep -q libgreen_preload "/proc/$p/maps" 2>/dev/null && n=$(( n + 1 )); done
    echo "$n"
}
# cpu_busy: "BUSY0 BUSY1", the busy time of CPUs 0 and 1 (user nice system irq softirq steal;
# ticks) from /proc/stat: what ran there besides the server (CPU 0) and the load generator (CPU 1)
# is the other load that disturbs a run (steal: other virtual machines).
cpu_busy() { awk '$1 == "cpu0" || $1 == "cpu1" { printf "%d ", $2 + $3 + $4 + $7 + $8 + $9 } END { print "" }' /proc/stat; }
# children_cpu FILE: the CPU seconds of this shell's reaped children, from the output of `times`
# (a builtin: no child of its own) saved in FILE.
children_cpu() {
    awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, a, "m"); s += a[1] * 60 + a[2] } } END { printf "%.3f\n", s }' "$1"
}
# free_port: a TCP port nothing uses (not in /proc/net/tcp*), below the ephemeral range (32768-)
# so that the load generator's own connections cannot take it.
free_port() {
    local used p hx i
    used=" $(awk 'FNR > 1 { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | tr '\n' ' ') "
    for (( i = 0; i < 100; i++ )); do
        p=$(( 20000 + RANDOM % 12000 ))
        printf -v hx '%04X' "$p"
        [[ $used == *" $hx "* ]] || { echo "$p"; return 0; }
    done
    return 1
}

# ---- servers ------------------------------------------------------------------------------------
mkdir -p "$TMP/www"
# The static file of the HTTP servers: about nginx's default page's size.
{ echo "<!DOCTYPE html><html><head><title>evloop</title></head><body>"
  for (( i = 0; i < 9; i++ )); do echo "<p>libgreen event-loop benchmark: a small static file, about 600 bytes.</p>"; done
  echo "</body></html>"; } >"$TMP/www/index.html"
ROOTUSER=0
[[ $(id -u) == 0 ]] && ROOTUSER=1
# server_cmd SERVER DIR PORT: writes its config into DIR, sets the array cmd (the caller's local) to
# the command that runs the server in the foreground.
server_cmd() {
    local s=$1 d=$2 port=$3
    case $s in
    nginx)
        # -e: the error log before the config is read (else /var/log/nginx); the temp paths, pid
        # and logs in DIR; keep-alive never ends within a run; sendfile and tcp_nopush on, as in
        # Debian's nginx.conf. A root master's workers would run as nobody, who cannot read the
        # temp dir: workers as root then.
        cat >"$d/nginx.conf" <<EOF
worker_processes 1;
$( (( ROOTUSER )) && echo "user root root;")
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    types { text/html html; }
    default_type text/html;
    server {
        listen 127.0.0.1:$port;
        root $TMP/www;
        index index.html;
    }
}
EOF
        cmd=("$(find_bin nginx)" -p "$d/" -e "$d/error.log" -c "$d/nginx.conf" -g 'daemon off; master_process on;') ;;
    lighttpd)
        cat >"$d/lighttpd.conf" <<EOF
server.document-root = "$TMP/www"
server.bind = "127.0.0.1"
server.port = $port
server.errorlog = "$d/error.log"
server.upload-dirs = ( "$d" )
server.max-keep-alive-requests = 65000
server.max-keep-alive-idle = 60
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html" )
EOF
        cmd=("$(find_bin lighttpd)" -D -f "$d/lighttpd.conf") ;;
    haproxy)
        # One thread (as nginx's one worker); the response made by haproxy itself, no backend.
        cat >"$d/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend fe
    bind 127.0.0.1:$port
    http-request return status 200 content-type text/plain string "libgreen event-loop benchmark: a fixed response from haproxy"
EOF
        cmd=("$(find_bin haproxy)" -db -f "$d/haproxy.cfg") ;;
    redis)
        cmd=("$(find_bin redis-server)" --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$d"
             --logfile "$d/redis.log" --daemonize no --supervised no) ;;
    memcached)
        cmd=("$(find_bin memcached)" -t 4 -p "$port" -l 127.0.0.1 -U 0 -m 64 -c 4096)
        (( ROOTUSER )) && cmd+=(-u root) ;;
    esac
}
# server_missing SERVER: why it cannot run (nothing if it can).
server_missing() {
    local np lacks=()
    for np in ${NEEDS[$1]}; do [[ -n $(find_bin "${np%%:*}") ]] || lacks+=("no ${np%%:*} (Debian's ${np#*:})"); done
    if [[ $1 == memcached && ! -x $MCLOAD ]]; then lacks+=("no $MCLOAD"); fi
    echo "${lacks[*]}"
}

# ---- load generators ----------------------------------------------------------------------------
REDIS_RPS=40000   # the last rate redis-benchmark measured (requests per second; a guess at first)
# load_run SERVER PORT SECONDS OUT: loads the server for about SECONDS; OUT gets "RESULT requests",
# "RESULT rps", "RESULT errors" (0: none) and, on errors, "RESULT why TEXT".
load_run() {
    local s=$1 port=$2 secs=$3 o=$4 rc=0 n limit=$(( $3 + 30 ))
    case $s in
    nginx | lighttpd | haproxy)
        bg_wait timeout -k 2 "$limit" "${LOAD_PIN[@]}" wrk -t1 -c"$CONNS" -d"${secs}s" "http://127.0.0.1:$port/" >"$o.raw" 2>&1 || rc=$?
        # "N requests in 3.00s", "Requests/sec: X", "Socket errors: connect A, read B, write C,
        # timeout D", "Non-2xx or 3xx responses: N".
        awk -v rc="$rc" '
            / requests in / { req = $1 }
            /^Requests\/sec:/ { rps = $2 }
            /Socket errors:/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10; why = why " socket errors " $4 "/" $6 "/" $8 "/" $10 " (connect/read/write/timeout)" }
            /Non-2xx or 3xx responses:/ { e += $NF; why = why " " $NF " non-2xx/3xx responses" }
            END { if (rc != 0) { e++; why = why " wrk exit status " rc }
                  if (req == "") { e++; why = why " no report from wrk" }
                  printf "RESULT requests %s\nRESULT rps %s\nRESULT errors %d\n", req, rps, e
                  if (e) print "RESULT why" why }' "$o.raw" >"$o" ;;
    redis)
        # redis-benchmark runs a number of requests, not a time: SECONDS' worth at the rate of the
        # last run (the warm-up's, for a timed run), split between SET and GET. The count may then
        # differ from run to run; CPU per request does not depend on it.
        n=$(( REDIS_RPS * secs / 2 ))
        (( n >= 1000 )) || n=1000
        bg_wait timeout -k 2 "$limit" "${LOAD_PIN[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -c "$CONNS" -P 1 \
            -r 100000 -n "$n" -t set,get --csv >"$o.raw" 2>"$o.err" || rc=$?
        # "SET","81234.56",... per test: requests = n per test, rps over the two.
        awk -F'"' -v n="$n" -v rc="$rc" -v errf="$o.err" '
            $2 == "SET" || $2 == "GET" { t += n / $4; k++ }
            END { e = 0; why = ""
                  while ((getline line < errf) > 0) if (line ~ /[Ee]rror|ERR|refused|reset/) { e++; if (why == "") why = " " line }
                  if (rc != 0) { e++; why = why " redis-benchmark exit status " rc }
                  if (k != 2) { e++; why = why " no report from redis-benchmark" }
                  printf "RESULT requests %d\nRESULT rps %.0f\nRESULT errors %d\n", k * n, (t > 0 ? k * n / t : 0), e
                  if (e) print "RESULT why" why }' "$o.raw" >"$o"
        n=$(awk '$2 == "rps" { printf "%d", $3 }' "$o")
        if [[ -n $n ]] && (( n > 0 )); then REDIS_RPS=$n; fi ;;
    memcached)
        bg_wait timeout -k 2 "$limit" "${LOAD_PIN[@]}" "$MCLOAD" --port "$port" --conns "$CONNS" --seconds "$secs" \
            >"$o.raw" 2>"$o.err" || rc=$?
        awk -v rc="$rc" -v errf="$o.err" '
            $1 == "RESULT" { v[$2] = $3 }
            END { e = v["errors"] + 0; why = ""
                  if (e) { getline why < errf; why = " " e " errors, first: " why }
                  if (rc != 0 && !e) { e++; why = why " memcache_load exit status " rc }
                  if (v["requests"] == "") { e++; why = why " no report from memcache_load" }
                  printf "RESULT requests %s\nRESULT rps %s\nRESULT errors %d\n", v["requests"], v["rps"], e
                  if (e) print "RESULT why" why }' "$o.raw" >"$o" ;;
    esac
}
get() { awk -v k="$2" '$1 == "RESULT" && $2 == k { sub(/^RESULT +[^ ]+ */, ""); v = $0 } END { print v }' "$1" 2>/dev/null; }

# run_one SERVER MODE I: one run (MODE native or green); appends "run MODE I US_PER_REQ RPS
# DISTURBED OTHER" to TMP/SERVER.runs if it is valid, else "excluded MODE I" and notes why.
run_one() {
    local s=$1 mode=$2 i=$3 d port tpid spid="" k c0 c1 t0 t1 b0 b1 pids pre=() req why="" n np cmd=()
    d=$TMP/$s.$mode.$i
    mkdir -p "$d"
    [[ $mode == green ]] && pre=("$GREENRUN" --)
    for (( k = 0; k < 3; k++ )); do   # another program may take the port first: then another one
        port=$(free_port) || { why="no free port"; break; }
        server_cmd "$s" "$d" "$port"
        # timeout(1) bounds the server's life even if this script dies; its TERM goes to the
        # server's whole process group (nginx's worker too).
        timeout -k 3 $(( WARM + SECS + 120 )) "${SRV_PIN[@]}" "${pre[@]}" "${cmd[@]}" >"$d/out" 2>"$d/err" </dev/null &
        tpid=$!
        LIVE+=("$tpid")
        spid=""
        for (( n = 0; n < 100; n++ )); do   # 10 s to listen
            [[ -z $spid ]] && spid=$(ps -o pid= --ppid "$tpid" 2>/dev/null | awk 'NR == 1 { print $1 }')
            if [[ -n $spid ]] && alive "$spid" && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
            alive "$tpid" || break
            sleep 0.1
        done
        # Listening, and still alive (not another program on the port while ours failed to bind)
        sleep 0.2
        if [[ -n $spid ]] && alive "$spid" && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
        why="server did not start: $(tail -n 2 "$d/err" "$d/error.log" "$d/redis.log" 2>/dev/null | grep -v '^==>' | grep . | tail -n 1)"
        stop_server "$tpid"
        spid=""
    done
    if [[ -z $spid ]]; then
        note "$(printf '%-9s %-6s %d: EXCLUDED: %s' "$s" "$mode" "$i" "${why:-server did not start}")"
        echo "excluded $mode $i" >>"$TMP/$s.runs"
        return
    fi
    why=""
    local sys=n/a perf_pid="" count
    if (( WARM > 0 )); then
        if (( SYSCOUNT )); then
            mapfile -t pids < <(tree_pids "$tpid")
            perf_pid=$(count_syscalls_start "$d/syscalls" "${pids[@]:1}")
            LIVE+=("$perf_pid")
            sleep 0.2  # attached before the load starts
        fi
        load_run "$s" "$port" "$WARM" "$d/warm"
        if [[ -n $perf_pid ]]; then
            count=$(count_syscalls_end "$perf_pid" "$d/syscalls")
            unlive "$perf_pid"
            req=$(get "$d/warm" requests)
            [[ -n $count && ${req:-0} -gt 0 ]] && sys=$(awk -v c="$count" -v r="$req" 'BEGIN { printf "%.3f", c / r }')
        fi
    fi
    mapfile -t pids < <(tree_pids "$tpid")
    b0=$(cpu_busy)
    c0=$(cpu_sample "${pids[@]}")
    times >"$d/times0"
    t0=$EPOCHREALTIME
    load_run "$s" "$port" "$SECS" "$d/load"
    t1=$EPOCHREALTIME
    times >"$d/times1"
    mapfile -t pids < <(tree_pids "$tpid")
    c1=$(cpu_sample "${pids[@]}")
    b1=$(cpu_busy)
    # The server's processes (the timeout(1) above them aside) must all map the preload, or none.
    np=$(preload_count "${pids[@]:1}")
    if ! alive "$spid"; then why="server died during the run"
    elif [[ $mode == green && $np != $(( ${#pids[@]} - 1 )) ]]; then why="preloaded run: only $np of $(( ${#pids[@]} - 1 )) server processes map libgreen_preload.so"
    elif [[ $mode == native && $np != 0 ]]; then why="native run maps libgreen_preload.so"
    elif [[ $(get "$d/load" errors) != 0 ]]; then why="load generator: $(get "$d/load" why)"
    fi
    stop_server "$tpid"
    req=$(get "$d/load" requests)
    if [[ -z $why && ! ${req:-0} -gt 0 ]]; then why="no request completed"; fi
    local us rps cpu busy other0 other1 dist=0
    # CPU seconds: the threads' exact run time, unless the processes' ticks say otherwise (a thread
    # or process that ended within the window) by more than 3 ticks a process and 2%.
    cpu=$(awk -v a="$c0" -v b="$c1" -v tck="$TCK" -v np="$(( ${#pids[@]} ))" 'BEGIN {
            split(a, x, " "); split(b, y, " "); t = (y[1] - x[1]) / tck; n = (y[2] - x[2]) / 1e9
            d = t - n; if (d < 0) d = -d
            if (n <= 0 || d > 3 * np / tck + 0.02 * t) { printf "%.4f ticks\n", t } else printf "%.4f\n", n }')
    if [[ $cpu == *ticks ]]; then
        note "$s $mode $i: thread run times (schedstat) and process times (stat) disagree: the latter taken"
        cpu=${cpu% ticks}
    fi
    busy=$(awk -v c="$cpu" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b > a ? 100 * c / (b - a) : 0) }')
    # Other load in the window, % of a CPU: CPU 0's busy time less the server's, CPU 1's less the
    # load generator's (its CPU time, reaped by this shell; and a few ms of this script's awk).
    read -r other0 other1 < <(awk -v a="$b0" -v b="$b1" -v srv="$cpu" -v t="$TCK" -v w0="$t0" -v w1="$t1" \
        -v lg0="$(children_cpu "$d/times0")" -v lg1="$(children_cpu "$d/times1")" 'BEGIN {
            split(a, x, " "); split(b, y, " "); w = w1 - w0; if (w <= 0) w = 1
            o0 = ((y[1] - x[1]) / t - srv) / w * 100; o1 = ((y[2] - x[2]) / t - (lg1 - lg0)) / w * 100
            printf "%.0f %.0f\n", (o0 > 0 ? o0 : 0), (o1 > 0 ? o1 : 0) }')
    if (( ${#SRV_PIN[@]} )) && (( other0 > MAX_OTHER || other1 > MAX_OTHER )); then dist=1; fi
    us=$(awk -v c="$cpu" -v r="${req:-0}" 'BEGIN { if (r > 0) printf "%.3f", c * 1e6 / r }')
    rps=$(get "$d/load" rps)
    if [[ -n $why ]]; then
        note "$(printf '%-9s %-6s %d: EXCLUDED: %s' "$s" "$mode" "$i" "$why")"
        echo "excluded $mode $i" >>"$TMP/$s.runs"
        return
    fi
    note "$(printf '%-9s %-6s %d: %9s req, %7.0f req/s, server CPU %6.3f s (%3s%% busy, %d procs), %7.3f us/req, %s syscalls/req; other load %s%%, %s%%%s' \
        "$s" "$mode" "$i" "$req" "$rps" "$cpu" "$busy" "$(( ${#pids[@]} - 1 ))" "$us" "$sys" "$other0" "$other1" \
        "$( (( dist )) && echo " DISTURBED")")"
    echo "run $mode $i $us $rps $dist $(( other0 > other1 ? other0 : other1 )) $sys" >>"$TMP/$s.runs"
}
# stop_server TPID: TERM through timeout(1) (to the server's process group), KILL after 3 s
# (timeout -k); then any process of the tree still there is KILLed by PID.
stop_server() {
    local t=$1 p left
    mapfile -t left < <(tree_pids "$t")
    kill -TERM "$t" 2>/dev/null
    wait "$t" 2>/dev/null
    unlive "$t"
    for p in "${left[@]:1}"; do
        if alive "$p"; then note "PID $p ($(cat "/proc/$p/comm" 2>/dev/null)) outlived its server: killed"; kill -KILL "$p" 2>/dev/null; fi
    done
}

# ---- the runs -----------------------------------------------------------------------------------
SUMMARY=()
have_preload=1
if [[ ! -x $GREENRUN || ! -f $PRELOAD ]]; then
    have_preload=0
    note "$GREENRUN or $PRELOAD not built: no preloaded runs"
fi
note "servers \"$SERVERS\": $ROUNDS pairs of $SECS s runs (+$WARM s warm-up), $CONNS conns, server on CPU 0, load on CPU 1; load average $LOAD_START"
# pairs_of FILE: "I RATIO DISTURBED NATIVE_US GREEN_US NATIVE_RPS GREEN_RPS OTHER NATIVE_SYS GREEN_SYS"
# for each round I whose two runs are both valid (DISTURBED: 1 if either saw other load over the
# limit; OTHER: the larger other load of the two, %; SYS: system calls per request, or n/a).
pairs_of() {
    awk '$1 == "run" { us[$2, $3] = $4; rps[$2, $3] = $5; dist[$2, $3] = $6; oth[$2, $3] = $7; sys[$2, $3] = $8
                       if ($3 > m) m = $3 }
        END { for (i = 1; i <= m; i++) if ((("native", i) in us) && (("green", i) in us) && us["native", i] > 0)
                  print i, us["green", i] / us["native", i], (dist["native", i] || dist["green", i]) ? 1 : 0,
                        us["native", i], us["green", i], rps["native", i], rps["green", i],
                        (oth["native", i] > oth["green", i] ? oth["native", i] : oth["green", i]),
                        sys["native", i], sys["green", i] }' "$1"
}
RETRIES_LEFT=$RETRIES
for s in $SERVERS; do
    why=$(server_missing "$s")
    (( have_preload )) || why="no preload built"
    f=$TMP/$s.runs
    : >"$f"
    if [[ -z $why ]]; then
        # ROUNDS pairs; a pair disturbed by other load, or with a run excluded, is made up for by
        # another one while the run's spare pairs (EVLOOP_RETRIES) last, unless no run of this
        # server has been valid at all (then it is broken, not disturbed).
        i=0
        while :; do
            clean=$(pairs_of "$f" | awk '$3 == 0' | wc -l)
            (( clean < ROUNDS )) || break
            if (( i >= ROUNDS )); then
                if (( RETRIES_LEFT == 0 || i >= ROUNDS + 2 )) || ! grep -q '^run' "$f"; then break; fi
                RETRIES_LEFT=$(( RETRIES_LEFT - 1 ))
                note "$s: $clean undisturbed valid pairs of $i: one more pair"
            fi
            i=$(( i + 1 ))
            # Each pair in the other order than the last (native first in odd pairs): a drift of
            # the machine's speed, or what one run leaves to the next, then falls on both sides.
            if (( i % 2 )); then
                run_one "$s" native "$i"
                run_one "$s" green "$i"
            else
                run_one "$s" green "$i"
                run_one "$s" native "$i"
            fi
        done
    fi
    # The figures: from the ROUNDS least disturbed valid pairs (the undisturbed ones, when the spare
    # pairs made up for the disturbed), in the order they ran.
    all=$(pairs_of "$f")
    used=$(awk 'NF' <<<"$all" | sort -s -n -k8,8 | head -n "$ROUNDS" | sort -n -k1,1)
    set_aside=$(( $(awk 'NF' <<<"$all" | wc -l) - $(awk 'NF' <<<"$used" | wc -l) ))
    ndist=$(awk '$3 == 1' <<<"$used" | wc -l)
    ratios=$(awk 'NF { print $2 }' <<<"$used")
    nat_us=$(awk 'NF { print $4 }' <<<"$used" | median)
    gr_us=$(awk 'NF { print $5 }' <<<"$used" | median)
    nat_rps=$(awk 'NF { print $6 }' <<<"$used" | median)
    gr_rps=$(awk 'NF { print $7 }' <<<"$used" | median)
    nat_sys=$(awk 'NF && $9 != "n/a" { print $9 }' <<<"$used" | median)
    gr_sys=$(awk 'NF && $10 != "n/a" { print $10 }' <<<"$used" | median)
    rmed=$(median <<<"$ratios")
    rmin=$(sort -g <<<"$ratios" | awk 'NF' | head -n 1)
    rmax=$(sort -g <<<"$ratios" | awk 'NF' | tail -n 1)
    npairs=$(awk 'NF' <<<"$ratios" | wc -l)
    nexcl=$(grep -c '^excluded' "$f")
    if [[ -z $why && $npairs == 0 ]]; then why="no valid pair of runs"; fi
    out "$s native_us_per_req $(fmt "$nat_us" 3)"
    out "$s green_us_per_req $(fmt "$gr_us" 3)"
    out "$s ratio_median $(fmt "$rmed" 3)"
    out "$s ratio_min $(fmt "$rmin" 3)"
    out "$s ratio_max $(fmt "$rmax" 3)"
    out "$s ratios $( (( npairs )) && awk 'NF { printf "%s%.3f", (NR > 1 ? "," : ""), $1 }' <<<"$ratios" || echo n/a)"
    out "$s native_rps $(fmt "$nat_rps" 0)"
    out "$s green_rps $(fmt "$gr_rps" 0)"
    out "$s native_syscalls_per_req $(fmt "$nat_sys" 2)"
    out "$s green_syscalls_per_req $(fmt "$gr_sys" 2)"
    out "$s pairs $npairs"
    out "$s disturbed $ndist"
    out "$s set_aside $set_aside"
    out "$s excluded $nexcl"
    if [[ -n $why ]]; then
        out "$s note $why"
        note "$s: n/a: $why"
    fi
    SUMMARY+=("$(printf '%-10s %14s %16s %9s %-21s %11s %13s %13s %9s %8s' "$s" "$(fmt "$nat_us" 3)" "$(fmt "$gr_us" 3)" \
        "$(fmt "$rmed" 3)" "$( (( npairs )) && echo "($(fmt "$rmin" 3)-$(fmt "$rmax" 3), $npairs)" || echo "(${why:0:19})")" \
        "$(fmt "$nat_rps" 0)" "$(fmt "$gr_rps" 0)" "$(fmt "$nat_sys" 2) / $(fmt "$gr_sys" 2)" "$ndist/$set_aside" "$nexcl")")
done
LOAD_END=$(cut -d' ' -f1 /proc/loadavg)
out "all seconds $(( SECONDS - START ))"
out "all install_seconds $INSTALL_S"
out "all load_start $LOAD_START"
out "all load_end $LOAD_END"
{
    echo
    echo "event-loop servers, natively and under greenrun: server CPU per request, $ROUNDS alternated pairs of ${SECS} s runs"
    echo "(+${WARM} s warm-up each), $CONNS connections, server on CPU 0, load on CPU 1; load average $LOAD_START -> $LOAD_END, $(( SECONDS - START )) s"
    printf '%-10s %14s %16s %9s %-21s %11s %13s %13s %9s %8s\n' server "native us/req" "preloaded us/req" ratio "(min-max, pairs)" \
        "native rps" "preloaded rps" "syscalls/req" disturbed excluded
    printf '%s\n' "${SUMMARY[@]}"
    echo "ratio: median over the pairs of preloaded / native CPU per request (target <= 1.02); disturbed: pairs used that"
    echo "had other load over ${MAX_OTHER}% of a CPU / pairs set aside for it; excluded: runs with errors;"
    echo "syscalls/req: the server's system calls per request during the warm-up, native / preloaded (medians)"
} >&2
exit 0
