// From a finished Report to the sorted, trimmed tables every writer shows. Done once, after the
// scan: sorting and roll-ups cost nothing next to parsing.
#include "logpipe/error.h"
#include "logpipe/geoip.h"
#include "logpipe/report.h"
#include "logpipe/text.h"
#include "logpipe/timeutil.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <unordered_map>

namespace logpipe {
namespace {

constexpr int64_t kUsPerMinute = 60LL * 1000000;
constexpr int64_t kUsPerHour = 60 * kUsPerMinute;
constexpr int64_t kUsPerDay = 24 * kUsPerHour;
// Filling empty buckets with zeros keeps charts honest; beyond this many buckets (a stray
// timestamp years away) only non-empty buckets are listed.
constexpr int64_t kMaxFilledBuckets = 100000;

std::vector<ReportSummary::Row> rows(const KeyTable& table, size_t top) {
  std::vector<ReportSummary::Row> out;
  for (uint32_t id : table.top(top)) {
    const KeyStats& c = table.stats(id);
    out.push_back({table.key(id), c.requests, c.errors, c.with_status});
  }
  return out;
}

// Sorted by count descending, then key ascending; `top` = 0 keeps all.
void sort_counts(std::vector<ReportSummary::Count>& v, size_t top) {
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    return a.count != b.count ? a.count > b.count : a.key < b.key;
  });
  if (top && v.size() > top) v.resize(top);
}

ReportSummary::Stat stat_of(std::vector<uint32_t> v) {
  ReportSummary::Stat s;
  if (v.empty()) return s;
  uint64_t sum = 0;
  for (uint32_t x : v) sum += x;
  s.mean = static_cast<double>(sum) / static_cast<double>(v.size());
  std::sort(v.begin(), v.end());
  // Nearest-rank percentiles: the smallest value with at least p% of the values at or below it.
  auto rank = [&](double p) {
    size_t r = static_cast<size_t>(p * static_cast<double>(v.size()) + 0.999999);
    return v[std::clamp<size_t>(r, 1, v.size()) - 1];
  };
  s.p50 = rank(0.5);
  s.p90 = rank(0.9);
  s.max = v.back();
  return s;
}

std::vector<ReportSummary::Count> page_counts(const Report& r, const std::vector<uint64_t>& by_id,
                                              size_t top) {
  std::vector<ReportSummary::Count> out;
  for (uint32_t id = 0; id < by_id.size(); ++id)
    if (by_id[id]) out.push_back({r.urls.key(id), by_id[id]});
  sort_counts(out, top);
  return out;
}

// The GeoIP panels: each distinct client address looked up once, its counters added to its
// country, city and network (records without an address are in no panel).
void geo_panels(const Report& r, const GeoIp& geo, size_t top, ReportSummary& s) {
  using GeoRow = ReportSummary::GeoRow;
  std::map<std::string, GeoRow> countries, cities;
  std::map<uint32_t, GeoRow> networks;
  auto add = [](GeoRow& row, const KeyStats& c) {
    row.requests += c.requests;
    row.errors += c.errors;
    row.with_status += c.with_status;
  };
  for (uint32_t id = 0; id < r.ips.size(); ++id) {
    const GeoInfo g = geo.resolve(r.ips.key(id));  // once per address: no memo
    const KeyStats& c = r.ips.stats(id);
    ++s.geo_addresses;
    s.geo_unknown += !g.found();
    GeoRow& country = countries[g.country_code];
    if (country.display.empty()) {
      country.code = g.country_code;
      country.name = g.country_name;
      country.display = g.country_code.empty()   ? "(unknown)"
                        : g.country_name.empty() ? g.country_code
                                                 : g.country_code + " " + g.country_name;
    }
    add(country, c);
    GeoRow& city = cities[g.country_code + '\0' + g.city];
    if (city.display.empty()) {
      city.code = g.country_code;
      city.name = g.city;
      if (g.city.empty()) city.display = g.country_code.empty() ? "(unknown)" : "(unknown), " + g.country_code;
      else city.display = g.country_code.empty() ? g.city : g.city + ", " + g.country_code;
    }
    add(city, c);
    GeoRow& net = networks[g.asn];
    if (net.display.empty()) {
      net.asn = g.asn;
      net.name = g.as_org;
      net.display = g.asn == 0           ? std::string("(unknown)")
                    : g.as_org.empty() ? fmt::format("AS{}", g.asn)
                                       : fmt::format("AS{} {}", g.asn, g.as_org);
    }
    add(net, c);
  }
  auto sorted = [top](auto& from) {
    std::vector<GeoRow> v;
    for (auto& [k, row] : from) v.push_back(std::move(row));
    std::sort(v.begin(), v.end(), [](const GeoRow& a, const GeoRow& b) {
      return a.requests != b.requests ? a.requests > b.requests : a.display < b.display;
    });
    if (top && v.size() > top) v.resize(top);
    return v;
  };
  s.geoip = true;
  s.countries = sorted(countries);
  s.cities = sorted(cities);
  s.networks = sorted(networks);
}

