// Batch aggregation for `analyze` (docs/reference.md "analyze"): totals, status breakdown, per-key counters
// (urls, ips, users, referers, agents, methods, edx events and courses) keyed by interned strings,
// a per-minute time series, sessions with click paths, and active users per day.
//
// Flow: records -> Report (hot path: a few interned-key increments per record) -> summarize()
// (sorting, top N, roll-ups, once) -> one writer per output format (report_json.cc,
// report_text.cc, report_csv.cc, report_html.cc). The scan driver (report_scan.cc) may split a
// large file into byte ranges parsed on several threads; their partial Reports are merged in
// input order with Report::merge, which gives exactly what one thread gives (sessions included).
#pragma once

#include "logpipe/aggregate.h"
#include "logpipe/classify.h"
#include "logpipe/filter.h"
#include "logpipe/huge_alloc.h"
#include "logpipe/intern.h"
#include "logpipe/malformed.h"
#include "logpipe/pump.h"
#include "logpipe/timezone.h"
#include "logpipe/record.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace logpipe {

class GeoIp;

/// Counts per 64-bit key in one flat open-addressing table: the hot-path alternative to
/// std::unordered_map (no node allocation). Key UINT64_MAX is reserved.
class U64Counter {
 public:
  static constexpr uint64_t kEmpty = UINT64_MAX;
  /// Adds n to key's count.
  void add(uint64_t key, uint64_t n = 1) { apply(key, n); }
  /// Adds 1 to key's count a few calls later, after prefetching its slot: a large table (click
  /// paths) then costs no cache-miss stall per record. Readers see every deferred add.
  void add_soon(uint64_t key) {
    if (slots_.empty()) grow();
    __builtin_prefetch(&slots_[slot_of(key, slots_.size() - 1)], 1);
    if (pending_size_ == kPending) {
      apply(pending_[pending_next_], 1);
      pending_[pending_next_] = key;
      pending_next_ = (pending_next_ + 1) % kPending;
    } else {
      pending_[pending_size_++] = key;
    }
  }
  size_t size() const {
    flush();
    return size_;
  }
  /// Drops the lighter half of the keys (by count; ties at the median: about half of them) and
  /// returns the largest count dropped (--max-keys: a kept key's count is low by at most it).
  uint64_t evict_lighter_half() {
    flush();
    std::vector<uint64_t> counts;
    counts.reserve(size_);
    for (const auto& s : slots_)
      if (s.key != kEmpty) counts.push_back(s.count);
    if (counts.empty()) return 0;
    auto mid = counts.begin() + static_cast<std::ptrdiff_t>(counts.size() / 2);
    std::nth_element(counts.begin(), mid, counts.end());
    const uint64_t median = *mid;
    std::vector<Slot, HugePageAllocator<Slot>> old;
    old.swap(slots_);
    slots_.assign(old.size(), Slot{});
    size_ = 0;
    size_t budget = counts.size() / 2 + 1;
    uint64_t floor = 0;
    for (const auto& s : old) {
      if (s.key == kEmpty) continue;
      if (s.count <= median && budget > 0) {
        --budget;
        floor = std::max(floor, s.count);
        continue;
      }
      apply(s.key, s.count);
    }
    return floor;
  }
  /// Calls f(key, count) for every key (in table order: sort before showing).
  template <typename F>
  void for_each(F&& f) const {
    flush();
    for (const auto& s : slots_)
      if (s.key != kEmpty) f(s.key, s.count);
  }

