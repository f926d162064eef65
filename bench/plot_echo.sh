#!/usr/bin/env bash
# plot_echo.sh - draw the echo-server benchmark (demo/run_demo.sh's summary tables) as one SVG.
#
# Usage: bench/plot_echo.sh OUT.svg ECHO_FILE...
#        e.g. bench/plot_echo.sh build/bench/echo.svg echo.out echo10k.out
# Env:   PLOT_TITLE  (default "Echo servers against connections (demo/run_demo.sh)") its title
#
# Reads the summary table ("variant conns rt/s ... srv us/rt threads RSS MiB errors note") of each
# ECHO_FILE (run_demo.sh's output, any connection counts; a variant and count seen twice keeps its
# first row) and draws three panels side by side against connections on a log axis: throughput
# (round trips/s), server CPU per round trip (us) and server RSS (MiB, log axis: it spans two
# decades), one line with points per server variant, one shared legend below. The subtitle is the
# first file's "echo benchmark:" line (the run's conditions).
#
# Needs gnuplot (Debian's gnuplot-nox: installed with apt-get when missing and running as root).
# Informational, as the bench: without gnuplot, or without a usable row, it says so on stderr and
# exits 0 (no SVG); a cell that is not a number ("-", "n/a") leaves that point out. Exit status 2
# only on a usage error.
set -euo pipefail

[[ $# -ge 2 ]] || { echo "usage: $0 OUT.svg ECHO_FILE..." >&2; exit 2; }
OUT=$1
shift
note() { echo "plot_echo: $*" >&2; }

if ! command -v gnuplot >/dev/null && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    note "installing Debian's gnuplot-nox"
    timeout 600 apt-get install -y -q --no-install-recommends gnuplot-nox >/dev/null 2>&1 || true
fi
if ! command -v gnuplot >/dev/null; then
    note "gnuplot not installed, no plot"
    exit 0
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/plot_echo.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# ---- the rows: "variant conns rt/s us/rt rss" per (variant, conns), each cell a number or "-".
# The table starts after its header line and ends at the first blank line (then come run_demo's
# notes and "paired" lines).
ROWS=$TMP/rows
: >"$ROWS"
SUBTITLE=""
for f in "$@"; do
    if [[ ! -r $f ]]; then
        note "$f: cannot read it, left out"
        continue
    fi
    # A number: digits with an optional fraction (run_demo.sh prints no other form).
    awk '
        function num(x) { return x ~ /^[0-9]+([.][0-9]+)?$/ ? x : "-" }
        /^variant +conns/ { t = 1; next }
        t && NF == 0 { t = 0 }
        t && NF >= 9 && $2 ~ /^[1-9][0-9]*$/ {
            rt = num($3); us = num($6); rss = num($8)
            if (rt == "-" && us == "-" && rss == "-") next
            print $1, $2, rt, us, rss
        }' "$f" >"$TMP/one"
    if [[ ! -s $TMP/one ]]; then
        note "$f: no usable rows (no run_demo.sh summary table with numbers)"
        continue
    fi
    cat "$TMP/one" >>"$ROWS"
    [[ -n $SUBTITLE ]] || SUBTITLE=$(sed -n 's/^echo benchmark: //p' "$f" | head -n 1)
done
# Best of N rounds: say so in the subtitle (the note column of run_demo.sh's table).
ROUNDS=$(sed -n 's/.*best of \([0-9][0-9]*\) (.*/\1/p' "$@" 2>/dev/null | sort -n | tail -n 1 || true)
[[ -n $ROUNDS ]] && SUBTITLE="${SUBTITLE:+$SUBTITLE; }each point the best of $ROUNDS rounds"
if [[ ! -s $ROWS ]]; then
    note "no usable rows in $*, no plot"
    exit 0
fi

# ---- one data block per (panel, variant): the points whose cell is a number, by connections.
# Variants in a fixed order, each with its own colour and point in every panel; unknown names come
# last, as they are.
KNOWN="threads/native threads/greenrun threads-1k/greenrun green epoll go gevent"
# Okabe-Ito colours (told apart with colour-blindness too); libgreen's own lines in blues and
# green, the references in black and warm colours. Point types: gnuplot's, all distinct.
# look VARIANT: "COLOUR POINTTYPE LABEL" (the label is the rest of the line).
look() {
    case $1 in
    threads/native) echo '#D55E00 5 threads, native' ;;
    threads/greenrun) echo '#0072B2 7 threads, greenrun' ;;
    threads-1k/greenrun) echo '#56B4E9 9 threads 1 KiB buffer, greenrun' ;;
    green) echo '#009E73 13 libgreen API' ;;
    epoll) echo '#000000 4 epoll (hand-written)' ;;
    go) echo '#CC79A7 11 Go, goroutines' ;;
    gevent) echo '#E69F00 15 Python gevent' ;;
    *) echo "#777777 1 $1" ;;
    esac
}
mapfile -t SEEN < <(awk '!s[$1]++ { print $1 }' "$ROWS")
VARS=()
for v in $KNOWN; do
    [[ " ${SEEN[*]} " == *" $v "* ]] && VARS+=("$v")