// The host of an http(s) referer, lower-case, without user info and port; other referers
// (android-app://..., a bare word) are their own group.
std::string referer_host(std::string_view ref) {
  std::string_view rest = ref;
  auto starts = [&](std::string_view p) {
    if (rest.size() < p.size()) return false;
    for (size_t i = 0; i < p.size(); ++i)
      if (ascii_lower(rest[i]) != p[i]) return false;
    return true;
  };
  if (starts("https://")) rest.remove_prefix(8);
  else if (starts("http://")) rest.remove_prefix(7);
  else return std::string(ref);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  if (!rest.empty() && rest.front() == '[') {  // [v6]:port
    rest = rest.substr(0, rest.find(']') == std::string_view::npos ? rest.size() : rest.find(']') + 1);
  } else if (size_t colon = rest.find(':'); colon != std::string_view::npos) {
    rest = rest.substr(0, colon);
  }
  std::string host;
  host.reserve(rest.size());
  for (char c : rest) host += ascii_lower(c);
  return host.empty() ? std::string(ref) : host;
}

void referring_domains(const Report& r, size_t top, ReportSummary& s) {
  struct Acc {
    uint64_t requests = 0, errors = 0, with_status = 0;
  };
  std::map<std::string, Acc, std::less<>> by_host;
  for (uint32_t id = 0; id < r.referers.size(); ++id) {
    const KeyStats& c = r.referers.stats(id);
    Acc& a = by_host[referer_host(r.referers.key(id))];
    a.requests += c.requests;
    a.errors += c.errors;
    a.with_status += c.with_status;
  }
  s.referring_domain_keys.reserve(by_host.size());
  for (auto& [host, a] : by_host) s.referring_domain_keys.push_back(host);
  size_t i = 0;
  for (auto& [host, a] : by_host)
    s.referring_domains.push_back({s.referring_domain_keys[i++], a.requests, a.errors, a.with_status});
  std::sort(s.referring_domains.begin(), s.referring_domains.end(), [](const auto& a, const auto& b) {
    return a.requests != b.requests ? a.requests > b.requests : a.key < b.key;
  });
  if (top && s.referring_domains.size() > top) s.referring_domains.resize(top);
}

ReportSummary::Latency latency_of(const LatencyHistogram& h, uint64_t sum_us) {
  ReportSummary::Latency l;
  l.count = h.count();
  if (!l.count) return l;
  l.total_ms = static_cast<double>(sum_us) / 1000.0;
  l.mean_ms = l.total_ms / static_cast<double>(l.count);
  l.p50_ms = h.quantile_us(0.50) / 1000.0;
  l.p95_ms = h.quantile_us(0.95) / 1000.0;
  l.p99_ms = h.quantile_us(0.99) / 1000.0;
  l.max_ms = static_cast<double>(h.max_us()) / 1000.0;
  return l;
}

