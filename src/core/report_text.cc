// The terminal report: one aligned table per section. Log data is attacker-controlled, so control
// bytes are replaced (no escape sequences reach the terminal) and long keys are cut.
#include "logpipe/report.h"
#include "logpipe/text.h"
#include "logpipe/timeutil.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace logpipe {
namespace {

using Out = std::back_insert_iterator<std::string>;

/// Display width in code points (a terminal cell per code point: good enough for log keys).
size_t width(std::string_view s) {
  size_t w = 0;
  for (unsigned char c : s) w += (c & 0xc0) != 0x80;
  return w;
}

/// Printable, at most `max_cells` cells, cut on a code point boundary with an ellipsis.
std::string clean_key(std::string_view s, size_t max_cells) {
  std::string out;
  size_t cells = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    bool starts = (c & 0xc0) != 0x80;
    if (starts && cells == max_cells - 1 && width(s.substr(i)) > 1) {
      out += "\u2026";
      return out;
    }
    cells += starts;
    out += c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c);
  }
  return out;
}

std::string percent(uint64_t part, uint64_t whole) {
  return whole ? fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole)) : "-";
}

class Writer {
 public:
  Writer(bool color, size_t key_width) : color_(color), key_width_(key_width) {}
  /// A key as shown: printable, cut to the key width.
  std::string clean(std::string_view s) const { return clean_key(s, key_width_); }

  void title(std::string_view t) {
    out_ += '\n';
    if (color_) out_ += "\x1b[1;36m";
    out_ += t;
    if (color_) out_ += "\x1b[0m";
    out_ += '\n';
  }

  /// A table: the last column is left-aligned text (a key), the others right-aligned numbers,
  /// unless `left` says how many leading columns are text.
  void table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
             size_t error_column = SIZE_MAX, size_t left_columns = 0) {
    if (rows.empty()) {
      out_ += "  (none)\n";
      return;
    }
    std::vector<size_t> w(header.size());
    for (size_t c = 0; c < header.size(); ++c) w[c] = width(header[c]);
    for (const auto& r : rows)
      for (size_t c = 0; c < r.size(); ++c) w[c] = std::max(w[c], width(r[c]));
    auto cell = [&](const std::string& v, size_t c, bool last) {
      bool left = c < left_columns || c + 1 == header.size();
      size_t pad = w[c] - width(v);
      if (!left) out_.append(pad, ' ');
      out_ += v;
      if (left && !last) out_.append(pad, ' ');
    };
    out_ += "  ";
    if (color_) out_ += "\x1b[1m";
    for (size_t c = 0; c < header.size(); ++c) {
      if (c) out_ += "  ";
      cell(header[c], c, c + 1 == header.size());
    }
    if (color_) out_ += "\x1b[0m";
    out_ += '\n';
    for (const auto& r : rows) {
      out_ += "  ";
      for (size_t c = 0; c < r.size(); ++c) {
        if (c) out_ += "  ";
        bool red = color_ && c == error_column && r[c] != "0";
        if (red) out_ += "\x1b[31m";
        cell(r[c], c, c + 1 == r.size());
        if (red) out_ += "\x1b[0m";
      }
      out_ += '\n';
    }
  }

  void keyed(std::string_view name, std::string_view key_header, const std::vector<ReportSummary::Row>& v,
             bool errors = true) {
    if (v.empty()) return;
    title(name);
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : v) {
      if (errors)
        rows.push_back({fmt::format("{}", r.requests), fmt::format("{}", r.errors), percent(r.errors, r.with_status),
                        clean(r.key)});
      else
        rows.push_back({fmt::format("{}", r.requests), clean(r.key)});
    }
    if (errors) table({"requests", "errors", "error%", std::string(key_header)}, rows, 1);
    else table({"count", std::string(key_header)}, rows);
  }

  void counts(std::string_view name, std::string_view key_header, const std::vector<ReportSummary::Count>& v,
              uint64_t whole) {
    if (v.empty()) return;
    title(name);
    std::vector<std::vector<std::string>> rows;
    for (const auto& c : v) rows.push_back({fmt::format("{}", c.count), percent(c.count, whole), clean(c.key)});
    table({"count", "share", std::string(key_header)}, rows);
  }

  std::string& out() { return out_; }

  /// The text without trailing spaces on any line.
  std::string finish() const {
    std::string t;
    size_t start = 0;
    while (start < out_.size()) {
      size_t nl = out_.find('\n', start);
      if (nl == std::string::npos) nl = out_.size();
      size_t end = nl;
      while (end > start && out_[end - 1] == ' ') --end;
      t.append(out_, start, end - start);
      if (nl < out_.size()) t += '\n';
      start = nl + 1;
    }
    return t;
  }

 private:
  bool color_;
  size_t key_width_;
  std::string out_;
};

}  // namespace