 private:
  static constexpr size_t kPending = 16;
  struct Slot {
    uint64_t key = kEmpty;
    uint64_t count = 0;
  };
  // Fibonacci hashing on the top bits of the product: every bit of the key reaches them. (The
  // middle bits, used before, ignored all but 6 bits of the high half: click-path keys
  // `from << 32 | to` then collided in long probe chains.) The table has at least 1024 slots.
  static size_t slot_of(uint64_t key, size_t mask) noexcept {
    return static_cast<size_t>((key * 0x9e3779b97f4a7c15ull) >> __builtin_clzll(mask));
  }
  // Deferred adds are applied before anyone reads: the counts a reader sees never change, hence
  // const (and mutable members).
  void flush() const {
    size_t n = pending_size_;
    pending_size_ = 0;
    pending_next_ = 0;
    for (size_t i = 0; i < n; ++i) apply(pending_[i], 1);
  }
  void apply(uint64_t key, uint64_t n) const {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    size_t mask = slots_.size() - 1;
    for (size_t i = slot_of(key, mask);; i = (i + 1) & mask) {
      if (slots_[i].key == key) {
        slots_[i].count += n;
        return;
      }
      if (slots_[i].key == kEmpty) {
        slots_[i] = {key, n};
        ++size_;
        return;
      }
    }
  }
  void grow() const {
    std::vector<Slot, HugePageAllocator<Slot>> old;
    old.swap(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
    size_ = 0;
    for (const auto& s : old)
      if (s.key != kEmpty) apply(s.key, s.count);
  }
  mutable std::vector<Slot, HugePageAllocator<Slot>> slots_;
  mutable size_t size_ = 0;
  mutable uint64_t pending_[kPending];
  mutable size_t pending_size_ = 0;
  mutable size_t pending_next_ = 0;
};

/// The counters of one time bucket (the Classifier's, as for a window) and its bytes.
struct TimeBucket : KeyStats {
  uint64_t bytes = 0;
  void merge(const TimeBucket& o) noexcept {
    KeyStats::merge(o);
    bytes += o.bytes;
  }
};

/// Browser and OS families of a User-Agent, from a small hand-written classifier (no regex).
enum class BrowserFamily : uint8_t { kChrome, kFirefox, kSafari, kEdge, kOpera, kInternetExplorer,
                                     kCrawler, kCurl, kOther, kCount_ };
enum class OsFamily : uint8_t { kWindows, kMacOs, kLinux, kAndroid, kIos, kOther, kCount_ };
/// Classifies a User-Agent string. Crawlers are recognised first (`bot`, `crawl`, `spider`, ...).
std::pair<BrowserFamily, OsFamily> classify_agent(std::string_view agent) noexcept;
std::string_view family_name(BrowserFamily f) noexcept;
std::string_view family_name(OsFamily f) noexcept;

/// True when a path names a page rather than a static asset (`.css`, `.js`, images, fonts...).
/// Only pages count in pages per session, entry/exit pages and click paths.
bool is_page_path(std::string_view path) noexcept;

/// Everything `analyze` counts. Feed it records (in input order); merge partial reports of later
/// input ranges in order; then summarize().
class Report final : public RecordSink {
 public:
  /// Inactivity gap that ends a session (30 minutes, as in web analytics).
  static constexpr int64_t kSessionGapUs = 30LL * 60 * 1000000;

  /// `rules`: what an error is (classify.h), as in the window engine. `continuation`: this
  /// report covers a range of the input that follows another one (a later byte range of a split
  /// file). The first session of each key then stays pending, because it may continue a session
  /// of the previous range; merge() resolves it.
  explicit Report(const ErrorRules& rules = {}, bool continuation = false)
      : classifier_(rules), continuation_(continuation) {}
  /// An empty report for the input range that follows this one: same rules and time filter,
  /// continuation sessions (merge it with merge()).
  std::unique_ptr<Report> continuation() const;

  /// Keeps only records with since_us <= time < until_us (kNoTime = unbounded). With a bound,
  /// records without a time are left out.
  void set_time_filter(int64_t since_us, int64_t until_us) noexcept {
    since_us_ = since_us;
    until_us_ = until_us;
  }

  int64_t since_us() const noexcept { return since_us_; }
  int64_t until_us() const noexcept { return until_us_; }

  /// The zone whose days `user_days` counts (--tz; UTC by default). Set before the first record.
  void set_time_zone(const TimeZone& zone) { zone_ = zone; }
  const TimeZone& time_zone() const noexcept { return zone_; }

  ParseError on_record(const Record& r) override;
  /// A continuation report for the range that follows (the pump's split of a large file).
  std::unique_ptr<RecordSink> split() override { return continuation(); }
  /// Merges a continuation report returned by split().
  void join(RecordSink& later) override { merge(static_cast<const Report&>(later)); }

