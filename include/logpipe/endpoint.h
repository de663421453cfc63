// One syntax for every input and output (SPEC.md "Endpoints"):
//   `-`, a path, tcp://HOST:PORT, tls://HOST:PORT, udp://HOST:PORT (input),
//   kafka://BROKER[,BROKER...]/TOPIC, alertmanager://HOST:PORT (alerts output).
// Inputs are line sources (a socket server has many clients; a Kafka message is a line); outputs
// are byte sinks.
#pragma once

#include "logpipe/input.h"
#include "logpipe/output.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace logpipe {

/// Settings shared by network endpoints. Secrets never come from argv: kafka options may be read
/// from a file or the environment by the CLI before they land here.
struct EndpointOptions {
  bool listen = false;       ///< inputs: serve (many clients) instead of connecting
  bool follow = false;       ///< file inputs: keep reading as the file grows / rotates (tail -F)
  std::string tls_cert;      ///< PEM certificate (server, or client certificate)
  std::string tls_key;       ///< PEM private key
  std::string tls_ca;        ///< CA bundle: client verifies the server; server requires clients
  std::vector<std::pair<std::string, std::string>> kafka_options;  ///< passed to librdkafka as is
  std::string kafka_group = "logpipe";                              ///< consumer group id
  int64_t idle_exit_us = 0;  ///< end a network input after this long without data (0 = never)
  /// alertmanager:// output: extra labels of every alert (`instance` overrides the host name).
  std::vector<std::pair<std::string, std::string>> alert_labels;
  size_t alert_queue = 10000;  ///< alertmanager:// output: alerts kept while it is unreachable
};

/// A source of lines from one or many producers.
class LineSource {
 public:
  enum class Status { kLine, kTimeout, kEnd };
  virtual ~LineSource() = default;
  /// Waits at most timeout_ms for the next line. kLine: `line` holds it (valid until the next
  /// call; no trailing newline). kTimeout: nothing arrived (lets callers close windows, handle
  /// signals). kEnd: the input is finished. Throws Error on I/O failure.
  virtual Status next(std::string_view& line, int timeout_ms) = 0;
  /// The name for messages and FILE:LINE reports (path, endpoint, or endpoint/client).
  virtual const std::string& name() const noexcept = 0;
  /// Line number within the current producer (file line, or per connection), 1-based.
  virtual uint64_t line_number() const noexcept = 0;
  /// True when the line just returned was cut short because its producer went away mid-line (a
  /// client disconnected): callers count it as malformed (ParseError::kTruncatedLine).
  virtual bool truncated() const noexcept { return false; }
  /// Everything returned so far has been fully processed (Kafka commits offsets; others no-op).
  virtual void commit() {}
  /// Where the source stands: Kafka, per partition, the offset after the last message whose
  /// lines were all returned (-1: none); empty for sources without offsets. Taken now and
  /// committed later with commit(position), once the records read so far are fully processed.
  using Position = std::vector<int64_t>;
  virtual Position position() const { return {}; }
  /// Commits a position taken earlier (partitions no longer assigned are skipped). Returns false
  /// when the commit failed (reported; a later commit covers it).
  virtual bool commit(const Position& position) {
    (void)position;
    return true;
  }
  /// Stops taking new data (a stop signal): no new client is accepted, and each open connection
  /// hands out the partial line it holds (truncated() true) before next() returns kEnd. Call it
  /// when next() has just returned kTimeout. Files and Kafka: no-op (they end at kEnd).
  virtual void finish() {}
};

/// Wraps a source so that a stop signal loses nothing: while `*stop` is zero it is the source;
/// once set, it hands out the lines that already arrived (next() with no wait), then calls
/// finish() and hands out the partial lines of open connections, then returns kEnd; each of the
/// two phases lasts at most kStopDrainLimitUs (a sender that keeps flooding does not hold us).
/// Readers treat that kEnd as the end of input.
class StopDrainingSource final : public LineSource {
 public:
  static constexpr int64_t kStopDrainLimitUs = 10'000'000;
  StopDrainingSource(LineSource& source, const volatile int* stop) : source_(source), stop_(stop) {}
  Status next(std::string_view& line, int timeout_ms) override;
  const std::string& name() const noexcept override { return source_.name(); }
  uint64_t line_number() const noexcept override { return source_.line_number(); }
  bool truncated() const noexcept override { return source_.truncated(); }
  void commit() override { source_.commit(); }
  Position position() const override { return source_.position(); }
  bool commit(const Position& position) override { return source_.commit(position); }
  void finish() override { source_.finish(); }
  /// True once the stop flag was seen (the input ended because of it).
  bool stopped() const noexcept { return phase_ != Phase::kRunning; }

 private:
  enum class Phase { kRunning, kDraining, kFinished };
  LineSource& source_;
  const volatile int* stop_;
  Phase phase_ = Phase::kRunning;
  int64_t drain_deadline_us_ = 0;
};

/// Opens an input endpoint. Throws Error (usage for a bad endpoint, runtime when it cannot open).
std::unique_ptr<LineSource> open_line_source(const std::string& endpoint, const EndpointOptions& options);

/// Reads a line source as bytes, each line followed by '\n', for byte-oriented consumers
/// (anonymize's block reader). Waits for lines in steps of 200 ms; ends (read() returns 0) when
/// the source ends or `*stop` becomes non-zero. `source` must outlive the result; the caller
/// commits it (Kafka) once what was read is safely written.
std::unique_ptr<ByteSource> line_source_bytes(LineSource& source, const volatile int* stop);

/// Opens an output endpoint (`-`, path with .gz/.zst, tcp://, tls://, kafka://, alertmanager://).
/// `append` for files.
std::unique_ptr<ByteSink> open_sink(const std::string& endpoint, const EndpointOptions& options,
                                    bool append = false);

/// The scheme of an endpoint: "file" (also `-`), "tcp", "tls", "udp", "kafka", "alertmanager".
std::string_view endpoint_scheme(std::string_view endpoint) noexcept;

/// Splits `HOST:PORT` (IPv6 as `[::1]:9000`). Throws Error (usage) when malformed.
std::pair<std::string, uint16_t> split_host_port(std::string_view host_port);

}  // namespace logpipe
