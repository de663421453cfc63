#!/usr/bin/env python3
"""Scores the alerts of `logpipe stream` against the --truth of `logpipe generate`.

Used by scripts/eval-detection (docs/detection.md explains every figure); runnable alone:

    scripts/eval_detection_score.py TRUTH.jsonl ALERTS.jsonl --span START END [--window 60]
        [--lateness 5] [--json]

Definitions (the docs repeat them; tests/cli/eval_detection_scoring.sh checks them by hand):

- A page: when alert lines carry an `incident` field (alerts grouped into incidents), the first
  firing alert of each distinct incident id; otherwise every firing alert.
- Emission time of an alert: its `at` field when present, else window_end + lateness.
- An incident's extended window: [start, end + window + lateness]. An alert overlaps it when its
  window [window_start, window_end) does: window_end > start and window_start <= the end.
- An alert fits an incident when its metric detects the incident's kind (DETECTS below), its key
  matches the incident's key (key_matches) and it overlaps the extended window.
- Detection: the first firing alert (page or not) that fits; time to detect = its emission time
  minus the incident's true start (not the start of a window).
- Each page is true (its group holds an alert that fits an incident it overlaps), unknown (its
  metric is in no DETECTS list and its key matches an overlapped incident: counted apart),
  collateral (it overlaps an incident but does not fit: a false page) or quiet (it overlaps no
  incident: a false page, counted per day of time outside every extended window).
"""
import argparse
import ipaddress
import json
import statistics
import sys
from datetime import datetime, timezone

# Which metrics detect which kind of incident. A name ending in `*` is a prefix, for metrics
# that future versions may add. A metric named nowhere here is "unknown": during an incident
# whose key it matches it gets its own column instead of being counted true or false; add it to
# the right list when it appears.
DETECTS = {
    "error_burst": ["error_rate", "server_error_rate", "url_error_rate", "user_error_rate",
                    "ip_error_rate", "prefix_error_rate", "url_error*", "error_*"],
    "bad_user": ["user_error_rate", "user_request_rate", "user_error*"],
    "ddos": ["request_rate", "ip_request_rate", "prefix_request_rate", "prefix_request*"],
    "latency": ["url_p99_latency_ms", "url_latency*", "url_p99_latency*", "url_slow*"],
}


def _listed(metric, names):
    return any(metric.startswith(n[:-1]) if n.endswith("*") else metric == n for n in names)


def detects(kind, metric):
    return _listed(metric, DETECTS.get(kind, []))


def known_metric(metric):
    return any(_listed(metric, names) for names in DETECTS.values())


def parse_time(text):
    """RFC 3339 as logpipe writes it (Z, optional fraction) -> seconds since the epoch."""
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    t = datetime.fromisoformat(text)
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.timestamp()


def _network(text):
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def key_matches(incident_key, alert_key):
    """A global metric (key "") or a global incident matches every key; an address matches the
    subnet that holds it and a prefix the subnet it overlaps; a url key matches by path."""
    if alert_key == "" or incident_key == "":
        return True
    inc_net, alert_net = _network(incident_key), _network(alert_key)
    if inc_net is not None or alert_net is not None:
        return inc_net is not None and alert_net is not None and inc_net.overlaps(alert_net)
    if incident_key.startswith("/"):
        if "?" in incident_key:
            return alert_key == incident_key
        return alert_key.split("?", 1)[0] == incident_key
    return alert_key == incident_key


def scope_of(incident):
    key = incident["key"]
    if key == "":
        return "global"
    if _network(key) is not None:
        return "subnet" if "/" in key else "ip"
    return "url" if key.startswith("/") else "user"


def default_label(incident):
    """Rows of the report: the kind, with the scope where a kind has several."""
    kind = incident["kind"]
    if kind == "error_burst":
        return ("ramp " if incident.get("ramp") else "error_burst ") + scope_of(incident)
    if kind == "ddos":
        return "ddos " + scope_of(incident)
    return kind


