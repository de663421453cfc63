#!/usr/bin/env python3
"""Hostile and unlucky peers for the hardening tests (docs/reliability.md, "Hostile cases"). The
expected counts come from what these peers send, never from logpipe.

  line C I                 print line I of client C (a combined line, one second apart)
  tls-write-close PORT CA CLIENTS LINES [--cert CERT KEY]
                           CLIENTS TLS clients at once, each writes LINES lines and closes its
                           socket without reading anything and without close_notify (as Python's
                           ssl and most one-way shippers do); all of them connect before any
                           starts its handshake (a burst from one address)
  tls-client PORT CA LINES FIRST [--cert CERT KEY]
                           one TLS client: LINES lines from client number FIRST, then a clean close
  tls-hold PORT CA LINES FIRST GATE [--cert CERT KEY]
                           a TLS client that sends half its LINES, writes GATE.up, waits for the
                           file GATE, sends the other half and closes cleanly
  silent FROM PORT COUNT READY
                           COUNT TCP connections from address FROM (a comma-separated list: in
                           turn) that never send a byte; writes READY once all are connected,
                           then waits to be killed
  never-read PORTFILE [--tls CERT KEY]
                           a server that accepts connections (TLS: completes the handshake) and
                           never reads a byte; writes its port to PORTFILE, runs until killed
  udp-send PORT COUNT      COUNT datagrams of one line each, as fast as it can; prints COUNT once
                           every sendto() succeeded
  big-lines PORT COUNT MIB  a TCP client sending COUNT lines of MIB MiB of junk each, then closing
  long-lines OUT CAP       1,000 good lines with, among them, lines longer than CAP bytes (junk, a
                           valid request with a huge URL, NUL bytes, and a last line without a
                           newline); prints "RECORDS MALFORMED" expected with --max-line-bytes CAP
"""
import datetime
import socket
import sys
import threading


def line(client, i):
    """Line i of client `client`: a 200 from 10.1.C.x, one second apart from 2025-06-23 08:00."""
    t = datetime.datetime(2025, 6, 23, 8) + datetime.timedelta(seconds=i)
    return (f'10.1.{client % 250}.{i % 250} - - [{t:%d/%b/%Y:%H:%M:%S} +0000] '
            f'"GET /c{client}/{i} HTTP/1.1" 200 {i} "-" "hostile"\n')


def close_notify(s):
    """Sends close_notify and closes. The server answers a close_notify by closing, without one
    of its own: Python's unwrap() then reports an EOF, which is the end we expect."""
    import ssl
    try:
        s.unwrap()
    except (ssl.SSLEOFError, ConnectionResetError, BrokenPipeError):
        pass
    s.close()


def tls_context(ca, cert):
    import ssl
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert[0], cert[1])
    return ctx


def tls_write_close(port, ca, clients, lines, cert):
    errors = []
    connected = threading.Barrier(clients)

    def run(c):
        try:
            ctx = tls_context(ca, cert)
            raw = socket.create_connection(("127.0.0.1", port))
            connected.wait()
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            s.sendall("".join(line(c, i) for i in range(lines)).encode())
            s.close()  # no read, no close_notify: what one-way shippers do
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"client {c}: {e}")

    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit("\n".join(errors))


def tls_client(port, ca, lines, first, cert):
    ctx = tls_context(ca, cert)
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
    s.sendall("".join(line(first, i) for i in range(lines)).encode())
    close_notify(s)


def tls_hold(port, ca, lines, first, gate, cert):
    import os
    import time
    ctx = tls_context(ca, cert)
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
    text = [line(first, i) for i in range(lines)]
    s.sendall("".join(text[:lines // 2]).encode())
    open(gate + ".up", "w").close()
    while not os.path.exists(gate):
        time.sleep(0.05)
    s.sendall("".join(text[lines // 2:]).encode())
    close_notify(s)


def silent(source, port, count, ready):
    import time
    held = []
    sources = source.split(",")
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((sources[i % len(sources)], 0))
        s.connect(("127.0.0.1", port))
        held.append(s)
    open(ready, "w").close()
    time.sleep(3600)


def never_read(portfile, tls):
    import os
    import time
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills after a few KB
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    ctx = None
    if tls:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls[0], tls[1])
    held = []
    while True:
        conn, _ = srv.accept()
        if ctx:
            try:
                conn = ctx.wrap_socket(conn, server_side=True)
            except OSError:
                continue
        held.append(conn)  # never read
        time.sleep(0.01)


def udp_send(port, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(count):
        s.sendto(line(7, i).encode(), ("127.0.0.1", port))
    print(count)


def long_lines(out, cap):
    records = malformed = 0
    with open(out, "wb") as f:
        for i in range(1000):
            f.write(line(3, i).encode())
            records += 1
            if i == 100:
                f.write(b"x" * (2 * cap) + b"\n")
                malformed += 1
            if i == 200:  # would parse: it is still cut, and counted malformed
                f.write(line(3, i).replace("/c3/", "/" + "u" * (cap + 1) + "/").encode())
                malformed += 1
            if i == 300:
                f.write(b"\0" * (3 * cap + 7) + b"\n")
                malformed += 1
            if i == 400:  # exactly the cap, without its newline: whole, a record
                text = line(3, i)
                f.write(text.replace("/c3/", "/c3/" + "u" * (cap - len(text) + 1)).encode())
                records += 1
        f.write(b"y" * (cap + 1))  # the last line, without a newline
        malformed += 1
    print(records, malformed)


def big_lines(port, count, mib):
    s = socket.create_connection(("127.0.0.1", port))
    junk = b"x" * (mib << 20) + b"\n"
    for _ in range(count):
        s.sendall(junk)
    s.close()


def cert_option(args):
    if "--cert" in args:
        i = args.index("--cert")
        return args[i + 1], args[i + 2]
    return None


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "line":
        sys.stdout.write(line(int(args[0]), int(args[1])))
    elif cmd == "tls-write-close":
        tls_write_close(int(args[0]), args[1], int(args[2]), int(args[3]), cert_option(args))
    elif cmd == "tls-client":
        tls_client(int(args[0]), args[1], int(args[2]), int(args[3]), cert_option(args))
    elif cmd == "big-lines":
        big_lines(int(args[0]), int(args[1]), int(args[2]))
    elif cmd == "long-lines":
        long_lines(args[0], int(args[1]))
    elif cmd == "tls-hold":
        tls_hold(int(args[0]), args[1], int(args[2]), int(args[3]), args[4], cert_option(args))
    elif cmd == "silent":
        silent(args[0], int(args[1]), int(args[2]), args[3])
    elif cmd == "never-read":
        never_read(args[0], (args[args.index("--tls") + 1], args[args.index("--tls") + 2]) if "--tls" in args else None)
    elif cmd == "udp-send":
        udp_send(int(args[0]), int(args[1]))
    else:
        sys.exit(__doc__)
