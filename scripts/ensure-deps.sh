#!/usr/bin/env bash
# Installs the Debian packages libgreen needs when they are missing (as root), or says exactly
# what to run. Called by `make` before anything is compiled.
set -euo pipefail

need=()
[ -f /usr/include/ev.h ] || need+=(libev-dev)
[ -f /usr/include/boost/context/fiber.hpp ] || need+=(libboost-context-dev)
[ -f /usr/include/doctest/doctest.h ] || need+=(doctest-dev)
[ -f /usr/include/ares.h ] || need+=(libc-ares-dev)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
# The install test builds a consumer with `pkg-config --cflags --libs green` (cmake is used when
# present, not installed: it is large).
command -v pkg-config >/dev/null || need+=(pkg-config)
# The preload's differential tests run ordinary programs next to their own.
command -v python3 >/dev/null || need+=(python3)
command -v curl >/dev/null || need+=(curl)
command -v taskset >/dev/null || need+=(util-linux)
# Real multithreaded programs the suite runs natively and preloaded (language runtimes keep their
# "current thread" in TLS; Java and Node are tested when present, not installed: they are large).
command -v rg >/dev/null || need+=(ripgrep)
command -v fdfind >/dev/null || need+=(fd-find)
command -v ruby >/dev/null || need+=(ruby)
command -v pigz >/dev/null || need+=(pigz)
command -v xz >/dev/null || need+=(xz-utils)
command -v rustc >/dev/null || need+=(rustc)
# io_uring through liburing (io_uring_liburing.sh); sshd's sandbox (sshd_seccomp.sh) is tested
# when openssh-server is present, not installed: it is a daemon.
[ -f /usr/include/liburing.h ] || need+=(liburing-dev)

[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "libgreen: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2 || true
    apt-get install -y -q --no-install-recommends "${need[@]}" >&2
    exit 0
fi
echo "libgreen: missing packages. Run:" >&2
echo "    sudo apt-get install -y ${need[*]}" >&2
exit 1
