#!/usr/bin/env bash
# sshd_seccomp: OpenSSH's sshd, preloaded, serves a connection: its privilege-separated child
# installs a seccomp filter (sandbox-seccomp-filter.c) allowing only the calls sshd makes natively;
# under libgreen its socket writes used to be sendto and it was killed with SIGSYS ("Connection
# reset"). Now the preload stops translating once the filter is on (preload/process/seccomp.cpp).
#
# `sshd -d` (one connection, no daemon) on a loopback port with a throw-away host key, natively
# then preloaded; `ssh -o BatchMode=yes` with a key sshd does not accept must end with the same
# "Permission denied (publickey)" both times, after the child's key exchange and auth request.
# Needs root (privilege separation), /usr/sbin/sshd and ssh; else SKIP (77). Bounded by timeouts.
#   tests/preload/sshd_seccomp.sh BUILD_DIR      (exit 0: pass, 77: skip)
set -u
build=$(cd "${1:-build}" && pwd)
preload=$build/libgreen_preload.so
skip() { echo "SKIP: $*"; exit 77; }
SSHD=/usr/sbin/sshd
[ -x $SSHD ] || skip "no $SSHD (openssh-server)"
command -v ssh > /dev/null || skip "no ssh client"
command -v ssh-keygen > /dev/null || skip "no ssh-keygen"
[ "$(id -u)" = 0 ] || skip "sshd needs root for privilege separation"
id sshd > /dev/null 2>&1 || skip "no privilege separation user sshd"
[ -f "$preload" ] || { echo "FAIL sshd_seccomp: no $preload"; exit 1; }
mkdir -p /run/sshd 2> /dev/null || skip "cannot make /run/sshd"

tmp=$(mktemp -d /tmp/green-sshd.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
ssh-keygen -q -t ed25519 -N '' -f "$tmp/hostkey" || { echo "FAIL sshd_seccomp: ssh-keygen"; exit 1; }
ssh-keygen -q -t ed25519 -N '' -f "$tmp/userkey" || { echo "FAIL sshd_seccomp: ssh-keygen"; exit 1; }
cat > "$tmp/sshd_config" << EOF
HostKey $tmp/hostkey
PidFile none
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile none
ListenAddress 127.0.0.1
EOF
$SSHD -t -f "$tmp/sshd_config" 2> "$tmp/check" || skip "sshd rejects the test configuration: $(head -1 "$tmp/check")"

# Below the kernel's ephemeral range (ip_local_port_range, 32768-60999 by default): a port there
# can be free of listeners yet taken by another test's outgoing connection (CI saw "Address
# already in use" from sshd's bind).
free_port() {
    local p
    for p in $(shuf -i 20000-32000 -n 50); do
        ss -Htln "sport = :$p" 2> /dev/null | grep -q . || { echo "$p"; return 0; }
    done
    return 1
}

# run_once LABEL [env...]: prints ssh's last stderr line; sshd's log in $tmp/LABEL.log.
# A port taken between the check and sshd's bind (a parallel test) is tried again elsewhere.
run_once() {
    local label=$1 attempt
    shift
    for attempt in 1 2 3; do
        run_attempt "$label" "$@"
        grep -q "Address already in use" "$tmp/$label.log" || break
    done
    tail -n 1 "$tmp/$label.ssh"
}

run_attempt() {
    local label=$1 port spid i
    shift
    port=$(free_port) || { echo "no free port" > "$tmp/$label.ssh"; return; }
    env "$@" timeout 20 $SSHD -d -e -f "$tmp/sshd_config" -p "$port" > "$tmp/$label.log" 2>&1 &
    spid=$!
    for i in $(seq 100); do
        ss -Htln "sport = :$port" 2> /dev/null | grep -q . && break
        sleep 0.05
    done
    timeout 15 ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o LogLevel=ERROR -o IdentitiesOnly=yes -o ConnectTimeout=10 -i "$tmp/userkey" -p "$port" \
        nobody@127.0.0.1 true < /dev/null 2> "$tmp/$label.ssh" > /dev/null
    wait "$spid" 2> /dev/null
}

native=$(run_once native)
preloaded=$(run_once preloaded LD_PRELOAD="$preload")
echo "native:    $native"
echo "preloaded: $preloaded"
case $native in *"Permission denied (publickey)"*) ;; *)
    skip "natively sshd did not answer as expected: $native" ;;
esac
fail=0
if [ "$native" != "$preloaded" ]; then
    echo "FAIL sshd_seccomp: ssh said '$preloaded' preloaded, '$native' natively; sshd's log ends:"
    tail -n 5 "$tmp/preloaded.log" | sed 's/^/    /'
    fail=1
fi
# The child went through the key exchange and the auth request inside its sandbox.
if ! grep -q "Failed publickey for nobody" "$tmp/preloaded.log"; then
    echo "FAIL sshd_seccomp: the preloaded sshd never saw the auth request"
    fail=1
fi
if grep -q "^green:" "$tmp/preloaded.log"; then
    echo "FAIL sshd_seccomp: the preload complained:"
    grep "^green:" "$tmp/preloaded.log" | sed 's/^/    /'
    fail=1
fi
[ $fail = 0 ] && echo PASS
exit $fail