done
for v in "${SEEN[@]}"; do
    [[ " $KNOWN " == *" $v "* ]] || VARS+=("$v")
done
# A variant and count measured twice (the same file given twice, ...): the first row, whole.
if (( $(awk '!s[$1, $2]++' "$ROWS" | tee "$TMP/rows1" | wc -l) < $(wc -l <"$ROWS") )); then
    note "a variant and connection count appear twice: the first file's row is drawn"
fi
mv "$TMP/rows1" "$ROWS"
# A file per block (not gnuplot's "index": it does not count empty blocks).
declare -A BLOCK=()   # "COLUMN VARIANT" -> its file, when it has a point
n=0
for col in 3 4 5; do
    for v in "${VARS[@]}"; do
        n=$(( n + 1 ))
        awk -v v="$v" -v c="$col" '$1 == v && $c != "-" { print $2, $c }' "$ROWS" |
            sort -n -k1,1 >"$TMP/block.$n"
        [[ -s $TMP/block.$n ]] && BLOCK["$col $v"]=$TMP/block.$n
    done
done

# ---- x axis: a tic at every connection count measured, written with thousands separators.
mapfile -t CONNS < <(awk '{ print $2 }' "$ROWS" | sort -n -u)
XTICS=""
for c in "${CONNS[@]}"; do
    XTICS+="${XTICS:+, }\"$(sed ':a; s/\B[0-9]\{3\}\>/,&/; ta' <<<"$c")\" $c"
done
XLO=$(awk -v c="${CONNS[0]}" 'BEGIN { print c / 1.6 }')
XHI=$(awk -v c="${CONNS[-1]}" 'BEGIN { print c * 1.6 }')

# gq TEXT: TEXT as a gnuplot double-quoted string's contents.
gq() { sed 's/\\/\\\\/g; s/"/\\"/g' <<<"$1"; }

# plot_cmd COL SCALE YRANGE: the commands that draw one panel (SCALE divides the values).
plot_cmd() {
    local col=$1 scale=$2 yrange=$3 v cmd="" sty_colour sty_point sty_label
    for v in "${VARS[@]}"; do
        [[ -n ${BLOCK["$col $v"]:-} ]] || continue
        read -r sty_colour sty_point sty_label <<<"$(look "$v")"
        cmd+="${cmd:+, }\"$(gq "${BLOCK["$col $v"]}")\" using 1:(\$2/$scale) with linespoints lw 2"
        cmd+=" lc rgb \"$sty_colour\" pt $sty_point notitle"
    done
    if [[ -n $cmd ]]; then
        printf 'set yrange %s\nplot %s\n' "$yrange" "$cmd"
    else
        # No point (every cell of this column n/a): the panel's axes and a word, not an error
        # ("all points y value undefined") that would cost the other two panels.
        printf '%s\n' 'set yrange [1:10]' 'set label 3 "no figures" at graph 0.5, 0.5 center' \
            'plot NaN notitle' 'unset label 3'
    fi
}
# key_cmd: the legend's curves, every variant as a NaN curve (nothing drawn but its key entry).
key_cmd() {
    local v cmd="" sty_colour sty_point sty_label
    for v in "${VARS[@]}"; do
        read -r sty_colour sty_point sty_label <<<"$(look "$v")"
        cmd+="${cmd:+, }NaN with linespoints lw 2 lc rgb \"$sty_colour\" pt $sty_point title \"$(gq "$sty_label")\""
    done
    echo "$cmd"
}

