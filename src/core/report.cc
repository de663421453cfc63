// Aggregation for `analyze`: the per-record hot path, the merge of partial reports, and the
// small classifiers (user agents, page vs. asset). Output lives in report_summary.cc and the
// report_<format>.cc writers.
#include "logpipe/report.h"
#include "logpipe/timeutil.h"

#include <algorithm>
#include <cstring>

namespace logpipe {
namespace {

constexpr int64_t kUsPerMinute = 60LL * 1000000;
constexpr int64_t kUsPerDay = 86400LL * 1000000;

char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

// Case-insensitive substring search; `needle` is lower case.
bool contains_nocase(std::string_view hay, std::string_view needle) noexcept {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    size_t k = 0;
    while (k < needle.size() && ascii_lower(hay[i + k]) == needle[k]) ++k;
    if (k == needle.size()) return true;
  }
  return false;
}

bool contains(std::string_view hay, std::string_view needle) noexcept {
  return hay.find(needle) != std::string_view::npos;
}

void put_u32(std::string& out, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out.append(b, 4);
}

uint32_t get_u32(std::string_view s, size_t at) noexcept {
  uint32_t v;
  std::memcpy(&v, s.data() + at, 4);
  return v;
}

}  // namespace

std::pair<BrowserFamily, OsFamily> classify_agent(std::string_view a) noexcept {
  OsFamily os = OsFamily::kOther;
  if (contains(a, "Android")) os = OsFamily::kAndroid;
  else if (contains(a, "iPhone") || contains(a, "iPad") || contains(a, "iPod")) os = OsFamily::kIos;
  else if (contains(a, "Windows")) os = OsFamily::kWindows;
  else if (contains(a, "Macintosh") || contains(a, "Mac OS X")) os = OsFamily::kMacOs;
  else if (contains(a, "Linux") || contains(a, "X11") || contains(a, "CrOS")) os = OsFamily::kLinux;

  BrowserFamily b = BrowserFamily::kOther;
  // Crawlers first: many announce themselves as "Mozilla/5.0 (compatible; Googlebot/2.1; ...)".
  if (contains_nocase(a, "bot") || contains_nocase(a, "crawl") || contains_nocase(a, "spider") ||
      contains_nocase(a, "slurp") || contains_nocase(a, "facebookexternalhit") ||
      contains_nocase(a, "feedfetcher") || contains_nocase(a, "archiver"))
    b = BrowserFamily::kCrawler;
  else if (a.starts_with("curl/")) b = BrowserFamily::kCurl;
  else if (contains(a, "Edg/") || contains(a, "Edge/") || contains(a, "EdgA/") || contains(a, "EdgiOS/"))
    b = BrowserFamily::kEdge;
  else if (contains(a, "OPR/") || contains(a, "Opera")) b = BrowserFamily::kOpera;
  else if (contains(a, "Chrome/") || contains(a, "CriOS/") || contains(a, "Chromium/"))
    b = BrowserFamily::kChrome;
  else if (contains(a, "Firefox/") || contains(a, "FxiOS/")) b = BrowserFamily::kFirefox;
  else if (contains(a, "MSIE ") || contains(a, "Trident/")) b = BrowserFamily::kInternetExplorer;
  else if (contains(a, "Safari/") || (os == OsFamily::kIos && contains(a, "AppleWebKit/")))
    b = BrowserFamily::kSafari;
  return {b, os};
}

std::string_view family_name(BrowserFamily f) noexcept {
  switch (f) {
    case BrowserFamily::kChrome: return "Chrome";
    case BrowserFamily::kFirefox: return "Firefox";
    case BrowserFamily::kSafari: return "Safari";
    case BrowserFamily::kEdge: return "Edge";
    case BrowserFamily::kOpera: return "Opera";
    case BrowserFamily::kInternetExplorer: return "Internet Explorer";
    case BrowserFamily::kCrawler: return "Crawlers";
    case BrowserFamily::kCurl: return "curl";
    default: return "Other";
  }
}