  /// Merges the report of the input range that directly follows this one (its continuation
  /// sessions are stitched to ours). The result equals feeding both ranges to one report.
  void merge(const Report& later);

  /// Closes every open session (call once, after the last record or merge).
  void finish_sessions();

  /// --max-keys: at most `n` keys per table (urls, ips, users, referers, agents, methods, events,
  /// courses), click-path pairs and open sessions; 0 = no cap. Set before the first record. A
  /// capped report is read by one thread and is not merged (no split, no saved state): when a
  /// table is full, its lighter half is evicted (KeyTable) and everything that refers to its keys
  /// follows; past the cap, open sessions idle for over a session gap and 5 minutes are closed first.
  void set_max_keys(size_t n);
  size_t max_keys() const noexcept { return max_keys_; }
  /// With a cap: the largest count a click-path eviction dropped (kept pairs are low by at most
  /// it), and the sessions the cap closed while still open (each may have been cut in two).
  uint64_t click_path_floor() const noexcept { return click_path_floor_; }
  uint64_t sessions_cut() const noexcept { return sessions_cut_; }

  uint64_t requests = 0;
  uint64_t outcomes = 0;       ///< records with a status or a level: the error ratios' denominator
  uint64_t errors = 0;         ///< errors by the ErrorRules (classify.h)
  uint64_t server_errors = 0;  ///< 500..599
  uint64_t bytes = 0;
  uint64_t malformed = 0;      ///< set by the caller from its MalformedLog
  uint64_t filtered_out = 0;   ///< records outside --since/--until
  int64_t min_time = kNoTime;
  int64_t max_time = kNoTime;
  std::array<uint64_t, 1000> status{};  ///< count per status code
  KeyTable urls;                        ///< by path without query (Classifier::url_key)
  KeyTable ips;
  KeyTable users;                       ///< user, else session (Classifier::user_key)
  KeyTable referers;
  KeyTable agents;
  KeyTable methods;
  KeyTable events;   ///< edx event_type
  KeyTable courses;  ///< edx course_id
  /// Per minute since the epoch (UTC).
  std::unordered_map<int64_t, TimeBucket> minutes;
  /// Requests per (day since epoch << 32 | user id): the users active each day, days of the
  /// report's time zone.
  U64Counter user_days;
  /// Requests per (day << 32 | ip id): the visitors (distinct client addresses) of each day.
  U64Counter ip_days;
  /// Requests answered 404, by path without query (the not-found panel).
  KeyTable not_found;
  /// Response times of every record that has one (`%D`, `%T`, app logs' duration).
  LatencyHistogram latency;
  /// Per url id with a response time: exact sum, smallest and largest; the samples' buckets are
  /// in url_latency_buckets, (url id << 32 | LatencyHistogram bucket) -> count, so that a url
  /// with few requests costs a few slots, not a 1.2 KB histogram.
  struct UrlLatency {
    uint64_t sum_us = 0;
    uint64_t min_us = UINT64_MAX;
    uint64_t max_us = 0;
    void add(uint64_t us) noexcept {
      sum_us += us;
      min_us = std::min(min_us, us);
      max_us = std::max(max_us, us);
    }
    void merge(const UrlLatency& o) noexcept {
      sum_us += o.sum_us;
      min_us = std::min(min_us, o.min_us);
      max_us = std::max(max_us, o.max_us);
    }
  };
  std::vector<UrlLatency> url_latency;
  U64Counter url_latency_buckets;

