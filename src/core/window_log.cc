#include "logpipe/window_log.h"

#include "logpipe/timeutil.h"

#include <fmt/format.h>

#include <iterator>

namespace logpipe {

void append_window_json(std::string& out, const WindowView& w) {
  const KeyStats& t = w.totals();
  fmt::format_to(std::back_inserter(out),
                 R"({{"window_start":"{}","window_end":"{}","requests":{},"outcomes":{},"errors":{},)"
                 R"("server_errors":{},"error_rate":{},"server_error_rate":{},"request_rate":{},)"
                 R"("urls":{},"users":{},"ips":{}}})"
                 "\n",
                 format_rfc3339(w.start_us()), format_rfc3339(w.end_us()), t.requests, t.with_status, t.errors,
                 t.server_errors, w.global(kErrorRate).value, w.global(kServerErrorRate).value,
                 w.global(kRequestRate).value, w.key_count(Dimension::kUrl), w.key_count(Dimension::kUser),
                 w.key_count(Dimension::kIp));
}

void WindowLog::on_window(const WindowView& w) {
  line_.clear();
  append_window_json(line_, w);
  sink_.write(line_);
  sink_.flush();
}

}  // namespace logpipe
