// Endpoint syntax and dispatch to the per-kind factories.
#include "endpoint_factories.h"

#include "logpipe/io/files.h"
#include "logpipe/scale_out.h"

#include "logpipe/error.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>

namespace logpipe {

std::string_view endpoint_scheme(std::string_view e) noexcept {
  size_t p = e.find("://");
  if (p == std::string_view::npos) return "file";
  return e.substr(0, p);
}

std::pair<std::string, uint16_t> split_host_port(std::string_view hp) {
  std::string_view host, port;
  if (!hp.empty() && hp.front() == '[') {
    size_t close = hp.find(']');
    if (close == std::string_view::npos || close + 1 >= hp.size() || hp[close + 1] != ':')
      usage_error("bad address '{}': expected [IPv6]:PORT", hp);
    host = hp.substr(1, close - 1);
    port = hp.substr(close + 2);
  } else {
    size_t colon = hp.rfind(':');
    if (colon == std::string_view::npos) usage_error("bad address '{}': expected HOST:PORT", hp);
    host = hp.substr(0, colon);
    port = hp.substr(colon + 1);
  }
  unsigned value = 0;
  auto r = std::from_chars(port.data(), port.data() + port.size(), value);
  if (r.ec != std::errc() || r.ptr != port.data() + port.size() || value > 65535)
    usage_error("bad port in '{}'", hp);
  return {std::string(host.empty() ? "0.0.0.0" : host), static_cast<uint16_t>(value)};
}

std::unique_ptr<LineSource> open_line_source(const std::string& endpoint, const EndpointOptions& o) {
  std::string_view scheme = endpoint_scheme(endpoint);
  std::string rest = scheme == "file" ? endpoint : endpoint.substr(scheme.size() + 3);
  if (scheme == "file") return detail::open_file_lines(endpoint, o);
  if (scheme == "tcp") return detail::open_tcp_lines(rest, o);
  if (scheme == "udp") return detail::open_udp_lines(rest, o);
  if (scheme == "tls") return detail::open_tls_lines(rest, o);
  if (scheme == "kafka") return detail::open_kafka_lines(rest, o);
  usage_error("unknown input endpoint '{}' (expected -, a path, tcp://, tls://, udp:// or kafka://)",
              endpoint);
}

std::unique_ptr<ByteSink> open_sink(const std::string& endpoint, const EndpointOptions& o, bool append) {
  std::string_view scheme = endpoint_scheme(endpoint);
  std::string rest = scheme == "file" ? endpoint : endpoint.substr(scheme.size() + 3);
  if (scheme == "file") return open_output(endpoint, append);
  if (scheme == "tcp") return detail::open_tcp_sink(rest, o);
  if (scheme == "tls") return detail::open_tls_sink(rest, o);
  if (scheme == "kafka") return detail::open_kafka_sink(rest, o);
  if (scheme == "alertmanager" || scheme == "alertmanager+tls")
    usage_error("{}: an Alertmanager takes alerts only (stream --alerts), not lines", endpoint);
  usage_error("unknown output endpoint '{}' (expected -, a path, tcp://, tls:// or kafka://)", endpoint);
}

std::unique_ptr<PartialsChannel> open_partials_channel(const std::string& input, const EndpointOptions& o) {
  if (endpoint_scheme(input) != "kafka")
    usage_error("--scale-out: the input must be a Kafka topic (kafka://BROKERS/TOPIC), not '{}'", input);
  const std::string rest = input.substr(std::string_view("kafka://").size());
  const size_t slash = rest.find('/');
  if (slash == std::string::npos) usage_error("bad endpoint '{}': expected kafka://BROKER[,BROKER...]/TOPIC", input);
  return detail::open_kafka_partials(rest.substr(0, slash) + "/logpipe." + o.kafka_group + ".partials", o);
}

std::unique_ptr<AlertSink> open_alert_sink(const std::string& endpoint, const EndpointOptions& o) {
  std::string_view scheme = endpoint_scheme(endpoint);
  std::string rest = scheme == "file" ? endpoint : endpoint.substr(scheme.size() + 3);
  if (scheme == "kafka") return detail::open_kafka_alert_sink(rest, o);
  if (scheme == "alertmanager") return detail::open_alertmanager_sink(rest, o, false);
  if (scheme == "alertmanager+tls") return detail::open_alertmanager_sink(rest, o, true);
  if (scheme == "tcp") return std::make_unique<LineAlertSink>(detail::open_tcp_alert_sink(rest, o));
  if (scheme == "tls") return std::make_unique<LineAlertSink>(detail::open_tls_alert_sink(rest, o));
  if (scheme == "file")
    return std::make_unique<LineAlertSink>(open_sink(endpoint, o, /*append=*/true));
  usage_error("unknown alert endpoint '{}' (expected -, a path, tcp://, tls://, kafka://, alertmanager:// "
              "or alertmanager+tls://)",
              endpoint);
}

}  // namespace logpipe
