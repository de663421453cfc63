// kafka://BROKER[,BROKER...]/TOPIC with librdkafka (the only file that includes it).
//
// Input: a consumer in a group (partitions shared between instances). Offsets are never committed
// automatically: LineSource::commit() commits exactly what the caller has processed, which is how
// `stream` gets at-least-once delivery (it commits after the windows were evaluated and the alerts
// delivered; a restart resumes from there, re-reading at most what was uncommitted).
//
// Output: an idempotent producer; one line = one message, keyed so that related lines land in the
// same partition (access logs by client IP; alerts, given as structs, by metric and key). flush() and close() wait
// until the broker has acknowledged every message, and throw when some could not be delivered, so
// a caller that commits after flush() never commits past an undelivered alert.
#include "endpoint_factories.h"

#include "logpipe/alerts.h"
#include "logpipe/error.h"
#include "logpipe/scale_out.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace logpipe::detail {
namespace {

using Clock = std::chrono::steady_clock;

struct KafkaSpec {
  std::string brokers;
  std::string topic;
};

KafkaSpec parse_spec(const std::string& spec) {
  size_t slash = spec.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= spec.size() ||
      spec.find('/', slash + 1) != std::string::npos)
    usage_error("bad endpoint 'kafka://{}': expected kafka://BROKER[,BROKER...]/TOPIC", spec);
  return {spec.substr(0, slash), spec.substr(slash + 1)};
}

// Transient broker errors (a broker down, a coordinator moving) are retried by librdkafka: we only
// report them, at most once per kErrorReportInterval for the same message, so that an outage does
// not flood stderr. Fatal and authentication errors are remembered and thrown by the caller.
class ErrorState {
 public:
  explicit ErrorState(const std::string& name) : name_(name) {}
  void on_error(rd_kafka_t* rk, int err, const char* reason) {
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char buf[512];
      rd_kafka_fatal_error(rk, buf, sizeof buf);
      if (fatal_.empty()) fatal_ = buf;
      return;
    }
    // Refusals that retrying will not change: a login, or the rights on the topic or cluster.
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
        err == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED || err == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED) {
      if (fatal_.empty()) fatal_ = reason;
      return;
    }
    report(reason);
  }
  void report(const std::string& reason) {
    auto now = Clock::now();
    if (reason == last_ && now - last_time_ < kErrorReportInterval) return;
    last_ = reason;
    last_time_ = now;
    std::fprintf(stderr, "logpipe: %s: %s (retrying)\n", name_.c_str(), reason.c_str());
  }
  void throw_if_fatal() const {
    if (!fatal_.empty()) runtime_error("{}: {}", name_, fatal_);
  }

 private:
  static constexpr auto kErrorReportInterval = std::chrono::seconds(10);
  const std::string& name_;
  std::string fatal_;
  std::string last_;
  Clock::time_point last_time_{};
};

// What the librdkafka callbacks see (the configuration's opaque): the endpoint name for messages
// and the error state. Consumer and producer derive from it.
struct KafkaClient {
  explicit KafkaClient(std::string name) : endpoint(std::move(name)), errors(endpoint) {}
  std::string endpoint;
  ErrorState errors;
  bool debug = false;  // --kafka-option debug=...: print librdkafka's debug log too
  // librdkafka's log lines (from its threads): one text is printed at most once per 10 s, then
  // with the count of repeats (a topic the cluster refuses gave hundreds of identical lines).
  std::mutex log_mutex;
  std::string last_log;
  Clock::time_point last_log_at{};
  uint64_t log_repeats = 0;
};

// A client whose brokers are gone cannot always be destroyed in bounded time (librdkafka waits for
// a pending group commit up to the session timeout). Such a handle is left running until the
// process ends (abandon()): main() then ends it with _Exit (endpoints_abandoned()), so that no exit
// handler (OpenSSL's cleanup) runs under librdkafka's threads. Its KafkaClient is freed, so the
// callbacks below run under this mutex and return at once for an abandoned handle.
std::mutex& abandon_mutex() {
  static auto* m = new std::mutex;  // never destroyed: abandoned threads may still take it
  return *m;
}
std::vector<const rd_kafka_t*>& abandoned_handles() {
  static auto* v = new std::vector<const rd_kafka_t*>;
  return *v;
}
bool abandoned(const rd_kafka_t* rk) {
  const auto& v = abandoned_handles();
  return std::find(v.begin(), v.end(), rk) != v.end();
}
void abandon(rd_kafka_t* rk) {
  std::lock_guard lock(abandon_mutex());
  abandoned_handles().push_back(rk);
}

void error_callback(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  std::lock_guard guard(abandon_mutex());
  if (abandoned(rk)) return;
  static_cast<KafkaClient*>(opaque)->errors.on_error(rk, err, reason);
}

// Prints librdkafka's own warnings with our prefix. Connection failures ("FAIL", "ERROR") also
// reach the error callback, which rate-limits them, so they are not repeated here.
void log_callback(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  std::lock_guard guard(abandon_mutex());
  if (abandoned(rk)) return;
  const auto* client = static_cast<const KafkaClient*>(rd_kafka_opaque(rk));
  bool debug = client && client->debug;
  if (!debug && (level > 4 || std::strcmp(facility, "FAIL") == 0 || std::strcmp(facility, "ERROR") == 0))
    return;
  if (!client) {
    std::fprintf(stderr, "logpipe: kafka: %s\n", message);
    return;
  }
  auto* c = const_cast<KafkaClient*>(client);
  std::lock_guard lock(c->log_mutex);
  auto now = Clock::now();
  if (!debug && message == c->last_log && now - c->last_log_at < std::chrono::seconds(10)) {
    ++c->log_repeats;
    return;
  }
  if (c->log_repeats)
    std::fprintf(stderr, "logpipe: %s: %s (%llu more like it since the last report)\n", client->endpoint.c_str(),
                 message, static_cast<unsigned long long>(c->log_repeats));
  else
    std::fprintf(stderr, "logpipe: %s: %s\n", client->endpoint.c_str(), message);
  c->last_log = message;
  c->last_log_at = now;
  c->log_repeats = 0;
}