class Incident:
    def __init__(self, d, window, lateness):
        self.kind, self.key = d["kind"], d["key"]
        self.start, self.end = parse_time(d["start"]), parse_time(d["end"])
        self.ext_end = self.end + window + lateness
        self.ramp = None
        if "error_rate_from" in d:
            self.ramp = (float(d["error_rate_from"]), float(d["error_rate_to"]))
        self.raw = d

    def overlaps(self, alert):
        return alert.window_end > self.start and alert.window_start <= self.ext_end

    def fits(self, alert):
        return detects(self.kind, alert.metric) and key_matches(self.key, alert.key) and self.overlaps(alert)

    def error_rate_at(self, t):
        lo, hi = self.ramp
        f = min(max((t - self.start) / (self.end - self.start), 0.0), 1.0)
        return lo + (hi - lo) * f

    def doubling_time(self):
        """When a ramp's error rate reaches twice its starting value (None if it never does)."""
        lo, hi = self.ramp
        if lo <= 0 or hi < 2 * lo:
            return None
        return self.start + (self.end - self.start) * lo / (hi - lo)


class Alert:
    def __init__(self, d, lateness, line_no):
        self.metric, self.key = d["metric"], d.get("key", "")
        self.window_start, self.window_end = parse_time(d["window_start"]), parse_time(d["window_end"])
        self.emitted = parse_time(d["at"]) if "at" in d else self.window_end + lateness
        self.incident_id = d.get("incident")
        self.line_no = line_no


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def _union_length(intervals, lo, hi):
    total, cur_lo, cur_hi = 0.0, None, None
    for a, b in sorted((max(a, lo), min(b, hi)) for a, b in intervals):
        if b <= a:
            continue
        if cur_hi is None or a > cur_hi:
            if cur_hi is not None:
                total += cur_hi - cur_lo
            cur_lo, cur_hi = a, b
        else:
            cur_hi = max(cur_hi, b)
    if cur_hi is not None:
        total += cur_hi - cur_lo
    return total


def score(truth, alerts, span, window=60.0, lateness=5.0, labels=None):
    """One run: truth and alert dicts as read from the files, span = (start, end) in epoch
    seconds of the streamed log. Returns a dict of plain figures (see aggregate)."""
    labels = labels or {}
    incidents = [Incident(d, window, lateness) for d in truth]
    firing = [Alert(d, lateness, i) for i, d in enumerate(alerts) if d.get("state") == "firing"]
    grouped = any(a.incident_id is not None for a in firing)
    groups = {}
    pages = []
    for a in firing:
        gid = a.incident_id if grouped and a.incident_id is not None else ("line", a.line_no)
        if gid not in groups:
            groups[gid] = []
            pages.append((a, groups[gid]))
        groups[gid].append(a)

    rows = []
    for inc in incidents:
        d = dict(inc.raw)
        if inc.ramp:
            d["ramp"] = True
        hits = [a for a in firing if inc.fits(a)]
        first = min(hits, key=lambda a: a.emitted) if hits else None
        # A global metric fits every incident of its kind, but for a small keyed incident its
        # firing may be chance: say apart whether an alert on the incident's own key fired.
        keyed = [a for a in hits if a.key != "" or inc.key == ""]
        row = {"label": labels.get(inc.key, default_label(d)), "kind": inc.kind, "key": inc.key,
               "start": inc.raw["start"], "detected": first is not None,
               "detected_by_key": bool(keyed),
               "ttd": first.emitted - inc.start if first else None,
               "by": f"{first.metric}[{first.key}]" if first else None,
               "pages": {"true": 0, "collateral": 0, "unknown": 0}, "page_metrics": {}}
        if inc.ramp:
            t2 = inc.doubling_time()
            row["doubles_after"] = t2 - inc.start if t2 is not None else None
            row["before_doubling"] = bool(first) and t2 is not None and first.emitted <= t2
            row["rate_at_detection"] = inc.error_rate_at(first.emitted) if first else None
            row["ramp_from"] = inc.ramp[0]
        rows.append(row)

    counts = {"pages": len(pages), "true": 0, "collateral": 0, "unknown": 0, "quiet": 0}
    quiet_pages, unknown_metrics = {}, set()
    for page, members in pages:
        around = [i for i, inc in enumerate(incidents) if inc.overlaps(page)]
        if not around:
            counts["quiet"] += 1
            quiet_pages[page.metric] = quiet_pages.get(page.metric, 0) + 1
            if not known_metric(page.metric):
                unknown_metrics.add(page.metric)
            continue
        # The incident a page belongs to: among those it fits (else those it overlaps), the one
        # that started last before the page's window ended.
        fit = [i for i in around if any(incidents[i].fits(a) for a in members)]
        pool = fit or around
        started = [i for i in pool if incidents[i].start < page.window_end]
        owner = max(started or pool, key=lambda i: incidents[i].start)
        if fit:
            cls = "true"
        elif not known_metric(page.metric) and key_matches(incidents[owner].key, page.key):
            cls = "unknown"
        else:
            cls = "collateral"
        if not known_metric(page.metric):
            unknown_metrics.add(page.metric)
        counts[cls] += 1
        rows[owner]["pages"][cls] += 1
        name = f"{cls} {page.metric}"
        rows[owner]["page_metrics"][name] = rows[owner]["page_metrics"].get(name, 0) + 1

    lo, hi = span
    busy = _union_length([(inc.start, inc.ext_end) for inc in incidents], lo, hi)
    return {"incidents": rows, "counts": counts, "quiet_seconds": (hi - lo) - busy,
            "quiet_pages": quiet_pages, "unknown_metrics": sorted(unknown_metrics),
            "grouped": grouped}