// Response times: overall, and the urls with the most total time (their histograms rebuilt
// from the sparse (url, bucket) counts, only for the urls shown).
void latency_panels(const Report& r, size_t top, ReportSummary& s) {
  uint64_t sum = 0;
  std::vector<uint32_t> timed;
  for (uint32_t id = 0; id < r.url_latency.size(); ++id) {
    if (r.url_latency[id].min_us == UINT64_MAX) continue;
    sum += r.url_latency[id].sum_us;
    timed.push_back(id);
  }
  // Records without a url have response times too: the overall sum is the histogram's count
  // times nothing we know, so it comes from the urls only when every timed record had one.
  s.latency = latency_of(r.latency, sum);
  if (r.latency.count()) {
    uint64_t with_url = 0;
    r.url_latency_buckets.for_each([&](uint64_t, uint64_t n) { with_url += n; });
    if (with_url != r.latency.count()) s.latency.total_ms = s.latency.mean_ms = -1;  // unknown
  }
  auto more_time = [&](uint32_t a, uint32_t b) {
    const uint64_t x = r.url_latency[a].sum_us, y = r.url_latency[b].sum_us;
    return x != y ? x > y : r.urls.key(a) < r.urls.key(b);
  };
  if (top && timed.size() > top) {
    std::partial_sort(timed.begin(), timed.begin() + static_cast<std::ptrdiff_t>(top), timed.end(), more_time);
    timed.resize(top);
  } else {
    std::sort(timed.begin(), timed.end(), more_time);
  }
  std::unordered_map<uint32_t, LatencyHistogram> hist;
  for (uint32_t id : timed) hist[id];
  r.url_latency_buckets.for_each([&](uint64_t v, uint64_t n) {
    auto it = hist.find(static_cast<uint32_t>(v >> 32));
    if (it == hist.end()) return;
    const Report::UrlLatency& u = r.url_latency[it->first];
    it->second.add_bucket(static_cast<size_t>(v & 0xffffffffu), n, u.min_us, u.max_us);
  });
  for (uint32_t id : timed)
    s.url_latency.push_back({r.urls.key(id), latency_of(hist[id], r.url_latency[id].sum_us)});
}

}  // namespace

std::vector<ReportSummary::Row> ReportSummary::rows_of(const std::vector<GeoRow>& v) {
  std::vector<Row> out;
  out.reserve(v.size());
  for (const auto& g : v) out.push_back({g.display, g.requests, g.errors, g.with_status});
  return out;
}

namespace {

// The UTC instant at which the bucket of `t` begins: the local boundary of `step` before t.
int64_t bucket_start(int64_t t, int64_t step, const TimeZone& zone) noexcept {
  if (zone.is_utc()) return floor_div(t, step) * step;
  const int32_t offset = zone.offset_at(t);
  const int64_t local = t + int64_t(offset) * 1000000;
  return zone.to_utc(floor_div(local, step) * step, offset);
}

// The bucket after the one starting at `b`: the next local boundary, or an earlier change of
// offset that starts a bucket of its own (the repeated hour of a setback).
int64_t next_bucket(int64_t b, int64_t step, const TimeZone& zone) noexcept {
  if (zone.is_utc()) return b + step;
  const int32_t offset = zone.offset_at(b);
  const int64_t local = b + int64_t(offset) * 1000000;
  int64_t next = zone.to_utc(floor_div(local, step) * step + step, offset);
  const int64_t change = zone.next_change(b);
  if (change < next) {
    int64_t c = bucket_start(change, step, zone);
    if (c > b && c < next) next = c;
  }
  return next > b ? next : b + step;
}

}  // namespace

std::string zoned_time_text(int64_t us, const TimeZone& zone) {
  if (us == kNoTime) return "-";
  if (zone.is_utc()) return time_text(us);
  const int32_t offset = zone.offset_at(us);
  char buf[32];
  size_t n = format_rfc3339_seconds(us + int64_t(offset) * 1000000, buf);
  const int32_t a = offset < 0 ? -offset : offset;
  return fmt::format("{}{}{:02}:{:02}", std::string_view(buf, n - 1), offset < 0 ? '-' : '+', a / 3600, a / 60 % 60);
}