TITLE=${PLOT_TITLE:-"Echo servers against connections (demo/run_demo.sh)"}
# panel N: place panel N (0-2) by hand: a multiplot layout would leave no room for a legend
# across the whole width (gnuplot fits a key's columns into its own plot's width).
panel() {
    awk -v n="$1" 'BEGIN { l = 0.065 + n * 0.33
        printf "set lmargin at screen %.3f\nset rmargin at screen %.3f\n", l, l + 0.25 }'
}
GP=$TMP/plot.gp
{
    cat <<EOF
set encoding utf8
# Fixed size for the README's width; a white background so that the figure reads on a dark page
# too; a generic font family: nothing to fetch.
set terminal svg size 960,540 fixed font "sans-serif,12" background rgb "white" noenhanced
set output "$(gq "$OUT.tmp")"
set multiplot
# Title and subtitle as labels (in two sizes), drawn with the first panel only.
set label 1 "$(gq "$TITLE")" at screen 0.5, 0.966 center font ",15"
set label 2 "$(gq "$SUBTITLE")" at screen 0.5, 0.928 center font ",11" tc rgb "#444444"
set tmargin at screen 0.80
set bmargin at screen 0.27
set logscale x
set xrange [$XLO:$XHI]
set xtics ($XTICS) nomirror
set mxtics default
set xlabel "connections" offset 0,0.3
set ytics nomirror
set grid xtics ytics mytics lc rgb "#dddddd" lw 1 dt 1, lc rgb "#eeeeee"
set border 3 lc rgb "#555555"
set pointsize 1.1
set key off

$(panel 0)
set title "Throughput, round trips/s\n(higher is better)"
set format y "%gk"
EOF
    plot_cmd 3 1000 '[0:*]'
    cat <<EOF
unset label
$(panel 1)
set title "Server CPU per round trip, µs\n(lower is better)"
set format y "%g"
EOF
    plot_cmd 4 1 '[0:*]'
    cat <<EOF
$(panel 2)
set title "Server RSS, MiB\n(lower is better)"
set logscale y
# 1-2-5 steps: a decade's tics alone leave a narrow range with one label.
set ytics (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
EOF
    plot_cmd 5 1 '[*:*]'
    # The legend: a plot of nothing but its key, across the whole width under the panels.
    cat <<EOF
set lmargin at screen 0.02
set rmargin at screen 0.98
set tmargin at screen 0.17
set bmargin at screen 0.01
unset title
unset xlabel
unset logscale
unset border
unset tics
unset grid
set xrange [0:1]
set yrange [0:1]
set key center center horizontal maxcols 3 Left reverse width 0 samplen 2 spacing 1.25
EOF
    echo "plot $(key_cmd)"
    echo "unset multiplot"
} >"$GP"
if ! timeout 60 gnuplot "$GP" 2>"$TMP/gnuplot.err"; then
    note "gnuplot failed, no plot:"
    sed 's/^/plot_echo:   /' "$TMP/gnuplot.err" | tail -n 5 >&2
    rm -f "$OUT.tmp"
    exit 0
fi
# The SVG's own title (what a screen reader and a browser tab show): ours, not "Gnuplot".
xml=$(sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g' <<<"$TITLE")
sed -i "0,/<title>Gnuplot<\/title>/s//<title>$(sed 's/[&/\]/\\&/g' <<<"$xml")<\/title>/" "$OUT.tmp"
mv -f "$OUT.tmp" "$OUT"
echo "plot_echo: $OUT (${#VARS[@]} servers, connections ${CONNS[*]})"
