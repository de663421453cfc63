// The JSON report: the docs/reference.md contract keys first (requests, errors, malformed, bytes,
// unique_ips, unique_users, status, urls, ips, users, timeseries, sessions), then the extras
// documented in docs/analyze.md. Compact, one object, newline-terminated.
#include "logpipe/report.h"
#include "logpipe/text.h"
#include "logpipe/timeutil.h"

#include <fmt/format.h>

#include <iterator>

namespace logpipe {

namespace {

using Out = std::back_insert_iterator<std::string>;

void key(std::string& out, std::string_view name) {
  if (out.back() != '{' && out.back() != '[') out += ',';
  out += '"';
  out += name;
  out += "\":";
}

void rows(std::string& out, std::string_view name, std::string_view field,
          const std::vector<ReportSummary::Row>& v, bool with_errors = true) {
  key(out, name);
  out += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    fmt::format_to(Out(out), "{{\"{}\":", field);
    append_json_string(out, v[i].key);
    fmt::format_to(Out(out), ",\"requests\":{}", v[i].requests);
    if (with_errors) fmt::format_to(Out(out), ",\"errors\":{}", v[i].errors);
    out += '}';
  }
  out += ']';
}

void counts(std::string& out, std::string_view name, std::string_view field, std::string_view what,
            const std::vector<ReportSummary::Count>& v) {
  key(out, name);
  out += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    fmt::format_to(Out(out), "{{\"{}\":", field);
    append_json_string(out, v[i].key);
    fmt::format_to(Out(out), ",\"{}\":{}}}", what, v[i].count);
  }
  out += ']';
}

void stat(std::string& out, std::string_view name, const ReportSummary::Stat& s) {
  key(out, name);
  fmt::format_to(Out(out), "{{\"mean\":{:.2f},\"p50\":{},\"p90\":{},\"max\":{}}}", s.mean, s.p50, s.p90, s.max);
}

// Response times in ms with microsecond precision; mean and total are null when some timed
// records had no url (their sum is not kept).
void latency_fields(std::string& out, const ReportSummary::Latency& l) {
  fmt::format_to(Out(out), "\"count\":{}", l.count);
  auto ms = [&](std::string_view name, double v) {
    if (v < 0) fmt::format_to(Out(out), ",\"{}\":null", name);
    else fmt::format_to(Out(out), ",\"{}\":{:.3f}", name, v);
  };
  ms("mean_ms", l.mean_ms);
  ms("p50_ms", l.p50_ms);
  ms("p95_ms", l.p95_ms);
  ms("p99_ms", l.p99_ms);
  ms("max_ms", l.max_ms);
  ms("total_ms", l.total_ms);
}

void latency(std::string& out, const ReportSummary::Latency& l) {
  out += '{';
  latency_fields(out, l);
  out += '}';
}

// `"name":[{"day":"2025-06-23","what":N}]` (`"week"` for weeks: the date of their Monday).
void per_day(std::string& out, std::string_view name, std::string_view what,
             const std::vector<std::pair<int64_t, uint64_t>>& v, std::string_view date = "day") {
  key(out, name);
  out += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    char buf[32];
    format_rfc3339_seconds(v[i].first, buf);
    fmt::format_to(Out(out), "{}{{\"{}\":\"{}\",\"{}\":{}}}", i ? "," : "", date, std::string_view(buf, 10),
                   what, v[i].second);
  }
  out += ']';
}

// A share in [0, 1] with 4 decimals, or null when its denominator is 0.
void ratio(std::string& out, std::string_view name, uint64_t num, uint64_t den) {
  key(out, name);
  if (den == 0) out += "null";
  else fmt::format_to(Out(out), "{:.4f}", static_cast<double>(num) / static_cast<double>(den));
}

// `"course_figures":[{"course_id":...,"events":N,"learners":N,...,"active_learners_per_week":[...]}]`.
void course_figures(std::string& out, const ReportSummary& s) {
  key(out, "course_figures");
  out += '[';
  for (size_t i = 0; i < s.course_figures.size(); ++i) {
    const ReportSummary::CourseRow& c = s.course_figures[i];
    const Report::CourseFigures& f = c.figures;
    out += i ? ",{\"course_id\":" : "{\"course_id\":";
    append_json_string(out, c.course);
    fmt::format_to(Out(out),
                   ",\"events\":{},\"learners\":{},\"learners_per_day\":{:.2f},\"peak_day_learners\":{},\"peak_week_learners\":{},"
                   "\"enrolments\":{},\"unenrolments\":{},\"video_plays\":{},\"video_completions\":{},"
                   "\"video_learners\":{},\"video_completers\":{}",
                   c.events, c.learners, c.learners_per_day, c.peak_day_learners, c.peak_week_learners, f.enrolments, f.unenrolments,
                   f.video_plays, f.video_completions, c.video_learners, c.video_completers);
    ratio(out, "video_completion_rate", c.video_completers, c.video_learners);
    fmt::format_to(Out(out), ",\"problem_checks\":{},\"problem_correct\":{}", f.problem_checks, f.problem_correct);
    ratio(out, "problem_success_rate", f.problem_correct, f.problem_checks);
    fmt::format_to(Out(out), ",\"forum_events\":{},\"forum_posts\":{}", f.forum_events, f.forum_posts);
    per_day(out, "active_learners_per_day", "learners", c.per_day);
    per_day(out, "active_learners_per_week", "learners", c.per_week, "week");
    out += '}';
  }
  out += ']';
}

