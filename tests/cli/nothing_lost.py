#!/usr/bin/env python3
"""Peers and inputs for the "nothing lost" tests (docs/reliability.md): the expected counts come
from how the input is built here, never from logpipe.

  make OUT [--long]        hostile input; prints "RECORDS MALFORMED" (the exact expected counts)
  good OUT N [--from K] [--cut]
                           N good combined lines from line K (the last one cut in half: --cut)
  serve FILE PORTFILE      TCP server on a free port: sends FILE to its first client, then dies
        [--keep-open]      ... or keeps the connection open until killed; writes PORTFILE.sent
                           once the peer's kernel has acknowledged every byte
  send FILE PORT           TCP client: sends FILE and dies (mid-line if FILE ends mid-line) once
                           the peer's kernel has acknowledged every byte
  send-tls FILE PORT CA    the same over TLS, verifying the server with CA
  cut FILE.gz|FILE.zst OUT FRACTION
                           keeps the first FRACTION of a compressed file
  count-gzip FILE          "RECORDS MALFORMED" expected from a gzip file cut short (zlib decodes)
  count-decoded            the same for decoded bytes on stdin (zstd -dc of a cut file)
"""
import datetime
import os
import socket
import sys
import time


def good_line(i):
    """Line i of a combined log: one request a second from 2025-06-23 08:00:00, 1 in 10 a 500."""
    t = datetime.datetime(2025, 6, 23, 8) + datetime.timedelta(seconds=i)
    return (f'10.0.{i // 250 % 250}.{i % 250} - user{i % 7} [{t:%d/%b/%Y:%H:%M:%S} +0000] '
            f'"GET /page/{i % 50}?q={i} HTTP/1.1" {200 if i % 10 else 500} {100 + i} "-" "agent {i % 3}"\n').encode()


def make(out, long_line):
    """Good lines, with among them: a good line with NUL bytes inside its user agent (a record:
    a NUL is a byte like any other), a line of NUL bytes (malformed), optionally a 10 MB line of
    junk (one malformed line), and a last line cut inside its request (malformed)."""
    records = malformed = 0
    with open(out, "wb") as f:
        for i in range(1000):
            f.write(good_line(i))
            records += 1
            if i == 100:  # the same request again, with NUL bytes in its user agent
                f.write(good_line(i).replace(b'"agent ', b'"ag\0ent\0 '))
                records += 1
            if i == 200:
                f.write(b"\0" * 300 + b"\n")
                malformed += 1
            if i == 300 and long_line:
                f.write(b"x" * (10 * 1024 * 1024) + b"\n")
                malformed += 1
        f.write(good_line(9999)[:40])  # cut inside the request, no newline
        malformed += 1
    print(records, malformed)


def good(out, n, cut, first=0):
    with open(out, "wb") as f:
        for i in range(first, first + n):
            line = good_line(i)
            f.write(line[:len(line) // 2] if cut and i == first + n - 1 else line)


def unacked(sock):
    import fcntl, struct, termios
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]


def serve(path, portfile, keep_open):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    srv.settimeout(60)
    conn, _ = srv.accept()
    conn.sendall(open(path, "rb").read())
    if not keep_open:
        os._exit(0)  # dies: the kernel closes the connection, mid-line if the data ends so
    wait_acked(conn)
    open(portfile + ".sent", "w").close()
    time.sleep(600)


def wait_acked(sock):
    for _ in range(1200):
        if unacked(sock) == 0:
            return
        time.sleep(0.05)
    sys.exit("the peer never acknowledged the data")


def send(path, port):
    s = socket.create_connection(("127.0.0.1", int(port)))
    s.sendall(open(path, "rb").read())
    wait_acked(s)  # so that the caller may signal the reader once we are gone
    os._exit(0)


def send_tls(path, port, ca):
    import ssl
    ctx = ssl.create_default_context(cafile=ca)
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))), server_hostname="localhost")
    s.sendall(open(path, "rb").read())
    wait_acked(s)
    os._exit(0)  # no close_notify: the client dies


def cut(path, out, fraction):
    data = open(path, "rb").read()
    open(out, "wb").write(data[:int(len(data) * float(fraction))])


def expect_decoded(text):
    """"RECORDS MALFORMED" for what a decoder gave before the data was cut: complete lines of the
    exact shape good_line() writes are records, other non-blank lines and a partial last line
    are malformed."""
    import re
    good = re.compile(rb'10\.0\.\d+\.\d+ - user\d \[2[34]/Jun/2025:\d\d:\d\d:\d\d \+0000\] '
                      rb'"GET /page/\d+\?q=\d+ HTTP/1\.1" \d{3} \d+ "-" "ag\0?ent\0? \d"')
    lines = text.split(b"\n")
    partial = lines.pop()
    records = sum(1 for l in lines if good.fullmatch(l))
    blank = sum(1 for l in lines if not l.strip())
    print(records, len(lines) - records - blank + (1 if partial else 0))


def count_gzip(path):
    import zlib
    expect_decoded(zlib.decompressobj(wbits=31).decompress(open(path, "rb").read()))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "make":
        make(args[0], "--long" in args)
    elif cmd == "good":
        first = int(args[args.index("--from") + 1]) if "--from" in args else 0
        good(args[0], int(args[1]), "--cut" in args, first)
    elif cmd == "serve":
        serve(args[0], args[1], "--keep-open" in args)
    elif cmd == "send":
        send(*args)
    elif cmd == "send-tls":
        send_tls(*args)
    elif cmd == "cut":
        cut(*args)
    elif cmd == "count-gzip":
        count_gzip(*args)
    elif cmd == "count-decoded":
        expect_decoded(sys.stdin.buffer.read())
    else:
        sys.exit(__doc__)
