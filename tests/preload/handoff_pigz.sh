#!/usr/bin/env bash
# handoff_pigz: pigz -p 4 round trips, two at once, with hand-off on. pigz's compressing threads
# compute for tens of milliseconds between condition waits, so the monitor hands their hub to
# another OS thread over and over and each comes back through Hub::rejoin. Once, the hub's loop
# polled (taking the returning task's kick) between its look at the requests and its blocking
# poll: the task waited for its hub for a minute, 13-16 round trips in 120. Each round trip must
# end within its timeout and give natively's compressed stream and the original bytes back.
# Needs pigz; else SKIP (77).
#   tests/preload/handoff_pigz.sh BUILD_DIR      (exit 0: pass, 77: skip)
set -u
build=$(cd "${1:-build}" && pwd)
preload=$build/libgreen_preload.so
pigz=$(command -v pigz) || { echo "SKIP: pigz not installed (Debian package pigz)"; exit 77; }
ROUNDS=${HANDOFF_PIGZ_ROUNDS:-8}  # per loop; two loops run at once

tmp=$(mktemp -d /tmp/green-handoff-pigz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# 20 MB of pseudo-random hex words: about 150 compressing blocks of 128 KiB for 4 threads
awk 'BEGIN { s = 4242; n = 0; while (n < 20000000) { line = ""
        for (j = 0; j < 10; j++) { s = (s * 69069 + 1) % 4294967296; line = line sprintf("%06x ", int(s / 256)) }
        line = line n; print line; n += length(line) + 1 } }' > "$tmp/in.txt"
want=$("$pigz" -p 4 < "$tmp/in.txt" | cksum)

# one_loop TAG: ROUNDS round trips; prints one line per failed round
one_loop() {
    local tag=$1 i rc
    for i in $(seq "$ROUNDS"); do
        # (to a regular file, as `pigz file` does: the writing thread's writes do not park)
        GREEN_HANDOFF=10 LD_PRELOAD=$preload timeout 10 "$pigz" -p 4 < "$tmp/in.txt" > "$tmp/$tag.gz" 2> "$tmp/$tag.err"
        rc=$?
        if [ "$rc" = 124 ]; then echo "round $i ($tag): compressing hung (killed after 10 s)"; continue; fi
        [ "$rc" = 0 ] || { echo "round $i ($tag): compressing exited $rc: $(head -c 300 "$tmp/$tag.err")"; continue; }
        [ "$(cksum < "$tmp/$tag.gz")" = "$want" ] || { echo "round $i ($tag): compressed stream differs from native's"; continue; }
        GREEN_HANDOFF=10 LD_PRELOAD=$preload timeout 10 "$pigz" -d -p 4 < "$tmp/$tag.gz" 2> "$tmp/$tag.err" \
            | cmp -s - "$tmp/in.txt"
        rc=("${PIPESTATUS[@]}")
        [ "${rc[0]}" = 124 ] && { echo "round $i ($tag): decompressing hung (killed after 10 s)"; continue; }
        [ "${rc[0]}" = 0 ] && [ "${rc[1]}" = 0 ] || echo "round $i ($tag): decompressing exited ${rc[0]}, output differs: ${rc[1]}"
    done
}

one_loop a > "$tmp/a.out" &
one_loop b > "$tmp/b.out"
wait
if [ -s "$tmp/a.out" ] || [ -s "$tmp/b.out" ]; then
    echo "FAIL handoff_pigz: of 2 x $ROUNDS round trips:"
    cat "$tmp/a.out" "$tmp/b.out" | sed 's/^/    /'
    exit 1
fi
echo PASS
