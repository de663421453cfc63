// Internal: the delivery thread of an output that sends in the background (alertmanager://,
// tls:// alerts), shared so that both stop it the same way.
#pragma once

#include "logpipe/source.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace logpipe::detail {

// Sets `quit` under `mutex` (the thread's loop ends when it sees it), wakes the thread and joins
// it. Safe to call twice.
inline void stop_and_join(std::thread& thread, std::mutex& mutex, std::condition_variable& wake, bool& quit) {
  {
    std::unique_lock lock(mutex);
    quit = true;
  }
  wake.notify_one();
  if (thread.joinable()) thread.join();
}

// How long close() waits for the queue to empty: 30 s, or 5 s once a stop signal was given (a
// stop is never held long by a receiver that is gone or not reading).
inline std::chrono::steady_clock::time_point close_deadline(const StopFlag* stop) {
  using namespace std::chrono_literals;
  return std::chrono::steady_clock::now() + (stop_requested(stop) ? 5s : 30s);
}

}  // namespace logpipe::detail
