// alertmanager://HOST:PORT[/PREFIX]: alerts to the Prometheus Alertmanager API v2.
//
// The sink receives the alert structs every sink gets and turns each into an Alertmanager alert:
// labels alertname=metric, key (absent for global metrics), incident (so that a route can group by
// it), severity (per metric: --alert-severity, else kMetrics' default), instance (the host name)
// and the --alert-label extras; annotations with a summary and a description for people (values
// rounded, in their unit: "12.3%", "250 req/s"), the raw value, threshold, counts and window
// bounds for tools, for statistical rules the baseline, score and limit, and runbook_url when
// --alert-runbook-url is set; generatorURL from --alert-generator-url (default: the
// --metrics-listen page). Delivery
// runs on a background thread, so the engine never waits for HTTP: send() formats and queues,
// flush() only wakes the thread. The HTTP client (http_client.cc) and the retry delay
// (backoff.h) are shared pieces of the io layer.
//
// Why these times: Alertmanager compares startsAt/endsAt with its own clock, while our windows are
// in event time, which for a replay of history may be months old. So a firing alert starts at its
// window's start (never later than now) and carries endsAt = now + kFiringValidity; the thread
// re-posts every firing episode each kRepostInterval with a fresh endsAt, as Prometheus does, so
// Alertmanager neither resolves it on its own nor keeps it forever if logpipe dies. A resolved
// event carries endsAt = the resolving window's start (never later than now), which Alertmanager
// takes as resolved at once.
//
// Failures: connection errors, timeouts, 5xx, 408 and 429 are retried with exponential backoff
// (kFirstBackoff doubling to kMaxBackoff), alerts kept in order in a bounded queue
// (EndpointOptions::alert_queue); when it is full the oldest alert is dropped and counted, with a
// warning on stderr. Other 4xx answers mean Alertmanager will never take that batch: it is dropped
// with the answer printed. A refusal that will not heal (401, 403, 404, a certificate refused by
// either side) stops delivery and ends the command at the next alert or at close, exit 1. close() waits up to 30 s (5 s after a stop signal, close_deadline())
// for the queue to empty and throws, naming how many alerts were not delivered, when it does not
// or when the queue dropped some (stream then does not commit Kafka offsets past them, and exits
// 1: a dropped alert is not delivered).
//
// alertmanager+tls://HOST:PORT[/PREFIX] is the same over HTTPS: the server's certificate is
// checked against --tls-ca (or the system's CA store) and must name HOST; --tls-cert/--tls-key
// present a client certificate. Plain alertmanager:// is for loopback or a trusted network
// (docs/security.md).
#include "endpoint_factories.h"
#include "backoff.h"
#include "background.h"
#include "http_client.h"
#include "tls_client.h"

#include "logpipe/error.h"
#include "logpipe/text.h"
#include "logpipe/timeutil.h"

#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace logpipe::detail {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kFirstBackoff = 100ms;
constexpr auto kMaxBackoff = 5000ms;
constexpr auto kResponseTimeout = 10s;

constexpr auto kRepostInterval = 60s;
constexpr int64_t kFiringValidityUs = 5 * 60 * 1'000'000LL;  // 5 reposts may be missed
constexpr size_t kBatch = 500;                                 // alerts per POST
constexpr auto kWarnInterval = 10s;

int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Percent-encodes everything but the unreserved characters of RFC 3986.
void append_url_encoded(std::string& out, std::string_view text) {
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') out += static_cast<char>(c);
    else fmt::format_to(std::back_inserter(out), "%{:02X}", c);
  }
}

// A --alert-generator-url / --alert-runbook-url template with {metric}, {key} and {incident}
// replaced by the alert's (URL-encoded); other text is kept as is.
std::string expand_url(std::string_view pattern, const Alert& a) {
  std::string out;
  while (!pattern.empty()) {
    const size_t open = pattern.find('{');
    out.append(pattern.substr(0, open));
    if (open == std::string_view::npos) break;
    pattern.remove_prefix(open);
    const size_t close = pattern.find('}');
    const std::string_view name = pattern.substr(1, close == std::string_view::npos ? 0 : close - 1);
    if (name == "metric") append_url_encoded(out, kMetrics[a.metric].name);
    else if (name == "key") append_url_encoded(out, a.key);
    else if (name == "incident") append_url_encoded(out, a.incident);
    else {
      out += '{';
      pattern.remove_prefix(1);
      continue;
    }
    pattern.remove_prefix(close + 1);
  }
  return out;
}