std::string write_text(const ReportSummary& s, bool color, size_t key_width) {
  const Report& r = *s.report;
  Writer w(color, std::clamp<size_t>(key_width, 16, 4096));
  std::string& out = w.out();
  fmt::format_to(Out(out), "logpipe analyze: {} requests ({}), {} to {}{}\n", r.requests,
                 s.format.empty() ? "no input" : s.format, zoned_time_text(r.min_time, s.zone),
                 zoned_time_text(r.max_time, s.zone), s.zone.is_utc() ? "" : " (" + s.zone.name() + ")");
  if (s.input_formats.size() > 1)  // formats are detected per input
    for (const auto& [input, format] : s.input_formats)
      fmt::format_to(Out(out), "  {}: {}\n", w.clean(input), format.empty() ? "no line" : format);
  if (!s.where.empty())
    fmt::format_to(Out(out), "  --where {}: kept {} of {} records\n", w.clean(s.where), s.where_counts.kept,
                   s.where_counts.read);
  if (r.max_keys()) {
    const uint64_t floor = std::max({r.urls.evicted_floor(), r.ips.evicted_floor(), r.users.evicted_floor(),
                                     r.referers.evicted_floor(), r.agents.evicted_floor(), r.click_path_floor()});
    const uint64_t evicted = r.urls.evicted_keys() + r.ips.evicted_keys() + r.users.evicted_keys() +
                             r.referers.evicted_keys() + r.agents.evicted_keys();
    if (evicted == 0 && floor == 0 && r.sessions_cut() == 0)
      fmt::format_to(Out(out), "  --max-keys {}: nothing evicted, every count exact\n", r.max_keys());
    else
      fmt::format_to(Out(out),
                     "  --max-keys {}: {} keys evicted; a listed count may be low by at most {} (tops above it "
                     "stay exact); other (evicted keys): {} url, {} address, {} user requests; {} open sessions "
                     "cut\n",
                     r.max_keys(), evicted, floor, r.urls.evicted_requests(), r.ips.evicted_requests(),
                     r.users.evicted_requests(), r.sessions_cut());
  }
  w.title("Totals");
  std::vector<std::vector<std::string>> totals;
  if (s.tracking) {  // tracking logs: no status, no bytes; their figures instead
    const Report::CourseFigures& f = s.course_totals;
    totals = {
        {"events", fmt::format("{}", r.requests), ""},
        {"unique users", fmt::format("{}", r.users.size()), ""},
        {"courses", fmt::format("{}", r.courses.size()), ""},
        {"enrolments", fmt::format("{}", f.enrolments), fmt::format("{} unenrolments", f.unenrolments)},
        {"problem checks", fmt::format("{}", f.problem_checks), percent(f.problem_correct, f.problem_checks) + " correct"},
        {"unique IPs", fmt::format("{}", r.ips.size()), ""},
        {"malformed lines", fmt::format("{}", r.malformed), ""},
    };
  } else {
    totals = {
        {"requests", fmt::format("{}", r.requests), ""},
        {"errors", fmt::format("{}", r.errors), percent(r.errors, r.outcomes)},
        {"server errors (5xx)", fmt::format("{}", r.server_errors), percent(r.server_errors, r.outcomes)},
        {"bytes", fmt::format("{}", r.bytes), human_bytes(r.bytes)},
        {"unique IPs", fmt::format("{}", r.ips.size()), ""},
        {"unique users", fmt::format("{}", r.users.size()), ""},
        {"malformed lines", fmt::format("{}", r.malformed), ""},
    };
  }
  if (!s.where.empty()) totals.push_back({"left out by --where", fmt::format("{}", s.where_counts.filtered), ""});
  if (r.filtered_out) totals.push_back({"outside --since/--until", fmt::format("{}", r.filtered_out), ""});
  w.table({"", "value", ""}, totals, SIZE_MAX, 1);

  if (!s.status.empty()) {
    w.title("Status");
    std::vector<std::vector<std::string>> rows;
    for (const auto& [code, n] : s.status)
      rows.push_back({fmt::format("{}", code), fmt::format("{}", n), percent(n, r.requests)});
    w.table({"status", "requests", "share"}, rows, SIZE_MAX, 0);
  }
  w.keyed("Top URLs", "url", s.urls);
  w.keyed("Top IPs", "ip", s.ips);
  w.keyed("Top users", "user", s.users);
  w.keyed("Methods", "method", s.methods);
  w.keyed("Top referers", "referer", s.referers);
  w.keyed("Top user agents", "agent", s.agents);
  w.counts("Browsers", "browser", s.browsers, r.requests);
  w.counts("Operating systems", "os", s.os, r.requests);
  w.keyed("Events (edx event_type)", "event_type", s.events, false);
  w.keyed("Courses", "course_id", s.courses, false);
  if (!s.course_figures.empty()) {
    w.title("Course figures (edx)");
    std::vector<std::vector<std::string>> rows;
    for (const auto& c : s.course_figures) {
      const Report::CourseFigures& f = c.figures;
      rows.push_back({fmt::format("{}", c.learners), fmt::format("{:.1f}", c.learners_per_day),
                      fmt::format("{}", c.peak_week_learners), fmt::format("{}", f.enrolments),
                      fmt::format("{}", f.unenrolments), fmt::format("{}", f.video_plays),
                      percent(c.video_completers, c.video_learners), fmt::format("{}", f.problem_checks),
                      percent(f.problem_correct, f.problem_checks), fmt::format("{}", f.forum_posts),
                      w.clean(c.course)});
    }
    w.table({"learners", "per day", "peak week", "enrol", "unenrol", "video plays", "completed", "checks",
             "correct", "forum posts", "course_id"},
            rows);
  }
  if (s.geoip) {
    w.keyed("Countries (GeoIP)", "country", ReportSummary::rows_of(s.countries));
    w.keyed("Cities (GeoIP)", "city", ReportSummary::rows_of(s.cities));
    w.keyed("Networks (GeoIP ASN)", "network", ReportSummary::rows_of(s.networks));
  }
  w.keyed("Not found (404)", "url", s.not_found, false);
  w.keyed("Referring domains", "domain", s.referring_domains);
  if (s.latency.count) {
    w.title("Response times (ms)");
    auto ms = [](double v) { return v < 0 ? std::string("-") : fmt::format("{:.3f}", v); };
    auto row = [&](const ReportSummary::Latency& l, std::string key) {
      return std::vector<std::string>{fmt::format("{}", l.count), ms(l.mean_ms), ms(l.p50_ms), ms(l.p95_ms),
                                      ms(l.p99_ms),  ms(l.max_ms), ms(l.total_ms), std::move(key)};
    };
    std::vector<std::vector<std::string>> rows = {row(s.latency, "(all)")};
    for (const auto& u : s.url_latency) rows.push_back(row(u.latency, w.clean(u.url)));
    w.table({"timed", "mean", "p50", "p95", "p99", "max", "total", "url"}, rows);
  }

  if (!s.timeseries.empty()) {
    w.title(fmt::format("Time series (per {})", s.by));
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : s.timeseries)
      rows.push_back({zoned_time_text(p.time, s.zone), fmt::format("{}", p.value.requests), fmt::format("{}", p.value.errors),
                      fmt::format("{}", p.value.server_errors), human_bytes(p.value.bytes)});
    w.table({"time", "requests", "errors", "5xx", "bytes"}, rows, 2, 1);
  }
  if (!s.timeseries.empty()) {
    static constexpr std::string_view kWeekdays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    auto bucket_row = [&](std::string key, const TimeBucket& b) {
      return std::vector<std::string>{std::move(key), fmt::format("{}", b.requests), fmt::format("{}", b.errors),
                                      percent(b.errors, b.with_status), human_bytes(b.bytes)};
    };
    w.title(s.zone.is_utc() ? std::string("Hour of day (UTC)") : "Hour of day (" + s.zone.name() + ")");
    std::vector<std::vector<std::string>> rows;
    // Empty hours and days are left out here (the JSON and CSV reports list all 24 and 7).
    for (size_t h = 0; h < s.hours.size(); ++h)
      if (s.hours[h].requests) rows.push_back(bucket_row(fmt::format("{:02}", h), s.hours[h]));
    w.table({"hour", "requests", "errors", "error%", "bytes"}, rows, 2, 1);
    w.title("Weekday");
    rows.clear();
    for (size_t d = 0; d < s.weekdays.size(); ++d)
      if (s.weekdays[d].requests) rows.push_back(bucket_row(std::string(kWeekdays[d]), s.weekdays[d]));
    w.table({"day", "requests", "errors", "error%", "bytes"}, rows, 2, 1);
  }
  if (!s.visitors_per_day.empty()) {
    w.title("Visitors per day (distinct addresses)");
    std::vector<std::vector<std::string>> rows;
    for (const auto& [day, n] : s.visitors_per_day) rows.push_back({time_text(day).substr(0, 10), fmt::format("{}", n)});
    w.table({"day", "visitors"}, rows, SIZE_MAX, 1);
  }
  if (!s.active_users_per_day.empty()) {
    w.title("Active users per day");
    std::vector<std::vector<std::string>> rows;
    for (const auto& [day, n] : s.active_users_per_day) rows.push_back({time_text(day).substr(0, 10), fmt::format("{}", n)});
    w.table({"day", "users"}, rows, SIZE_MAX, 1);
  }
  if (s.session_count) {
    w.title("Sessions");
    const auto& d = s.session_duration_s;
    const auto& p = s.session_pages;
    w.table({"", "mean", "p50", "p90", "max"},
            {{"duration (s)", fmt::format("{:.1f}", d.mean), fmt::format("{}", d.p50), fmt::format("{}", d.p90),
              fmt::format("{}", d.max)},
             {"pages", fmt::format("{:.1f}", p.mean), fmt::format("{}", p.p50), fmt::format("{}", p.p90),
              fmt::format("{}", p.max)}},
            SIZE_MAX, 1);
    fmt::format_to(Out(out), "  {} sessions (30 min inactivity ends one)\n", s.session_count);
    w.counts("Entry pages", "url", s.entry_pages, s.session_count);
    w.counts("Exit pages", "url", s.exit_pages, s.session_count);
    if (!s.click_paths.empty()) {
      w.title("Top click paths");
      std::vector<std::vector<std::string>> rows;
      for (const auto& c : s.click_paths)
        rows.push_back({fmt::format("{}", c.count), w.clean(c.from) + " -> " + w.clean(c.to)});
      w.table({"count", "from -> to"}, rows);
    }
  }
  return w.finish();
}

}  // namespace logpipe