namespace {

// The figures of the courses in s.courses (the busiest), from the report's per-course counters
// and its distinct learner activity (sorted by course, user, day, kind).
void course_panels(const Report& r, ReportSummary& s) {
  const std::vector<Report::Activity> activity = r.distinct_activity();
  for (const ReportSummary::Row& row : s.courses) {
    const uint32_t id = r.courses.find(row.key);
    if (id == KeyTable::kNone) continue;
    ReportSummary::CourseRow c;
    c.course = row.key;
    c.events = row.requests;
    if (id < r.course_figures.size()) c.figures = r.course_figures[id];
    auto first = std::lower_bound(activity.begin(), activity.end(), Report::Activity{id, 0, 0, 0});
    std::map<int64_t, uint64_t> days, weeks;
    uint32_t last_user = KeyTable::kNone;
    int64_t last_week = INT64_MIN;
    for (auto it = first; it != activity.end() && it->course == id; ++it) {
      const Report::Activity& a = *it;
      if (a.kind == Report::Activity::kPlayed) ++c.video_learners;
      if (a.kind == Report::Activity::kCompleted) ++c.video_completers;
      if (a.kind != Report::Activity::kActive) continue;
      if (a.user != last_user) {  // a new learner: activity is sorted by user, then day
        ++c.learners;
        last_user = a.user;
        last_week = INT64_MIN;
      }
      const int64_t day = static_cast<int32_t>(a.day);
      ++days[day];
      const int64_t monday = day - ((day + 3) % 7 + 7) % 7;  // 1970-01-01 was a Thursday
      if (monday != last_week) {
        ++weeks[monday];
        last_week = monday;
      }
    }
    for (const auto& [day, n] : days) {
      c.per_day.emplace_back(day * kUsPerDay, n);
      c.peak_day_learners = std::max(c.peak_day_learners, n);
      c.learners_per_day += static_cast<double>(n);
    }
    if (!days.empty()) c.learners_per_day /= static_cast<double>(days.size());
    for (const auto& [monday, n] : weeks) {
      c.per_week.emplace_back(monday * kUsPerDay, n);
      c.peak_week_learners = std::max(c.peak_week_learners, n);
    }
    s.course_figures.push_back(std::move(c));
  }
  for (const Report::CourseFigures& f : r.course_figures) s.course_totals.merge(f);
  // Tracking logs (events without an HTTP status): the headline shows events, learners and
  // courses, not errors and bytes.
  uint64_t with_status = 0;
  for (const auto& [code, n] : s.status) with_status += n;
  s.tracking = with_status == 0 && r.events.size() > 0;
}

}  // namespace