std::string_view family_name(OsFamily f) noexcept {
  switch (f) {
    case OsFamily::kWindows: return "Windows";
    case OsFamily::kMacOs: return "macOS";
    case OsFamily::kLinux: return "Linux";
    case OsFamily::kAndroid: return "Android";
    case OsFamily::kIos: return "iOS";
    default: return "Other";
  }
}

bool is_page_path(std::string_view path) noexcept {
  size_t slash = path.rfind('/');
  std::string_view last = slash == std::string_view::npos ? path : path.substr(slash + 1);
  size_t dot = last.rfind('.');
  if (dot == std::string_view::npos) return true;
  std::string_view ext = last.substr(dot + 1);
  if (ext.size() > 5) return true;
  char e[6] = {};
  for (size_t i = 0; i < ext.size(); ++i) e[i] = ascii_lower(ext[i]);
  static constexpr std::string_view kAssets[] = {"css", "js",  "png",  "jpg",   "jpeg", "gif",
                                                 "ico", "svg", "webp", "woff",  "woff2", "ttf",
                                                 "eot", "otf", "map",  "bmp",   "avif", "mjs"};
  std::string_view lower(e, ext.size());
  for (auto a : kAssets)
    if (lower == a) return false;
  return true;
}

std::unique_ptr<Report> Report::continuation() const {
  auto r = std::make_unique<Report>(classifier_.rules(), true);
  r->set_time_filter(since_us_, until_us_);
  r->set_time_zone(zone_);
  return r;
}

bool Report::is_page(uint32_t url_id) {
  if (url_id == KeyTable::kNone) return false;
  if (url_id >= url_is_page_.size()) url_is_page_.resize(std::max<size_t>(url_id + 1, url_is_page_.size() * 2), 0);
  uint8_t& v = url_is_page_[url_id];
  if (v == 0) v = is_page_path(urls.key(url_id)) ? 2 : 1;
  return v == 2;
}

