// One syntax for every input and output (docs/reference.md, "Endpoints"):
//   `-`, a path, tcp://HOST:PORT, tls://HOST:PORT, udp://HOST:PORT (input),
//   kafka://BROKER[,BROKER...]/TOPIC, alertmanager://HOST:PORT (alerts output).
// Inputs are line sources (a socket server has many clients; a Kafka message is a line); outputs
// are byte sinks.
#pragma once

#include "logpipe/alerts.h"
#include "logpipe/io/layer.h"
#include "logpipe/sink.h"
#include "logpipe/source.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace logpipe {

class PartialsChannel;  // scale_out.h

/// Settings shared by network endpoints. Secrets never come from argv: kafka options may be read
/// from a file or the environment by the CLI before they land here.
struct EndpointOptions {
  bool listen = false;       ///< inputs: serve (many clients) instead of connecting
  bool follow = false;       ///< file inputs: keep reading as the file grows / rotates (tail -F)
  std::string tls_cert;      ///< PEM certificate (server, or client certificate)
  std::string tls_key;       ///< PEM private key
  std::string tls_ca;        ///< CA bundle: client verifies the server; server requires clients
  /// Passed to librdkafka as is: to the consumer and the producer, except a property librdkafka
  /// defines for one role only, which goes to that role alone (no "is a consumer property and
  /// will be ignored by this producer instance" warnings).
  std::vector<std::pair<std::string, std::string>> kafka_options;
  std::vector<std::pair<std::string, std::string>> kafka_consumer_options;  ///< consumers only, after the shared ones
  std::vector<std::pair<std::string, std::string>> kafka_producer_options;  ///< producers only, after the shared ones
  std::string kafka_group = "logpipe";                              ///< consumer group id
  int64_t idle_exit_us = 0;  ///< end a network input after this long without data (0 = never)
  /// Inputs: a line longer than this is cut there (one malformed line, the rest skipped), files,
  /// pipes and sockets alike (--max-line-bytes).
  size_t max_line_bytes = kDefaultMaxLineBytes;
  /// alertmanager:// output: extra labels of every alert (`instance` overrides the host name).
  std::vector<std::pair<std::string, std::string>> alert_labels;
  /// alertmanager:// output: the severity label per metric ("" = kMetrics[m].severity).
  std::array<std::string, kMetricCount> alert_severity;
  /// alertmanager:// output: generatorURL and the runbook_url annotation, templates in which
  /// {metric}, {key} and {incident} are replaced (URL-encoded); "" = not sent.
  std::string alert_generator_url;
  std::string alert_runbook_url;
  /// alertmanager:// and tcp:// alert outputs: alerts kept while the receiver is unreachable or
  /// not reading; beyond, the oldest are dropped (counted; the command then fails).
  size_t alert_queue = 10000;
  /// tcp://, tls:// and kafka:// outputs: how long they keep trying to reach a server that is down
  /// or gone (reconnecting with backoff; Kafka: message.timeout.ms) before the command fails
  /// (--retry-for).
  int64_t retry_for_us = 60'000'000;
  /// A stop signal (SIGINT/SIGTERM): outputs that wait for a server give up soon after it is set.
  const StopFlag* stop = nullptr;
};

/// Opens an input endpoint. Throws Error (usage for a bad endpoint, runtime when it cannot open).
std::unique_ptr<LineSource> open_line_source(const std::string& endpoint, const EndpointOptions& options);

/// Opens an output endpoint (`-`, path with .gz/.zst, tcp://, tls://, kafka://, alertmanager://).
/// `append` for files.
std::unique_ptr<ByteSink> open_sink(const std::string& endpoint, const EndpointOptions& options,
                                    bool append = false);

/// Opens an alert output (stream --alerts): `-` and paths (appended), tcp:// and tls:// get JSON
/// lines; kafka:// one message per alert, keyed by metric and key; alertmanager:// and
/// alertmanager+tls:// the Alertmanager API v2 (delivered in the background, retried).
std::unique_ptr<AlertSink> open_alert_sink(const std::string& endpoint, const EndpointOptions& options);

/// stream --scale-out: the internal topic of the group, logpipe.GROUP.partials, on the brokers of
/// `input` (kafka://BROKERS/TOPIC): its producer and its merge consumer (group GROUP.merge).
/// Throws Error when `input` is not kafka://, or the topic is missing or has several partitions.
std::unique_ptr<PartialsChannel> open_partials_channel(const std::string& input, const EndpointOptions& options);

/// "librdkafka 2.0.2, zstd 1.5.4, zlib 1.2.13, Boost 1.81.0" (for --version).
std::string io_library_versions();

/// The scheme of an endpoint: "file" (also `-`), "tcp", "tls", "udp", "kafka", "alertmanager".
std::string_view endpoint_scheme(std::string_view endpoint) noexcept;

/// Splits `HOST:PORT` (IPv6 as `[::1]:9000`). Throws Error (usage) when malformed.
std::pair<std::string, uint16_t> split_host_port(std::string_view host_port);

/// True when a client (Kafka) could not shut down in bounded time because its brokers are gone
/// and was left running: the process must then end with std::_Exit after flushing its outputs,
/// without exit handlers that its threads could race with (main() does).
bool endpoints_abandoned() noexcept;

}  // namespace logpipe
