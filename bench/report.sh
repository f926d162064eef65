#!/usr/bin/env bash
# report.sh - libgreen's benchmark table from a results file written by bench/run.sh.
#
# Usage: bench/report.sh RESULTS      e.g.  bench/report.sh build/bench/results.tsv
#
# `make bench` (bench/run.sh) measures, writes RESULTS and runs this script on it; run it by hand to
# print a saved run's table again. Prints the machine line, the table (each column as wide as its
# widest cell), the notes and the count of PASS / MISS; exits 0 whatever the verdicts, 2 on a file
# it cannot read.
#
# RESULTS: one record a line, fields separated by tabs (a field holds no tab); lines starting with
# '#' and records of other kinds are skipped.
#   meta  KEY  VALUE        the run: cpus, cpu_model, kernel, load_start, load_end, seconds (the
#                           whole run), seconds_per_run and warmup (of each echo-server run)
#   row   ID  MEASUREMENT  LIBGREEN  REFERENCE  RATIO  TARGET  RULE  RESULT
#                           a row of the table, in order: ID is its part ("(a)", empty for a row
#                           that continues one), then the cells as shown. RULE is the target with
#                           the figures in it, an awk condition ("4.1 <= 3*1.9 && 4.1 <= 15"), or
#                           clauses "COND [NAME]; COND [NAME]" of which a MISS names the failed
#                           ones; its verdict (PASS, MISS; MISS too when it cannot be evaluated)
#                           is followed by RESULT. An empty RULE: the result cell is RESULT alone
#                           ("n/a", "info", or empty).
#   note  TEXT              a line printed under the table, in order
#   raw   FILE  KEY  VALUE  a "RESULT KEY VALUE" line a benchmark program printed (into FILE)
set -uo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 RESULTS" >&2; exit 2; }
[[ -r $1 ]] || { echo "$0: cannot read $1" >&2; exit 2; }

SEP=$'\x1f'   # not whitespace: `read` keeps empty fields (a tab would not)
declare -A META=()
ROWS=() NOTES=()
while IFS= read -r line; do
    [[ -z $line || $line == '#'* ]] && continue
    IFS=$SEP read -r -a f <<<"${line//$'\t'/$SEP}$SEP"
    case ${f[0]} in
    meta) META[${f[1]:-}]=${f[2]:-} ;;
    row) ROWS+=("${line#row$'\t'}") ;;
    note) NOTES+=("${f[1]:-}") ;;
    esac
done <"$1"
(( ${#ROWS[@]} )) || { echo "$0: no rows in $1" >&2; exit 2; }
m() { echo "${META[$1]:-?}"; }

# judge RULE: PASS if every clause holds, else MISS (naming the failed clauses that have names).
judge() {
    local c expr name named=0 re='^(.*)\[([^]]*)\][[:space:]]*$' joined
    local -a clauses failed=()
    IFS=';' read -r -a clauses <<<"$1"
    for c in "${clauses[@]}"; do
        expr=$c name=""
        if [[ $c =~ $re ]]; then
            expr=${BASH_REMATCH[1]} name=${BASH_REMATCH[2]} named=1
        fi
        awk "BEGIN { exit !($expr) }" 2>/dev/null || failed+=("$name")
    done
    if (( ${#failed[@]} == 0 )); then
        echo PASS
    elif (( named )); then
        joined=$(printf '%s, ' "${failed[@]}")
        echo "MISS (${joined%, })"
    else
        echo MISS
    fi
}

# The rows' cells, the result judged: id measurement libgreen reference ratio target result.
CELLS=()
for r in "${ROWS[@]}"; do
    IFS=$SEP read -r id what val ref ratio tgt rule res <<<"${r//$'\t'/$SEP}$SEP"
    [[ -n $rule ]] && res="$(judge "$rule")$res"
    CELLS+=("$(printf "%s$SEP" "$id" "$what" "$val" "$ref" "$ratio" "$tgt" "$res")")
done

echo
echo "libgreen benchmarks: $(m cpus) CPUs ($(m cpu_model)), $(m kernel)," \
     "load average at start $(m load_start), $(m seconds) s"
echo "timed figures: best of 5 runs, each alternated with its reference; echo: server CPU per round trip" \
     "($(m seconds_per_run) s after $(m warmup) s warm-up, 64-byte messages, server on CPU 0, load on CPU 1)"
echo "ratio: libgreen / reference (\"x cheaper\": reference / libgreen); load average at end $(m load_end)"
# Each column as wide as its widest cell (at least the widths below).
W=(4 40 34 44 18 18)
HEAD=("" measurement libgreen reference ratio target result)
for r in "${CELLS[@]}"; do
    IFS=$SEP read -r -a cells <<<"$r"
    for i in 0 1 2 3 4 5; do
        (( ${#cells[i]} > W[i] )) && W[i]=${#cells[i]}
    done
done
fmt="%-${W[0]}s %-${W[1]}s %-${W[2]}s %-${W[3]}s %-${W[4]}s %-${W[5]}s %s\n"
# shellcheck disable=SC2059
printf "$fmt" "${HEAD[@]}"
pass=0 miss=0
for r in "${CELLS[@]}"; do
    IFS=$SEP read -r id what val ref ratio tgt res <<<"$r"
    # shellcheck disable=SC2059
    printf "$fmt" "$id" "$what" "$val" "$ref" "$ratio" "$tgt" "$res"
    case $res in PASS*) pass=$((pass + 1)) ;; MISS*) miss=$((miss + 1)) ;; esac
done
(( ${#NOTES[@]} )) && printf '%s\n' "${NOTES[@]}"
echo "targets: $pass PASS, $miss MISS (informational: make bench does not fail on a MISS)"
exit 0