  /// edX / FUN course figures, by course id (docs/analyze.md "Course figures"): counted for
  /// records with a course.
  struct CourseFigures {
    uint64_t enrolments = 0;         ///< edx.course.enrollment.activated
    uint64_t unenrolments = 0;       ///< edx.course.enrollment.deactivated
    uint64_t video_plays = 0;        ///< play_video, edx.video.played
    uint64_t video_completions = 0;  ///< stop_video (the end reached), complete_video, edx.video.completed
    uint64_t problem_checks = 0;     ///< graded problem_check (the server event, with its success)
    uint64_t problem_correct = 0;    ///< those answered correct
    uint64_t forum_events = 0;       ///< edx.forum.*
    uint64_t forum_posts = 0;        ///< edx.forum.{thread,response,comment}.created
    void merge(const CourseFigures& o) noexcept {
      enrolments += o.enrolments;
      unenrolments += o.unenrolments;
      video_plays += o.video_plays;
      video_completions += o.video_completions;
      problem_checks += o.problem_checks;
      problem_correct += o.problem_correct;
      forum_events += o.forum_events;
      forum_posts += o.forum_posts;
    }
    bool operator==(const CourseFigures&) const = default;
  };
  std::vector<CourseFigures> course_figures;
  /// What a learner (a record's user) did in a course: active on a day (kind kActive, days of the
  /// report's zone), played a video, completed one (day 0). Kept distinct: a per-user hint skips
  /// repeats, and the vector is sorted and made unique whenever it doubles (compact_activity()).
  struct Activity {
    enum Kind : uint32_t { kActive = 0, kPlayed = 1, kCompleted = 2 };
    uint32_t course = 0, user = 0, day = 0, kind = kActive;
    auto operator<=>(const Activity&) const = default;
  };
  std::vector<Activity> course_activity;
  /// course_activity sorted, without repeats (for the summary and save()).
  std::vector<Activity> distinct_activity() const;

  /// Finished sessions.
  struct Sessions {
    uint64_t count = 0;
    std::vector<uint32_t> durations_s;  ///< one per session (order is irrelevant)
    std::vector<uint32_t> pages;        ///< pages per session
    std::vector<uint64_t> entry;        ///< sessions per entry page (by url id)
    std::vector<uint64_t> exit;         ///< sessions per exit page (by url id)
    U64Counter transitions;  ///< (from url id << 32 | to) -> count
  } sessions;
  /// Number of session keys seen (cookie session ids, users, ip+agent pairs).
  size_t session_keys() const noexcept { return session_states_.size(); }

  /// Appends everything counted, open sessions included, in the saved-state form
  /// (report_state.h): call before finish_sessions(). Deterministic: the same records give the
  /// same bytes.
  void save(std::string& out) const;
  /// Replaces the counts with what save() wrote (rules, time filter and zone are the caller's);
  /// false on malformed data (every id checked against its table).
  bool load(std::string_view& in);

 private:
  // One session in progress (or a pending head of a continuation report).
  struct Segment {
    int64_t first_time = 0;  // time of its first record in input order
    int64_t last_time = 0;   // time of its last record in input order
    int64_t min_time = 0;
    int64_t max_time = 0;
    uint32_t pages = 0;
    uint32_t entry = KeyTable::kNone;  // url id of the first page
    uint32_t exit = KeyTable::kNone;   // url id of the last page
  };
  enum class Head : uint8_t { kNone, kCurrent, kClosed };
  struct KeyState {
    Segment current;
    Segment head;  // valid when head_state == kClosed
    Head head_state = Head::kNone;
  };
  void track_session(std::string_view key, int64_t time, uint32_t url_id, uint32_t& hint);
  // --max-keys: side tables follow the key tables' evictions; idle sessions are swept.
  void follow_evictions();
  void rebuild_sessions(const std::vector<uint32_t>* ip_map, const std::vector<uint32_t>* agent_map,
                        const std::vector<uint32_t>* user_map, int64_t idle_before);
  void cap_sessions();
  void close_segment(const Segment& s);
  void count_transition(uint32_t from, uint32_t to);
  static void join(Segment& a, const Segment& b);
  bool is_page(uint32_t url_id);

