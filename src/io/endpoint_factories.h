// Internal: one factory per endpoint kind, each implemented in its own file of src/io so that the
// heavy dependencies (Asio, OpenSSL, librdkafka) stay in one translation unit each.
#pragma once

#include "logpipe/alerts.h"
#include "logpipe/io/endpoint.h"

namespace logpipe::detail {

// file_lines.cc: paths and `-` (with options.follow: tail -F).
std::unique_ptr<LineSource> open_file_lines(const std::string& path, const EndpointOptions& o);
// listen.cc: tcp:// and udp:// servers (options.listen), tcp:// client input.
std::unique_ptr<LineSource> open_tcp_lines(const std::string& host_port, const EndpointOptions& o);
std::unique_ptr<LineSource> open_udp_lines(const std::string& host_port, const EndpointOptions& o);
// tcp_sink.cc: tcp:// output with reconnection and backoff.
std::unique_ptr<ByteSink> open_tcp_sink(const std::string& host_port, const EndpointOptions& o);
// The same for alerts: never blocks; at most o.alert_queue lines wait, the oldest dropped beyond.
std::unique_ptr<ByteSink> open_tcp_alert_sink(const std::string& host_port, const EndpointOptions& o);
// tls.cc: tls:// input (server or client) and output.
std::unique_ptr<LineSource> open_tls_lines(const std::string& host_port, const EndpointOptions& o);
std::unique_ptr<ByteSink> open_tls_sink(const std::string& host_port, const EndpointOptions& o);
// The same for alerts, delivered by a thread: never blocks; at most o.alert_queue lines wait.
std::unique_ptr<ByteSink> open_tls_alert_sink(const std::string& host_port, const EndpointOptions& o);
// kafka.cc: kafka://BROKERS/TOPIC input (consumer group) and output (keyed producer).
std::unique_ptr<LineSource> open_kafka_lines(const std::string& spec, const EndpointOptions& o);
std::unique_ptr<ByteSink> open_kafka_sink(const std::string& spec, const EndpointOptions& o);
std::unique_ptr<AlertSink> open_kafka_alert_sink(const std::string& spec, const EndpointOptions& o);
// stream --scale-out: the partials topic BROKERS/logpipe.GROUP.partials.
std::unique_ptr<PartialsChannel> open_kafka_partials(const std::string& spec, const EndpointOptions& o);
/// librdkafka's version as found at run time (for --version).
std::string kafka_library_version();
// alertmanager.cc: alertmanager://HOST:PORT[/PREFIX] output of alerts (API v2, background);
// with `tls`, alertmanager+tls:// (HTTPS, certificate checked).
std::unique_ptr<AlertSink> open_alertmanager_sink(const std::string& spec, const EndpointOptions& o,
                                                  bool tls);

}  // namespace logpipe::detail
