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
  return out;
}

}  // namespace logpipe