// RFC 3339 in the report's zone: `...Z` for UTC, `...+02:00` for Europe/Paris in summer.
void time_value(std::string& out, std::string_view name, int64_t us, const TimeZone& zone) {
  key(out, name);
  if (us == kNoTime) {
    out += "null";
    return;
  }
  out += '"';
  out += zoned_time_text(us, zone);
  out += '"';
}

// `"geoip":{"addresses":N,"unknown":N,"countries":[...],"cities":[...],"networks":[...]}`; an
// unknown country, city or network is null.
void geoip(std::string& out, const ReportSummary& s) {
  auto text_or_null = [&](std::string_view v) {
    if (v.empty()) out += "null";
    else append_json_string(out, v);
  };
  auto panel = [&](std::string_view name, const std::vector<ReportSummary::GeoRow>& v, auto&& fields) {
    key(out, name);
    out += '[';
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) out += ',';
      out += '{';
      fields(v[i]);
      fmt::format_to(Out(out), ",\"requests\":{},\"errors\":{}}}", v[i].requests, v[i].errors);
    }
    out += ']';
  };
  key(out, "geoip");
  fmt::format_to(Out(out), "{{\"addresses\":{},\"unknown\":{}", s.geo_addresses, s.geo_unknown);
  panel("countries", s.countries, [&](const ReportSummary::GeoRow& g) {
    out += "\"country\":";
    text_or_null(g.code);
    out += ",\"name\":";
    text_or_null(g.name);
  });
  panel("cities", s.cities, [&](const ReportSummary::GeoRow& g) {
    out += "\"city\":";
    text_or_null(g.name);
    out += ",\"country\":";
    text_or_null(g.code);
  });
  panel("networks", s.networks, [&](const ReportSummary::GeoRow& g) {
    out += "\"asn\":";
    if (g.asn) fmt::format_to(Out(out), "{}", g.asn);
    else out += "null";
    out += ",\"organization\":";
    text_or_null(g.name);
  });
  out += '}';
}

}  // namespace