def _ratio(a, b):
    return a / b if b else None


def aggregate(results):
    """Several runs (seeds) of one scenario -> per-label figures and totals."""
    by_label = {}
    for r in results:
        for row in r["incidents"]:
            by_label.setdefault(row["label"], []).append(row)
    table = []
    for label, rows in by_label.items():
        ttds = [row["ttd"] for row in rows if row["detected"]]
        pages = {k: sum(row["pages"][k] for row in rows) for k in ("true", "collateral", "unknown")}
        by_metric = {}
        for row in rows:
            for name, n in row["page_metrics"].items():
                by_metric[name] = by_metric.get(name, 0) + n
        entry = {"label": label, "incidents": len(rows), "detected": len(ttds),
                 "recall": len(ttds) / len(rows),
                 "recall_by_key": sum(row["detected_by_key"] for row in rows) / len(rows),
                 "median_ttd": statistics.median(ttds) if ttds else None,
                 "max_ttd": max(ttds) if ttds else None,
                 "pages": pages,
                 "precision": _ratio(pages["true"], pages["true"] + pages["collateral"]),
                 "pages_per_incident": sum(pages.values()) / len(rows),
                 "page_metrics": by_metric}
        ramps = [row for row in rows if "before_doubling" in row]
        if ramps:
            entry["before_doubling"] = sum(row["before_doubling"] for row in ramps)
            ratios = [row["rate_at_detection"] / row["ramp_from"] for row in ramps
                      if row["detected"] and row["ramp_from"] > 0]
            entry["median_rate_at_detection_x"] = statistics.median(ratios) if ratios else None
            doubles = [row["doubles_after"] for row in ramps if row["doubles_after"] is not None]
            entry["doubles_after"] = statistics.median(doubles) if doubles else None
        table.append(entry)
    totals = {k: sum(r["counts"][k] for r in results) for k in results[0]["counts"]} if results else {}
    quiet_seconds = sum(r["quiet_seconds"] for r in results)
    per_day = [r["counts"]["quiet"] * 86400 / r["quiet_seconds"] for r in results
               if r["quiet_seconds"] > 0]
    quiet_metrics = {}
    for r in results:
        for m, n in r["quiet_pages"].items():
            quiet_metrics[m] = quiet_metrics.get(m, 0) + n
    judged = totals.get("true", 0) + totals.get("collateral", 0) + totals.get("quiet", 0)
    return {"rows": table, "totals": totals, "precision": _ratio(totals.get("true", 0), judged),
            "quiet_seconds": quiet_seconds,
            "false_pages_per_day": _ratio(totals.get("quiet", 0) * 86400, quiet_seconds),
            "false_pages_per_day_by_run": per_day, "quiet_metrics": quiet_metrics,
            "unknown_metrics": sorted({m for r in results for m in r["unknown_metrics"]})}


