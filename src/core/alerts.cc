#include "logpipe/alerts.h"

#include "logpipe/intern.h"
#include "logpipe/text.h"
#include "logpipe/timeutil.h"

#include <fmt/format.h>

#include <algorithm>

namespace logpipe {

void append_alert_json(std::string& out, const Alert& a) {
  char start[32], end[32];
  size_t ns = format_rfc3339_seconds(a.window_start_us, start);
  size_t ne = format_rfc3339_seconds(a.window_end_us, end);
  out += a.firing ? R"({"state":"firing","metric":")" : R"({"state":"resolved","metric":")";
  out += kMetrics[a.metric].name;
  out += R"(","key":)";
  append_json_string(out, a.key);
  fmt::format_to(std::back_inserter(out),
                 R"(,"value":{},"threshold":{},"requests":{},"errors":{},"window_start":"{}","window_end":"{}"}})",
                 a.value.value, a.threshold, a.value.requests, a.value.errors, std::string_view(start, ns),
                 std::string_view(end, ne));
  out += '\n';
}

void JsonLinesAlertSink::send(std::span<const Alert> alerts) {
  text_.clear();
  for (const auto& a : alerts) append_alert_json(text_, a);
  out_->write(text_);
  out_->flush();
}

size_t AlertEvaluator::StringHash::operator()(std::string_view s) const noexcept { return hash_bytes(s); }

AlertEvaluator::AlertEvaluator(Thresholds thresholds, std::function<void(const std::vector<Alert>&)> emit)
    : thresholds_(thresholds), emit_(std::move(emit)) {}

size_t AlertEvaluator::firing() const noexcept {
  size_t n = 0;
  for (const auto& e : episodes_) n += e.size();
  return n;
}

void AlertEvaluator::for_each_firing(const std::function<void(MetricId, std::string_view)>& f) const {
  for (size_t m = 0; m < kMetricCount; ++m)
    for (const auto& [key, seen] : episodes_[m]) f(static_cast<MetricId>(m), key);
}

void AlertEvaluator::on_window(const WindowView& w) {
  ++window_number_;
  last_end_ = w.end_us();
  pending_.clear();
  auto push = [&](bool firing, MetricId m, std::string_view key, const MetricValue& v) {
    Alert a;
    a.firing = firing;
    a.metric = m;
    a.key = std::string(key);
    a.value = v;
    a.threshold = *thresholds_[m];
    a.window_start_us = w.start_us();
    a.window_end_us = w.end_us();
    pending_.push_back(std::move(a));
    ++(firing ? fired_ : resolved_);
  };
  for (size_t i = 0; i < kMetricCount; ++i) {
    const auto m = static_cast<MetricId>(i);
    const std::optional<double>& threshold = thresholds_[m];
    EpisodeMap& episodes = episodes_[m];
    if (kMetrics[m].dimension == Dimension::kGlobal) {
      MetricValue v = w.global(m);
      last_global_[m] = v;
      if (!threshold) continue;
      bool over = v.eligible && v.value > *threshold;
      bool was = !episodes.empty();
      if (over && !was) {
        episodes.emplace(std::string(), window_number_);
        push(true, m, "", v);
      } else if (!over && was) {
        episodes.clear();
        push(false, m, "", v);
      }
      continue;
    }
    std::pair<std::string_view, MetricValue> best{{}, MetricValue{}};
    bool have_best = false;
    w.for_each_key(m, [&](std::string_view key, const MetricValue& v) {
      if (v.eligible && (!have_best || v.value > best.second.value)) {
        best = {key, v};
        have_best = true;
      }
      if (!threshold) return;
      bool over = v.eligible && v.value > *threshold;
      if (over) {
        auto [it, inserted] = episodes.try_emplace(std::string(key), window_number_);
        if (inserted) push(true, m, key, v);
        else it->second = window_number_;
      } else if (!episodes.empty()) {
        auto it = episodes.find(key);
        if (it != episodes.end()) {
          episodes.erase(it);
          push(false, m, key, v);
        }
      }
    });
    last_max_[m] = {std::string(best.first), best.second};
    // Episodes whose key is absent from this window: it vanished, so it is no longer over.
    for (auto it = episodes.begin(); it != episodes.end();) {
      if (it->second != window_number_) {
        push(false, m, it->first, MetricValue{});
        it = episodes.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (pending_.empty()) return;
  std::sort(pending_.begin(), pending_.end(), [](const Alert& a, const Alert& b) {
    if (a.metric != b.metric) return a.metric < b.metric;
    return a.key < b.key;
  });
  emit_(pending_);
}

}  // namespace logpipe
