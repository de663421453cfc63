#include "logpipe/live.h"

#include "logpipe/text.h"
#include "logpipe/timeutil.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace logpipe {

namespace {

// The `top` heaviest keys of a table by requests (ties: the smaller key first, so that a view
// is stable), with their errors and, for urls, their p99.
std::vector<LiveKey> top_keys(const WindowView& w, Dimension d, size_t top) {
  const KeyTable& t = w.table(d);
  std::vector<const KeyTable::Entry*> order;
  order.reserve(t.size());
  for (const auto& e : t.entries()) order.push_back(&e);
  auto heavier = [&](const KeyTable::Entry* a, const KeyTable::Entry* b) {
    if (a->stats.requests != b->stats.requests) return a->stats.requests > b->stats.requests;
    return t.key(*a) < t.key(*b);
  };
  const size_t n = std::min(top, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(), heavier);
  std::vector<LiveKey> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const KeyTable::Entry& e = *order[i];
    LiveKey k{std::string(t.key(e)), e.stats.requests, e.stats.with_status, e.stats.errors, -1};
    if (d == Dimension::kUrl)
      if (const LatencyHistogram* h = w.aggregate().latency(e); h && h->count()) k.p99_ms = h->quantile_us(0.99) / 1000;
    out.push_back(std::move(k));
  }
  return out;
}

void append_number(std::string& out, double v) {
  if (v < 0) out += "null";
  else fmt::format_to(std::back_inserter(out), "{}", v);
}

void append_sse(std::string& out, std::string_view event, const std::string& data) {
  out += "event: ";
  out += event;
  out += "\ndata: ";
  out += data;
  out += "\n\n";
}

}  // namespace

LiveBoard::LiveBoard(size_t keep, size_t top) : keep_(std::max<size_t>(keep, 1)), top_(top) {}

void LiveBoard::on_window(const WindowView& w) {
  LiveWindow lw;
  lw.start_us = w.start_us();
  lw.end_us = w.end_us();
  lw.totals = w.totals();
  lw.error_rate = w.global(kErrorRate).value;
  lw.request_rate = w.global(kRequestRate).value;
  lw.urls = w.key_count(Dimension::kUrl);
  lw.users = w.key_count(Dimension::kUser);
  lw.ips = w.key_count(Dimension::kIp);
  LatencyHistogram all;
  const KeyTable& urls = w.table(Dimension::kUrl);
  for (const auto& e : urls.entries())
    if (const LatencyHistogram* h = w.aggregate().latency(e)) all.merge(*h);
  if (all.count()) {
    lw.p50_ms = all.quantile_us(0.50) / 1000;
    lw.p95_ms = all.quantile_us(0.95) / 1000;
    lw.p99_ms = all.quantile_us(0.99) / 1000;
  }
  for (Dimension d : {Dimension::kUrl, Dimension::kUser, Dimension::kIp})
    lw.top[WindowView::dimension_index(d)] = top_keys(w, d, top_);
  std::string event;
  if (listener_) {
    std::string data;
    append_live_window_json(data, lw);
    append_sse(event, "window", data);
  }
  {
    std::lock_guard lock(mutex_);
    windows_.push_back(std::move(lw));
    while (windows_.size() > keep_) windows_.pop_front();
    ++version_;
  }
  if (listener_) listener_(event);
}

void LiveBoard::send(std::span<const Alert> alerts) {
  if (alerts.empty()) return;
  std::string event;
  {
    std::lock_guard lock(mutex_);
    for (const Alert& a : alerts) {
      auto same = std::find_if(open_.begin(), open_.end(),
                               [&](const Alert& o) { return o.metric == a.metric && o.key == a.key; });
      if (a.firing) {
        if (same == open_.end()) {
          ++fired_;
          open_.push_back(a);
        } else {
          *same = a;  // the episode's latest window
        }
      } else {
        ++resolved_;
        if (same != open_.end()) open_.erase(same);
      }
    }
    ++version_;
    if (listener_) {
      std::string data;
      append_live_alerts_json(data, open_, fired_, resolved_);
      append_sse(event, "alerts", data);
    }
  }
  if (listener_) listener_(event);
}

LiveSnapshot LiveBoard::snapshot() const {
  std::lock_guard lock(mutex_);
  return {{windows_.begin(), windows_.end()}, open_, fired_, resolved_, version_};
}

uint64_t LiveBoard::version() const {
  std::lock_guard lock(mutex_);
  return version_;
}

std::string LiveBoard::replay() const {
  LiveSnapshot s = snapshot();
  std::string out, data;
  for (const LiveWindow& w : s.windows) {
    data.clear();
    append_live_window_json(data, w);
    append_sse(out, "window", data);
  }
  data.clear();
  append_live_alerts_json(data, s.open, s.fired, s.resolved);
  append_sse(out, "alerts", data);
  return out;
}

void append_live_window_json(std::string& out, const LiveWindow& w) {
  fmt::format_to(std::back_inserter(out),
                 R"({{"window_start":"{}","window_end":"{}","requests":{},"outcomes":{},"errors":{},)"
                 R"("server_errors":{},"error_rate":{},"request_rate":{},"urls":{},"users":{},"ips":{},)",
                 format_rfc3339(w.start_us), format_rfc3339(w.end_us), w.totals.requests, w.totals.with_status,
                 w.totals.errors, w.totals.server_errors, w.error_rate, w.request_rate, w.urls, w.users, w.ips);
  out += R"("p50_ms":)";
  append_number(out, w.p50_ms);
  out += R"(,"p95_ms":)";
  append_number(out, w.p95_ms);
  out += R"(,"p99_ms":)";
  append_number(out, w.p99_ms);
  static constexpr std::array<std::string_view, 3> kNames = {"url", "user", "ip"};
  out += R"(,"top":{)";
  for (size_t d = 0; d < 3; ++d) {
    if (d) out += ',';
    out += '"';
    out += kNames[d];
    out += "\":[";
    for (size_t i = 0; i < w.top[d].size(); ++i) {
      const LiveKey& k = w.top[d][i];
      if (i) out += ',';
      out += R"({"key":)";
      append_json_string(out, k.key);
      fmt::format_to(std::back_inserter(out), R"(,"requests":{},"outcomes":{},"errors":{})", k.requests, k.outcomes,
                     k.errors);
      if (d == 0) {
        out += R"(,"p99_ms":)";
        append_number(out, k.p99_ms);
      }
      out += '}';
    }
    out += ']';
  }
  out += "}}";
}

void append_live_alerts_json(std::string& out, const std::vector<Alert>& open, uint64_t fired, uint64_t resolved) {
  out += R"({"open":[)";
  for (size_t i = 0; i < open.size(); ++i) {
    const Alert& a = open[i];
    if (i) out += ',';
    out += R"({"metric":)";
    append_json_string(out, kMetrics[a.metric].name);
    out += R"(,"key":)";
    append_json_string(out, a.key);
    fmt::format_to(std::back_inserter(out), R"(,"value":{},"threshold":{},"requests":{},"errors":{},)", a.value.value,
                   a.threshold, a.value.requests, a.value.errors);
    out += R"("human":)";
    append_json_string(out, human_value(a.metric, a.value.value));
    out += R"(,"window_end":)";
    append_json_string(out, format_rfc3339(a.window_end_us));
    out += R"(,"incident":)";
    append_json_string(out, a.incident);
    out += '}';
  }
  fmt::format_to(std::back_inserter(out), R"(],"fired":{},"resolved":{}}})", fired, resolved);
}

}  // namespace logpipe
