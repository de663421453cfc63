// The HTML report: one self-contained file. Charts are inline SVG drawn here, styles inline, no
// script at all; a Content-Security-Policy forbids every network fetch, so the file shows the same
// thing offline and cannot be turned against its reader by hostile log data (every string from
// the logs is HTML-escaped).
#include "logpipe/report.h"
#include "logpipe/text.h"
#include "logpipe/timeutil.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace logpipe {
namespace {

using Out = std::back_insert_iterator<std::string>;

void esc(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) out += "&#xfffd;";
        else out += c;
    }
  }
}

constexpr std::string_view kStyle = R"css(
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1d232b}
header{background:#1d2b3a;color:#fff;padding:16px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#b9c6d3}
main{padding:20px 28px;max-width:1200px}
section{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:14px 18px;margin:0 0 18px}
h2{font-size:16px;margin:0 0 10px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{flex:1 1 140px;background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:10px 14px}
.card b{display:block;font-size:22px}.card span{color:#5b6673;font-size:12px;text-transform:uppercase}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:18px}
table{border-collapse:collapse;width:100%;font-size:13px}
th{text-align:left;color:#5b6673;font-weight:600;border-bottom:1px solid #dde2e8;padding:4px 6px}
td{padding:3px 6px;border-bottom:1px solid #f0f2f5;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.k{word-break:break-all;max-width:520px}
.bar{height:6px;background:#4a90d9;border-radius:3px;margin-top:2px}
.err{color:#c0392b}
svg text{font:11px system-ui,sans-serif;fill:#5b6673}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
footer{color:#8a95a1;font-size:12px;padding:0 28px 20px}
)css";

class Html {
 public:
  std::string out;

  void num(uint64_t v) { fmt::format_to(Out(out), "{}", v); }

  void card(std::string_view label, std::string_view value) {
    out += "<div class=card><b>";
    esc(out, value);
    out += "</b><span>";
    esc(out, label);
    out += "</span></div>";
  }

  // A table of keys with requests (and errors), with a bar proportional to the first row.
  void keyed(std::string_view title, std::string_view key_name, const std::vector<ReportSummary::Row>& v,
             bool errors = true) {
    if (v.empty()) return;
    fmt::format_to(Out(out), "<section><h2>{}</h2><table><tr><th>{}</th><th class=n>requests</th>", title, key_name);
    if (errors) out += "<th class=n>errors</th>";
    out += "</tr>";
    uint64_t top = std::max<uint64_t>(1, v.front().requests);
    for (const auto& r : v) {
      out += "<tr><td class=k>";
      esc(out, r.key);
      fmt::format_to(Out(out), "<div class=bar style=\"width:{:.1f}%\"></div></td><td class=n>{}</td>",
                     100.0 * static_cast<double>(r.requests) / static_cast<double>(top), r.requests);
      if (errors) fmt::format_to(Out(out), "<td class=\"n{}\">{}</td>", r.errors ? " err" : "", r.errors);
      out += "</tr>";
    }
    out += "</table></section>\n";
  }

  void counts(std::string_view title, std::string_view key_name, std::string_view what,
              const std::vector<ReportSummary::Count>& v) {
    if (v.empty()) return;
    fmt::format_to(Out(out), "<section><h2>{}</h2><table><tr><th>{}</th><th class=n>{}</th></tr>", title, key_name,
                   what);
    uint64_t top = std::max<uint64_t>(1, v.front().count);
    for (const auto& c : v) {
      out += "<tr><td class=k>";
      esc(out, c.key);
      fmt::format_to(Out(out), "<div class=bar style=\"width:{:.1f}%\"></div></td><td class=n>{}</td></tr>",
                     100.0 * static_cast<double>(c.count) / static_cast<double>(top), c.count);
    }
    out += "</table></section>\n";
  }

  // Horizontal bar chart (SVG) of labelled counts.
  void bar_chart(std::string_view title, const std::vector<std::pair<std::string, uint64_t>>& bars,
                 const std::vector<std::string>& colors) {
    if (bars.empty()) return;
    const int row = 22, label_w = 130, width = 520;
    int height = static_cast<int>(bars.size()) * row + 6;
    uint64_t max = 1;
    for (const auto& b : bars) max = std::max(max, b.second);
    fmt::format_to(Out(out),
                   "<section><h2>{}</h2><svg role=img viewBox=\"0 0 {} {}\" width=\"100%\" "
                   "preserveAspectRatio=\"xMinYMin meet\">",
                   title, width, height);
    for (size_t i = 0; i < bars.size(); ++i) {
      int y = static_cast<int>(i) * row + 3;
      double w = (width - label_w - 70) * static_cast<double>(bars[i].second) / static_cast<double>(max);
      out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">", label_w - 8, y + 14);
      esc(out, bars[i].first);
      fmt::format_to(Out(out),
                     "</text><rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"16\" rx=\"2\" fill=\"{}\"/>"
                     "<text x=\"{:.1f}\" y=\"{}\">{}</text>",
                     label_w, y, std::max(w, 1.0), colors[i % colors.size()], label_w + std::max(w, 1.0) + 6,
                     y + 13, bars[i].second);
    }
    out += "</svg></section>\n";
  }

  // The time series: requests as an area, errors and 5xx as lines, on one linear axis.
  void timeseries(const ReportSummary& s) {
    if (s.timeseries.empty()) return;
    const double W = 1100, H = 280, left = 60, right = 16, top = 12, bottom = 40;
    const double pw = W - left - right, ph = H - top - bottom;
    uint64_t max = 1;
    for (const auto& p : s.timeseries) max = std::max(max, p.value.requests);
    // A round axis maximum: 1, 2 or 5 times a power of ten.
    double nice = 1;
    while (nice < static_cast<double>(max)) {
      if (nice * 2 >= static_cast<double>(max)) { nice *= 2; break; }
      if (nice * 5 >= static_cast<double>(max)) { nice *= 5; break; }
      nice *= 10;
    }
    size_t n = s.timeseries.size();
    auto x = [&](size_t i) { return left + (n == 1 ? pw / 2 : pw * static_cast<double>(i) / static_cast<double>(n - 1)); };
    auto y = [&](uint64_t v) { return top + ph - ph * static_cast<double>(v) / nice; };
    fmt::format_to(Out(out),
                   "<section><h2>Requests per {}</h2><div class=legend><span><i style=\"background:#4a90d9\"></i>"
                   "requests</span><span><i style=\"background:#e67e22\"></i>errors</span><span><i "
                   "style=\"background:#c0392b\"></i>5xx</span></div><svg role=img id=timeseries viewBox=\"0 0 {} {}\" "
                   "width=\"100%\">",
                   s.by, W, H);
    for (int k = 0; k <= 4; ++k) {
      double v = nice * k / 4, yy = top + ph - ph * k / 4;
      fmt::format_to(Out(out),
                     "<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#e3e7ec\"/>"
                     "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>",
                     left, W - right, yy, yy, left - 6, yy + 4, static_cast<uint64_t>(v));
    }
    size_t ticks = std::min<size_t>(n, 6);
    for (size_t k = 0; k < ticks; ++k) {
      size_t i = ticks == 1 ? 0 : k * (n - 1) / (ticks - 1);
      std::string t = zoned_time_text(s.timeseries[i].time, s.zone);
      std::string label = s.by == "day" ? t.substr(0, 10) : t.substr(0, 10) + " " + t.substr(11, 5);
      const char* anchor = ticks > 1 && k == 0 ? "start" : ticks > 1 && k + 1 == ticks ? "end" : "middle";
      fmt::format_to(Out(out), "<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"{}\">{}</text>", x(i), H - bottom + 18,
                     anchor, label);
    }
    std::string area = fmt::format("M{:.1f},{:.1f}", x(0), top + ph);
    std::string errors, server;
    for (size_t i = 0; i < n; ++i) {
      const TimeBucket& b = s.timeseries[i].value;
      fmt::format_to(Out(area), " L{:.1f},{:.1f}", x(i), y(b.requests));
      fmt::format_to(Out(errors), "{}{:.1f},{:.1f}", i ? " L" : "M", x(i), y(b.errors));
      fmt::format_to(Out(server), "{}{:.1f},{:.1f}", i ? " L" : "M", x(i), y(b.server_errors));
    }
    fmt::format_to(Out(area), " L{:.1f},{:.1f} Z", x(n - 1), top + ph);
    fmt::format_to(Out(out),
                   "<path d=\"{}\" fill=\"#4a90d9\" fill-opacity=\"0.35\" stroke=\"#4a90d9\" stroke-width=\"1.5\"/>"
                   "<path d=\"{}\" fill=\"none\" stroke=\"#e67e22\" stroke-width=\"1.5\"/>"
                   "<path d=\"{}\" fill=\"none\" stroke=\"#c0392b\" stroke-width=\"1.5\"/>"
                   "<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"#8a95a1\"/></svg></section>\n",
                   area, errors, server, left, W - right, top + ph, top + ph);
  }
};

std::string status_color(int code) {
  if (code >= 500) return "#c0392b";
  if (code >= 400) return "#e67e22";
  if (code >= 300) return "#4a90d9";
  return "#27ae60";
}

}  // namespace

std::string write_html(const ReportSummary& s) {
  const Report& r = *s.report;
  Html h;
  std::string& out = h.out;
  out += "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
         "<meta name=viewport content=\"width=device-width,initial-scale=1\"><title>logpipe report</title><style>";
  out += kStyle;
  out += "</style></head><body><header><h1>logpipe analyze</h1><p>";
  esc(out, s.format.empty() ? "no input" : s.format);
  out += " &middot; ";
  esc(out, zoned_time_text(r.min_time, s.zone));
  out += " &ndash; ";
  esc(out, zoned_time_text(r.max_time, s.zone));
  if (!s.zone.is_utc()) {
    out += " (";
    esc(out, s.zone.name());
    out += ')';
  }
  if (!s.inputs.empty()) {
    out += " &middot; ";
    for (size_t i = 0; i < s.inputs.size() && i < 5; ++i) {
      if (i) out += ", ";
      esc(out, s.inputs[i]);
    }
    if (s.inputs.size() > 5) fmt::format_to(Out(out), " and {} more", s.inputs.size() - 5);
  }
  if (!s.where.empty()) {
    out += " &middot; --where ";
    esc(out, s.where);
    fmt::format_to(Out(out), " (kept {} of {} records)", s.where_counts.kept, s.where_counts.read);
  }
  if (r.max_keys())
    fmt::format_to(Out(out), " &middot; --max-keys {} ({} url, {} address, {} user keys evicted)", r.max_keys(),
                   r.urls.evicted_keys(), r.ips.evicted_keys(), r.users.evicted_keys());
  out += "</p></header><main><div class=cards>";
  // Error shares are of the requests with an outcome, as the error ratios of stream (classify.h).
  auto pct = [&](uint64_t v) {
    return r.outcomes ? fmt::format("{} ({:.1f}%)", v, 100.0 * static_cast<double>(v) / static_cast<double>(r.outcomes))
                      : fmt::format("{}", v);
  };
  h.card("requests", fmt::format("{}", r.requests));
  h.card("errors", pct(r.errors));
  h.card("5xx", pct(r.server_errors));
  h.card("bytes", human_bytes(r.bytes));
  h.card("unique IPs", fmt::format("{}", r.ips.size()));
  h.card("unique users", fmt::format("{}", r.users.size()));
  h.card("sessions", fmt::format("{}", s.session_count));
  h.card("malformed lines", fmt::format("{}", r.malformed));
  out += "</div><br>\n";
  h.timeseries(s);
  out += "<div class=grid>";
  {
    std::vector<std::pair<std::string, uint64_t>> bars;
    std::vector<std::string> colors;
    for (const auto& [code, n] : s.status) {
      bars.emplace_back(fmt::format("{}", code), n);
      colors.push_back(status_color(code));
    }
    h.bar_chart("Status codes", bars, colors);
  }
  auto family_bars = [&](std::string_view title, const std::vector<ReportSummary::Count>& v) {
    std::vector<std::pair<std::string, uint64_t>> bars;
    for (const auto& c : v) bars.emplace_back(std::string(c.key), c.count);
    h.bar_chart(title, bars, {"#4a90d9", "#27ae60", "#8e44ad", "#e67e22", "#16a085", "#c0392b", "#7f8c8d"});
  };
  family_bars("Browsers", s.browsers);
  family_bars("Operating systems", s.os);
  h.keyed("Top URLs", "url", s.urls);
  h.keyed("Top IPs", "ip", s.ips);
  h.keyed("Top users", "user", s.users);
  h.keyed("Methods", "method", s.methods);
  h.keyed("Top referers", "referer", s.referers);
  h.keyed("Top user agents", "agent", s.agents);
  h.keyed("Events (event_type)", "event_type", s.events, false);
  h.keyed("Courses", "course_id", s.courses, false);
  if (s.geoip) {
    h.keyed("Countries (GeoIP)", "country", ReportSummary::rows_of(s.countries));
    h.keyed("Cities (GeoIP)", "city", ReportSummary::rows_of(s.cities));
    h.keyed("Networks (GeoIP ASN)", "network", ReportSummary::rows_of(s.networks));
  }
  if (s.session_count) {
    const auto& d = s.session_duration_s;
    const auto& p = s.session_pages;
    fmt::format_to(Out(out),
                   "<section><h2>Sessions</h2><p>{} sessions (a gap of 30 minutes ends one)</p><table><tr><th></th>"
                   "<th class=n>mean</th><th class=n>p50</th><th class=n>p90</th><th class=n>max</th></tr>"
                   "<tr><td>duration (s)</td><td class=n>{:.1f}</td><td class=n>{}</td><td class=n>{}</td><td "
                   "class=n>{}</td></tr><tr><td>pages</td><td class=n>{:.1f}</td><td class=n>{}</td><td "
                   "class=n>{}</td><td class=n>{}</td></tr></table></section>\n",
                   s.session_count, d.mean, d.p50, d.p90, d.max, p.mean, p.p50, p.p90, p.max);
    h.counts("Entry pages", "url", "sessions", s.entry_pages);
    h.counts("Exit pages", "url", "sessions", s.exit_pages);
    if (!s.click_paths.empty()) {
      std::vector<ReportSummary::Count> paths;
      std::vector<std::string> labels;
      labels.reserve(s.click_paths.size());
      for (const auto& c : s.click_paths) labels.push_back(std::string(c.from) + "  \u2192  " + std::string(c.to));
      for (size_t i = 0; i < labels.size(); ++i) paths.push_back({labels[i], s.click_paths[i].count});
      h.counts("Top click paths", "from &rarr; to", "count", paths);
    }
  }
  if (!s.active_users_per_day.empty()) {
    std::vector<std::pair<std::string, uint64_t>> bars;
    for (const auto& [day, n] : s.active_users_per_day) bars.emplace_back(time_text(day).substr(0, 10), n);
    if (bars.size() > 60) bars.erase(bars.begin(), bars.end() - 60);
    h.bar_chart("Active users per day", bars, {"#8e44ad"});
  }
  out += "</div></main><footer>Generated by logpipe analyze. Self-contained: no network access at view time.</footer>"
         "</body></html>\n";
  return out;
}

}  // namespace logpipe