  Classifier classifier_;
  bool continuation_;
  int64_t since_us_ = kNoTime;
  int64_t until_us_ = kNoTime;
  TimeZone zone_;
  // The offset of zone_ over [zone_from_, zone_to_): logs are nearly sorted, so one lookup serves
  // every record until the next change of offset.
  int64_t zone_from_ = 1, zone_to_ = 0;
  int64_t zone_offset_us_ = 0;
  int64_t cached_minute_ = kNoTime;
  TimeBucket* cached_bucket_ = nullptr;
  std::vector<uint8_t> url_is_page_;  // by url id: 0 unknown, 1 asset, 2 page
  struct ClientHints {  // last ids seen for a client: likely again (checked before use)
    uint32_t agent = KeyTable::kNone;
    uint32_t referer = KeyTable::kNone;
    uint32_t session = KeyTable::kNone;
  };
  std::vector<ClientHints> client_hints_;  // by ip id
  struct LearnerHint {  // the last activity recorded for a user: skips its repeats
    uint32_t course = KeyTable::kNone, day = 0, played = KeyTable::kNone, completed = KeyTable::kNone;
  };
  std::vector<LearnerHint> learner_hints_;  // by user id
  size_t compact_at_ = 1 << 16;             // course_activity size that makes it sorted and unique
  static constexpr uint32_t kNoDay = UINT32_MAX;
  void count_course(const Record& r, uint32_t course_id, uint32_t user_id, uint32_t day);
  uint32_t local_day(int64_t t);  // days since the epoch in the report's zone
  uint32_t last_method_ = KeyTable::kNone;
  StringTable session_keys_;          // 's'+cookie id, 'u'+user id, 'a'+ip id+agent id
  std::vector<KeyState> session_states_;
  std::string key_scratch_;
  size_t max_keys_ = 0;
  std::array<uint64_t, 5> evictions_seen_{};  // urls, ips, users, agents, courses
  uint64_t click_path_floor_ = 0;
  uint64_t transition_adds_ = 0;
  uint64_t sessions_cut_ = 0;
};

/// What summarize() keeps: top N, time-series granularity.
struct SummaryOptions {
  size_t top = 10;        ///< entries per top table (0 = all)
  std::string by = "auto";  ///< minute, hour, day or auto (by span)
  std::string format;     ///< the log format(s), shown in the report (`combined, edx`)
  std::vector<std::string> inputs;  ///< shown in the report
  /// (input, format) per input, when they were detected one by one: shown in the report.
  std::vector<std::pair<std::string, std::string>> input_formats;
  /// --where and what it kept (shown in the report when set); --bots patterns (lower-case) that
  /// also make the Crawler family.
  std::string where;
  FilterCounts where_counts;
  std::vector<std::string> bots;
  /// --geoip: the databases that give the countries, cities and networks panels (nullptr: none).
  GeoIp* geoip = nullptr;
};

/// A sorted, trimmed view of a Report for the writers. Views point into the Report, which must
/// outlive it.
struct ReportSummary {
  struct Row {
    std::string_view key;
    uint64_t requests = 0;
    uint64_t errors = 0;
    uint64_t with_status = 0;  ///< requests with an outcome: the denominator of error%
  };
  struct Point {
    int64_t time;
    TimeBucket value;
  };
  struct Count {
    std::string_view key;
    uint64_t count = 0;
  };
  struct Path {
    std::string_view from, to;
    uint64_t count = 0;
  };
  /// A GeoIP panel's row: the clients' addresses of one country, city or network.
  struct GeoRow {
    std::string code;     ///< ISO country code (countries, cities); empty when unknown
    std::string name;     ///< country name, city name, or network organisation
    uint32_t asn = 0;     ///< networks: the AS number (0 = unknown)
    std::string display;  ///< `FR France`, `Paris, FR`, `AS64500 Example Telecom`, `(unknown)`
    uint64_t requests = 0, errors = 0, with_status = 0;
  };
  struct Stat {  // of a distribution
    double mean = 0;
    uint64_t p50 = 0, p90 = 0, max = 0;
  };

