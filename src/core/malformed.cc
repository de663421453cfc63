#include "logpipe/malformed.h"

#include "logpipe/error.h"

#include <fmt/format.h>

namespace logpipe {

MalformedLog::MalformedLog(std::unique_ptr<ByteSink> rejects, bool strict)
    : strict_(strict), rejects_(std::move(rejects)) {}

MalformedLog::~MalformedLog() {
  try {
    if (rejects_) rejects_->close();
  } catch (...) {
    // destructor: the explicit flush() reports errors
  }
}

void MalformedLog::add(std::string_view source, uint64_t line_number, std::string_view line,
                       ParseError why) {
  ++total_;
  ++by_reason_[static_cast<size_t>(why)];
  if (input_first_.empty()) input_first_ = fmt::format("{}:{}: {}", source, line_number, describe(why));
  if (first_.empty()) first_ = input_first_;
  if (rejects_) {
    rejects_->write(line);
    rejects_->write("\n");
  }
  if (strict_) {
    flush();
    throw Error(kExitData, fmt::format("{}:{}: malformed line ({})", source, line_number, describe(why)));
  }
}

void MalformedLog::merge_counts(const MalformedLog& other) {
  total_ += other.total_;
  for (size_t i = 0; i < by_reason_.size(); ++i) by_reason_[i] += other.by_reason_[i];
  if (first_.empty()) first_ = other.first_;
}

void MalformedLog::print_summary(std::FILE* out) const {
  if (total_ == 0) return;
  fmt::print(out, "logpipe: {} malformed line{} skipped; first: {}\n", total_, total_ == 1 ? "" : "s",
             first_);
  for (size_t i = 1; i < by_reason_.size(); ++i)
    if (by_reason_[i])
      fmt::print(out, "logpipe:   {:>10}  {}\n", by_reason_[i], describe(static_cast<ParseError>(i)));
}

void MalformedLog::flush() {
  if (rejects_) rejects_->flush();
}

}  // namespace logpipe