def _fmt(value, spec, none="-"):
    return none if value is None else format(value, spec)


def _top(counts, n=4):
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{k} {v}" for k, v in items[:n])
    return text + (", ..." if len(items) > n else "")


def print_table(agg, out=sys.stdout, title=None, details=True):
    if title:
        print(title, file=out)
    print(f"  {'incident kind':<24} {'n':>3} {'recall':>6} {'by key':>6} {'med TTD':>8} {'max TTD':>8} "
          f"{'precision':>9} {'pages/inc':>9} {'true':>5} {'coll':>5} {'unknown':>7}", file=out)
    for e in agg["rows"]:
        p = e["pages"]
        print(f"  {e['label']:<24} {e['incidents']:>3} {e['recall']:>6.2f} {e['recall_by_key']:>6.2f} "
              f"{_fmt(e['median_ttd'], '.0f', '- '):>7}s {_fmt(e['max_ttd'], '.0f', '- '):>7}s "
              f"{_fmt(e['precision'], '.2f'):>9} {e['pages_per_incident']:>9.1f} "
              f"{p['true']:>5} {p['collateral']:>5} {p['unknown']:>7}", file=out)
        if details and e["page_metrics"]:
            print(f"  {'':<24} pages: {_top(e['page_metrics'])}", file=out)
        if "before_doubling" in e:
            print(f"  {'':<24} ramp: caught before its error rate doubled in {e['before_doubling']}"
                  f" of {e['incidents']} (it doubles after {_fmt(e['doubles_after'], '.0f')} s);"
                  f" median error rate at detection {_fmt(e['median_rate_at_detection_x'], '.1f')}x"
                  " the ramp's start", file=out)
    t = agg["totals"]
    by_run = ", ".join(f"{v:.1f}" for v in agg["false_pages_per_day_by_run"])
    print(f"  pages: {t.get('pages', 0)} ({t.get('true', 0)} true, {t.get('collateral', 0)} collateral,"
          f" {t.get('unknown', 0)} unknown, {t.get('quiet', 0)} outside incidents); precision of pages"
          f" {_fmt(agg['precision'], '.2f')}; false pages per quiet day"
          f" {_fmt(agg['false_pages_per_day'], '.1f')} (by run: {by_run or '-'};"
          f" {agg['quiet_seconds'] / 3600:.1f} h without incident)", file=out)
    if details and agg["quiet_metrics"]:
        print(f"  pages outside incidents by metric: {_top(agg['quiet_metrics'], 9)}", file=out)
    if agg["unknown_metrics"]:
        print(f"  unknown metrics (add them to DETECTS in scripts/eval_detection_score.py):"
              f" {', '.join(agg['unknown_metrics'])}", file=out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("truth")
    ap.add_argument("alerts")
    ap.add_argument("--span", nargs=2, metavar=("START", "END"), required=True,
                    help="log time streamed (RFC 3339): for the time without incident")
    ap.add_argument("--window", type=float, default=60, help="window of the stream, s (60)")
    ap.add_argument("--lateness", type=float, default=5, help="lateness of the stream, s (5)")
    ap.add_argument("--label", action="append", default=[], metavar="KEY=TEXT",
                    help="report the incidents of KEY as a row of their own")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    labels = dict(item.split("=", 1) for item in args.label)
    result = score(read_jsonl(args.truth), read_jsonl(args.alerts),
                   (parse_time(args.span[0]), parse_time(args.span[1])),
                   args.window, args.lateness, labels)
    agg = aggregate([result])
    if args.json:
        json.dump({"run": result, "summary": agg}, sys.stdout, indent=1, sort_keys=True)
        print()
    else:
        for row in result["incidents"]:
            ttd = f"{row['ttd']:.0f} s" if row["detected"] else "missed"
            print(f"  {row['label']:<24} {row['start']:<21} {row['by'] or '-':<44} {ttd}")
        print_table(agg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