// The role librdkafka gives a property: 'C' (consumer), 'P' (producer) or '*' (both, and any
// name it does not list). Read once from librdkafka's own table (rd_kafka_conf_properties_show,
// the CONFIGURATION.md it prints, "name | C/P | ..."), so it follows the library version.
char property_role(const std::string& key) {
  static const std::vector<std::pair<std::string, char>> roles = [] {
    std::vector<std::pair<std::string, char>> out;
    char* text = nullptr;
    size_t size = 0;
    std::FILE* f = ::open_memstream(&text, &size);
    if (!f) return out;
    rd_kafka_conf_properties_show(f);
    std::fclose(f);
    std::string_view rest(text, size);
    while (!rest.empty()) {
      size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
      size_t bar = line.find('|');
      if (bar == std::string_view::npos || bar + 4 > line.size()) continue;
      std::string_view name = line.substr(0, bar);
      while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
      size_t next = line.find('|', bar + 1);
      if (next == std::string_view::npos) continue;
      std::string_view role = line.substr(bar + 1, next - bar - 1);
      char r = role.find('C') != std::string_view::npos ? 'C' : role.find('P') != std::string_view::npos ? 'P' : '*';
      if (!name.empty()) out.emplace_back(std::string(name), r);
    }
    std::free(text);
    return out;
  }();
  for (const auto& [name, role] : roles)
    if (name == key) return role;
  return '*';
}

// Builds a configuration: our defaults, then the shared --kafka-option settings meant for this
// role (`role` is 'C' or 'P'), then the role's own (so the user can override any default). The
// value is never printed: it may be a password.
rd_kafka_conf_t* make_conf(KafkaClient* client, const KafkaSpec& spec, const EndpointOptions& o, char role,
                           std::initializer_list<std::pair<const char*, std::string>> defaults) {
  const std::string& name = client->endpoint;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  const char* flag = "--kafka-option";
  auto set = [&](const std::string& key, const std::string& value, bool user) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      if (user) usage_error("{}: {} {}: {}", name, flag, key, errstr);
      runtime_error("{}: cannot set {}: {}", name, key, errstr);
    }
  };
  set("bootstrap.servers", spec.brokers, false);
  set("client.id", "logpipe", false);
  for (const auto& [key, value] : defaults) set(key, value, false);
  for (const auto& [key, value] : o.kafka_options) {
    char r = property_role(key);
    if (r != '*' && r != role) continue;  // the other role's property: not this client's
    set(key, value, true);
    if (key == "debug") client->debug = true;
  }
  flag = role == 'C' ? "--kafka-consumer-option" : "--kafka-producer-option";
  for (const auto& [key, value] : role == 'C' ? o.kafka_consumer_options : o.kafka_producer_options) {
    set(key, value, true);
    if (key == "debug") client->debug = true;
  }
  rd_kafka_conf_set_opaque(conf, client);
  rd_kafka_conf_set_log_cb(conf, log_callback);
  rd_kafka_conf_set_error_cb(conf, error_callback);
  return conf;
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
      .count();
}

// ---------------------------------------------------------------------------------------------
// Consumer

// A consumer of `conf` subscribed to `topic` (its rebalance callback set by the caller). Throws
// Error naming `endpoint` when it cannot be created or subscribed.
rd_kafka_t* subscribed_consumer(rd_kafka_conf_t* conf, const std::string& topic, const std::string& endpoint) {
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    usage_error("{}: cannot create the consumer: {}", endpoint, errstr);
  }
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err) {
    rd_kafka_destroy(rk);
    runtime_error("{}: cannot subscribe: {}", endpoint, rd_kafka_err2str(err));
  }
  return rk;
}

// Reads the results of the commits sent on `queue`, until none is in flight or `deadline_us` (0:
// only what has arrived); `on_commit` reads each result (`in_flight` is cleared before).
template <typename OnCommit>
void serve_commit_queue(rd_kafka_queue_t* queue, bool& in_flight, int64_t deadline_us, OnCommit on_commit) {
  for (;;) {
    int wait_ms = 0;
    if (deadline_us > 0 && in_flight)
      wait_ms = static_cast<int>(std::clamp<int64_t>((deadline_us - now_us()) / 1000, 0, 100));
    rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, wait_ms);
    if (!ev) {
      if (deadline_us == 0 || !in_flight || now_us() >= deadline_us) return;
      continue;
    }
    if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_OFFSET_COMMIT) {
      in_flight = false;
      on_commit(ev);
    }
    rd_kafka_event_destroy(ev);
  }
}

// Takes (or gives up) the partitions of a rebalance, eager or cooperative; failures reported.
void apply_rebalance(rd_kafka_t* rk, bool cooperative, bool assign, rd_kafka_topic_partition_list_t* parts,
                     ErrorState& errors) {
  rd_kafka_error_t* error = nullptr;
  rd_kafka_resp_err_t result = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (cooperative)
    error = assign ? rd_kafka_incremental_assign(rk, parts) : rd_kafka_incremental_unassign(rk, parts);
  else
    result = rd_kafka_assign(rk, assign ? parts : nullptr);
  if (error) {
    errors.report(rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
  } else if (result) {
    errors.report(rd_kafka_err2str(result));
  }
}

// Leaves the group before closing: unsubscribes and serves the rebalance that follows (its
// callback unassigns) until nothing is assigned, for at most `wait_us`. librdkafka 2.0.2 can hang
// for ever in rd_kafka_assign() when an assignment arrives while the consumer closes (a rebalance
// under way at the stop: librdkafka#4884, #4527; seen with an instance of the group killed); with
// the assignment gone first, the close has none to hand out. Messages fetched meanwhile are
// dropped: not handed out, not committed (the next owner reads them).
void leave_before_close(rd_kafka_t* rk, int64_t wait_us) {
  if (rd_kafka_unsubscribe(rk)) return;
  const int64_t deadline = now_us() + wait_us;
  for (;;) {
    rd_kafka_topic_partition_list_t* assigned = nullptr;
    const bool none = rd_kafka_assignment(rk, &assigned) == RD_KAFKA_RESP_ERR_NO_ERROR && assigned &&
                      assigned->cnt == 0;
    if (assigned) rd_kafka_topic_partition_list_destroy(assigned);
    if (none || now_us() >= deadline) return;
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100)) rd_kafka_message_destroy(m);
  }
}