ReportSummary summarize(const Report& r, const SummaryOptions& o) {
  ReportSummary s;
  s.report = &r;
  s.format = o.format;
  s.input_formats = o.input_formats;
  s.where = o.where;
  s.where_counts = o.where_counts;
  s.zone = r.time_zone();
  s.inputs = o.inputs;
  s.top = o.top;
  for (size_t code = 0; code < r.status.size(); ++code)
    if (r.status[code]) s.status.emplace_back(static_cast<int>(code), r.status[code]);
  s.urls = rows(r.urls, o.top);
  s.ips = rows(r.ips, o.top);
  s.users = rows(r.users, o.top);
  s.referers = rows(r.referers, o.top);
  s.agents = rows(r.agents, o.top);
  s.methods = rows(r.methods, o.top);
  s.events = rows(r.events, o.top);
  s.courses = rows(r.courses, o.top);

  // Families from distinct agents: one classification per agent, not per line.
  std::array<uint64_t, static_cast<size_t>(BrowserFamily::kCount_)> browsers{};
  std::array<uint64_t, static_cast<size_t>(OsFamily::kCount_)> oses{};
  for (uint32_t id = 0; id < r.agents.size(); ++id) {
    auto [b, os] = classify_agent(r.agents.key(id));
    if (!o.bots.empty() && b != BrowserFamily::kCrawler && RecordFilter::is_bot(r.agents.key(id), o.bots))
      b = BrowserFamily::kCrawler;
    browsers[static_cast<size_t>(b)] += r.agents.stats(id).requests;
    oses[static_cast<size_t>(os)] += r.agents.stats(id).requests;
  }
  for (size_t i = 0; i < browsers.size(); ++i)
    if (browsers[i]) s.browsers.push_back({family_name(static_cast<BrowserFamily>(i)), browsers[i]});
  for (size_t i = 0; i < oses.size(); ++i)
    if (oses[i]) s.os.push_back({family_name(static_cast<OsFamily>(i)), oses[i]});
  sort_counts(s.browsers, 0);
  sort_counts(s.os, 0);

  // Time series: minute buckets rolled up to the chosen granularity.
  int64_t span = r.min_time == kNoTime ? 0 : r.max_time - r.min_time;
  std::string by = o.by;
  if (by == "auto") by = span <= 6 * kUsPerHour ? "minute" : span <= 14 * kUsPerDay ? "hour" : "day";
  int64_t step;
  if (by == "minute") step = kUsPerMinute;
  else if (by == "hour") step = kUsPerHour;
  else if (by == "day") step = kUsPerDay;
  else usage_error("--by: expected minute, hour, day or auto, got '{}'", o.by);
  s.by = by;
  // Buckets start at the zone's local boundaries; their keys are UTC instants, so the hour that
  // a setback repeats stays two buckets, and a local day of 23 or 25 hours is one.
  const TimeZone& zone = s.zone;
  std::map<int64_t, TimeBucket> rolled;
  for (const auto& [minute, b] : r.minutes) {
    rolled[bucket_start(minute * kUsPerMinute, step, zone)].merge(b);
  }
  if (!rolled.empty()) {
    int64_t first = rolled.begin()->first, last = rolled.rbegin()->first;
    if ((last - first) / step < kMaxFilledBuckets) {
      for (int64_t t = first; t <= last; t = next_bucket(t, step, zone)) {
        auto it = rolled.find(t);
        s.timeseries.push_back({t, it == rolled.end() ? TimeBucket{} : it->second});
      }
    } else {
      for (const auto& [t, b] : rolled) s.timeseries.push_back({t, b});
    }
  }

  s.session_count = r.sessions.count;
  s.session_duration_s = stat_of(r.sessions.durations_s);
  s.session_pages = stat_of(r.sessions.pages);
  s.entry_pages = page_counts(r, r.sessions.entry, o.top);
  s.exit_pages = page_counts(r, r.sessions.exit, o.top);
  // Click paths: with a top N, keep only the N best while visiting the table (there can be
  // ~100k pairs; materialising them all cost more page faults than the rest of summarize).
  auto by_count = [](const ReportSummary::Path& a, const ReportSummary::Path& b) {
    if (a.count != b.count) return a.count > b.count;
    if (a.from != b.from) return a.from < b.from;
    return a.to < b.to;
  };
  auto path_of = [&](uint64_t pair, uint64_t n) {
    return ReportSummary::Path{r.urls.key(static_cast<uint32_t>(pair >> 32)),
                               r.urls.key(static_cast<uint32_t>(pair & 0xffffffffu)), n};
  };
  if (o.top == 0) {
    s.click_paths.reserve(r.sessions.transitions.size());
    r.sessions.transitions.for_each([&](uint64_t pair, uint64_t n) { s.click_paths.push_back(path_of(pair, n)); });
  } else {
    // A heap of the best o.top so far, its worst on top: a pair enters only when it beats it.
    auto& best = s.click_paths;
    best.reserve(o.top + 1);
    r.sessions.transitions.for_each([&](uint64_t pair, uint64_t n) {
      if (best.size() == o.top && n < best.front().count) return;  // cheap reject, no strings
      ReportSummary::Path p = path_of(pair, n);
      if (best.size() < o.top) {
        best.push_back(p);
        std::push_heap(best.begin(), best.end(), by_count);
      } else if (by_count(p, best.front())) {
        std::pop_heap(best.begin(), best.end(), by_count);
        best.back() = p;
        std::push_heap(best.begin(), best.end(), by_count);
      }
    });
  }
  std::sort(s.click_paths.begin(), s.click_paths.end(), by_count);

  std::map<int64_t, uint64_t> per_day;
  r.user_days.for_each([&](uint64_t v, uint64_t) { ++per_day[static_cast<int64_t>(static_cast<int32_t>(v >> 32))]; });
  for (const auto& [day, n] : per_day) s.active_users_per_day.emplace_back(day * kUsPerDay, n);
  per_day.clear();
  r.ip_days.for_each([&](uint64_t v, uint64_t) { ++per_day[static_cast<int64_t>(static_cast<int32_t>(v >> 32))]; });
  for (const auto& [day, n] : per_day) s.visitors_per_day.emplace_back(day * kUsPerDay, n);

  // Hour of day and weekday of each minute, in the report's zone (1970-01-01 was a Thursday).
  for (const auto& [minute, b] : r.minutes) {
    const int64_t t = minute * kUsPerMinute;
    const int64_t local = zone.is_utc() ? t : t + int64_t(zone.offset_at(t)) * 1000000;
    const int64_t day = floor_div(local, kUsPerDay);
    s.hours[static_cast<size_t>((local - day * kUsPerDay) / kUsPerHour)].merge(b);
    s.weekdays[static_cast<size_t>(((day + 3) % 7 + 7) % 7)].merge(b);
  }
  s.not_found = rows(r.not_found, o.top);
  referring_domains(r, o.top, s);
  latency_panels(r, o.top, s);
  if (o.geoip) geo_panels(r, *o.geoip, o.top, s);
  course_panels(r, s);
  return s;
}

}  // namespace logpipe
