// `--metrics-listen HOST:PORT`: a tiny HTTP/1.0 responder that serves the latest Prometheus
// text snapshot on every GET, from its own thread. Asio stays in metrics_server.cc.
#pragma once

#include "logpipe/io/layer.h"
#include "logpipe/stream_service.h"

#include <memory>
#include <string>

namespace logpipe {

class LiveBoard;

/// Serves the text a stream publishes (MetricsPublisher, stream_service.h).
class MetricsServer final : public MetricsPublisher {
 public:
  /// Binds HOST:PORT (port 0 = any free port) and starts serving. Throws Error when it cannot bind.
  explicit MetricsServer(const std::string& host_port);
  ~MetricsServer();
  /// Replaces the text served from now on (thread-safe).
  void publish(std::string text) override;
  /// --http-listen: also serve the live page at / and the board's events at /events (other paths
  /// than /metrics get 404 then). Call once, before the stream starts.
  void serve_live(LiveBoard& board);
  /// The bound port (useful with port 0).
  unsigned short port() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};


}  // namespace logpipe