// Answers a rebalance event of a closing consumer, on a thread of its own, waited for at most
// `wait_us`. librdkafka#4884 again: when an instance of the group is killed, the rebalance that
// follows can reach a survivor while it closes, and rd_kafka_assign() then never returned
// (kafka_scale_out_kill hung at the survivors' exit until its 300 s timeout). False when the call
// did not return: the caller abandons the handle, which stays alive for the thread until the
// process ends. The thread owns a copy of the partitions and its own ErrorState (failures are
// reported on stderr under `name`, as apply_rebalance does); it touches nothing but the handle.
bool answer_rebalance_bounded(rd_kafka_t* rk, rd_kafka_resp_err_t err, const rd_kafka_topic_partition_list_t* parts,
                              int64_t wait_us, const std::string& name) {
  const bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
  rd_kafka_topic_partition_list_t* copy = parts ? rd_kafka_topic_partition_list_copy(parts) : nullptr;
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> returned = done->get_future();
  std::thread([rk, assign, copy, done, name] {
    // Asked here, not by the caller: rd_kafka_rebalance_protocol() waits for librdkafka's main
    // thread, and while the consumer closes that wait never ended (a survivor of
    // kafka_scale_out_kill hung after its last output, main thread in this call, gdb).
    const char* protocol = rd_kafka_rebalance_protocol(rk);
    const bool cooperative = protocol && std::strcmp(protocol, "COOPERATIVE") == 0;
    ErrorState errors(name);
    apply_rebalance(rk, cooperative, assign, copy, errors);
    if (copy) rd_kafka_topic_partition_list_destroy(copy);
    done->set_value();
  }).detach();
  return returned.wait_for(std::chrono::microseconds(wait_us)) == std::future_status::ready;
}

// Leaves the group (leave_before_close, at most 2 s) and closes the consumer in librdkafka's
// background, answering its final rebalance event (answer_rebalance_bounded), for at most
// `wait_us`. False when it did not close in that time: the caller then abandons the handle
// (abandon()). The records and positions are not wanted any more: the instance is stopping.
bool close_consumer(rd_kafka_t* rk, int64_t wait_us, const std::string& name) {
  leave_before_close(rk, 2'000'000);
  bool closed = false;
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  if (!q) return false;
  if (rd_kafka_error_t* error = rd_kafka_consumer_close_queue(rk, q)) {
    rd_kafka_error_destroy(error);
  } else {
    const int64_t deadline = now_us() + wait_us;
    while (!(closed = rd_kafka_consumer_closed(rk) != 0) && now_us() < deadline) {
      // Messages still fetched are dropped (not handed out: the next owner reads them).
      rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 100);
      const bool hung = ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE &&
                        !answer_rebalance_bounded(rk, rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev),
                                                  std::max<int64_t>(deadline - now_us(), 100'000), name);
      if (ev) rd_kafka_event_destroy(ev);
      if (hung) break;
    }
  }
  rd_kafka_queue_destroy(q);
  return closed;
}


class KafkaLineSource final : public LineSource, private KafkaClient {
 public:
  KafkaLineSource(const std::string& spec_text, const EndpointOptions& o)
      : KafkaClient("kafka://" + spec_text), spec_(parse_spec(spec_text)),
        idle_exit_us_(o.idle_exit_us) {
    rd_kafka_conf_t* conf =
        make_conf(this, spec_, o, 'C',
                  {{"group.id", o.kafka_group},
                   {"enable.auto.commit", "false"},
                   {"enable.auto.offset.store", "false"},
                   {"auto.offset.reset", "earliest"},
                   {"enable.partition.eof", "false"}});
    rd_kafka_conf_set_rebalance_cb(conf, &KafkaLineSource::rebalance_callback);
    rk_ = subscribed_consumer(conf, spec_.topic, endpoint);
    opened_us_ = last_message_us_ = now_us();
    commit_queue_ = rd_kafka_queue_new(rk_);
  }

  ~KafkaLineSource() override {
    release_message();
    if (skipped_)
      std::fprintf(stderr, "logpipe: %s: %llu message%s delivered again after a rebalance, skipped (already counted)\n",
                   endpoint.c_str(), static_cast<unsigned long long>(skipped_), skipped_ == 1 ? "" : "s");
    // A commit sent at the end by commit(position) (stream --state) gets the same bounded wait as
    // commit()'s.
    if (commit_in_flight_ && !final_wait_done_) serve_commits(now_us() + kFinalCommitWaitUs);
    // Leaves the group so that the partitions move to the other instances at once. Nothing is
    // committed here: only commit() does, after the caller has processed the records. librdkafka
    // holds a commit whose coordinator is gone for the session timeout (45 s by default), and its
    // close and destroy wait for it: with the brokers gone that made a stopped run hang 45-60 s.
    // So the close runs in librdkafka's background and is waited for a bounded time; a handle
    // that cannot close in that time (or still has a commit unconfirmed) is left to the end of the
    // process (abandon()), and the group drops us at the session timeout, as after a crash.
    release_message();
    const bool closed = !commit_in_flight_ && close_consumer(rk_, kCloseWaitUs, endpoint);
    if (!closed) {
      std::fprintf(stderr, "logpipe: %s: leaving without closing the consumer: its brokers do not "
                   "answer (the group drops it at its session timeout)\n", endpoint.c_str());
      abandon(rk_);
      return;
    }
    rd_kafka_queue_destroy(commit_queue_);
    rd_kafka_destroy(rk_);
  }

