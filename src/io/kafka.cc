// Not implemented yet: every factory here refuses with a clear message (exit 1).
#include "io/endpoint_impl.h"

#include "logpipe/error.h"

namespace logpipe::detail {

std::unique_ptr<LineSource> open_kafka_lines(const std::string& spec, const EndpointOptions&) {
  runtime_error("endpoint '{}': this endpoint kind is not implemented yet", spec);
}

std::unique_ptr<ByteSink> open_kafka_sink(const std::string& spec, const EndpointOptions&) {
  runtime_error("endpoint '{}': this endpoint kind is not implemented yet", spec);
}

}  // namespace logpipe::detail
