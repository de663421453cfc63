#!/usr/bin/env python3
"""Deterministic synthetic access logs for the analyze tests and scripts/bench (independent of
`logpipe generate`): combined or clickstream lines with Zipf-like URLs, visitors that come back
after pauses (so sessions cross any split point), users, a few errors, slight time disorder.

usage: analyze_gen.py LINES [--clickstream] [--seed N] > file.log
"""
import random
import sys

def main():
    n = int(sys.argv[1])
    clickstream = "--clickstream" in sys.argv
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 1
    rnd = random.Random(seed)
    pages = ["/", "/login", "/cart", "/checkout", "/search", "/api/v1/items", "/about", "/help"]
    pages += ["/product/%d" % i for i in range(400)]
    assets = ["/static/app.js", "/static/style.css", "/img/logo.png", "/favicon.ico"]
    weights = [1.0 / (i + 1) for i in range(len(pages))]
    agents = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36 EdgA/120.0",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "curl/7.88.1",
    ]
    referers = ["-", "-", "https://www.google.com/", "https://example.com/", "https://news.ycombinator.com/"]
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    visitors = []
    for v in range(3000):
        visitors.append({
            "ip": "10.%d.%d.%d" % (v // 65536, (v // 256) % 256, v % 256) if v % 5 else "2001:db8::%x" % v,
            "agent": agents[v % len(agents)],
            "user": ("user%d" % (v % 700)) if v % 3 == 0 else "-",
            "sid": "%016x" % rnd.getrandbits(64),
            "bad": v % 37 == 0,
        })
    # 2025-06-23T00:00:00Z, advancing ~30 ms per line: 1M lines span ~8 hours.
    t = 1750636800.0
    out = sys.stdout
    buf = []
    for i in range(n):
        t += rnd.expovariate(1 / 0.03)
        v = visitors[int(rnd.paretovariate(1.2) * 7) % len(visitors)]
        url = rnd.choices(pages, weights)[0] if rnd.random() < 0.8 else rnd.choice(assets)
        if rnd.random() < 0.1:
            url += "?q=%d" % rnd.randrange(50)
        r = rnd.random()
        status = 200
        if v["bad"] and r < 0.5:
            status = 500
        elif r < 0.03:
            status = 404
        elif r < 0.035:
            status = 503
        elif r < 0.05:
            status = 304
        size = "-" if status == 304 else str(rnd.randrange(200, 50000))
        ts = t - (rnd.random() * 2 if rnd.random() < 0.05 else 0)  # slight disorder
        s = int(ts)
        days, sec = divmod(s, 86400)  # civil date from days (Howard Hinnant's algorithm)
        z = days + 719468
        era = z // 146097
        doe = z - era * 146097
        yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
        y = yoe + era * 400
        doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
        mp = (5 * doy + 2) // 153
        dd = doy - (153 * mp + 2) // 5 + 1
        mm = mp + 3 if mp < 10 else mp - 9
        y += mm <= 2
        stamp = "%02d/%s/%04d:%02d:%02d:%02d +0000" % (dd, months[mm - 1], y, sec // 3600, sec // 60 % 60, sec % 60)
        method = "POST" if url in ("/login", "/checkout") else "GET"
        line = '%s - %s [%s] "%s %s HTTP/1.1" %d %s "%s" "%s"' % (
            v["ip"], v["user"], stamp, method, url, status, size, rnd.choice(referers), v["agent"])
        if clickstream:
            line += ' "user = %s; PHPSESSID=%s"' % (v["user"] if v["user"] != "-" else "anonymous", v["sid"])
        buf.append(line)
        if len(buf) >= 10000:
            out.write("\n".join(buf) + "\n")
            buf = []
    if buf:
        out.write("\n".join(buf) + "\n")

main()