  Status next(std::string_view& line, int timeout_ms) override {
    if (take_line(line)) return Status::kLine;
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      errors.throw_if_fatal();
      if (commit_in_flight_) serve_commits(0);  // results of commits sent: commits_confirmed()
      int64_t wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - Clock::now()).count();
      if (idle_exit_us_ > 0) {
        int64_t idle_left_ms = (last_message_us_ + idle_exit_us_ - now_us() + 999) / 1000;
        if (idle_left_ms <= 0) {
          if (assigned_once_) return Status::kEnd;
          // Joining a group takes seconds (brokers delay the first rebalance), so the idle clock
          // only starts at the first assignment. A cluster that never assigns is an error, not
          // an empty topic.
          int64_t join_left_ms = (opened_us_ + std::max(idle_exit_us_, kJoinTimeoutUs) - now_us()) / 1000;
          if (join_left_ms <= 0)
            runtime_error("{}: no partition assigned after {} s (brokers unreachable, or topic "
                          "missing?)", endpoint, std::max(idle_exit_us_, kJoinTimeoutUs) / 1000000);
          idle_left_ms = std::min<int64_t>(join_left_ms, 100);
        }
        wait_ms = std::min(wait_ms, idle_left_ms);
      }
      if (wait_ms < 0) return Status::kTimeout;
      release_message();
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, static_cast<int>(wait_ms));
      if (!m) {
        if (Clock::now() >= deadline) {
          errors.throw_if_fatal();
          return Status::kTimeout;
        }
        continue;
      }
      if (m->err) {
        handle_message_error(m);
        continue;
      }
      last_message_us_ = now_us();
      if (redelivered(m)) continue;
      current_ = m;
      cursor_ = static_cast<const char*>(m->payload);
      end_ = cursor_ + (m->payload ? m->len : 0);
      if (take_line(line)) return Status::kLine;
    }
  }

  const std::string& name() const noexcept override { return endpoint; }
  uint64_t line_number() const noexcept override { return line_number_; }
  uint32_t partition() const noexcept override { return line_partition_; }

  // A partition is caught up when every message the broker holds (the high watermark librdkafka
  // cached from its last fetch) was handed out: its position (the offset after the last message
  // passed to us) reached it. An empty partition is caught up from the start.
  // Called at every tick and every Prometheus snapshot: the watermarks are librdkafka's cache,
  // no request to the broker.
  std::vector<PartitionState> partitions() const override {
    std::vector<PartitionState> out;
    rd_kafka_topic_partition_list_t* list = nullptr;
    for (size_t p = 0; p < assigned_.size(); ++p) {
      if (!assigned_[p]) continue;
      if (!list) list = rd_kafka_topic_partition_list_new(static_cast<int>(assigned_.size()));
      rd_kafka_topic_partition_list_add(list, spec_.topic.c_str(), static_cast<int32_t>(p));
    }
    if (!list) return out;
    rd_kafka_position(rk_, list);
    for (int i = 0; i < list->cnt; ++i) {
      const auto& tp = list->elems[i];
      int64_t low = -1, high = -1;
      bool known = rd_kafka_get_watermark_offsets(rk_, spec_.topic.c_str(), tp.partition, &low, &high) ==
                       RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0;
      int64_t at = tp.offset >= 0 ? tp.offset : done_[static_cast<size_t>(tp.partition)];
      bool caught_up = known && (high == low || (at >= 0 && at >= high));
      // Lag (--metrics-listen): what the broker holds past our position; unknown until the
      // first fetch tells the high watermark, or while we have no position in a non-empty one.
      int64_t lag = !known ? -1 : high == low ? 0 : at >= 0 ? std::max<int64_t>(0, high - at) : -1;
      out.push_back({static_cast<uint32_t>(tp.partition), caught_up, lag});
    }
    rd_kafka_topic_partition_list_destroy(list);
    return out;
  }

  uint32_t partition_count() override {
    if (partition_count_) return partition_count_;
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, spec_.topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk_, 0, rkt, &md, 10000);
    if (!err && md && md->topic_cnt == 1 && !md->topics[0].err && md->topics[0].partition_cnt > 0)
      partition_count_ = static_cast<uint32_t>(md->topics[0].partition_cnt);
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    if (!partition_count_)
      runtime_error("{}: cannot read the topic's partition count: {}", endpoint,
                    err ? rd_kafka_err2str(err) : "no such topic");
    return partition_count_;
  }

  void forget(uint32_t partition) override {
    if (partition < handed_.size()) handed_[partition] = -1;
  }

  // Commits, for each assigned partition, the offset after the last message whose lines were all
  // returned: the end of the run (every record processed). Waits, a bounded time, for the broker
  // to confirm it and for a commit still in flight: with the brokers gone the run still ends
  // (kFinalCommitWaitUs), and a restart re-reads from the last confirmed commit (at-least-once,
  // never lost). A failure is reported.
  void commit() override {
    const int64_t deadline = now_us() + kFinalCommitWaitUs;
    deferred_.clear();        // done_ covers it
    serve_commits(deadline);  // the periodic commit in flight, if any
    if (!commit_in_flight_) send_commit(done_);
    serve_commits(deadline);
    final_wait_done_ = true;
    errors.throw_if_fatal();
    if (commit_in_flight_)
      runtime_error("{}: offsets not committed: the brokers did not confirm within {} s (a restart "
                    "re-reads from the last commit they confirmed)", endpoint, kFinalCommitWaitUs / 1000000);
  }

  Position position() const override { return done_; }

  // Commits a position taken by position(): only partitions still ours, only forward. Never waits
  // (a periodic commit that waited for a dead coordinator held the whole run: 45 s per commit): the
  // commit is sent and its result read later from commit_queue_ (commits_confirmed(), failures
  // reported). While one is in flight no other is sent; the next checkpoint covers this position.
  // Returns false: nothing is confirmed yet when it returns.
  bool commit(const Position& position) override {
    serve_commits(0);
    if (!commit_in_flight_) send_commit(position);
    else deferred_ = position;  // sent once the one in flight is answered (serve_commits)
    errors.throw_if_fatal();
    return false;
  }

  uint64_t commits_confirmed() const noexcept override { return confirmed_; }

 private:
  void send_commit(const Position& position) {
    rd_kafka_topic_partition_list_t* list = nullptr;
    for (size_t p = 0; p < position.size() && p < assigned_.size(); ++p) {
      if (!assigned_[p] || position[p] < 0 || position[p] <= committed_[p]) continue;
      if (!list) list = rd_kafka_topic_partition_list_new(static_cast<int>(position.size()));
      rd_kafka_topic_partition_list_add(list, spec_.topic.c_str(), static_cast<int32_t>(p))->offset =
          position[p];
    }
    if (!list) return;
    rd_kafka_resp_err_t err = rd_kafka_commit_queue(rk_, list, commit_queue_, nullptr, nullptr);
    rd_kafka_topic_partition_list_destroy(list);
    if (err)
      errors.report(std::string("offsets not committed yet: ") + rd_kafka_err2str(err));
    else
      commit_in_flight_ = true;
  }

  // Reads the results of the commits sent, until none is in flight or `deadline_us` (0: only what
  // has arrived). A partition revoked meanwhile keeps committed_ at -1 (another owner's now).
  void serve_commits(int64_t deadline_us) {
    serve_commit_queue(commit_queue_, commit_in_flight_, deadline_us, [this](rd_kafka_event_t* ev) {
      rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
      if (const rd_kafka_topic_partition_list_t* parts = rd_kafka_event_topic_partition_list(ev)) {
        for (int i = 0; i < parts->cnt; ++i) {
          const auto& tp = parts->elems[i];
          auto p = static_cast<size_t>(tp.partition);
          if (tp.err) {
            if (!err) err = tp.err;
          } else if (p < assigned_.size() && assigned_[p]) {
            committed_[p] = std::max(committed_[p], tp.offset);
          }
        }
      }
      if (err)
        errors.report(std::string("offsets not committed yet: ") + rd_kafka_err2str(err));
      else
        ++confirmed_;
      // A position given while this one was in flight (the last one of a --state stop, say).
      if (!deferred_.empty()) send_commit(std::exchange(deferred_, {}));
    });
  }

  // Returns the next `\n`-separated line of the current message. A message may hold several
  // lines; a trailing newline does not make an empty line; a trailing CR is stripped (as files).
  bool take_line(std::string_view& line) {
    if (!current_ || cursor_ == end_) return false;
    const char* nl = static_cast<const char*>(std::memchr(cursor_, '\n', end_ - cursor_));
    const char* stop = nl ? nl : end_;
    line = std::string_view(cursor_, static_cast<size_t>(stop - cursor_));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    cursor_ = nl ? nl + 1 : end_;
    ++line_number_;
    line_partition_ = static_cast<uint32_t>(current_->partition);
    if (cursor_ == end_) mark_done(current_);  // every line of this message is now returned
    return true;
  }

  // A message this process already handed out, delivered again: a rebalance (another consumer
  // joining or leaving the group) restarts a partition at its last commit, which for windows
  // still open is before what we counted. Counting it again double-counted open windows (a
  // second consumer joining re-fed 5,000 records: 619 false alerts). It is skipped and counts as
  // done. Kept per partition for the life of the process (a restart has --state for that).
  bool redelivered(rd_kafka_message_t* m) {
    auto p = static_cast<size_t>(m->partition);
    if (p >= handed_.size()) handed_.resize(p + 1, -1);
    if (m->offset < handed_[p]) {
      ++skipped_;
      mark_done(m);
      rd_kafka_message_destroy(m);
      return true;
    }
    handed_[p] = m->offset + 1;
    return false;
  }

  void mark_done(const rd_kafka_message_t* m) {
    auto p = static_cast<size_t>(m->partition);
    if (p >= assigned_.size() || !assigned_[p]) return;  // revoked meanwhile: the new owner re-reads
    done_[p] = m->offset + 1;
  }

  void release_message() {
    if (!current_) return;
    // An empty message (tombstone) has no line: it is done as soon as it is passed.
    if (cursor_ == end_ && current_->len == 0) mark_done(current_);
    rd_kafka_message_destroy(current_);
    current_ = nullptr;
  }

  void handle_message_error(rd_kafka_message_t* m) {
    rd_kafka_resp_err_t err = m->err;
    std::string reason = rd_kafka_message_errstr(m);
    rd_kafka_message_destroy(m);
    switch (err) {
      case RD_KAFKA_RESP_ERR__PARTITION_EOF:
        return;
      case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
      case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
      case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
        runtime_error("{}: {}", endpoint, reason);
      default:
        errors.report(reason);
    }
  }

  static void rebalance_callback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t* parts, void* opaque) {
    static_cast<KafkaLineSource*>(static_cast<KafkaClient*>(opaque))->rebalance(rk, err, parts);
  }

  // Tracks which partitions are ours. On revocation the offsets not yet committed are dropped:
  // the new owner starts from the last commit, so records not yet processed here are re-read
  // there (at-least-once), and we never commit for a partition we no longer own.
  void rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
    bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    if (assign && !assigned_once_) {
      assigned_once_ = true;
      last_message_us_ = now_us();
    }
    if (!assign) {
      if (!cooperative) std::fill(assigned_.begin(), assigned_.end(), false);
      if (!cooperative) std::fill(done_.begin(), done_.end(), -1);
    }
    for (int i = 0; i < parts->cnt; ++i) {
      auto p = static_cast<size_t>(parts->elems[i].partition);
      if (p >= assigned_.size()) {
        assigned_.resize(p + 1, false);
        done_.resize(p + 1, -1);
        committed_.resize(p + 1, -1);
      }
      assigned_[p] = assign;
      done_[p] = -1;
      committed_[p] = -1;
    }
    apply_rebalance(rk, cooperative, assign, parts, errors);
  }

  KafkaSpec spec_;
  int64_t idle_exit_us_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_message_t* current_ = nullptr;  // the message the last returned line points into
  const char* cursor_ = nullptr;
  const char* end_ = nullptr;
  uint64_t line_number_ = 0;
  uint32_t line_partition_ = 0;  // partition of the line last returned
  std::vector<int64_t> handed_;  // per partition: the offset after the last message handed out
  uint32_t partition_count_ = 0;  // of the topic, once asked
  uint64_t skipped_ = 0;         // messages delivered again and skipped
  int64_t last_message_us_ = 0;  // or of the first assignment: the idle clock
  int64_t opened_us_ = 0;
  bool assigned_once_ = false;
  static constexpr int64_t kJoinTimeoutUs = 60'000'000;
  static constexpr int64_t kFinalCommitWaitUs = 5'000'000;  // end of run: confirmation of the last commit
  static constexpr int64_t kCloseWaitUs = 5'000'000;        // leaving the group
  rd_kafka_queue_t* commit_queue_ = nullptr;  // results of the commits sent
  bool commit_in_flight_ = false;             // sent, result not read yet (one at a time)
  uint64_t confirmed_ = 0;                    // confirmed by the brokers
  bool final_wait_done_ = false;              // commit() waited for the brokers already
  Position deferred_;                         // to commit once the commit in flight is answered
  // Indexed by partition: ours?, offset to commit (next to read; -1 = nothing), last committed.
  std::vector<bool> assigned_;
  std::vector<int64_t> done_;
  std::vector<int64_t> committed_;
};

