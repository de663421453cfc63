#!/usr/bin/env python3
"""Deterministic traffic for the stream end-to-end tests (independent of logpipe generate).

10 minutes from 2025-06-23T08:00:00Z, combined format:
  * background: 10 requests per second, urls /page0../page9, 500 client ips, one 404 every
    50 requests (2%);
  * /checkout: 1 request per second all along; an error burst in minutes 3 and 4: 2 of every 5
    seconds fail with 500 (0.4 of its 60 requests per window);
  * ddos: minute 6, ip 6.6.6.6 sends 10 requests per second to / (600 in the window).
Usage: stream_traffic.py OUT [--tail-burst]   (--tail-burst: 30 requests to /fail, all 500, at
08:09:30, whose window only closes at the end of input or on SIGTERM).
"""
import sys, time

t0 = 1750665600
lines = []
def line(t, ip, url, status):
    ts = time.strftime('%d/%b/%Y:%H:%M:%S +0000', time.gmtime(t))
    lines.append(f'{ip} - - [{ts}] "GET {url}?session=x HTTP/1.1" {status} 512 "-" "Mozilla/5.0 (X11)"\n')

n = 0
for s in range(600):
    t = t0 + s
    for i in range(10):
        n += 1
        line(t, f'10.0.{(s * 10 + i) % 50}.{(s * 10 + i) // 50 % 10}', f'/page{i}', 404 if n % 50 == 0 else 200)
    minute = s // 60
    line(t, f'10.1.0.{s % 200}', '/checkout', 500 if minute in (3, 4) and s % 5 < 2 else 200)
    if minute == 6:
        for k in range(10):
            line(t, '6.6.6.6', '/', 200)
if '--tail-burst' in sys.argv:
    for k in range(30):
        line(t0 + 570, f'10.2.0.{k}', '/fail', 500)
open(sys.argv[1], 'w').writelines(lines)
