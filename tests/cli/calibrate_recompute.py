#!/usr/bin/env python3
"""Independent recomputation of logpipe's window metrics (docs/reference.md "stream" table) over an access
log, to check a thresholds file written by `logpipe calibrate`:

  calibrate_recompute.py LOG THRESHOLDS.toml [--alerts ALERTS.jsonl] [--min-firing METRIC ...]

For each metric in the file: the windows (60 s, tumbling, aligned on the epoch) whose value is
strictly above the threshold (keyed metrics: any key with at least min_requests requests) must be
at most floor(target x windows) + 1; each --min-firing metric must fire in more than half of that.
With --alerts (the output of `stream --config` over the same log), the windows covered by the
alert episodes of each metric must be exactly the windows computed here.

The parsing is deliberately naive (regular expressions on combined lines with an optional %D),
written without looking at logpipe's parsers. Reads plain or zstd files (via `zstd -dc`).
"""
import argparse
import collections
import ipaddress
import json
import math
import re
import subprocess
import sys
import tomllib
from datetime import datetime

LINE = re.compile(r'^(\S+) \S+ (\S+) \[([^\]]+)\] "(?:\S+) (\S+)(?: \S+)?" (\d{3}) (?:\d+|-)'
                  r'(?: "[^"]*" "[^"]*")?(?: (\d+))?$')


def latency_bucket_midpoint(us):
    # The engine's documented histogram: values under 8 us exact, then 8 buckets per power of two;
    # a quantile is reported as its bucket's midpoint (metrics.h LatencyHistogram).
    if us < 8:
        return float(us)
    e = us.bit_length() - 1
    octave = e - 3
    sub = (us >> octave) & 7
    width = 2.0 ** octave
    return (8 + sub) * width + width / 2


def p99_ms(durations):
    d = sorted(durations)
    rank = max(1, math.ceil(0.99 * len(d) - 1e-9))
    return latency_bucket_midpoint(d[rank - 1]) / 1000.0


def open_text(path):
    if path.endswith('.zst'):
        return subprocess.Popen(['zstd', '-dc', path], stdout=subprocess.PIPE, text=True).stdout
    return open(path, encoding='utf-8', errors='replace')