// "ip_request_rate of 6.6.6.6 is 250 req/s, above 100 req/s": the metric, the key, the value and
// the threshold in the metric's unit, rounded (human_value), never a raw float.
std::string summary(const Alert& a) {
  std::string out(kMetrics[a.metric].name);
  if (!a.key.empty()) out.append(" of ").append(a.key);
  const std::string value = human_value(a.metric, a.value.value), threshold = human_value(a.metric, a.threshold);
  if (a.firing) out.append(" is ").append(value).append(", above ").append(threshold);
  else out.append(" is back to ").append(value).append(" (threshold ").append(threshold).append(")");
  return out;
}

// What a person reads first: the window, its counts, the rule (and its evidence for statistical
// rules) and the incident, in words and rounded numbers.
std::string description(const Alert& a) {
  const MetricDef& d = kMetrics[a.metric];
  std::string out = fmt::format("{} ({}){}{} was {} in the window {} to {}, {} {}: {} request{}, {} error{}.",
                                d.name, d.help, a.key.empty() ? "" : " of ", a.key, human_value(a.metric, a.value.value),
                                time_text(a.window_start_us), time_text(a.window_end_us),
                                a.firing ? "above the threshold of" : "resolved, threshold",
                                human_value(a.metric, a.threshold), a.value.requests, a.value.requests == 1 ? "" : "s",
                                a.value.errors, a.value.errors == 1 ? "" : "s");
  if (a.statistical)
    fmt::format_to(std::back_inserter(out), " Statistical rule: baseline {}, evidence {:.1f} against the limit {:.1f}.",
                   human_value(a.metric, a.baseline), a.score, a.limit);
  if (!a.incident.empty()) out.append(" Incident ").append(a.incident).append(".");
  return out;
}

struct Target {
  std::string host;
  uint16_t port = 0;
  std::string path;  // /PREFIX/api/v2/alerts
};

