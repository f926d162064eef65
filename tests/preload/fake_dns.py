#!/usr/bin/env python3
"""fake_dns.py: a tiny, deliberately slow DNS server for the resolver tests (stdlib only).

  fake_dns.py --addr 127.0.0.53 --port 53 --delay 2.0 --lifetime 60 [--ready FILE] [--log FILE]

Answers over UDP and TCP, each response `delay` seconds after its query (queries are answered
concurrently: 60 queries arriving together are all answered about `delay` seconds later). It stops
by itself after `lifetime` seconds. Zone (names are case-insensitive):

  hN.test          A 127.0.0.N (N = 1..254); AAAA: no data
  multi.test       A 127.0.0.3, 127.0.0.1, 127.0.0.2 (in this order); AAAA: no data
  dual.test        A 127.0.0.7 and AAAA ::1
  v6only.test      AAAA ::1; A: no data
  alias.test       CNAME h9.test (then h9.test's records)
  chain.test       CNAME alias.test (then alias.test's chain)
  fail.test        SERVFAIL
  refuse.test      REFUSED
  drop.test        never answered (a timeout)
  big.test         A 127.0.1.1 .. 127.0.1.40: over 512 bytes, so truncated over UDP (TC) and
                   complete over TCP
  N.0.0.127.in-addr.arpa  PTR hN.test (N = 2..254)
  anything else    NXDOMAIN

With --log, one line per query ("qname qtype") is appended to the file.
"""
import argparse
import heapq
import os
import select
import socket
import struct
import sys
import threading
import time

A, NS, CNAME, SOA, PTR, AAAA = 1, 2, 5, 6, 12, 28


def parse_name(msg, off):
    labels = []
    while True:
        n = msg[off]
        if n == 0:
            return ".".join(labels), off + 1
        if n & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n


def enc_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def rr(owner, rtype, rdata, ttl=60):
    return owner + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def lookup(name, qtype):
    """(rcode, [(owner_name, type, rdata)]) for one question, following CNAMEs."""
    name = name.lower().rstrip(".")
    records = []
    for _ in range(8):
        if name in ("alias.test",):
            target = "h9.test"
        elif name == "chain.test":
            target = "alias.test"
        else:
            target = None
        if target and qtype != CNAME:
            records.append((name, CNAME, enc_name(target)))
            name = target
            continue
        break
    if name == "fail.test":
        return 2, []
    if name == "refuse.test":
        return 5, []
    if name == "drop.test":
        return None, []
    labels = name.split(".")
    if len(labels) == 2 and labels[1] == "test" and labels[0].startswith("h") and labels[0][1:].isdigit():
        n = int(labels[0][1:])
        if 1 <= n <= 254:
            if qtype == A:
                records.append((name, A, bytes([127, 0, 0, n])))
            return 0, records
    if name == "multi.test":
        if qtype == A:
            for n in (3, 1, 2):
                records.append((name, A, bytes([127, 0, 0, n])))
        return 0, records
    if name == "big.test":
        if qtype == A:
            for n in range(1, 41):
                records.append((name, A, bytes([127, 0, 1, n])))
        return 0, records
    if name == "dual.test":
        if qtype == A:
            records.append((name, A, bytes([127, 0, 0, 7])))
        elif qtype == AAAA:
            records.append((name, AAAA, socket.inet_pton(socket.AF_INET6, "::1")))
        return 0, records
    if name == "v6only.test":
        if qtype == AAAA:
            records.append((name, AAAA, socket.inet_pton(socket.AF_INET6, "::1")))
        return 0, records
    if (len(labels) == 6 and labels[1:] == ["0", "0", "127", "in-addr", "arpa"]
            and labels[0].isdigit() and 2 <= int(labels[0]) <= 254):
        if qtype == PTR:
            records.append((name, PTR, enc_name("h%d.test" % int(labels[0]))))
        return 0, records
    return (0 if records else 3), records


def respond(query):
    if len(query) < 12:
        return None
    qid, flags, qd = struct.unpack("!HHH", query[:6])
    if qd != 1 or flags & 0x8000:
        return None
    qname, off = parse_name(query, 12)
    qtype, qclass = struct.unpack("!HH", query[off:off + 4])
    question = query[12:off + 4]
    rcode, records = lookup(qname, qtype)
    if rcode is None:
        return b""
    answers = b""
    for owner, rtype, rdata in records:
        owner_enc = b"\xc0\x0c" if owner.lower() == qname.lower().rstrip(".") else enc_name(owner)
        answers += rr(owner_enc, rtype, rdata)
    rflags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode  # QR AA RD(copied) RA rcode
    return struct.pack("!HHHHHH", qid, rflags, 1, len(records), 0, 0) + question + answers, qname, qtype


def truncate(payload):
    """The UDP form of a response too big for 512 bytes: header and question, TC set."""
    qend = 12
    while payload[qend] != 0:
        qend += 1 + payload[qend]
    qend += 5
    flags = struct.unpack("!H", payload[2:4])[0] | 0x0200
    return payload[:2] + struct.pack("!HHHHH", flags, 1, 0, 0, 0) + payload[12:qend]


def serve_tcp(conn, delay, log):
    try:
        conn.settimeout(10)
        while True:
            head = conn.recv(2)
            if len(head) < 2:
                return
            (n,) = struct.unpack("!H", head)
            query = b""
            while len(query) < n:
                chunk = conn.recv(n - len(query))
                if not chunk:
                    return
                query += chunk
            try:
                out = respond(query)
            except (ValueError, IndexError, struct.error):
                return
            if not out:
                continue
            payload, qname, qtype = out
            if log:
                log.write("tcp %s %d\n" % (qname, qtype))
            time.sleep(delay)
            conn.sendall(struct.pack("!H", len(payload)) + payload)
    except OSError:
        pass
    finally:
        conn.close()


def accept_tcp(listener, delay, log):
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=serve_tcp, args=(conn, delay, log), daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", default="127.0.0.53")
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--delay", type=float, default=2.0)
    ap.add_argument("--lifetime", type=float, default=60.0)
    ap.add_argument("--ready")
    ap.add_argument("--log")
    args = ap.parse_args()

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.addr, args.port))
    sock.setblocking(False)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.addr, args.port))
    listener.listen(64)
    if args.ready:
        with open(args.ready, "w") as f:
            f.write("%d\n" % os.getpid())
    log = open(args.log, "a", buffering=1) if args.log else None
    threading.Thread(target=accept_tcp, args=(listener, args.delay, log), daemon=True).start()
    end = time.monotonic() + args.lifetime
    pending = []  # (due, seq, payload, peer)
    seq = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        while pending and pending[0][0] <= now:
            _, _, payload, peer = heapq.heappop(pending)
            try:
                sock.sendto(payload, peer)
            except OSError:
                pass
        wait = end - now
        if pending:
            wait = min(wait, max(0.0, pending[0][0] - now))
        r, _, _ = select.select([sock], [], [], wait)
        if not r:
            continue
        while True:
            try:
                query, peer = sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                break
            try:
                out = respond(query)
            except (ValueError, IndexError, struct.error):
                continue
            if out is None:
                continue
            if out == b"":
                continue
            payload, qname, qtype = out
            if len(payload) > 512:
                payload = truncate(payload)
            if log:
                log.write("%s %d\n" % (qname, qtype))
            seq += 1
            heapq.heappush(pending, (time.monotonic() + args.delay, seq, payload, peer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