std::string write_json(const ReportSummary& s) {
  const Report& r = *s.report;
  std::string out = "{";
  fmt::format_to(Out(out),
                 "\"requests\":{},\"errors\":{},\"malformed\":{},\"bytes\":{},\"unique_ips\":{},"
                 "\"unique_users\":{},\"status\":{{",
                 r.requests, r.errors, r.malformed, r.bytes, r.ips.size(), r.users.size());
  for (size_t i = 0; i < s.status.size(); ++i)
    fmt::format_to(Out(out), "{}\"{}\":{}", i ? "," : "", s.status[i].first, s.status[i].second);
  out += '}';
  rows(out, "urls", "url", s.urls);
  rows(out, "ips", "ip", s.ips);
  rows(out, "users", "user", s.users);
  key(out, "timeseries");
  out += '[';
  for (size_t i = 0; i < s.timeseries.size(); ++i) {
    if (i) out += ',';
    out += '{';
    time_value(out, "time", s.timeseries[i].time, s.zone);
    const TimeBucket& b = s.timeseries[i].value;
    fmt::format_to(Out(out), ",\"requests\":{},\"errors\":{},\"server_errors\":{},\"bytes\":{}}}",
                   b.requests, b.errors, b.server_errors, b.bytes);
  }
  out += ']';
  key(out, "sessions");
  fmt::format_to(Out(out), "{{\"count\":{}", s.session_count);
  stat(out, "duration_s", s.session_duration_s);
  stat(out, "pages", s.session_pages);
  counts(out, "entry_pages", "url", "sessions", s.entry_pages);
  counts(out, "exit_pages", "url", "sessions", s.exit_pages);
  key(out, "click_paths");
  out += '[';
  for (size_t i = 0; i < s.click_paths.size(); ++i) {
    if (i) out += ',';
    out += "{\"from\":";
    append_json_string(out, s.click_paths[i].from);
    out += ",\"to\":";
    append_json_string(out, s.click_paths[i].to);
    fmt::format_to(Out(out), ",\"count\":{}}}", s.click_paths[i].count);
  }
  out += "]}";

  // Extras (docs/analyze.md).
  // outcomes: the records with a status or a level, the denominator of every error ratio.
  fmt::format_to(Out(out), ",\"server_errors\":{},\"outcomes\":{},\"filtered_out\":{}", r.server_errors, r.outcomes,
                 r.filtered_out);
  if (!s.where.empty()) {
    key(out, "where");
    out += "{\"expression\":";
    append_json_string(out, s.where);
    fmt::format_to(Out(out), ",\"read\":{},\"kept\":{},\"left_out\":{}}}", s.where_counts.read, s.where_counts.kept,
                   s.where_counts.filtered);
  }
  if (r.max_keys()) {  // --max-keys: what the cap evicted; counts of kept keys are low by at most the floor
    key(out, "key_cap");
    fmt::format_to(Out(out), "{{\"max_keys\":{},\"evicted_keys\":{{", r.max_keys());
    const std::pair<const char*, const KeyTable*> tables[] = {{"urls", &r.urls},       {"ips", &r.ips},
                                                              {"users", &r.users},     {"referers", &r.referers},
                                                              {"agents", &r.agents},   {"methods", &r.methods},
                                                              {"events", &r.events},   {"courses", &r.courses}};
    for (size_t i = 0; i < std::size(tables); ++i)
      fmt::format_to(Out(out), "{}\"{}\":{}", i ? "," : "", tables[i].first, tables[i].second->evicted_keys());
    out += "},\"floors\":{";
    for (size_t i = 0; i < std::size(tables); ++i)
      fmt::format_to(Out(out), "{}\"{}\":{}", i ? "," : "", tables[i].first, tables[i].second->evicted_floor());
    fmt::format_to(Out(out), ",\"click_paths\":{}", r.click_path_floor());
    out += "},\"other_requests\":{";  // requests of evicted keys: what no listed key holds any more
    for (size_t i = 0; i < std::size(tables); ++i)
      fmt::format_to(Out(out), "{}\"{}\":{}", i ? "," : "", tables[i].first, tables[i].second->evicted_requests());
    fmt::format_to(Out(out), "}},\"sessions_cut\":{}}}", r.sessions_cut());
  }
  key(out, "format");
  append_json_string(out, s.format);
  if (s.input_formats.size() > 1) {  // formats are detected per input
    key(out, "input_formats");
    out += '[';
    for (size_t i = 0; i < s.input_formats.size(); ++i) {
      out += i ? ",{\"input\":" : "{\"input\":";
      append_json_string(out, s.input_formats[i].first);
      out += ",\"format\":";
      append_json_string(out, s.input_formats[i].second);
      out += '}';
    }
    out += ']';
  }
  if (!s.zone.is_utc()) {  // --tz: the zone of the times and buckets below
    key(out, "time_zone");
    append_json_string(out, s.zone.name());
  }
  time_value(out, "first_time", r.min_time, s.zone);
  time_value(out, "last_time", r.max_time, s.zone);
  key(out, "timeseries_by");
  append_json_string(out, s.by);
  rows(out, "methods", "method", s.methods);
  rows(out, "referers", "referer", s.referers);
  rows(out, "agents", "agent", s.agents);
  counts(out, "browsers", "browser", "requests", s.browsers);
  counts(out, "os", "os", "requests", s.os);
  rows(out, "events", "event_type", s.events, false);
  rows(out, "courses", "course_id", s.courses, false);
  course_figures(out, s);
  if (s.geoip) geoip(out, s);
  rows(out, "not_found", "url", s.not_found, false);
  rows(out, "referring_domains", "domain", s.referring_domains);
  key(out, "latency");
  latency(out, s.latency);
  key(out, "url_latency");
  out += '[';
  for (size_t i = 0; i < s.url_latency.size(); ++i) {
    out += i ? ",{\"url\":" : "{\"url\":";
    append_json_string(out, s.url_latency[i].url);
    out += ',';
    latency_fields(out, s.url_latency[i].latency);
    out += '}';
  }
  out += ']';
  static constexpr std::string_view kWeekdays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  auto bucket = [&](const TimeBucket& b) {
    fmt::format_to(Out(out), "\"requests\":{},\"errors\":{},\"server_errors\":{},\"bytes\":{}}}", b.requests,
                   b.errors, b.server_errors, b.bytes);
  };
  key(out, "hours");
  out += '[';
  for (size_t h = 0; h < s.hours.size(); ++h) {
    fmt::format_to(Out(out), "{}{{\"hour\":{},", h ? "," : "", h);
    bucket(s.hours[h]);
  }
  out += ']';
  key(out, "weekdays");
  out += '[';
  for (size_t d = 0; d < s.weekdays.size(); ++d) {
    fmt::format_to(Out(out), "{}{{\"weekday\":\"{}\",", d ? "," : "", kWeekdays[d]);
    bucket(s.weekdays[d]);
  }
  out += ']';
  per_day(out, "visitors_per_day", "visitors", s.visitors_per_day);
  per_day(out, "active_users_per_day", "users", s.active_users_per_day);
  out += "}\n";
  return out;
}

}  // namespace logpipe
