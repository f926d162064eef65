"""echo_gevent.py - a gevent StreamServer echo server: Python's gevent answer to the servers of
demo/run_demo.sh (its optional "gevent" variant), one greenlet per client as gevent's own
examples write it.

Usage: python3 echo_gevent.py PORT      (PORT 0 = let the kernel pick a free port)

Binds 127.0.0.1:PORT, prints exactly one line "listening on PORT" to stdout, then serves forever:
each client's greenlet echoes with blocking-looking recv/sendall (gevent's libev loop underneath),
16 KiB per recv as echo_threads' default buffer, TCP_NODELAY as the C servers. SIGTERM/SIGINT:
exit at once with status 0. Needs gevent (Debian: python3-gevent); standard library otherwise.
"""
import os
import signal
import socket
import sys

from gevent.server import StreamServer


def echo(sock, _addr):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            data = sock.recv(16384)
            if not data:
                break
            sock.sendall(data)
    except OSError:
        pass  # reset by the load generator at its end: not worth a traceback


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit() or int(sys.argv[1]) > 65535:
        print(f"usage: {sys.argv[0]} PORT", file=sys.stderr)
        sys.exit(2)
    # Exit at once, as echo_threads does: thousands of greenlets need no orderly shutdown.
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: os._exit(0))
    server = StreamServer(("127.0.0.1", int(sys.argv[1])), echo, backlog=4096)
    server.start()
    print(f"listening on {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
