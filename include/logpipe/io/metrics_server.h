// `--metrics-listen HOST:PORT`: a tiny HTTP/1.0 responder that serves the latest Prometheus
// text snapshot on every GET, from its own thread. Asio stays in metrics_server.cc.
#pragma once

#include "logpipe/io/layer.h"

#include <memory>
#include <string>

namespace logpipe {

class MetricsServer {
 public:
  /// Binds HOST:PORT (port 0 = any free port) and starts serving. Throws Error when it cannot bind.
  explicit MetricsServer(const std::string& host_port);
  ~MetricsServer();
  /// Replaces the text served from now on (thread-safe).
  void publish(std::string text);
  /// The bound port (useful with port 0).
  unsigned short port() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Escapes a Prometheus label value (backslash, double quote, newline).
std::string prometheus_label(std::string_view value);

}  // namespace logpipe