ParseError Report::on_record(const Record& r) {
  const int64_t t = r.time_us;
  if (since_us_ != kNoTime || until_us_ != kNoTime) {
    if (t == kNoTime || (since_us_ != kNoTime && t < since_us_) ||
        (until_us_ != kNoTime && t >= until_us_)) {
      ++filtered_out;
      return ParseError::kNone;
    }
  }
  const Outcome outcome = classifier_.outcome(r);
  ++requests;
  outcomes += outcome.known;
  errors += outcome.error;
  server_errors += outcome.server_error;
  const uint64_t nbytes = r.bytes > 0 ? static_cast<uint64_t>(r.bytes) : 0;
  bytes += nbytes;
  if (r.status > 0 && r.status < 1000) ++status[static_cast<size_t>(r.status)];
  // Records without a url (a `-` request, edx events without a path) count everywhere but in
  // the url table, like records without a user.
  auto count = [&](KeyTable& t, uint32_t id) {
    t.stats(id).add(outcome);
    return id;
  };
  const std::string_view path = Classifier::url_key(r);
  const uint32_t url_id = path.empty() ? KeyTable::kNone : count(urls, urls.upsert(path));
  uint32_t ip_id = KeyTable::kNone, user_id = KeyTable::kNone, agent_id = KeyTable::kNone;
  if (!r.ip.empty()) ip_id = count(ips, ips.upsert(r.ip));
  const std::string_view user = Classifier::user_key(r);
  if (!user.empty()) user_id = count(users, users.upsert(user));
  // Per-client hints: a client keeps its agent, often its referer (a page and its assets) and its
  // session key, so one comparison usually replaces hashing the string.
  ClientHints no_hints;
  ClientHints* hints = &no_hints;
  if (ip_id != KeyTable::kNone) {
    if (ip_id >= client_hints_.size()) client_hints_.resize(std::max<size_t>(ip_id + 1, client_hints_.size() * 2));
    hints = &client_hints_[ip_id];
  }
  if (!r.referer.empty()) hints->referer = count(referers, referers.upsert_hinted(r.referer, hints->referer));
  if (!r.agent.empty()) agent_id = hints->agent = count(agents, agents.upsert_hinted(r.agent, hints->agent));
  if (!r.method.empty()) last_method_ = count(methods, methods.upsert_hinted(r.method, last_method_));
  if (!r.event_type.empty()) count(events, events.upsert(r.event_type));
  uint32_t course_id = KeyTable::kNone;
  if (!r.course_id.empty()) course_id = count(courses, courses.upsert(r.course_id));
  if (r.status == 404 && url_id != KeyTable::kNone) count(not_found, not_found.upsert(path));
  if (max_keys_) follow_evictions();
  // Ids are final here (after any eviction's renumbering): side tables keyed by them follow.
  if (r.duration_us >= 0) {
    const uint64_t us = static_cast<uint64_t>(r.duration_us);
    latency.add(r.duration_us);
    if (url_id != KeyTable::kNone) {
      if (url_id >= url_latency.size()) url_latency.resize(std::max<size_t>(url_id + 1, url_latency.size() * 2));
      url_latency[url_id].add(us);
      url_latency_buckets.add_soon(static_cast<uint64_t>(url_id) << 32 | LatencyHistogram::bucket_of(r.duration_us));
    }
  }
  if (course_id != KeyTable::kNone)
    count_course(r, course_id, r.user.empty() ? KeyTable::kNone : user_id, t == kNoTime ? kNoDay : local_day(t));
  if (t == kNoTime) return ParseError::kNone;

  if (min_time == kNoTime || t < min_time) min_time = t;
  if (max_time == kNoTime || t > max_time) max_time = t;
  const int64_t minute = floor_div(t, kUsPerMinute);
  if (minute != cached_minute_) {  // logs are nearly sorted: one hash lookup per minute
    cached_bucket_ = &minutes[minute];
    cached_minute_ = minute;
  }
  TimeBucket& b = *cached_bucket_;
  b.add(outcome);
  b.bytes += nbytes;
  if (user_id != KeyTable::kNone || ip_id != KeyTable::kNone) {
    const uint64_t day = local_day(t);
    if (user_id != KeyTable::kNone) user_days.add(day << 32 | user_id);
    if (ip_id != KeyTable::kNone) ip_days.add(day << 32 | ip_id);
  }

  // Session key: the clickstream cookie session id, else the user, else ip + agent. Ids (not
  // strings) keep the key short; merge() translates them.
  key_scratch_.clear();
  if (!r.session.empty()) {
    key_scratch_ += 's';
    key_scratch_.append(r.session);
  } else if (user_id != KeyTable::kNone) {
    key_scratch_ += 'u';
    put_u32(key_scratch_, user_id);
  } else {
    key_scratch_ += 'a';
    put_u32(key_scratch_, ip_id);
    put_u32(key_scratch_, agent_id);
  }
  track_session(key_scratch_, t, url_id, hints->session);
  return ParseError::kNone;
}

uint32_t Report::local_day(int64_t t) {
  int64_t local = t;
  if (!zone_.is_utc()) {  // the day of the report's zone
    if (t < zone_from_ || t >= zone_to_) {
      zone_offset_us_ = int64_t(zone_.offset_at(t)) * 1000000;
      zone_from_ = t;
      zone_to_ = zone_.next_change(t);
    }
    local = t + zone_offset_us_;
  }
  return static_cast<uint32_t>(static_cast<uint64_t>(floor_div(local, kUsPerDay)) & 0xffffffffu);
}

