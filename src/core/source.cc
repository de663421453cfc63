// The line reader and the stop-draining wrapper: the reading logic every input shares, whatever
// implements the bytes (files, decompressors, sockets: src/io).
#include "logpipe/source.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace logpipe {

LineReader::LineReader(ByteSource& source, size_t buffer_size, size_t max_line)
    : source_(source), buffer_(buffer_size + kLinePadding), cutter_(max_line) {}

bool LineReader::refill() {
  if (eof_) return false;
  // Move the unread tail to the front, grow when a single line fills the buffer.
  size_t unread = end_ - begin_;
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, unread);
    scan_ -= begin_;
    begin_ = 0;
    end_ = unread;
  }
  size_t capacity = buffer_.size() - kLinePadding;
  if (end_ == capacity) {  // one line fills the buffer: grow, but not past the line cap
    buffer_.resize(std::max(capacity + 1, std::min(capacity * 2, cutter_.max() + 1)) + kLinePadding);
    capacity = buffer_.size() - kLinePadding;
  }
  size_t got = 0;
  try {
    got = source_.read(buffer_.data() + end_, capacity - end_);
  } catch (...) {
    error_ = std::current_exception();  // rethrown by next() after the partial line
    eof_ = true;
    return false;
  }
  if (got == 0) {
    eof_ = true;
    return false;
  }
  end_ += got;
  return true;
}

bool LineReader::next(std::string_view& line) {
  truncated_ = false;
  for (;;) {
    const char* base = buffer_.data();
    if (scan_ < end_) {
      const void* nl = std::memchr(base + scan_, '\n', end_ - scan_);
      if (nl) {
        size_t e = static_cast<size_t>(static_cast<const char*>(nl) - base);
        if (size_t piece = cutter_.cut(e - begin_, true, size_)) return take_piece(line, piece);
        size_t len = e - begin_;
        if (len > 0 && base[e - 1] == '\r') --len;
        line = std::string_view(base + begin_, len);
        bytes_read_ += e + 1 - begin_;
        begin_ = scan_ = e + 1;
        size_ = cutter_.end_line();
        if (size_ == LineSize::kWhole) ++line_number_;
        return true;
      }
      scan_ = end_;
    }
    // No newline in what is buffered: a line over the cap is handed out in pieces instead of
    // growing the buffer without bound.
    if (size_t piece = cutter_.cut(end_ - begin_, false, size_)) return take_piece(line, piece);
    if (!refill()) {
      if (begin_ < end_) {  // last line without a newline
        size_t len = end_ - begin_;
        if (buffer_[end_ - 1] == '\r') --len;
        line = std::string_view(buffer_.data() + begin_, len);
        bytes_read_ += end_ - begin_;
        begin_ = scan_ = end_;
        size_ = cutter_.end_line();
        if (size_ == LineSize::kWhole) ++line_number_;
        truncated_ = error_ != nullptr;
        return true;
      }
      if (error_) std::rethrow_exception(error_);
      release();
      return false;
    }
  }
}

// At the end of input the buffer goes: a command opens every input first and keeps them until
// it ends, so 3,000 files kept 3,000 buffers (6 GB).
void LineReader::release() noexcept {
  buffer_ = decltype(buffer_)();
  begin_ = end_ = scan_ = 0;
}

// A piece of a line over the cap (size_ set by the cutter): the next `n` bytes.
bool LineReader::take_piece(std::string_view& line, size_t n) {
  line = std::string_view(buffer_.data() + begin_, n);
  bytes_read_ += n;
  begin_ += n;
  scan_ = std::max(scan_, begin_);
  if (size_ == LineSize::kCut) ++line_number_;
  return true;
}

LineSource::Status StopDrainingSource::next(std::string_view& line, int timeout_ms) {
  auto now_us = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch()).count();
  };
  if (phase_ == Phase::kRunning) {
    if (!stop_requested(stop_)) return source_.next(line, timeout_ms);
    phase_ = Phase::kDraining;
    drain_deadline_us_ = now_us() + kStopDrainLimitUs;
  }
  for (;;) {
    // Each phase ends when nothing more is ready, or after kStopDrainLimitUs (a sender that
    // floods us). The limit is generous: under load, or under a sanitizer, reading and parsing
    // what the kernel already holds (a few MB per connection, a 10 MB line) takes seconds, and a
    // short limit silently turned such lines into one cut-short line.
    Status status = now_us() < drain_deadline_us_ ? source_.next(line, 0) : Status::kTimeout;
    if (status != Status::kTimeout) return status;
    if (phase_ == Phase::kFinished) return Status::kEnd;
    source_.finish();
    phase_ = Phase::kFinished;
    drain_deadline_us_ = now_us() + kStopDrainLimitUs;
  }
}

}  // namespace logpipe
