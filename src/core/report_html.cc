// The HTML report: one self-contained file. Charts are inline SVG drawn here, styles inline; one
// small inline script (its SHA-256 in the Content-Security-Policy, nothing else may run) makes
// the tables sortable and filterable; with scripts off every table is still there in full. The
// policy forbids every network fetch, so the file shows the same thing offline and cannot be
// turned against its reader by hostile log data (every string from the logs is HTML-escaped).
// Numbers are grouped by thousands (`1,234`); each equals the JSON report's.
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
header p{margin:4px 0 0;color:#b9c6d3;overflow-wrap:anywhere}
main{padding:20px 28px;max-width:1200px}
section{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:14px 18px;margin:0 0 18px}
h2{font-size:16px;margin:0 0 10px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{flex:1 1 140px;background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:10px 14px}
.card b{display:block;font-size:22px}.card span{color:#5b6673;font-size:12px;text-transform:uppercase}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(460px,100%),1fr));gap:18px}
.grid>section{min-width:0}.scroll{overflow-x:auto}
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
th[tabindex]{cursor:pointer}th[aria-sort=ascending]::after{content:" \25b2"}th[aria-sort=descending]::after{content:" \25bc"}
input.filter{font:inherit;margin:0 0 6px;padding:3px 6px;border:1px solid #c9d0d8;border-radius:4px;width:min(260px,100%)}
@media (max-width:640px){header,main{padding-left:10px;padding-right:10px}section{padding:10px}footer{padding:0 10px 14px}
.card b{font-size:18px}td.k{max-width:none}}
)css";

// Sorts a table by a header click (or Enter), numbers by value (the grouping commas ignored),
// text by locale; adds a filter box above tables of more than 10 rows. Runs once at load.
constexpr std::string_view kScript =
    R"js((function(){var each=function(l,f){Array.prototype.forEach.call(l,f);};)js"
    R"js(var num=function(c){var v=parseFloat(c.textContent.replace(/[,%\s]/g,''));return isNaN(v)?-Infinity:v;};)js"
    R"js(each(document.querySelectorAll('table.t'),function(t){var b=t.tBodies[0];if(!b||!t.tHead)return;)js"
    R"js(var hs=t.tHead.rows[0].cells;each(hs,function(h,i){h.tabIndex=0;var go=function(){)js"
    R"js(var n=h.classList.contains('n'),c=h.getAttribute('aria-sort');)js"
    R"js(var s=c?(c==='descending'?'ascending':'descending'):(n?'descending':'ascending');)js"
    R"js(each(hs,function(x){x.removeAttribute('aria-sort');});h.setAttribute('aria-sort',s);var d=s==='ascending'?1:-1;)js"
    R"js(var r=Array.prototype.slice.call(b.rows);r.sort(function(x,y){var p=x.cells[i],q=y.cells[i];)js"
    R"js(return d*(n?(num(p)>num(q)?1:num(p)<num(q)?-1:0):p.textContent.localeCompare(q.textContent));});)js"
    R"js(r.forEach(function(x){b.appendChild(x);});};h.addEventListener('click',go);)js"
    R"js(h.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();go();}});});)js"
    R"js(if(b.rows.length>10){var f=document.createElement('input');f.type='search';f.className='filter';)js"
    R"js(f.placeholder='filter';f.setAttribute('aria-label','filter the rows');)js"
    R"js(f.addEventListener('input',function(){var q=f.value.toLowerCase();)js"
    R"js(each(b.rows,function(x){x.hidden=q!==''&&x.textContent.toLowerCase().indexOf(q)<0;});});)js"
    R"js(t.parentNode.insertBefore(f,t);}});})();)js";

class Html {
 public:
  std::string out;

  void num(uint64_t v) { out += grouped(v); }

  void card(std::string_view label, std::string_view value) {
    out += "<div class=card><b>";
    esc(out, value);
    out += "</b><span>";
    esc(out, label);
    out += "</span></div>";
  }

  // A section whose table sorts and filters (the script); `id` names it for links and tests.
  void open_table(std::string_view id, std::string_view title, std::initializer_list<std::string_view> heads,
                  size_t text_columns = 1) {
    fmt::format_to(Out(out), "<section id={}><h2>{}</h2><div class=scroll><table class=t><thead><tr>", id, title);
    size_t i = 0;
    for (std::string_view h : heads) {
      out += i++ < text_columns ? "<th>" : "<th class=n>";
      out += h;  // headings are ours, never log data
      out += "</th>";
    }
    out += "</tr></thead><tbody>";
  }
  void close_table() { out += "</tbody></table></div></section>\n"; }

  // A table of keys with requests (and errors), with a bar proportional to the first row.
  void keyed(std::string_view id, std::string_view title, std::string_view key_name,
             const std::vector<ReportSummary::Row>& v, bool errors = true) {
    if (v.empty()) return;
    if (errors) open_table(id, title, {key_name, "requests", "errors"});
    else open_table(id, title, {key_name, "requests"});
    uint64_t top = std::max<uint64_t>(1, v.front().requests);
    for (const auto& r : v) {
      out += "<tr><td class=k>";
      esc(out, r.key);
      fmt::format_to(Out(out), "<div class=bar style=\"width:{:.1f}%\"></div></td><td class=n>{}</td>",
                     100.0 * static_cast<double>(r.requests) / static_cast<double>(top), grouped(r.requests));
      if (errors) fmt::format_to(Out(out), "<td class=\"n{}\">{}</td>", r.errors ? " err" : "", grouped(r.errors));
      out += "</tr>";
    }
    close_table();
  }

  void counts(std::string_view id, std::string_view title, std::string_view key_name, std::string_view what,
              const std::vector<ReportSummary::Count>& v) {
    if (v.empty()) return;
    open_table(id, title, {key_name, what});
    uint64_t top = std::max<uint64_t>(1, v.front().count);
    for (const auto& c : v) {
      out += "<tr><td class=k>";
      esc(out, c.key);
      fmt::format_to(Out(out), "<div class=bar style=\"width:{:.1f}%\"></div></td><td class=n>{}</td></tr>",
                     100.0 * static_cast<double>(c.count) / static_cast<double>(top), grouped(c.count));
    }
    close_table();
  }

  // Response times: the overall row, then the urls with the most total time.
  void latency(const ReportSummary& s) {
    if (!s.latency.count) return;
    open_table("url_latency", "Response times (ms)", {"url", "timed", "mean", "p50", "p95", "p99", "max", "total"});
    auto ms = [](double v) { return v < 0 ? std::string("-") : fmt::format("{:.3f}", v); };
    auto row = [&](std::string_view url, const ReportSummary::Latency& l, bool all) {
      out += all ? "<tr><td class=k><i>" : "<tr><td class=k>";
      esc(out, url);
      out += all ? "</i></td>" : "</td>";
      fmt::format_to(Out(out),
                     "<td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td "
                     "class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
                     grouped(l.count), ms(l.mean_ms), ms(l.p50_ms), ms(l.p95_ms), ms(l.p99_ms), ms(l.max_ms),
                     ms(l.total_ms));
    };
    row("(all timed requests)", s.latency, true);
    for (const auto& u : s.url_latency) row(u.url, u.latency, false);
    close_table();
  }

  // edX course figures, then the active learners of each course per week.
  void course_figures(const ReportSummary& s) {
    if (s.course_figures.empty()) return;
    open_table("course_figures", "Course figures",
               {"course_id", "learners", "per day", "peak week", "enrol", "unenrol", "video plays", "completed",
                "checks", "correct", "forum posts"});
    auto share = [](uint64_t num, uint64_t den) {
      return den ? fmt::format("{:.1f}%", 100.0 * static_cast<double>(num) / static_cast<double>(den)) : std::string("-");
    };
    for (const auto& c : s.course_figures) {
      const Report::CourseFigures& f = c.figures;
      out += "<tr><td class=k>";
      esc(out, c.course);
      fmt::format_to(Out(out),
                     "</td><td class=n>{}</td><td class=n>{:.1f}</td><td class=n>{}</td><td class=n>{}</td><td "
                     "class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td "
                     "class=n>{}</td></tr>",
                     grouped(c.learners), c.learners_per_day, grouped(c.peak_week_learners), grouped(f.enrolments),
                     grouped(f.unenrolments), grouped(f.video_plays), share(c.video_completers, c.video_learners),
                     grouped(f.problem_checks), share(f.problem_correct, f.problem_checks), grouped(f.forum_posts));
    }
    close_table();
    open_table("course_weeks", "Active learners per week", {"course_id", "week (Monday)", "learners"}, 2);
    for (const auto& c : s.course_figures)
      for (const auto& [week, n] : c.per_week) {
        out += "<tr><td class=k>";
        esc(out, c.course);
        fmt::format_to(Out(out), "</td><td>{}</td><td class=n>{}</td></tr>", time_text(week).substr(0, 10), grouped(n));
      }
    close_table();
  }

  // Horizontal bar chart (SVG) of labelled counts.
  void bar_chart(std::string_view id, std::string_view title, const std::vector<std::pair<std::string, uint64_t>>& bars,
                 const std::vector<std::string>& colors) {
    if (bars.empty()) return;
    const int row = 22, label_w = 130, width = 520;
    int height = static_cast<int>(bars.size()) * row + 6;
    uint64_t max = 1;
    for (const auto& b : bars) max = std::max(max, b.second);
    fmt::format_to(Out(out),
                   "<section id={}><h2>{}</h2><svg role=img viewBox=\"0 0 {} {}\" width=\"100%\" "
                   "preserveAspectRatio=\"xMinYMin meet\">",
                   id, title, width, height);
    for (size_t i = 0; i < bars.size(); ++i) {
      int y = static_cast<int>(i) * row + 3;
      double w = (width - label_w - 70) * static_cast<double>(bars[i].second) / static_cast<double>(max);
      out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">", label_w - 8, y + 14);
      esc(out, bars[i].first);
      fmt::format_to(Out(out),
                     "</text><rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"16\" rx=\"2\" fill=\"{}\"/>"
                     "<text x=\"{:.1f}\" y=\"{}\">{}</text>",
                     label_w, y, std::max(w, 1.0), colors[i % colors.size()], label_w + std::max(w, 1.0) + 6,
                     y + 13, grouped(bars[i].second));
    }
    out += "</svg></section>\n";
  }

  // Vertical columns (hour of day, weekday): requests, the errors among them in orange, each
  // column's figures in its tooltip.
  void columns(std::string_view id, std::string_view title, const std::vector<std::string>& labels,
               const std::vector<TimeBucket>& v) {
    const double W = 520, H = 200, left = 8, bottom = 22, top = 8;
    const double ph = H - top - bottom, cw = (W - 2 * left) / static_cast<double>(v.size());
    uint64_t max = 1;
    for (const auto& b : v) max = std::max(max, b.requests);
    fmt::format_to(Out(out), "<section id={}><h2>", id);
    esc(out, title);  // may hold the --tz name
    fmt::format_to(Out(out), "</h2><svg role=img viewBox=\"0 0 {} {}\" width=\"100%\">", W, H);
    for (size_t i = 0; i < v.size(); ++i) {
      const double x = left + cw * static_cast<double>(i);
      const double h = ph * static_cast<double>(v[i].requests) / static_cast<double>(max);
      const double he = ph * static_cast<double>(v[i].errors) / static_cast<double>(max);
      fmt::format_to(Out(out),
                     "<g><title>{}: {} requests, {} errors</title><rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
                     "height=\"{:.1f}\" fill=\"#4a90d9\"/><rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
                     "height=\"{:.1f}\" fill=\"#e67e22\"/></g><text x=\"{:.1f}\" y=\"{}\" "
                     "text-anchor=\"middle\">{}</text>",
                     labels[i], grouped(v[i].requests), grouped(v[i].errors), x + 1, top + ph - h, cw - 2, h, x + 1,
                     top + ph - he, cw - 2, he, x + cw / 2, H - 6, labels[i]);
    }
    out += "</svg></section>\n";
  }

  // One time-series chart: `area` filled, `lines` drawn, on an axis of their own maximum.
  struct Series {
    std::string_view name, color;
    uint64_t TimeBucket::*field;
  };
  void chart(const ReportSummary& s, std::string_view id, std::string_view title, const Series& area,
             const std::vector<Series>& lines) {
    const double W = 1100, H = 240, left = 60, right = 16, top = 12, bottom = 40;
    const double pw = W - left - right, ph = H - top - bottom;
    uint64_t max = 1;
    for (const auto& p : s.timeseries) {
      if (area.field) max = std::max(max, p.value.*area.field);
      for (const auto& l : lines) max = std::max(max, p.value.*l.field);
    }
    // A round axis maximum whose quarters (the grid labels) are whole, round numbers: 4, 8, 12,
    // 16, 20, 40, 60, 80, 100, then 1, 2, 4, 5 or 8 times a power of ten (never 0 0 0 0 1).
    double nice = 0;
    for (double c : {4.0, 8.0, 12.0, 16.0, 20.0, 40.0, 60.0, 80.0, 100.0})
      if (nice == 0 && c >= static_cast<double>(max)) nice = c;
    for (double p = 100; nice == 0; p *= 10)
      for (double m : {2.0, 4.0, 5.0, 8.0, 10.0})
        if (nice == 0 && m * p >= static_cast<double>(max)) nice = m * p;
    size_t n = s.timeseries.size();
    auto x = [&](size_t i) { return left + (n == 1 ? pw / 2 : pw * static_cast<double>(i) / static_cast<double>(n - 1)); };
    auto y = [&](uint64_t v) { return top + ph - ph * static_cast<double>(v) / nice; };
    fmt::format_to(Out(out), "<section id={}><h2>{}</h2><div class=legend>", id, title);
    for (const Series* l : {&area}) if (l->field) fmt::format_to(Out(out), "<span><i style=\"background:{}\"></i>{}</span>", l->color, l->name);
    for (const auto& l : lines) fmt::format_to(Out(out), "<span><i style=\"background:{}\"></i>{}</span>", l.color, l.name);
    fmt::format_to(Out(out), "</div><svg role=img id={}-chart viewBox=\"0 0 {} {}\" width=\"100%\">", id, W, H);
    for (int k = 0; k <= 4; ++k) {
      double v = nice * k / 4, yy = top + ph - ph * k / 4;
      fmt::format_to(Out(out),
                     "<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#e3e7ec\"/>"
                     "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>",
                     left, W - right, yy, yy, left - 6, yy + 4, grouped(static_cast<uint64_t>(v)));
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
    if (area.field) {
      std::string d = fmt::format("M{:.1f},{:.1f}", x(0), top + ph);
      for (size_t i = 0; i < n; ++i) fmt::format_to(Out(d), " L{:.1f},{:.1f}", x(i), y(s.timeseries[i].value.*area.field));
      fmt::format_to(Out(d), " L{:.1f},{:.1f} Z", x(n - 1), top + ph);
      fmt::format_to(Out(out), "<path d=\"{}\" fill=\"{}\" fill-opacity=\"0.35\" stroke=\"{}\" stroke-width=\"1.5\"/>", d,
                     area.color, area.color);
    }
    for (const auto& l : lines) {
      std::string d;
      for (size_t i = 0; i < n; ++i)
        fmt::format_to(Out(d), "{}{:.1f},{:.1f}", i ? " L" : "M", x(i), y(s.timeseries[i].value.*l.field));
      fmt::format_to(Out(out), "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"/>", d, l.color);
    }
    fmt::format_to(Out(out), "<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"#8a95a1\"/></svg></section>\n", left,
                   W - right, top + ph, top + ph);
  }

  // Requests, then errors and 5xx on an axis of their own: a burst of errors that is small next
  // to the traffic stays visible.
  void timeseries(const ReportSummary& s) {
    if (s.timeseries.empty()) return;
    chart(s, "timeseries", fmt::format("Requests per {}", s.by), {"requests", "#4a90d9", &TimeBucket::requests}, {});
    // Tracking logs have no status nor level: no errors to draw (the chart would be a flat line).
    if (s.report->outcomes)
      chart(s, "errors", fmt::format("Errors per {}", s.by), {"", "", nullptr},
            {{"errors", "#e67e22", &TimeBucket::errors}, {"5xx", "#c0392b", &TimeBucket::server_errors}});
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
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
         "script-src ";
  out += csp_script_hash(kScript);
  out += "\"><meta name=viewport content=\"width=device-width,initial-scale=1\"><title>logpipe report</title><style>";
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
    fmt::format_to(Out(out), " (kept {} of {} records)", grouped(s.where_counts.kept), grouped(s.where_counts.read));
  }
  if (r.max_keys())
    fmt::format_to(Out(out), " &middot; --max-keys {} ({} url, {} address, {} user keys evicted)", r.max_keys(),
                   grouped(r.urls.evicted_keys()), grouped(r.ips.evicted_keys()), grouped(r.users.evicted_keys()));
  out += "</p></header><main><div class=cards>";
  // Error shares are of the requests with an outcome, as the error ratios of stream (classify.h).
  auto pct = [&](uint64_t v) {
    return r.outcomes ? fmt::format("{} ({:.1f}%)", grouped(v), 100.0 * static_cast<double>(v) / static_cast<double>(r.outcomes))
                      : grouped(v);
  };
  if (s.tracking) {  // tracking logs: no status, no bytes; what a MOOC team looks at instead
    const Report::CourseFigures& f = s.course_totals;
    h.card("events", grouped(r.requests));
    h.card("learners", grouped(r.users.size()));
    h.card("courses", grouped(r.courses.size()));
    h.card("enrolments", f.unenrolments ? fmt::format("{} (-{})", grouped(f.enrolments), grouped(f.unenrolments))
                                        : grouped(f.enrolments));
    if (f.problem_checks)
      h.card("problem checks correct",
             fmt::format("{:.1f}% of {}", 100.0 * static_cast<double>(f.problem_correct) / static_cast<double>(f.problem_checks),
                         grouped(f.problem_checks)));
    h.card("video plays", grouped(f.video_plays));
  } else {
    h.card("requests", grouped(r.requests));
    h.card("errors", pct(r.errors));
    h.card("5xx", pct(r.server_errors));
    h.card("bytes", human_bytes(r.bytes));
    h.card("unique IPs", grouped(r.ips.size()));
    h.card("unique users", grouped(r.users.size()));
  }
  h.card("sessions", grouped(s.session_count));
  if (s.latency.count) h.card("p95 response time", fmt::format("{:.1f} ms", s.latency.p95_ms));
  h.card("malformed lines", grouped(r.malformed));
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
    h.bar_chart("status", "Status codes", bars, colors);
  }
  if (!s.timeseries.empty()) {
    std::vector<std::string> labels;
    for (int i = 0; i < 24; ++i) labels.push_back(fmt::format("{:02}", i));
    h.columns("hours", s.zone.is_utc() ? "Hour of day (UTC)" : "Hour of day (" + s.zone.name() + ")", labels,
              {s.hours.begin(), s.hours.end()});
    h.columns("weekdays", "Weekday", {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"},
              {s.weekdays.begin(), s.weekdays.end()});
  }
  auto family_bars = [&](std::string_view id, std::string_view title, const std::vector<ReportSummary::Count>& v) {
    std::vector<std::pair<std::string, uint64_t>> bars;
    for (const auto& c : v) bars.emplace_back(std::string(c.key), c.count);
    h.bar_chart(id, title, bars, {"#4a90d9", "#27ae60", "#8e44ad", "#e67e22", "#16a085", "#c0392b", "#7f8c8d"});
  };
  family_bars("browsers", "Browsers", s.browsers);
  family_bars("os", "Operating systems", s.os);
  h.keyed("urls", "Top URLs", "url", s.urls);
  h.keyed("not_found", "Not found (404)", "url", s.not_found, false);
  h.latency(s);
  h.keyed("ips", "Top IPs", "ip", s.ips);
  h.keyed("users", "Top users", "user", s.users);
  h.keyed("methods", "Methods", "method", s.methods);
  h.keyed("referring_domains", "Referring domains", "domain", s.referring_domains);
  h.keyed("referers", "Top referers", "referer", s.referers);
  h.keyed("agents", "Top user agents", "agent", s.agents);
  h.keyed("events", "Events (event_type)", "event_type", s.events, false);
  h.keyed("courses", "Courses", "course_id", s.courses, false);
  h.course_figures(s);
  if (s.geoip) {
    h.keyed("countries", "Countries (GeoIP)", "country", ReportSummary::rows_of(s.countries));
    h.keyed("cities", "Cities (GeoIP)", "city", ReportSummary::rows_of(s.cities));
    h.keyed("networks", "Networks (GeoIP ASN)", "network", ReportSummary::rows_of(s.networks));
  }
  if (s.session_count) {
    const auto& d = s.session_duration_s;
    const auto& p = s.session_pages;
    fmt::format_to(Out(out),
                   "<section id=sessions><h2>Sessions</h2><p>{} sessions (a gap of 30 minutes ends one)</p><div "
                   "class=scroll><table><tr><th></th>"
                   "<th class=n>mean</th><th class=n>p50</th><th class=n>p90</th><th class=n>max</th></tr>"
                   "<tr><td>duration (s)</td><td class=n>{:.1f}</td><td class=n>{}</td><td class=n>{}</td><td "
                   "class=n>{}</td></tr><tr><td>pages</td><td class=n>{:.1f}</td><td class=n>{}</td><td "
                   "class=n>{}</td><td class=n>{}</td></tr></table></div></section>\n",
                   grouped(s.session_count), d.mean, grouped(d.p50), grouped(d.p90), grouped(d.max), p.mean,
                   grouped(p.p50), grouped(p.p90), grouped(p.max));
    h.counts("entry_pages", "Entry pages", "url", "sessions", s.entry_pages);
    h.counts("exit_pages", "Exit pages", "url", "sessions", s.exit_pages);
    if (!s.click_paths.empty()) {
      std::vector<ReportSummary::Count> paths;
      std::vector<std::string> labels;
      labels.reserve(s.click_paths.size());
      for (const auto& c : s.click_paths) labels.push_back(std::string(c.from) + "  \u2192  " + std::string(c.to));
      for (size_t i = 0; i < labels.size(); ++i) paths.push_back({labels[i], s.click_paths[i].count});
      h.counts("click_paths", "Top click paths", "from &rarr; to", "count", paths);
    }
  }
  auto per_day = [&](std::string_view id, std::string_view title, const std::vector<std::pair<int64_t, uint64_t>>& v,
                     const char* color) {
    if (v.empty()) return;
    std::vector<std::pair<std::string, uint64_t>> bars;
    for (const auto& [day, n] : v) bars.emplace_back(time_text(day).substr(0, 10), n);
    if (bars.size() > 60) bars.erase(bars.begin(), bars.end() - 60);
    h.bar_chart(id, title, bars, {color});
  };
  per_day("visitors_per_day", "Visitors per day (distinct addresses)", s.visitors_per_day, "#16a085");
  per_day("active_users_per_day", "Active users per day", s.active_users_per_day, "#8e44ad");
  out += "</div></main><footer>Generated by logpipe analyze. Self-contained: no network access at view time.</footer><script>";
  out += kScript;
  out += "</script></body></html>\n";
  return out;
}

}  // namespace logpipe