namespace {

bool starts_with(std::string_view s, std::string_view p) noexcept { return s.substr(0, p.size()) == p; }

// Learners' activity kept distinct: sorted, repeats dropped.
void sort_unique(std::vector<Report::Activity>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

// The course figures of one record with a course (edX event names as edx-analytics-pipeline
// reads them), and the learner's activity: distinct (course, user, day) and (course, user) who
// played / completed a video. The hint skips the repeats of a learner's busy day.
void Report::count_course(const Record& r, uint32_t course, uint32_t user, uint32_t day) {
  if (course >= course_figures.size()) course_figures.resize(std::max<size_t>(course + 1, course_figures.size() * 2));
  CourseFigures& f = course_figures[course];
  const std::string_view e = r.event_type;
  Activity::Kind video = Activity::kActive;  // kActive: no video event
  if (starts_with(e, "edx.")) {
    if (e == "edx.course.enrollment.activated") ++f.enrolments;
    else if (e == "edx.course.enrollment.deactivated") ++f.unenrolments;
    else if (starts_with(e, "edx.forum.")) {
      ++f.forum_events;
      if (e == "edx.forum.thread.created" || e == "edx.forum.response.created" || e == "edx.forum.comment.created")
        ++f.forum_posts;
    } else if (e == "edx.video.played") video = Activity::kPlayed;
    else if (e == "edx.video.completed") video = Activity::kCompleted;
  } else if (e == "play_video") {
    video = Activity::kPlayed;
  } else if (e == "stop_video" || e == "complete_video") {
    video = Activity::kCompleted;
  } else if (e == "problem_check" && !r.success.empty()) {
    ++f.problem_checks;
    f.problem_correct += r.success == "correct";
  }
  if (video == Activity::kPlayed) ++f.video_plays;
  if (video == Activity::kCompleted) ++f.video_completions;
  if (user == KeyTable::kNone) return;
  if (user >= learner_hints_.size()) learner_hints_.resize(std::max<size_t>(user + 1, learner_hints_.size() * 2));
  LearnerHint& h = learner_hints_[user];
  if (day != kNoDay && (h.course != course || h.day != day)) {
    course_activity.push_back({course, user, day, Activity::kActive});
    h.course = course;
    h.day = day;
  }
  if (video == Activity::kPlayed && h.played != course) {
    course_activity.push_back({course, user, 0, Activity::kPlayed});
    h.played = course;
  }
  if (video == Activity::kCompleted && h.completed != course) {
    course_activity.push_back({course, user, 0, Activity::kCompleted});
    h.completed = course;
  }
  if (course_activity.size() >= compact_at_) {
    sort_unique(course_activity);
    compact_at_ = std::max<size_t>(1 << 16, course_activity.size() * 2);
  }
}

std::vector<Report::Activity> Report::distinct_activity() const {
  std::vector<Activity> v = course_activity;
  sort_unique(v);
  return v;
}

void Report::count_transition(uint32_t from, uint32_t to) {
  if (from == KeyTable::kNone || to == KeyTable::kNone || from == to) return;
  sessions.transitions.add_soon(static_cast<uint64_t>(from) << 32 | to);
  if (max_keys_ && (++transition_adds_ & 1023) == 0 && sessions.transitions.size() > max_keys_)
    click_path_floor_ = std::max(click_path_floor_, sessions.transitions.evict_lighter_half());
}

void Report::set_max_keys(size_t n) {
  max_keys_ = n;
  for (KeyTable* t : {&urls, &ips, &users, &referers, &agents, &methods, &events, &courses, &not_found})
    t->set_cap(n);
}

// A key table evicted its lighter half and renumbered the rest: every id kept elsewhere follows.
// At most one eviction per table per record (one upsert each), so the last renumbering is the
// only one to apply.
void Report::follow_evictions() {
  const KeyTable* tables[5] = {&urls, &ips, &users, &agents, &courses};
  bool changed[5];
  for (size_t i = 0; i < 5; ++i) {
    changed[i] = tables[i]->evictions() != evictions_seen_[i];
    evictions_seen_[i] = tables[i]->evictions();
  }
  if (changed[0]) {
    const std::vector<uint32_t>& m = urls.last_remap();
    auto to = [&](uint32_t id) { return id < m.size() ? m[id] : KeyTable::kNone; };
    url_is_page_.clear();  // a cache: recomputed from the keys
    auto by_url = [&](std::vector<uint64_t>& v) {
      std::vector<uint64_t> n;
      for (uint32_t id = 0; id < v.size(); ++id) {
        uint32_t k = to(id);
        if (!v[id] || k == KeyTable::kNone) continue;
        if (k >= n.size()) n.resize(k + 1);
        n[k] += v[id];
      }
      v.swap(n);
    };
    by_url(sessions.entry);
    by_url(sessions.exit);
    U64Counter pairs;
    sessions.transitions.for_each([&](uint64_t pair, uint64_t n) {
      uint32_t a = to(static_cast<uint32_t>(pair >> 32)), b = to(static_cast<uint32_t>(pair & 0xffffffffu));
      if (a != KeyTable::kNone && b != KeyTable::kNone) pairs.add(static_cast<uint64_t>(a) << 32 | b, n);
    });
    sessions.transitions = std::move(pairs);
    std::vector<UrlLatency> lat;
    for (uint32_t id = 0; id < url_latency.size(); ++id) {
      uint32_t k = to(id);
      if (k == KeyTable::kNone || url_latency[id].min_us == UINT64_MAX) continue;  // evicted, or no sample
      if (k >= lat.size()) lat.resize(k + 1);
      lat[k].merge(url_latency[id]);
    }
    url_latency.swap(lat);
    U64Counter buckets;
    url_latency_buckets.for_each([&](uint64_t v, uint64_t n) {
      uint32_t k = to(static_cast<uint32_t>(v >> 32));
      if (k != KeyTable::kNone) buckets.add(static_cast<uint64_t>(k) << 32 | (v & 0xffffffffu), n);
    });
    url_latency_buckets = std::move(buckets);
    for (KeyState& st : session_states_)
      for (Segment* seg : {&st.current, &st.head}) {
        if (seg->entry != KeyTable::kNone) seg->entry = to(seg->entry);
        if (seg->exit != KeyTable::kNone) seg->exit = to(seg->exit);
      }
  }
  if (changed[1] || changed[2] || changed[3])
    rebuild_sessions(changed[1] ? &ips.last_remap() : nullptr, changed[3] ? &agents.last_remap() : nullptr,
                     changed[2] ? &users.last_remap() : nullptr, kNoTime);
  // (day << 32 | key id) tables: their ids follow the key table's renumbering.
  auto renumber_days = [](U64Counter& table, const std::vector<uint32_t>& m) {
    U64Counter days;
    table.for_each([&](uint64_t v, uint64_t n) {
      uint32_t id = static_cast<uint32_t>(v & 0xffffffffu);
      if (id < m.size() && m[id] != KeyTable::kNone) days.add((v & ~0xffffffffull) | m[id], n);
    });
    table = std::move(days);
  };
  if (changed[2]) renumber_days(user_days, users.last_remap());
  if (changed[1]) renumber_days(ip_days, ips.last_remap());
  if (changed[2] || changed[4]) {  // course figures and learners' activity follow courses and users
    auto to = [](const KeyTable& t, bool moved, uint32_t id) {
      if (!moved) return id;
      const std::vector<uint32_t>& m = t.last_remap();
      return id < m.size() ? m[id] : KeyTable::kNone;
    };
    if (changed[4]) {
      std::vector<CourseFigures> figures;
      for (uint32_t id = 0; id < course_figures.size(); ++id) {
        uint32_t k = to(courses, true, id);
        if (k == KeyTable::kNone || course_figures[id] == CourseFigures{}) continue;
        if (k >= figures.size()) figures.resize(k + 1);
        figures[k].merge(course_figures[id]);
      }
      course_figures.swap(figures);
    }
    std::vector<Activity> kept;
    for (Activity a : course_activity) {
      a.course = to(courses, changed[4], a.course);
      a.user = to(users, changed[2], a.user);
      if (a.course != KeyTable::kNone && a.user != KeyTable::kNone) kept.push_back(a);
    }
    course_activity.swap(kept);
    learner_hints_.clear();  // a cache of the last activity per user id
  }
}

// Rebuilds the open sessions with their keys' ids renumbered (maps from follow_evictions, or
// none). A session whose user, address or agent was evicted is closed (it may continue later as
// a new one: counted in sessions_cut_), and so is one whose last record is before
// `idle_before`.
void Report::rebuild_sessions(const std::vector<uint32_t>* ip_map, const std::vector<uint32_t>* agent_map,
                              const std::vector<uint32_t>* user_map, int64_t idle_before) {
  StringTable old_keys;
  std::swap(old_keys, session_keys_);
  std::vector<KeyState> old_states;
  old_states.swap(session_states_);
  auto through = [](const std::vector<uint32_t>* map, uint32_t id, bool& lost) {
    if (!map || id == KeyTable::kNone) return id;
    uint32_t to = id < map->size() ? (*map)[id] : KeyTable::kNone;
    lost = lost || to == KeyTable::kNone;
    return to;
  };
  std::string key;
  for (uint32_t id = 0; id < old_states.size(); ++id) {
    std::string_view k = old_keys.str(id);
    KeyState& st = old_states[id];
    bool lost = false;
    key.assign(k.substr(0, 1));
    if (k[0] == 's') {
      key.append(k.substr(1));
    } else if (k[0] == 'u') {
      put_u32(key, through(user_map, get_u32(k, 1), lost));
    } else {
      put_u32(key, through(ip_map, get_u32(k, 1), lost));
      put_u32(key, through(agent_map, get_u32(k, 5), lost));
    }
    const bool idle = idle_before != kNoTime && st.current.last_time < idle_before && st.head_state != Head::kCurrent;
    if (lost || idle) {
      if (st.head_state == Head::kClosed) close_segment(st.head);
      close_segment(st.current);
      sessions_cut_ += lost;
      continue;
    }
    session_keys_.intern(key);
    session_states_.push_back(st);
  }
}

// Too many open sessions: close those idle for more than a session gap and a 5-minute margin
// (finished: exact when the input is in time order within that margin), then, if at least half
// the cap is still open, the least recently active half (those that may still continue are
// counted as cut: a later record starts a new session).
void Report::cap_sessions() {
  constexpr int64_t kMarginUs = 5LL * 60 * 1000000;
  if (max_time != kNoTime) rebuild_sessions(nullptr, nullptr, nullptr, max_time - kSessionGapUs - kMarginUs);
  if (session_states_.size() * 2 <= max_keys_) return;
  std::vector<int64_t> last;
  last.reserve(session_states_.size());
  for (const KeyState& st : session_states_) last.push_back(st.current.last_time);
  auto mid = last.begin() + static_cast<std::ptrdiff_t>(last.size() / 2);
  std::nth_element(last.begin(), mid, last.end());
  const int64_t median = *mid;
  for (const KeyState& st : session_states_)
    sessions_cut_ += st.current.last_time < median && st.head_state != Head::kCurrent &&
                     (max_time == kNoTime || st.current.last_time >= max_time - kSessionGapUs);
  rebuild_sessions(nullptr, nullptr, nullptr, median);
}

void Report::track_session(std::string_view key, int64_t t, uint32_t url_id, uint32_t& hint) {
  if (max_keys_ && session_states_.size() >= max_keys_ && session_keys_.find(key) == StringTable::kNotFound)
    cap_sessions();
  uint32_t id = hint < session_states_.size() && session_keys_.str(hint) == key ? hint : session_keys_.intern(key);
  hint = id;
  const bool page = is_page(url_id);
  if (id >= session_states_.size()) {
    session_states_.resize(id + 1);
    KeyState& st = session_states_[id];
    st.current = Segment{t, t, t, t, page ? 1u : 0u, page ? url_id : KeyTable::kNone,
                         page ? url_id : KeyTable::kNone};
    st.head_state = continuation_ ? Head::kCurrent : Head::kNone;
    return;
  }
  KeyState& st = session_states_[id];
  Segment& s = st.current;
  int64_t gap = t >= s.last_time ? t - s.last_time : s.last_time - t;
  if (gap > kSessionGapUs) {
    if (st.head_state == Head::kCurrent) {
      st.head = s;
      st.head_state = Head::kClosed;
    } else {
      close_segment(s);
    }
    s = Segment{t, t, t, t, 0, KeyTable::kNone, KeyTable::kNone};
  }
  s.last_time = t;
  s.min_time = std::min(s.min_time, t);
  s.max_time = std::max(s.max_time, t);
  if (page) {
    count_transition(s.exit, url_id);
    ++s.pages;
    if (s.entry == KeyTable::kNone) s.entry = url_id;
    s.exit = url_id;
  }
}

void Report::close_segment(const Segment& s) {
  ++sessions.count;
  sessions.durations_s.push_back(static_cast<uint32_t>(std::min<int64_t>((s.max_time - s.min_time) / 1000000, UINT32_MAX)));
  sessions.pages.push_back(s.pages);
  auto bump = [](std::vector<uint64_t>& v, uint32_t id) {
    if (id == KeyTable::kNone) return;
    if (id >= v.size()) v.resize(id + 1);
    ++v[id];
  };
  bump(sessions.entry, s.entry);
  bump(sessions.exit, s.exit);
}

void Report::join(Segment& a, const Segment& b) {
  a.last_time = b.last_time;
  a.min_time = std::min(a.min_time, b.min_time);
  a.max_time = std::max(a.max_time, b.max_time);
  a.pages += b.pages;
  if (a.entry == KeyTable::kNone) a.entry = b.entry;
  if (b.exit != KeyTable::kNone) a.exit = b.exit;
}

void Report::finish_sessions() {
  for (KeyState& st : session_states_) {
    if (st.head_state == Head::kClosed) close_segment(st.head);
    close_segment(st.current);
    st.head_state = Head::kNone;
  }
  session_states_.clear();
  session_keys_.clear();
}

namespace {

uint32_t remap(const std::vector<uint32_t>& map, uint32_t id) noexcept {
  return id == KeyTable::kNone ? id : map[id];
}

}  // namespace

void Report::merge(const Report& later) {
  requests += later.requests;
  outcomes += later.outcomes;
  errors += later.errors;
  server_errors += later.server_errors;
  bytes += later.bytes;
  malformed += later.malformed;
  filtered_out += later.filtered_out;
  if (later.min_time != kNoTime && (min_time == kNoTime || later.min_time < min_time)) min_time = later.min_time;
  if (later.max_time != kNoTime && (max_time == kNoTime || later.max_time > max_time)) max_time = later.max_time;
  for (size_t i = 0; i < status.size(); ++i) status[i] += later.status[i];
  const auto url_map = urls.merge(later.urls);
  const auto ip_map = ips.merge(later.ips);
  const auto user_map = users.merge(later.users);
  referers.merge(later.referers);
  const auto agent_map = agents.merge(later.agents);
  methods.merge(later.methods);
  events.merge(later.events);
  const auto course_map = courses.merge(later.courses);
  for (uint32_t id = 0; id < later.course_figures.size(); ++id) {
    if (later.course_figures[id] == CourseFigures{}) continue;  // none (the vector grows by doubling)
    const uint32_t k = course_map[id];
    if (k >= course_figures.size()) course_figures.resize(std::max<size_t>(k + 1, course_figures.size() * 2));
    course_figures[k].merge(later.course_figures[id]);
  }
  for (Activity a : later.course_activity) {
    a.course = course_map[a.course];
    a.user = user_map[a.user];
    course_activity.push_back(a);
  }
  learner_hints_.clear();
  not_found.merge(later.not_found);
  latency.merge(later.latency);
  for (uint32_t id = 0; id < later.url_latency.size(); ++id) {
    const UrlLatency& u = later.url_latency[id];
    if (u.min_us == UINT64_MAX) continue;  // no sample
    const uint32_t k = url_map[id];
    if (k >= url_latency.size()) url_latency.resize(std::max<size_t>(k + 1, url_latency.size() * 2));
    url_latency[k].merge(u);
  }
  later.url_latency_buckets.for_each([&](uint64_t v, uint64_t n) {
    url_latency_buckets.add(static_cast<uint64_t>(url_map[static_cast<uint32_t>(v >> 32)]) << 32 | (v & 0xffffffffu), n);
  });
  later.ip_days.for_each(
      [&](uint64_t v, uint64_t n) { ip_days.add((v & ~0xffffffffull) | ip_map[v & 0xffffffffu], n); });
  for (const auto& [minute, b] : later.minutes) minutes[minute].merge(b);
  cached_minute_ = kNoTime;  // the map may have rehashed
  cached_bucket_ = nullptr;
  later.user_days.for_each(
      [&](uint64_t v, uint64_t n) { user_days.add((v & ~0xffffffffull) | user_map[v & 0xffffffffu], n); });

  // Finished sessions of the later range: their pages in our ids.
  const Sessions& ls = later.sessions;
  sessions.count += ls.count;
  sessions.durations_s.insert(sessions.durations_s.end(), ls.durations_s.begin(), ls.durations_s.end());
  sessions.pages.insert(sessions.pages.end(), ls.pages.begin(), ls.pages.end());
  auto add_by_page = [&](std::vector<uint64_t>& to, const std::vector<uint64_t>& from) {
    for (uint32_t id = 0; id < from.size(); ++id) {
      if (!from[id]) continue;
      uint32_t mine = url_map[id];
      if (mine >= to.size()) to.resize(mine + 1);
      to[mine] += from[id];
    }
  };
  add_by_page(sessions.entry, ls.entry);
  add_by_page(sessions.exit, ls.exit);
  ls.transitions.for_each([&](uint64_t pair, uint64_t n) {
    sessions.transitions.add(static_cast<uint64_t>(url_map[pair >> 32]) << 32 | url_map[pair & 0xffffffffu], n);
  });

  // Open sessions: the later range's first segment of a key may continue ours.
  auto translate = [&](Segment s) {
    s.entry = remap(url_map, s.entry);
    s.exit = remap(url_map, s.exit);
    return s;
  };
  std::string key;
  for (uint32_t lid = 0; lid < later.session_states_.size(); ++lid) {
    std::string_view lkey = later.session_keys_.str(lid);
    key.assign(lkey.substr(0, 1));
    if (lkey[0] == 's') {
      key.append(lkey.substr(1));
    } else if (lkey[0] == 'u') {
      put_u32(key, remap(user_map, get_u32(lkey, 1)));
    } else {
      put_u32(key, remap(ip_map, get_u32(lkey, 1)));
      put_u32(key, remap(agent_map, get_u32(lkey, 5)));
    }
    const KeyState& lst = later.session_states_[lid];
    const bool single = lst.head_state != Head::kClosed;  // kCurrent (or kNone: not a continuation)
    Segment head = translate(single ? lst.current : lst.head);
    Segment current = translate(lst.current);
    uint32_t id = session_keys_.intern(key);
    if (id >= session_states_.size()) {  // a key we never saw: its head starts a session
      session_states_.resize(id + 1);
      KeyState& st = session_states_[id];
      st.head_state = Head::kNone;
      if (continuation_) {  // merging two continuations: keep the head pending
        st.head_state = single ? Head::kCurrent : Head::kClosed;
        if (!single) st.head = head;
        st.current = current;
        continue;
      }
      if (!single) close_segment(head);
      st.current = current;
      continue;
    }
    KeyState& st = session_states_[id];
    Segment& s = st.current;
    int64_t gap = head.first_time >= s.last_time ? head.first_time - s.last_time : s.last_time - head.first_time;
    if (gap <= kSessionGapUs) {
      count_transition(s.exit, head.entry);
      join(s, head);
    } else {
      if (st.head_state == Head::kCurrent) {
        st.head = s;
        st.head_state = Head::kClosed;
      } else {
        close_segment(s);
      }
      s = head;
    }
    if (!single) {
      if (st.head_state == Head::kCurrent) {
        st.head = s;
        st.head_state = Head::kClosed;
      } else {
        close_segment(s);
      }
      s = current;
    }
  }
}

}  // namespace logpipe
