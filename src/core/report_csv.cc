// The CSV report: one section per table. Each section is a header row whose first field is
// `section`, then rows whose first field is the section name, then a blank line; RFC 4180 quoting
// (fields with a comma, quote, CR or LF are quoted, quotes doubled). Values are the log's bytes,
// unmodified: spreadsheet users should import as text (see docs/analyze.md).
#include "logpipe/report.h"
#include "logpipe/text.h"
#include "logpipe/timeutil.h"

#include <fmt/format.h>

#include <iterator>

namespace logpipe {
namespace {

using Out = std::back_insert_iterator<std::string>;

void field(std::string& out, std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

template <typename... Fields>
void row(std::string& out, std::string_view section, const Fields&... fields) {
  field(out, section);
  ((out += ',', field(out, fmt::format("{}", fields))), ...);
  out += "\r\n";
}

void header(std::string& out, std::initializer_list<std::string_view> names) {
  out += "section";
  for (auto n : names) {
    out += ',';
    out += n;
  }
  out += "\r\n";
}

// CSV leaves an absent time empty (a spreadsheet reads it as blank, not as the text "-").
std::string csv_time(int64_t us, const TimeZone& zone = TimeZone()) {
  return us == kNoTime ? std::string() : zoned_time_text(us, zone);
}

void keyed(std::string& out, std::string_view section, std::string_view key,
           const std::vector<ReportSummary::Row>& v) {
  header(out, {key, "requests", "errors"});
  for (const auto& r : v) row(out, section, r.key, r.requests, r.errors);
  out += "\r\n";
}

void counts(std::string& out, std::string_view section, std::string_view key, std::string_view what,
            const std::vector<ReportSummary::Count>& v) {
  header(out, {key, what});
  for (const auto& c : v) row(out, section, c.key, c.count);
  out += "\r\n";
}

}  // namespace

std::string write_csv(const ReportSummary& s) {
  const Report& r = *s.report;
  std::string out;
  header(out, {"metric", "value"});
  row(out, "totals", "requests", r.requests);
  row(out, "totals", "errors", r.errors);
  row(out, "totals", "server_errors", r.server_errors);
  row(out, "totals", "malformed", r.malformed);
  row(out, "totals", "bytes", r.bytes);
  row(out, "totals", "unique_ips", r.ips.size());
  row(out, "totals", "unique_users", r.users.size());
  row(out, "totals", "filtered_out", r.filtered_out);
  row(out, "totals", "first_time", csv_time(r.min_time, s.zone));
  row(out, "totals", "last_time", csv_time(r.max_time, s.zone));
  row(out, "totals", "format", s.format);
  if (!s.where.empty()) {
    row(out, "totals", "where", s.where);
    row(out, "totals", "where_read", s.where_counts.read);
    row(out, "totals", "where_kept", s.where_counts.kept);
    row(out, "totals", "where_left_out", s.where_counts.filtered);
  }
  if (r.max_keys()) {
    row(out, "totals", "max_keys", r.max_keys());
    row(out, "totals", "max_keys_evicted_urls", r.urls.evicted_keys());
    row(out, "totals", "max_keys_floor_urls", r.urls.evicted_floor());
    row(out, "totals", "max_keys_evicted_ips", r.ips.evicted_keys());
    row(out, "totals", "max_keys_floor_ips", r.ips.evicted_floor());
    row(out, "totals", "max_keys_evicted_users", r.users.evicted_keys());
    row(out, "totals", "max_keys_floor_users", r.users.evicted_floor());
    row(out, "totals", "max_keys_floor_click_paths", r.click_path_floor());
    row(out, "totals", "max_keys_sessions_cut", r.sessions_cut());
  }
  if (!s.zone.is_utc()) row(out, "totals", "time_zone", s.zone.name());
  out += "\r\n";
  header(out, {"status", "requests"});
  for (const auto& [code, n] : s.status) row(out, "status", code, n);
  out += "\r\n";
  keyed(out, "urls", "url", s.urls);
  keyed(out, "ips", "ip", s.ips);
  keyed(out, "users", "user", s.users);
  keyed(out, "methods", "method", s.methods);
  keyed(out, "referers", "referer", s.referers);
  keyed(out, "agents", "agent", s.agents);
  counts(out, "browsers", "browser", "requests", s.browsers);
  counts(out, "os", "os", "requests", s.os);
  keyed(out, "events", "event_type", s.events);
  keyed(out, "courses", "course_id", s.courses);
  if (s.geoip) {
    keyed(out, "countries", "country", ReportSummary::rows_of(s.countries));
    keyed(out, "cities", "city", ReportSummary::rows_of(s.cities));
    keyed(out, "networks", "network", ReportSummary::rows_of(s.networks));
  }
  header(out, {"time", "requests", "errors", "server_errors", "bytes"});
  for (const auto& p : s.timeseries)
    row(out, "timeseries", csv_time(p.time, s.zone), p.value.requests, p.value.errors, p.value.server_errors, p.value.bytes);
  out += "\r\n";
  header(out, {"day", "users"});
  for (const auto& [day, n] : s.active_users_per_day) row(out, "active_users_per_day", csv_time(day).substr(0, 10), n);
  out += "\r\n";
  header(out, {"metric", "value"});
  row(out, "sessions", "count", s.session_count);
  row(out, "sessions", "duration_s_mean", fmt::format("{:.2f}", s.session_duration_s.mean));
  row(out, "sessions", "duration_s_p50", s.session_duration_s.p50);
  row(out, "sessions", "duration_s_p90", s.session_duration_s.p90);
  row(out, "sessions", "duration_s_max", s.session_duration_s.max);
  row(out, "sessions", "pages_mean", fmt::format("{:.2f}", s.session_pages.mean));
  row(out, "sessions", "pages_p50", s.session_pages.p50);
  row(out, "sessions", "pages_p90", s.session_pages.p90);
  row(out, "sessions", "pages_max", s.session_pages.max);
  out += "\r\n";
  counts(out, "entry_pages", "url", "sessions", s.entry_pages);
  counts(out, "exit_pages", "url", "sessions", s.exit_pages);
  header(out, {"from", "to", "count"});
  for (const auto& c : s.click_paths) row(out, "click_paths", c.from, c.to, c.count);
  out += "\r\n";
  header(out, {"url", "requests"});
  for (const auto& r : s.not_found) row(out, "not_found", r.key, r.requests);
  out += "\r\n";
  keyed(out, "referring_domains", "domain", s.referring_domains);
  // Response times: the first row (url empty) is every timed record; mean and total are empty
  // when some timed records had no url.
  header(out, {"url", "count", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms", "total_ms"});
  auto ms = [](double v) { return v < 0 ? std::string() : fmt::format("{:.3f}", v); };
  auto latency = [&](std::string_view url, const ReportSummary::Latency& l) {
    row(out, "latency", url, l.count, ms(l.mean_ms), ms(l.p50_ms), ms(l.p95_ms), ms(l.p99_ms), ms(l.max_ms),
        ms(l.total_ms));
  };
  if (s.latency.count) latency("", s.latency);
  for (const auto& u : s.url_latency) latency(u.url, u.latency);
  out += "\r\n";
  static constexpr std::string_view kWeekdays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  header(out, {"hour", "requests", "errors", "server_errors", "bytes"});
  for (size_t h = 0; h < s.hours.size(); ++h)
    row(out, "hours", h, s.hours[h].requests, s.hours[h].errors, s.hours[h].server_errors, s.hours[h].bytes);
  out += "\r\n";
  header(out, {"weekday", "requests", "errors", "server_errors", "bytes"});
  for (size_t d = 0; d < s.weekdays.size(); ++d)
    row(out, "weekdays", kWeekdays[d], s.weekdays[d].requests, s.weekdays[d].errors, s.weekdays[d].server_errors,
        s.weekdays[d].bytes);
  out += "\r\n";
  header(out, {"day", "visitors"});
  for (const auto& [day, n] : s.visitors_per_day) row(out, "visitors_per_day", csv_time(day).substr(0, 10), n);
  out += "\r\n";
  // edX course figures; a rate's cell is empty when nothing was played or checked.
  auto share = [](uint64_t num, uint64_t den) {
    return den ? fmt::format("{:.4f}", static_cast<double>(num) / static_cast<double>(den)) : std::string();
  };
  header(out, {"course_id", "events", "learners", "learners_per_day", "peak_day_learners", "peak_week_learners",
               "enrolments", "unenrolments", "video_plays", "video_completions", "video_learners", "video_completers",
               "video_completion_rate", "problem_checks", "problem_correct", "problem_success_rate", "forum_events",
               "forum_posts"});
  for (const auto& c : s.course_figures) {
    const Report::CourseFigures& f = c.figures;
    row(out, "course_figures", c.course, c.events, c.learners, fmt::format("{:.2f}", c.learners_per_day),
        c.peak_day_learners, c.peak_week_learners, f.enrolments, f.unenrolments, f.video_plays, f.video_completions,
        c.video_learners, c.video_completers, share(c.video_completers, c.video_learners), f.problem_checks,
        f.problem_correct, share(f.problem_correct, f.problem_checks), f.forum_events, f.forum_posts);
  }
  out += "\r\n";
  header(out, {"course_id", "day", "learners"});
  for (const auto& c : s.course_figures)
    for (const auto& [day, n] : c.per_day) row(out, "course_learners_per_day", c.course, csv_time(day).substr(0, 10), n);
  out += "\r\n";
  header(out, {"course_id", "week", "learners"});
  for (const auto& c : s.course_figures)
    for (const auto& [week, n] : c.per_week) row(out, "course_learners_per_week", c.course, csv_time(week).substr(0, 10), n);
  return out;
}

}  // namespace logpipe