  const Report* report = nullptr;
  std::string format;
  std::vector<std::string> inputs;
  std::vector<std::pair<std::string, std::string>> input_formats;
  std::string where;  ///< --where, empty when none
  FilterCounts where_counts;
  /// The report's zone: hour and day buckets start at its local boundaries, times are written
  /// with its offset (RFC 3339 either way; `Z` when the zone is UTC).
  TimeZone zone;
  size_t top = 10;
  std::vector<std::pair<int, uint64_t>> status;  ///< by code, ascending
  std::vector<Row> urls, ips, users, referers, agents, methods, events, courses;
  std::vector<Count> browsers, os;  ///< families with at least one request, most first
  std::string by;                   ///< minute, hour or day
  std::vector<Point> timeseries;    ///< ascending, gaps filled with zeros when not too many
  uint64_t session_count = 0;
  Stat session_duration_s, session_pages;
  std::vector<Count> entry_pages, exit_pages;
  std::vector<Path> click_paths;
  /// (local day as microseconds since the epoch of a UTC midnight of that date, users).
  std::vector<std::pair<int64_t, uint64_t>> active_users_per_day;
  /// The same days with their distinct client addresses (visitors).
  std::vector<std::pair<int64_t, uint64_t>> visitors_per_day;
  /// Counters by local hour of day (0-23) and by weekday (0 = Monday), in the report's zone.
  std::array<TimeBucket, 24> hours{};
  std::array<TimeBucket, 7> weekdays{};
  /// Urls answered 404, most first.
  std::vector<Row> not_found;
  /// Referers grouped by host (lower-case, port dropped); referers that are not http(s) URLs
  /// are grouped under their own text.
  std::vector<Row> referring_domains;
  std::vector<std::string> referring_domain_keys;  ///< the hosts the rows above point into
  /// Response times (milliseconds): quantiles within 6.25% (LatencyHistogram), mean and max exact.
  struct Latency {
    uint64_t count = 0;
    double mean_ms = 0, p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0, total_ms = 0;
  };
  Latency latency;  ///< of every record with a response time
  struct UrlLatencyRow {
    std::string_view url;
    Latency latency;
  };
  /// The urls where the server spent most time (total response time), most first.
  std::vector<UrlLatencyRow> url_latency;
  /// edX / FUN: the figures of the courses above (same order). Learners are distinct users with
  /// a dated record in the course; per day and per week (weeks start on Monday), days of the
  /// report's zone, as (microseconds of that local date's UTC midnight, learners), ascending.
  struct CourseRow {
    std::string_view course;
    uint64_t events = 0;
    uint64_t learners = 0;
    Report::CourseFigures figures;
    uint64_t video_learners = 0, video_completers = 0;  ///< learners who played / completed a video
    double learners_per_day = 0;  ///< mean over the days with activity in the course
    uint64_t peak_day_learners = 0, peak_week_learners = 0;
    std::vector<std::pair<int64_t, uint64_t>> per_day, per_week;
  };
  std::vector<CourseRow> course_figures;
  Report::CourseFigures course_totals;  ///< of every course, listed or not
  /// Tracking logs (event types, no HTTP status at all): the headline shows events, learners,
  /// courses and enrolments instead of errors and bytes.
  bool tracking = false;
  /// --geoip panels (`geoip` false without it): by country, city, network; most requests first.
  bool geoip = false;
  std::vector<GeoRow> countries, cities, networks;
  uint64_t geo_addresses = 0, geo_unknown = 0;  ///< distinct client addresses, those no database knows
  /// A panel as rows keyed by `display`, for the writers' tables (views into `v`).
  static std::vector<Row> rows_of(const std::vector<GeoRow>& v);
};

/// `2025-06-23T10:00:00+02:00` in `zone` (`...Z` for UTC); "-" for kNoTime.
std::string zoned_time_text(int64_t us, const TimeZone& zone);

/// Sorts and trims a finished report. Throws Error (usage) on a bad `by`.
ReportSummary summarize(const Report& report, const SummaryOptions& options);

/// The report as one JSON object: the docs/reference.md contract keys first, then the extras (docs/analyze.md).
std::string write_json(const ReportSummary& s);
/// Aligned terminal tables; ANSI colour when `color`; keys (urls, agents...) cut to `key_width`
/// cells with an ellipsis (16 to 4096).
std::string write_text(const ReportSummary& s, bool color, size_t key_width = 72);
/// CSV, one section per table: a header row `section,...` then rows whose first field is the
/// section name; a blank line between sections. RFC 4180 quoting.
std::string write_csv(const ReportSummary& s);
/// One self-contained HTML file (inline CSS and SVG charts, no script, no network at view time).
std::string write_html(const ReportSummary& s);

}  // namespace logpipe