def network(ip):
    """The client's network, as logpipe names it: a.b.c.0/24 (IPv4), the /48 of IPv6."""
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return ''
    if a.version == 6 and a.ipv4_mapped:
        a = a.ipv4_mapped
    n = ipaddress.ip_network(f'{a}/{24 if a.version == 4 else 48}', strict=False)
    return str(n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('log')
    ap.add_argument('toml')
    ap.add_argument('--alerts')
    ap.add_argument('--min-firing', nargs='*', default=[])
    ap.add_argument('--target', type=float, default=0.01)
    args = ap.parse_args()

    conf = tomllib.load(open(args.toml, 'rb'))
    size = int(conf['window']['size_s'])
    metrics = conf.get('metrics', {})

    # window -> counters; keyed: window -> key -> [requests, errors, durations]
    glob = collections.defaultdict(lambda: [0, 0, 0])
    keyed = {d: collections.defaultdict(lambda: collections.defaultdict(lambda: [0, 0, []]))
             for d in ('url', 'user', 'ip', 'prefix')}
    bad = 0
    window_of = {}  # timestamp text -> window (many lines share a second)
    for line in open_text(args.log):
        m = LINE.match(line.rstrip('\n'))
        if not m:
            bad += 1
            continue
        ip, user, ts, url, status, dur = m.groups()
        w = window_of.get(ts)
        if w is None:
            w = window_of[ts] = int(datetime.strptime(ts, '%d/%b/%Y:%H:%M:%S %z').timestamp() // size)
        status = int(status)
        err = 1 if status >= 400 else 0
        g = glob[w]
        g[0] += 1
        g[1] += err
        g[2] += 1 if 500 <= status < 600 else 0
        path = url.split('?', 1)[0]
        keys = {'url': path, 'ip': ip, 'user': '' if user == '-' else user, 'prefix': network(ip)}
        for d, k in keys.items():
            if not k:
                continue
            c = keyed[d][w][k]
            c[0] += 1
            c[1] += err
            if d == 'url' and dur is not None:
                c[2].append(int(dur))
    if bad:
        print(f'recompute: {bad} lines did not match', file=sys.stderr)
    first, last = min(glob), max(glob)
    windows = list(range(first, last + 1))
    n = len(windows)
    k = math.floor(args.target * n + 1e-9)

    def values(name, minreq):
        """window -> list of (key, value) of eligible keys (global: key '')."""
        out = {}
        for w in windows:
            g = glob.get(w, [0, 0, 0])
            if name == 'error_rate':
                out[w] = [('', g[1] / g[0])] if g[0] >= max(minreq, 1) else []
            elif name == 'server_error_rate':
                out[w] = [('', g[2] / g[0])] if g[0] >= max(minreq, 1) else []
            elif name == 'request_rate':
                out[w] = [('', g[0] / size)] if g[0] >= max(minreq, 1) else []
            else:
                dim = {'url_error_rate': 'url', 'user_error_rate': 'user', 'ip_error_rate': 'ip',
                       'ip_request_rate': 'ip', 'user_request_rate': 'user', 'url_p99_latency_ms': 'url',
                       'prefix_request_rate': 'prefix'}[name]
                vals = []
                for key, (req, err, durs) in keyed[dim].get(w, {}).items():
                    if name.endswith('_error_rate'):
                        if req >= max(minreq, 1):
                            vals.append((key, err / req))
                    elif name.endswith('_request_rate'):
                        if req >= max(minreq, 1):
                            vals.append((key, req / size))
                    else:
                        if durs and len(durs) >= max(minreq, 1):
                            vals.append((key, p99_ms(durs)))
                out[w] = vals
        return out

    fired_windows = {}
    fail = False
    print(f'recompute: {n} windows of {size}s, k = {k}')
    for name, s in sorted(metrics.items()):
        th = s['threshold']
        minreq = s.get('min_requests', 1)
        over = set()
        for w, vals in values(name, minreq).items():
            if any(v > th for _, v in vals):
                over.add(w)
        fired_windows[name] = over
        status = 'ok'
        if len(over) > k + 1:
            status = 'FAIL: above the threshold in more than k + 1 windows'
            fail = True
        if name in args.min_firing and not len(over) > args.target * n / 2:
            status = 'FAIL: fires in at most half the target (threshold too high)'
            fail = True
        print(f'  {name:<20} threshold {th:<22} min_requests {minreq:<5} above in {len(over):>4} windows: {status}')
    for name in args.min_firing:
        if name not in metrics:
            print(f'  {name}: FAIL: not in the thresholds file')
            fail = True

    if args.alerts:
        # Episodes: a (metric, key) fires at window W and resolves at window R: over in [W, R).
        open_ep = {}
        from_alerts = collections.defaultdict(set)
        total_firing = 0
        for line in open(args.alerts):
            a = json.loads(line)
            w = int(datetime.strptime(a['window_start'], '%Y-%m-%dT%H:%M:%SZ').replace(
                tzinfo=__import__('datetime').timezone.utc).timestamp()) // size
            key = (a['metric'], a['key'])
            if a['state'] == 'firing':
                total_firing += 1
                open_ep[key] = w
            else:
                start = open_ep.pop(key)
                from_alerts[a['metric']].update(range(start, w))
        for (metric, _), start in open_ep.items():
            from_alerts[metric].update(range(start, last + 1))
        print(f'recompute: stream fired {total_firing} alerts')
        if total_firing == 0:
            print('  FAIL: replaying the history fired no alert')
            fail = True
        for name, over in sorted(fired_windows.items()):
            got = from_alerts.get(name, set())
            if got != over:
                print(f'  {name}: FAIL: stream was over in {len(got)} windows, recomputed {len(over)};'
                      f' only stream: {sorted(got - over)[:5]}, only here: {sorted(over - got)[:5]}')
                fail = True
    print('recompute: FAIL' if fail else 'recompute: ok')
    return 1 if fail else 0


if __name__ == '__main__':
    sys.exit(main())