// ---------------------------------------------------------------------------------------------
// Producer

// An idempotent producer: produce() queues one message with its key; flush() and close() wait
// until the broker acknowledged everything and throw when something could not be delivered.
class KafkaProducer final : private KafkaClient {
 public:
  KafkaProducer(const std::string& spec_text, const EndpointOptions& o)
      : KafkaClient("kafka://" + spec_text), spec_(parse_spec(spec_text)), stop_(o.stop) {
    // Idempotence: a retry after a broker outage neither duplicates nor reorders messages.
    rd_kafka_conf_t* conf = make_conf(this, spec_, o, 'P',
                                      {{"enable.idempotence", "true"},
                                       {"linger.ms", "5"},
                                       {"queue.buffering.max.messages", "500000"},
                                       // --retry-for: how long a message may wait for a broker
                                       {"message.timeout.ms", std::to_string(std::max<int64_t>(1, o.retry_for_us / 1000))}});
    rd_kafka_conf_set_dr_msg_cb(conf, &KafkaProducer::delivery_callback);
    char value[64];
    size_t size = sizeof value;
    if (rd_kafka_conf_get(conf, "message.timeout.ms", value, &size) == RD_KAFKA_CONF_OK)
      message_timeout_ms_ = std::atoll(value);
    char errstr[512];
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk_) {
      rd_kafka_conf_destroy(conf);
      usage_error("{}: cannot create the producer: {}", endpoint, errstr);
    }
    rkt_ = rd_kafka_topic_new(rk_, spec_.topic.c_str(), nullptr);
    if (!rkt_) {
      rd_kafka_destroy(rk_);
      runtime_error("{}: cannot open the topic: {}", endpoint, rd_kafka_err2str(rd_kafka_last_error()));
    }
  }

  ~KafkaProducer() {
    try {
      close();
    } catch (const Error& e) {
      std::fprintf(stderr, "logpipe: %s\n", e.what());
    }
    if (rkt_) rd_kafka_topic_destroy(rkt_);
    if (rk_) rd_kafka_destroy(rk_);
  }

  // Waits until the broker acknowledged every message produced so far. Throws when some could
  // not be delivered: a caller must not commit past them.
  void flush() {
    if (closed_) return;
    wait_delivered();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    wait_delivered();
  }

  bool closed() const noexcept { return closed_; }
  const std::string& name() const noexcept { return endpoint; }

  // Queues one message (copied by librdkafka: `line` and `key` may be reused at once).
  void produce(std::string_view line, std::string_view key) {
    if (closed_) runtime_error("{}: write after close", endpoint);
    for (;;) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk_, RD_KAFKA_V_RKT(rkt_), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_VALUE(const_cast<char*>(line.data()), line.size()),
          RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()), RD_KAFKA_V_END);
      if (!err) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
        runtime_error("{}: cannot produce: {}", endpoint, rd_kafka_err2str(err));
      rd_kafka_poll(rk_, 10);  // the local queue is full: let deliveries drain it
      check_failures();
    }
    if ((++produced_ & 1023) == 0) {  // serve delivery reports now and then
      rd_kafka_poll(rk_, 0);
      check_failures();
    }
  }

  void wait_delivered() {
    // librdkafka fails a message after message.timeout.ms; the margin only guards against a
    // library that never answers.
    auto deadline = Clock::now() + std::chrono::milliseconds(message_timeout_ms_ + 30000);
    while (rd_kafka_outq_len(rk_) > 0) {
      rd_kafka_flush(rk_, 500);
      // A failure is reported once every message has its answer, with the whole count: the
      // messages of one batch time out one after the other (a run under ASan reported "2
      // messages could not be delivered" while 3 more were still failing).
      errors.throw_if_fatal();
      if (Clock::now() > deadline)
        runtime_error("{}: {} messages not delivered after {} ms", endpoint, rd_kafka_outq_len(rk_),
                      message_timeout_ms_ + 30000);
      // After SIGTERM/SIGINT, 5 s more to deliver, as the other outputs (a stop used to wait for
      // message.timeout.ms, 5 minutes by default, when no broker took the messages).
      if (stop_requested(stop_)) {
        if (stop_seen_ == Clock::time_point{}) stop_seen_ = Clock::now();
        if (Clock::now() - stop_seen_ >= std::chrono::seconds(5)) {
          int left = rd_kafka_outq_len(rk_);
          rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
          rd_kafka_poll(rk_, 0);
          failed_ = 0;  // the purged ones: counted in the message below
          runtime_error("{}: interrupted: {} messages not delivered", endpoint, left);
        }
      }
    }
    rd_kafka_poll(rk_, 0);
    check_failures();
  }

  void check_failures() {
    errors.throw_if_fatal();
    if (failed_ > 0)
      runtime_error("{}: {} messages could not be delivered: {}", endpoint, failed_, first_failure_);
  }

  static void delivery_callback(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<KafkaProducer*>(static_cast<KafkaClient*>(opaque));
    if (!m->err) return;
    if (self->failed_++ == 0) self->first_failure_ = rd_kafka_err2str(m->err);
  }

  KafkaSpec spec_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_topic_t* rkt_ = nullptr;
  uint64_t produced_ = 0;
  uint64_t failed_ = 0;
  std::string first_failure_;
  int64_t message_timeout_ms_ = 300000;
  const StopFlag* stop_ = nullptr;
  Clock::time_point stop_seen_{};
  bool closed_ = false;
};