class AlertmanagerSink final : public AlertSink {
 public:
  AlertmanagerSink(Target target, std::string name, const EndpointOptions& o, bool tls)
      : target_(std::move(target)), name_(std::move(name)), max_queue_(o.alert_queue), stop_(o.stop),
        generator_url_(o.alert_generator_url), runbook_url_(o.alert_runbook_url),
        // a bad --tls-* file or an unknown host is a setup error
        http_(name_, target_.host, target_.port, tls ? new_client_ssl_ctx(name_, o) : nullptr) {
    // Labels shared by every alert: instance (the host name, unless --alert-label sets it) and
    // the --alert-label extras, already validated by the CLI.
    std::map<std::string, std::string> labels;
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0 && host[0]) labels["instance"] = host;
    for (const auto& [k, v] : o.alert_labels) labels[k] = v;
    for (size_t m = 0; m < kMetricCount; ++m)
      severity_[m] = o.alert_severity[m].empty() ? std::string(kMetrics[m].severity) : o.alert_severity[m];
    // --alert-label severity=... is one severity for all: it wins over the per-metric ones.
    if (auto it = labels.find("severity"); it != labels.end()) {
      severity_.fill(it->second);
      labels.erase(it);
    }
    for (const auto& [k, v] : labels) {
      if (k == "alertname" || k == "key") continue;  // ours
      common_labels_ += ',';
      append_json_string(common_labels_, k);
      common_labels_ += ':';
      append_json_string(common_labels_, v);
    }
    if (max_queue_ == 0) max_queue_ = 1;
    thread_ = std::thread([this] { run(); });
  }

  ~AlertmanagerSink() override {
    try {
      close();
    } catch (...) {
    }
    stop_thread();
  }

  void send(std::span<const Alert> alerts) override {
    std::unique_lock lock(mutex_);
    throw_if_refused();
    for (const Alert& a : alerts) enqueue(a);
    wake_.notify_one();
  }

  void flush() override { wake_.notify_one(); }

  void close() override {
    if (closed_) return;
    closed_ = true;
    {
      std::unique_lock lock(mutex_);
      closing_ = true;
      close_deadline_ = close_deadline(stop_);
      wake_.notify_one();
      done_.wait(lock, [&] { return queue_.empty() || Clock::now() >= close_deadline_ || thread_done_; });
    }
    stop_thread();
    std::unique_lock lock(mutex_);
    if (dropped_)
      fmt::print(stderr, "logpipe: {}: {} alert{} dropped in all (queue of {} full)\n", name_, dropped_,
                 dropped_ == 1 ? "" : "s", max_queue_);
    throw_if_refused();
    if (!queue_.empty())
      runtime_error("{}: {} alert{} not delivered after {} s ({})", name_, queue_.size(),
                    queue_.size() == 1 ? "" : "s",
                    stop_requested(stop_) ? 5 : 30, last_error_);
    if (dropped_) runtime_error("{}: {} alert{} not delivered (dropped)", name_, dropped_, dropped_ == 1 ? "" : "s");
  }

  // A refusal that will not heal ends the command: at the next alert, or at close. Said once.
  void throw_if_refused() {
    if (refused_.empty() || refusal_reported_) return;
    refusal_reported_ = true;
    throw Error(kExitRuntime, fmt::format("{} ({} alert{} not delivered)", refused_, queue_.size(),
                                          queue_.size() == 1 ? "" : "s"));
  }

  bool all_delivered() const noexcept override {
    std::unique_lock lock(mutex_);
    return queue_.empty() && dropped_ == 0 && rejected_ == 0 && refused_.empty();
  }

  const std::string& name() const noexcept override { return name_; }

 private:
  struct Entry {
    uint64_t seq;
    bool firing;
    std::string object;   // the JSON object without endsAt and its closing brace
    std::string ends_at;  // resolved: fixed; firing: computed when sent
  };

  // Called with mutex_ held.
  void enqueue(const Alert& a) {
    Entry e;
    e.seq = ++seq_;
    e.firing = a.firing;
    const std::string_view metric = kMetrics[a.metric].name;
    std::string fingerprint = std::string(metric) + '\0' + a.key;  // the episode it belongs to
    const std::string value = fmt::format("{}", a.value.value), threshold = fmt::format("{}", a.threshold);
    int64_t now = wall_us();
    int64_t start_us = std::min(a.window_start_us, now);
    std::string& o = e.object;
    o = R"({"labels":{"alertname":")";
    o.append(metric).append("\"");
    if (!a.key.empty()) {
      o += R"(,"key":)";
      append_json_string(o, a.key);
    }
    if (!a.incident.empty()) {  // a label, so that a route can group_by: [incident]
      o += R"(,"incident":)";
      append_json_string(o, a.incident);
    }
    o += R"(,"severity":)";
    append_json_string(o, severity_[a.metric]);
    o += common_labels_;
    o += R"(},"annotations":{"summary":)";
    append_json_string(o, summary(a));
    o += R"(,"description":)";
    append_json_string(o, description(a));
    if (!runbook_url_.empty()) {
      o += R"(,"runbook_url":)";
      append_json_string(o, expand_url(runbook_url_, a));
    }
    fmt::format_to(std::back_inserter(o),
                   R"(,"value":"{}","threshold":"{}","requests":"{}","errors":"{}","window_start":"{}",)"
                   R"("window_end":"{}")",
                   value, threshold, a.value.requests, a.value.errors, time_text(a.window_start_us),
                   time_text(a.window_end_us));
    if (a.statistical)  // the evidence of a statistical rule
      fmt::format_to(std::back_inserter(o), R"(,"baseline":"{}","score":"{}","limit":"{}")", a.baseline, a.score,
                     a.limit);
    o += '}';
    if (!generator_url_.empty()) {
      o += R"(,"generatorURL":)";
      append_json_string(o, expand_url(generator_url_, a));
    }
    o += R"(,"startsAt":")";
    if (e.firing) {
      o += time_text(start_us);
      o += '"';
      firing_[fingerprint] = o;  // re-posted until resolved
    } else {
      auto it = firing_.find(fingerprint);
      if (it != firing_.end()) {
        // Same startsAt as the firing post: Alertmanager matches on labels, but keep it tidy.
        size_t p = it->second.rfind(R"("startsAt":")");
        o += std::string_view(it->second).substr(p + 12);
        firing_.erase(it);
      } else {
        o += time_text(start_us);
        o += '"';
      }
      e.ends_at = time_text(start_us);
    }
    if (queue_.size() >= max_queue_) {
      queue_.pop_front();
      ++dropped_;
      auto t = Clock::now();
      if (t - last_drop_warning_ >= kWarnInterval) {
        last_drop_warning_ = t;
        fmt::print(stderr, "logpipe: {}: alert queue full ({} alerts, Alertmanager unreachable: {}); "
                   "dropping the oldest ({} dropped so far)\n", name_, max_queue_, last_error_, dropped_);
      }
    }
    queue_.push_back(std::move(e));
  }

  void stop_thread() { stop_and_join(thread_, mutex_, wake_, stopping_); }

  // The delivery thread: queued alerts first, in order; firing episodes re-posted periodically.
  void run() {
    Backoff backoff(kFirstBackoff, kMaxBackoff);
    auto next_attempt = Clock::now();
    auto next_repost = Clock::now() + kRepostInterval;
    std::unique_lock lock(mutex_);
    for (;;) {
      auto now = Clock::now();
      if (stopping_ || (closing_ && (queue_.empty() || now >= close_deadline_))) break;
      bool repost_due = !firing_.empty() && now >= next_repost;
      if ((queue_.empty() && !repost_due) || now < next_attempt) {
        auto until = now < next_attempt ? next_attempt : next_repost;
        if (closing_) until = std::min(until, close_deadline_);
        wake_.wait_until(lock, until);
        continue;
      }
      // Build one POST body from the front of the queue (or the firing episodes).
      std::string body = "[";
      uint64_t last_seq = 0;
      size_t count = 0;
      std::string ends_at = time_text(wall_us() + kFiringValidityUs);
      auto add = [&](const std::string& object, const std::string& end) {
        if (count++) body += ',';
        body += object;
        body.append(R"(,"endsAt":")").append(end).append("\"}");
      };
      bool repost = queue_.empty();
      if (!repost) {
        for (const Entry& e : queue_) {
          if (count == kBatch) break;
          add(e.object, e.firing ? ends_at : e.ends_at);
          last_seq = e.seq;
        }
      } else {
        for (const auto& [fp, object] : firing_) add(object, ends_at);
      }
      body += ']';
      lock.unlock();
      HttpResponse answer = http_.post(target_.path, "application/json", body, kResponseTimeout);
      lock.lock();
      now = Clock::now();
      const int status = answer.status;
      if (answer.permanent || status == 401 || status == 403 || status == 404) {
        // Will not heal (a refused certificate or login, a wrong path): the command ends.
        refused_ = status ? fmt::format("{}: Alertmanager refused the alerts (HTTP {}): {:.300}", name_, status,
                                        answer.body)
                          : fmt::format("{}: {}", name_, answer.error);
        break;
      }
      bool retry = status == 0 || status >= 500 || status == 408 || status == 429;
      if (!retry) {
        if (status >= 300) {
          rejected_ += repost ? 0 : count;
          fmt::print(stderr, "logpipe: {}: Alertmanager refused {} alert{} (HTTP {}): {:.300}\n", name_, count,
                     count == 1 ? "" : "s", status, answer.body);
        }
        if (!repost)
          while (!queue_.empty() && queue_.front().seq <= last_seq) queue_.pop_front();
        else
          next_repost = now + kRepostInterval;
        if (failing_) fmt::print(stderr, "logpipe: {}: delivering again\n", name_);
        failing_ = false;
        backoff.reset();
        next_attempt = now;
        done_.notify_all();
        continue;
      }
      last_error_ = status ? fmt::format("HTTP {}", status) : answer.error;
      if (!failing_ || now - last_failure_warning_ >= kWarnInterval) {
        last_failure_warning_ = now;
        fmt::print(stderr, "logpipe: {}: cannot deliver {} alert{} ({}); retrying, {} queued\n", name_, count,
                   count == 1 ? "" : "s", last_error_, queue_.size());
      }
      failing_ = true;
      next_attempt = now + backoff.next();
    }
    thread_done_ = true;
    done_.notify_all();
  }

  Target target_;
  std::string name_;
  size_t max_queue_;
  const StopFlag* stop_;
  std::string generator_url_, runbook_url_;  // templates ("" = not sent)
  std::array<std::string, kMetricCount> severity_;
  HttpClient http_;
  std::string common_labels_;  // ,"instance":"host",... (JSON, after alertname and key)
  bool closed_ = false;

  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable wake_, done_;
  std::deque<Entry> queue_;
  std::map<std::string, std::string> firing_;  // fingerprint -> object (re-posted)
  std::string refused_;  // the refusal that stopped delivery, if any
  bool refusal_reported_ = false;
  uint64_t seq_ = 0, dropped_ = 0, rejected_ = 0;
  bool closing_ = false, stopping_ = false, thread_done_ = false, failing_ = false;
  Clock::time_point close_deadline_{}, last_drop_warning_{}, last_failure_warning_{};
  std::string last_error_ = "not tried yet";
  std::thread thread_;
};

}  // namespace

std::unique_ptr<AlertSink> open_alertmanager_sink(const std::string& spec, const EndpointOptions& o, bool tls) {
  const std::string scheme = tls ? "alertmanager+tls://" : "alertmanager://";
  Target t;
  size_t slash = spec.find('/');
  std::string host_port = spec.substr(0, slash);
  std::string prefix = slash == std::string::npos ? "" : spec.substr(slash);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (host_port.empty()) usage_error("bad endpoint '{}{}': expected {}HOST:PORT", scheme, spec, scheme);
  auto [host, port] = split_host_port(host_port);
  if (port == 0) usage_error("bad endpoint '{}{}': port 0", scheme, spec);
  t.host = host;
  t.port = port;
  t.path = prefix + "/api/v2/alerts";
  return std::make_unique<AlertmanagerSink>(std::move(t), scheme + spec, o, tls);
}

}  // namespace logpipe::detail
