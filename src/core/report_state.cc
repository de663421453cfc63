// Saved analyze states: Report::save/load (the counts, open sessions included) and the header
// around them (magic, version, how the state was counted). The form, all integers LEB128 varints
// (signed ones zigzag-coded), strings length-prefixed:
//
//   "LPSTATE" version(1)
//   info:   error statuses (125 bytes, a bit per code), levels, zone, since, until, where,
//           where counts (read, kept, filtered), bots, inputs, (input, format) pairs, formats
//   report: totals, status codes, the nine key tables (KeyTable wire form; the ninth holds the
//           404 urls), minutes, user-days, ip-days, response times (histogram, then per url id:
//           sum, min, max, then the (url, bucket) counts), finished sessions (count, durations, pages, entry and exit pages, transitions), then
//           the open sessions by key (head and current segments)
//
// Tables without an order of their own (minutes, user-days, ip-days, buckets, transitions) are written sorted, so
// that the same records read the same way give the same bytes. Load checks every id against
// the table it refers to: a damaged state is refused, never merged into wrong keys.
#include "logpipe/report_state.h"

#include "logpipe/aggregate.h"
#include "logpipe/error.h"

#include <algorithm>
#include <cstring>

namespace logpipe {
namespace {

using wire::get_stats;
using wire::get_varint;
using wire::put_stats;
using wire::put_varint;

constexpr std::string_view kMagic = "LPSTATE";

void put_signed(std::string& out, int64_t v) {
  put_varint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

bool get_signed(std::string_view& in, int64_t& v) {
  uint64_t u;
  if (!get_varint(in, u)) return false;
  v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  return true;
}

void put_string(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

bool get_string(std::string_view& in, std::string& s) {
  uint64_t n;
  if (!get_varint(in, n) || n > in.size()) return false;
  s.assign(in.substr(0, static_cast<size_t>(n)));
  in.remove_prefix(static_cast<size_t>(n));
  return true;
}

// A count of items that each take at least one byte: more than the bytes left is damage (and
// would otherwise reserve absurd memory).
bool get_count(std::string_view& in, uint64_t& n) { return get_varint(in, n) && n <= in.size(); }

// A day number as the report keeps it (the low 32 bits of days since the epoch, read back as
// signed): its microseconds must fit in int64_t, as every day counted from a record's time does.
bool valid_day(uint64_t day32) {
  const int64_t d = static_cast<int32_t>(static_cast<uint32_t>(day32));
  return d >= -106'751'991 && d <= 106'751'991;
}

bool get_u32(std::string_view& in, uint32_t& v) {
  uint64_t u;
  if (!get_varint(in, u) || u > UINT32_MAX) return false;
  v = static_cast<uint32_t>(u);
  return true;
}

// An id of a table (kNone written as 0, id as id + 1), checked against its size.
void put_id(std::string& out, uint32_t id) { put_varint(out, id == KeyTable::kNone ? 0 : uint64_t{id} + 1); }

bool get_id(std::string_view& in, uint32_t& id, size_t size) {
  uint64_t u;
  if (!get_varint(in, u) || u > size) return false;
  id = u == 0 ? KeyTable::kNone : static_cast<uint32_t>(u - 1);
  return true;
}

void put_strings(std::string& out, const std::vector<std::string>& v) {
  put_varint(out, v.size());
  for (const auto& s : v) put_string(out, s);
}

bool get_strings(std::string_view& in, std::vector<std::string>& v) {
  uint64_t n;
  if (!get_count(in, n)) return false;
  v.resize(static_cast<size_t>(n));
  for (auto& s : v)
    if (!get_string(in, s)) return false;
  return true;
}

void put_pairs(std::string& out, std::vector<std::pair<uint64_t, uint64_t>> v) {
  std::sort(v.begin(), v.end());
  put_varint(out, v.size());
  uint64_t prev = 0;
  for (auto [k, n] : v) {  // sorted keys: deltas are small
    put_varint(out, k - prev);
    put_varint(out, n);
    prev = k;
  }
}

template <typename F>
bool get_pairs(std::string_view& in, F&& f) {
  uint64_t n, key = 0;
  if (!get_count(in, n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t delta, count;
    if (!get_varint(in, delta) || !get_varint(in, count) || (i && delta == 0) || key + delta < key) return false;
    key += delta;
    if (!f(key, count)) return false;
  }
  return true;
}

void put_u32s(std::string& out, const std::vector<uint32_t>& v) {
  put_varint(out, v.size());
  for (uint32_t x : v) put_varint(out, x);
}

bool get_u32s(std::string_view& in, std::vector<uint32_t>& v) {
  uint64_t n;
  if (!get_count(in, n)) return false;
  v.resize(static_cast<size_t>(n));
  for (auto& x : v)
    if (!get_u32(in, x)) return false;
  return true;
}

// Per-url counts (entry and exit pages): as (url id, count) pairs of the non-zero ones.
void put_by_url(std::string& out, const std::vector<uint64_t>& v) {
  std::vector<std::pair<uint64_t, uint64_t>> pairs;
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i]) pairs.emplace_back(i, v[i]);
  put_pairs(out, std::move(pairs));
}

bool get_by_url(std::string_view& in, std::vector<uint64_t>& v, size_t urls) {
  v.clear();
  return get_pairs(in, [&](uint64_t id, uint64_t n) {
    if (id >= urls || n == 0) return false;
    if (id >= v.size()) v.resize(static_cast<size_t>(id) + 1);
    v[static_cast<size_t>(id)] = n;
    return true;
  });
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Report::save / Report::load (members: the open sessions are private)

void Report::save(std::string& out) const {
  for (uint64_t v : {requests, outcomes, errors, server_errors, bytes, malformed, filtered_out}) put_varint(out, v);
  put_signed(out, min_time);
  put_signed(out, max_time);
  std::vector<std::pair<uint64_t, uint64_t>> codes;
  for (size_t i = 0; i < status.size(); ++i)
    if (status[i]) codes.emplace_back(i, status[i]);
  put_pairs(out, std::move(codes));
  for (const KeyTable* t : {&urls, &ips, &users, &referers, &agents, &methods, &events, &courses, &not_found}) t->serialize(out);

  std::vector<int64_t> order;
  order.reserve(minutes.size());
  for (const auto& [minute, b] : minutes) order.push_back(minute);
  std::sort(order.begin(), order.end());
  put_varint(out, order.size());
  int64_t prev = 0;
  for (int64_t m : order) {
    const TimeBucket& b = minutes.at(m);
    put_signed(out, m - prev);
    prev = m;
    put_stats(out, b);
    put_varint(out, b.bytes);
  }
  std::vector<std::pair<uint64_t, uint64_t>> pairs;
  user_days.for_each([&](uint64_t k, uint64_t n) { pairs.emplace_back(k, n); });
  put_pairs(out, std::move(pairs));
  pairs.clear();
  ip_days.for_each([&](uint64_t k, uint64_t n) { pairs.emplace_back(k, n); });
  put_pairs(out, std::move(pairs));
  latency.serialize(out);
  uint64_t timed_urls = 0;
  for (const UrlLatency& u : url_latency) timed_urls += u.min_us != UINT64_MAX;
  put_varint(out, timed_urls);
  for (uint32_t id = 0; id < url_latency.size(); ++id) {
    const UrlLatency& u = url_latency[id];
    if (u.min_us == UINT64_MAX) continue;
    put_varint(out, id);
    put_varint(out, u.sum_us);
    put_varint(out, u.min_us);
    put_varint(out, u.max_us);
  }
  pairs.clear();
  url_latency_buckets.for_each([&](uint64_t k, uint64_t n) { pairs.emplace_back(k, n); });
  put_pairs(out, std::move(pairs));
  uint64_t with_figures = 0;
  for (const CourseFigures& f : course_figures) with_figures += !(f == CourseFigures{});
  put_varint(out, with_figures);
  for (uint32_t id = 0; id < course_figures.size(); ++id) {
    const CourseFigures& f = course_figures[id];
    if (f == CourseFigures{}) continue;
    put_varint(out, id);
    for (uint64_t v : {f.enrolments, f.unenrolments, f.video_plays, f.video_completions, f.problem_checks,
                       f.problem_correct, f.forum_events, f.forum_posts})
      put_varint(out, v);
  }
  const std::vector<Activity> activity = distinct_activity();
  put_varint(out, activity.size());
  for (const Activity& a : activity)
    for (uint32_t v : {a.course, a.user, a.day, static_cast<uint32_t>(a.kind)}) put_varint(out, v);

  put_varint(out, sessions.count);
  put_u32s(out, sessions.durations_s);
  put_u32s(out, sessions.pages);
  put_by_url(out, sessions.entry);
  put_by_url(out, sessions.exit);
  pairs.clear();
  sessions.transitions.for_each([&](uint64_t k, uint64_t n) { pairs.emplace_back(k, n); });
  put_pairs(out, std::move(pairs));

  auto segment = [&](const Segment& s) {
    put_signed(out, s.first_time);
    put_signed(out, s.last_time - s.first_time);
    put_signed(out, s.min_time - s.first_time);
    put_signed(out, s.max_time - s.first_time);
    put_varint(out, s.pages);
    put_id(out, s.entry);
    put_id(out, s.exit);
  };
  put_varint(out, session_states_.size());
  for (uint32_t id = 0; id < session_states_.size(); ++id) {
    const KeyState& st = session_states_[id];
    put_string(out, session_keys_.str(id));
    put_varint(out, static_cast<uint8_t>(st.head_state));
    if (st.head_state == Head::kClosed) segment(st.head);
    segment(st.current);
  }
}

bool Report::load(std::string_view& in) {
  for (uint64_t* v : {&requests, &outcomes, &errors, &server_errors, &bytes, &malformed, &filtered_out})
    if (!get_varint(in, *v)) return false;
  if (!get_signed(in, min_time) || !get_signed(in, max_time)) return false;
  status.fill(0);
  if (!get_pairs(in, [&](uint64_t code, uint64_t n) {
        if (code >= status.size()) return false;
        status[static_cast<size_t>(code)] = n;
        return true;
      }))
    return false;
  for (KeyTable* t : {&urls, &ips, &users, &referers, &agents, &methods, &events, &courses, &not_found})
    if (!t->deserialize(in)) return false;

  uint64_t n;
  minutes.clear();
  cached_minute_ = kNoTime;
  cached_bucket_ = nullptr;
  if (!get_count(in, n)) return false;
  int64_t minute = 0;
  for (uint64_t i = 0; i < n; ++i) {
    int64_t delta;
    TimeBucket b;
    if (!get_signed(in, delta) || (i && delta <= 0) || !get_stats(in, b) || !get_varint(in, b.bytes)) return false;
    if (__builtin_add_overflow(minute, delta, &minute)) return false;
    minutes[minute] = b;
  }
  user_days = U64Counter();
  if (!get_pairs(in, [&](uint64_t k, uint64_t c) {
        if ((k & 0xffffffffu) >= users.size() || c == 0 || !valid_day(k >> 32)) return false;
        user_days.add(k, c);
        return true;
      }))
    return false;
  ip_days = U64Counter();
  if (!get_pairs(in, [&](uint64_t k, uint64_t c) {
        if ((k & 0xffffffffu) >= ips.size() || c == 0 || !valid_day(k >> 32)) return false;
        ip_days.add(k, c);
        return true;
      }))
    return false;
  if (!latency.deserialize(in)) return false;
  url_latency.clear();
  if (!get_count(in, n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t id;
    UrlLatency u;
    if (!get_varint(in, id) || id >= urls.size() || (id < url_latency.size() && url_latency[id].min_us != UINT64_MAX) ||
        !get_varint(in, u.sum_us) || !get_varint(in, u.min_us) || !get_varint(in, u.max_us) || u.min_us > u.max_us)
      return false;
    if (id >= url_latency.size()) url_latency.resize(static_cast<size_t>(id) + 1);
    url_latency[static_cast<size_t>(id)] = u;
  }
  url_latency_buckets = U64Counter();
  if (!get_pairs(in, [&](uint64_t k, uint64_t c) {
        const uint64_t id = k >> 32;
        if (id >= url_latency.size() || url_latency[id].min_us == UINT64_MAX ||
            (k & 0xffffffffu) >= LatencyHistogram::kBuckets || c == 0)
          return false;
        url_latency_buckets.add(k, c);
        return true;
      }))
    return false;
  course_figures.clear();
  if (!get_count(in, n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t id;
    CourseFigures f;
    if (!get_varint(in, id) || id >= courses.size() || (id < course_figures.size() && !(course_figures[id] == CourseFigures{})))
      return false;
    for (uint64_t* v : {&f.enrolments, &f.unenrolments, &f.video_plays, &f.video_completions, &f.problem_checks,
                        &f.problem_correct, &f.forum_events, &f.forum_posts})
      if (!get_varint(in, *v)) return false;
    if (f.problem_correct > f.problem_checks || f.forum_posts > f.forum_events) return false;
    if (id >= course_figures.size()) course_figures.resize(static_cast<size_t>(id) + 1);
    course_figures[static_cast<size_t>(id)] = f;
  }
  course_activity.clear();
  learner_hints_.clear();
  if (!get_count(in, n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t v[4];
    for (uint64_t& x : v)
      if (!get_varint(in, x) || x > UINT32_MAX) return false;
    if (v[0] >= courses.size() || v[1] >= users.size() || v[3] > Activity::kCompleted || (v[3] != Activity::kActive && v[2]) ||
        !valid_day(v[2]))
      return false;
    Activity a{static_cast<uint32_t>(v[0]), static_cast<uint32_t>(v[1]), static_cast<uint32_t>(v[2]),
               static_cast<uint32_t>(v[3])};
    if (!course_activity.empty() && !(course_activity.back() < a)) return false;  // sorted, distinct
    course_activity.push_back(a);
  }

  sessions = Sessions();
  if (!get_varint(in, sessions.count) || !get_u32s(in, sessions.durations_s) || !get_u32s(in, sessions.pages) ||
      sessions.durations_s.size() != sessions.count || sessions.pages.size() != sessions.count ||
      !get_by_url(in, sessions.entry, urls.size()) || !get_by_url(in, sessions.exit, urls.size()))
    return false;
  if (!get_pairs(in, [&](uint64_t k, uint64_t c) {
        if ((k >> 32) >= urls.size() || (k & 0xffffffffu) >= urls.size() || c == 0) return false;
        sessions.transitions.add(k, c);
        return true;
      }))
    return false;

  auto segment = [&](Segment& s) {
    int64_t last, lo, hi;
    return get_signed(in, s.first_time) && get_signed(in, last) && get_signed(in, lo) && get_signed(in, hi) &&
           !__builtin_add_overflow(s.first_time, last, &s.last_time) &&
           !__builtin_add_overflow(s.first_time, lo, &s.min_time) &&
           !__builtin_add_overflow(s.first_time, hi, &s.max_time) && s.min_time <= s.max_time &&
           get_u32(in, s.pages) && get_id(in, s.entry, urls.size()) && get_id(in, s.exit, urls.size());
  };
  session_keys_.clear();
  session_states_.clear();
  url_is_page_.clear();
  client_hints_.clear();
  if (!get_count(in, n)) return false;
  std::string key;
  for (uint64_t i = 0; i < n; ++i) {
    if (!get_string(in, key) || key.empty()) return false;
    // The key's kind: 's' + cookie session, 'u' + user id, 'a' + ip id + agent id (on_record).
    auto id_ok = [&](size_t at, size_t size) {
      uint32_t v;
      std::memcpy(&v, key.data() + at, 4);
      return v == KeyTable::kNone || v < size;
    };
    if (key[0] == 'u') {
      if (key.size() != 5 || !id_ok(1, users.size())) return false;
    } else if (key[0] == 'a') {
      if (key.size() != 9 || !id_ok(1, ips.size()) || !id_ok(5, agents.size())) return false;
    } else if (key[0] != 's') {
      return false;
    }
    if (session_keys_.intern(key) != session_states_.size()) return false;  // a key twice
    KeyState& st = session_states_.emplace_back();
    uint64_t head;
    if (!get_varint(in, head) || head > static_cast<uint8_t>(Head::kClosed)) return false;
    st.head_state = static_cast<Head>(head);
    if (st.head_state == Head::kClosed && !segment(st.head)) return false;
    if (!segment(st.current)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The header

std::string save_report_state(const Report& report, const ReportStateInfo& info) {
  std::string out(kMagic);
  put_varint(out, kReportStateVersion);
  char bits[125] = {};
  for (size_t i = 0; i < info.rules.statuses.size(); ++i)
    if (info.rules.statuses.test(i)) bits[i / 8] = static_cast<char>(bits[i / 8] | (1 << (i % 8)));
  out.append(bits, sizeof bits);
  put_strings(out, info.rules.levels);
  put_string(out, info.zone);
  put_signed(out, info.since_us);
  put_signed(out, info.until_us);
  put_string(out, info.where);
  put_varint(out, info.where_counts.read);
  put_varint(out, info.where_counts.kept);
  put_varint(out, info.where_counts.filtered);
  put_strings(out, info.bots);
  put_strings(out, info.inputs);
  put_varint(out, info.input_formats.size());
  for (const auto& [input, format] : info.input_formats) {
    put_string(out, input);
    put_string(out, format);
  }
  put_string(out, info.formats);
  report.save(out);
  return out;
}

std::unique_ptr<Report> load_report_state(std::string_view in, const std::string& name, ReportStateInfo& info) {
  if (!in.starts_with(kMagic))
    runtime_error("{}: not a saved analyze state (written by analyze --save-state)", name);
  in.remove_prefix(kMagic.size());
  uint64_t version = 0;
  if (!get_varint(in, version)) runtime_error("{}: saved state cut short", name);
  if (version != kReportStateVersion)
    runtime_error("{}: saved state of version {}; this logpipe reads version {}", name, version, kReportStateVersion);
  auto damaged = [&]() { runtime_error("{}: saved state damaged or cut short", name); };
  if (in.size() < 125) damaged();
  info = ReportStateInfo();
  info.rules.statuses.reset();
  for (size_t i = 0; i < info.rules.statuses.size(); ++i)
    if (static_cast<unsigned char>(in[i / 8]) >> (i % 8) & 1) info.rules.statuses.set(i);
  in.remove_prefix(125);
  uint64_t n;
  if (!get_strings(in, info.rules.levels) || !get_string(in, info.zone) || !get_signed(in, info.since_us) ||
      !get_signed(in, info.until_us) || !get_string(in, info.where) || !get_varint(in, info.where_counts.read) ||
      !get_varint(in, info.where_counts.kept) || !get_varint(in, info.where_counts.filtered) ||
      !get_strings(in, info.bots) || !get_strings(in, info.inputs) || !get_count(in, n))
    damaged();
  info.input_formats.resize(static_cast<size_t>(n));
  for (auto& [input, format] : info.input_formats)
    if (!get_string(in, input) || !get_string(in, format)) damaged();
  if (!get_string(in, info.formats)) damaged();
  auto report = std::make_unique<Report>(info.rules, /*continuation=*/true);
  report->set_time_filter(info.since_us, info.until_us);
  if (!report->load(in) || !in.empty()) damaged();
  return report;
}

void merge_state_info(ReportStateInfo& into, const ReportStateInfo& later, const std::string& first_name,
                      const std::string& later_name) {
  auto differ = [&](std::string_view what) {
    runtime_error("{} and {} were counted with different {}: merge states saved with the same options",
                  first_name, later_name, what);
  };
  if (!(into.rules == later.rules)) differ("--error-statuses or --error-levels");
  if (into.zone != later.zone) differ(fmt::format("time zones (--tz {} and {})", into.zone, later.zone));
  if (into.since_us != later.since_us || into.until_us != later.until_us) differ("--since or --until");
  if (into.where != later.where) differ("--where expressions");
  if (into.bots != later.bots) differ("--bots lists");
  into.where_counts.read += later.where_counts.read;
  into.where_counts.kept += later.where_counts.kept;
  into.where_counts.filtered += later.where_counts.filtered;
  into.inputs.insert(into.inputs.end(), later.inputs.begin(), later.inputs.end());
  into.input_formats.insert(into.input_formats.end(), later.input_formats.begin(), later.input_formats.end());
  into.formats = format_list(into.input_formats, into.formats);
}

}  // namespace logpipe