// kafka:// as an output of lines (generate -o, anonymize -o): every complete line is one message
// (without its newline), keyed by its first space-separated field (an access log's client IP),
// so that one client's lines stay in order in one partition.
class KafkaSink final : public ByteSink {
 public:
  KafkaSink(const std::string& spec, const EndpointOptions& o) : producer_(spec, o) {}
  ~KafkaSink() override {
    try {
      close();
    } catch (const Error& e) {
      std::fprintf(stderr, "logpipe: %s\n", e.what());
    }
  }
  // A partial line waits for the rest in partial_.
  void write(std::string_view data) override {
    if (producer_.closed()) runtime_error("{}: write after close", producer_.name());
    while (!data.empty()) {
      size_t nl = data.find('\n');
      if (nl == std::string_view::npos) {
        partial_.append(data);
        return;
      }
      if (partial_.empty()) {
        produce(data.substr(0, nl));
      } else {
        partial_.append(data.substr(0, nl));
        produce(partial_);
        partial_.clear();
      }
      data.remove_prefix(nl + 1);
    }
  }
  // A partial line stays buffered.
  void flush() override { producer_.flush(); }
  void close() override {
    if (producer_.closed()) return;
    if (!partial_.empty()) {  // the last line without a newline is a line, as in files
      produce(partial_);
      partial_.clear();
    }
    producer_.close();
  }
  const std::string& name() const noexcept override { return producer_.name(); }

 private:
  void produce(std::string_view line) { producer_.produce(line, line.substr(0, line.find(' '))); }
  KafkaProducer producer_;
  std::string partial_;
};

// kafka:// as an alert output: one JSON line per alert (the JSON-lines format), keyed by metric
// and key so that an episode's firing and resolved land in one partition, in order. Every
// window's alerts are acknowledged before send() returns (stream commits only past them).
class KafkaAlertSink final : public AlertSink {
 public:
  KafkaAlertSink(const std::string& spec, const EndpointOptions& o) : producer_(spec, o) {}
  void send(std::span<const Alert> alerts) override {
    for (const Alert& a : alerts) {
      text_.clear();
      append_alert_json(text_, a);
      text_.pop_back();  // the newline: one message is one line
      key_.assign(kMetrics[a.metric].name).append(1, ':').append(a.key);
      producer_.produce(text_, key_);
    }
    producer_.flush();
  }
  void flush() override { producer_.flush(); }
  void close() override { producer_.close(); }
  const std::string& name() const noexcept override { return producer_.name(); }

 private:
  KafkaProducer producer_;
  std::string text_, key_;
};


// ---------------------------------------------------------------------------------------------
// stream --scale-out: the partials topic (scale_out.h, PartialsChannel). An idempotent producer
// sends to its one partition; a consumer of group GROUP.merge reads it while this instance owns
// that partition. Taking it over restores what the previous owner committed (the offset where a
// successor starts, its alert state as the commit's metadata). The group assigns with
// cooperative-sticky, so the partition stays with its owner while instances join (with the eager
// default a join could move it to the newcomer, which evaluated the windows since the last commit
// again: duplicate alerts); under an eager assignor (a --kafka-consumer-option), a revocation
// followed by getting it back continues where it was.

class KafkaPartialsChannel final : public PartialsChannel, private KafkaClient {
 public:
  KafkaPartialsChannel(const std::string& spec_text, const EndpointOptions& o)
      : KafkaClient("kafka://" + spec_text), spec_(parse_spec(spec_text)) {
    rd_kafka_conf_t* pconf = make_conf(this, spec_, o, 'P',
                                       {{"enable.idempotence", "true"},
                                        {"linger.ms", "5"},
                                        {"compression.codec", "lz4"},
                                        {"message.timeout.ms", std::to_string(std::max<int64_t>(1, o.retry_for_us / 1000))}});
    rd_kafka_conf_set_dr_msg_cb(pconf, &KafkaPartialsChannel::delivery_callback);
    char errstr[512];
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, errstr, sizeof errstr);
    if (!producer_) {
      rd_kafka_conf_destroy(pconf);
      usage_error("{}: cannot create the producer: {}", endpoint, errstr);
    }
    check_one_partition();
    rd_kafka_conf_t* cconf = make_conf(this, spec_, o, 'C',
                                       {{"group.id", o.kafka_group + ".merge"},
                                        {"enable.auto.commit", "false"},
                                        {"enable.auto.offset.store", "false"},
                                        {"auto.offset.reset", "earliest"},
                                        {"enable.partition.eof", "false"},
                                        // See above: the merging role stays with its owner.
                                        {"partition.assignment.strategy", "cooperative-sticky"}});
    rd_kafka_conf_set_rebalance_cb(cconf, &KafkaPartialsChannel::rebalance_callback);
    consumer_ = subscribed_consumer(cconf, spec_.topic, endpoint);
    commit_queue_ = rd_kafka_queue_new(consumer_);
  }

  ~KafkaPartialsChannel() override {
    release();
    if (stashed_) rd_kafka_message_destroy(std::exchange(stashed_, nullptr));
    if (producer_) {
      rd_kafka_flush(producer_, 5000);
      rd_kafka_destroy(producer_);
    }
    if (!consumer_) return;
    serve_commits(now_us() + kWaitUs);
    // Leaving the group moves the partials at once to another instance (bounded, as the input's).
    const bool closed = !commit_in_flight_ && close_consumer(consumer_, kWaitUs, endpoint);
    if (!closed) {
      abandon(consumer_);
      return;
    }
    rd_kafka_queue_destroy(commit_queue_);
    rd_kafka_destroy(consumer_);
  }

  uint64_t send(std::string_view payload) override {
    for (;;) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          producer_, RD_KAFKA_V_TOPIC(spec_.topic.c_str()), RD_KAFKA_V_PARTITION(0),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
          RD_KAFKA_V_END);
      if (!err) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) runtime_error("{}: cannot produce: {}", endpoint, rd_kafka_err2str(err));
      rd_kafka_poll(producer_, 10);
      check_failures();
    }
    rd_kafka_poll(producer_, 0);
    check_failures();
    return ++sent_;
  }

  uint64_t acknowledged() override {
    rd_kafka_poll(producer_, 0);
    check_failures();
    return delivered_;
  }

  bool drain(int timeout_ms) override {
    const int64_t deadline = now_us() + int64_t{timeout_ms} * 1000;
    while (delivered_ < sent_ && now_us() < deadline) {
      rd_kafka_flush(producer_, 100);
      check_failures();
    }
    serve_commits(deadline);
    return delivered_ >= sent_;
  }

  Polled poll(int timeout_ms) override {
    release();
    serve_commits(0);
    if (!events_.empty()) return take_event();
    rd_kafka_message_t* m = std::exchange(stashed_, nullptr);
    if (!m) m = rd_kafka_consumer_poll(consumer_, timeout_ms);
    errors.throw_if_fatal();
    if (!committed_failure_.empty()) {
      if (m) rd_kafka_message_destroy(m);
      runtime_error("{}: cannot read the merge state committed by the previous merger: {}", endpoint,
                    committed_failure_);
    }
    if (!events_.empty()) {  // a rebalance ran inside the poll: its event first, then the message
      stashed_ = m;          // (fetched for the new assignment: librdkafka will not give it again)
      return take_event();
    }
    if (!m) return {};
    if (m->err) {
      std::string reason = rd_kafka_message_errstr(m);
      rd_kafka_resp_err_t err = m->err;
      rd_kafka_message_destroy(m);
      if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
        runtime_error("{}: {}", endpoint, reason);
      if (err != RD_KAFKA_RESP_ERR__PARTITION_EOF) errors.report(reason);
      return {};
    }
    if (!owner_ || m->partition != 0) {
      rd_kafka_message_destroy(m);
      return {};
    }
    current_ = m;
    next_offset_ = m->offset + 1;
    Polled out;
    out.event = Event::kMessage;
    out.payload = std::string_view(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
    out.offset = m->offset;
    return out;
  }

  void commit(int64_t offset, std::string_view state) override {
    if (!owner_ || offset < 0) return;
    serve_commits(0);
    if (commit_in_flight_) {
      deferred_ = {offset, std::string(state)};
      return;
    }
    send_commit(offset, state);
  }

  const std::string& name() const noexcept override { return endpoint; }

 private:
  // The partials must live in one partition: its order is what makes every merger see the same
  // sections in the same order.
  void check_one_partition() {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(producer_, spec_.topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(producer_, 0, rkt, &md, 10000);
    int partitions = -1;
    rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (!err && md && md->topic_cnt == 1) {
      partitions = md->topics[0].partition_cnt;
      topic_err = md->topics[0].err;
    }
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    if (err) runtime_error("{}: cannot read the topic's metadata: {}", endpoint, rd_kafka_err2str(err));
    if (topic_err || partitions <= 0)
      runtime_error("{}: the topic does not exist: create it with one partition (stream --scale-out, "
                    "docs/stream.md \"Running several instances\")", endpoint);
    if (partitions != 1)
      runtime_error("{}: the topic has {} partitions, --scale-out needs exactly one (its order is what every "
                    "merger reads)", endpoint, partitions);
  }

  Polled take_event() {
    Polled out = std::move(events_.front());
    events_.erase(events_.begin());
    return out;
  }

  void release() {
    if (current_) rd_kafka_message_destroy(current_);
    current_ = nullptr;
  }

  void check_failures() {
    errors.throw_if_fatal();
    if (failed_ > 0)
      runtime_error("{}: {} partial aggregates could not be delivered: {}", endpoint, failed_, first_failure_);
  }

  static void delivery_callback(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<KafkaPartialsChannel*>(static_cast<KafkaClient*>(opaque));
    if (!m->err) {
      ++self->delivered_;
    } else if (self->failed_++ == 0) {
      self->first_failure_ = rd_kafka_err2str(m->err);
    }
  }

  void send_commit(int64_t offset, std::string_view state) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t* tp = rd_kafka_topic_partition_list_add(list, spec_.topic.c_str(), 0);
    tp->offset = offset;
    tp->metadata = std::malloc(state.size() + 1);  // freed with the list
    std::memcpy(tp->metadata, state.data(), state.size());
    tp->metadata_size = state.size();
    rd_kafka_resp_err_t err = rd_kafka_commit_queue(consumer_, list, commit_queue_, nullptr, nullptr);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) errors.report(std::string("merge state not committed yet: ") + rd_kafka_err2str(err));
    else commit_in_flight_ = true;
  }

  void serve_commits(int64_t deadline_us) {
    serve_commit_queue(commit_queue_, commit_in_flight_, deadline_us, [this](rd_kafka_event_t* ev) {
      rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
      if (const rd_kafka_topic_partition_list_t* parts = rd_kafka_event_topic_partition_list(ev))
        for (int i = 0; i < parts->cnt && !err; ++i) err = parts->elems[i].err;
      if (err) errors.report(std::string("merge state not committed yet: ") + rd_kafka_err2str(err));
      if (deferred_.first >= 0) {
        auto d = std::exchange(deferred_, {-1, {}});
        if (owner_) send_commit(d.first, d.second);
      }
    });
  }

  static void rebalance_callback(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                                 void* opaque) {
    static_cast<KafkaPartialsChannel*>(static_cast<KafkaClient*>(opaque))->rebalance(rk, err, parts);
  }

  // Eager or cooperative. A revocation only suspends; the next assignment decides: with the
  // partition, an owner continues from its own position, a newcomer from the committed one (and
  // its state); without it, an owner has lost it.
  void rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
    const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    const bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    bool has_zero = false;
    for (int i = 0; i < parts->cnt; ++i) has_zero = has_zero || parts->elems[i].partition == 0;
    if (assign && has_zero) {
      rd_kafka_topic_partition_t* tp = rd_kafka_topic_partition_list_find(parts, spec_.topic.c_str(), 0);
      if (owner_ && suspended_ && next_offset_ >= 0) {
        tp->offset = next_offset_;  // ours again: continue
      } else {
        Polled take;
        take.event = Event::kTakeOver;
        rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(list, spec_.topic.c_str(), 0);
        const rd_kafka_resp_err_t got = rd_kafka_committed(rk, list, 10000);
        if (got == RD_KAFKA_RESP_ERR_NO_ERROR && list->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
            list->elems[0].offset >= 0) {
          tp->offset = take.offset = list->elems[0].offset;
          if (list->elems[0].metadata && list->elems[0].metadata_size)
            take.state.assign(static_cast<const char*>(list->elems[0].metadata), list->elems[0].metadata_size);
        } else {
          // Nothing committed yet (or the coordinator did not say): from the start, which
          // evaluates every window again, identically.
          // A coordinator that does not answer is not "nothing committed": starting from the
          // beginning would evaluate (and alert on) the whole retention again. poll() fails the
          // run instead, and the group gives the partials to another instance.
          if (got || list->elems[0].err)
            committed_failure_ = rd_kafka_err2str(got ? got : list->elems[0].err);
          tp->offset = RD_KAFKA_OFFSET_BEGINNING;
        }
        rd_kafka_topic_partition_list_destroy(list);
        events_.push_back(std::move(take));
        next_offset_ = -1;
      }
      owner_ = true;
      suspended_ = false;
    } else if (assign && owner_ && (suspended_ || !cooperative)) {
      owner_ = suspended_ = false;  // another instance has it now
      Polled lost;
      lost.event = Event::kLost;
      events_.push_back(std::move(lost));
    } else if (!assign && has_zero) {
      suspended_ = true;
      // A cooperative revocation is final (it moves); so is a lost assignment (our session
      // expired: another instance may have merged and committed meanwhile).
      if (cooperative || rd_kafka_assignment_lost(rk)) {
        owner_ = suspended_ = false;
        Polled lost;
        lost.event = Event::kLost;
        events_.push_back(std::move(lost));
      }
    }
    apply_rebalance(rk, cooperative, assign, parts, errors);
  }

  static constexpr int64_t kWaitUs = 5'000'000;
  KafkaSpec spec_;
  rd_kafka_t* producer_ = nullptr;
  rd_kafka_t* consumer_ = nullptr;
  rd_kafka_queue_t* commit_queue_ = nullptr;
  rd_kafka_message_t* current_ = nullptr;
  rd_kafka_message_t* stashed_ = nullptr;  // polled with a rebalance event: handed out after it
  uint64_t sent_ = 0, delivered_ = 0, failed_ = 0;
  std::string first_failure_;
  std::vector<Polled> events_;
  bool owner_ = false, suspended_ = false;
  int64_t next_offset_ = -1;
  bool commit_in_flight_ = false;
  std::pair<int64_t, std::string> deferred_{-1, {}};
  std::string committed_failure_;  // the committed merge state could not be read (poll() throws)
};

}  // namespace

std::string kafka_library_version() { return rd_kafka_version_str(); }

}  // namespace logpipe::detail

namespace logpipe {
bool endpoints_abandoned() noexcept {
  std::lock_guard lock(detail::abandon_mutex());
  return !detail::abandoned_handles().empty();
}
}  // namespace logpipe

namespace logpipe::detail {

std::unique_ptr<LineSource> open_kafka_lines(const std::string& spec, const EndpointOptions& o) {
  return std::make_unique<KafkaLineSource>(spec, o);
}

std::unique_ptr<ByteSink> open_kafka_sink(const std::string& spec, const EndpointOptions& o) {
  return std::make_unique<KafkaSink>(spec, o);
}

std::unique_ptr<AlertSink> open_kafka_alert_sink(const std::string& spec, const EndpointOptions& o) {
  return std::make_unique<KafkaAlertSink>(spec, o);
}

std::unique_ptr<PartialsChannel> open_kafka_partials(const std::string& spec, const EndpointOptions& o) {
  return std::make_unique<KafkaPartialsChannel>(spec, o);
}

}  // namespace logpipe::detail
