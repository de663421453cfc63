// The inputs of the record pump (logpipe/pump.h) for every endpoint: files and stdin (gzip and
// zstd detected by their magic bytes), tcp://, tls://, udp:// and kafka://.
#pragma once

#include "logpipe/io/endpoint.h"
#include "logpipe/io/layer.h"
#include "logpipe/pump.h"

#include <memory>
#include <string>
#include <vector>

namespace logpipe {

/// How files are read.
enum class FileReading : uint8_t {
  /// Batch commands (analyze, calibrate, anonymize): large blocking reads; a regular,
  /// uncompressed file may be read as byte ranges on several threads.
  kBatch,
  /// stream: stdin and pipes are polled so that a quiet input still lets time pass, and
  /// EndpointOptions::follow keeps reading files as they grow and rotate (tail -F).
  kLive,
};

/// Opens one input endpoint. Throws Error (usage for a bad endpoint, runtime when it cannot be
/// opened), naming it.
std::unique_ptr<PumpInput> open_pump_input(const std::string& endpoint, const EndpointOptions& options,
                                           FileReading files);

/// Opens every input before any work (STYLE.md rule 4: a typo in the last name must not cost an
/// hour of reading). With `verbose`, names each network input once open (`reading tcp://...:PORT`:
/// a `--listen tcp://HOST:0` server says which port it got).
std::vector<std::unique_ptr<PumpInput>> open_pump_inputs(const std::vector<std::string>& endpoints,
                                                         const EndpointOptions& options, FileReading files,
                                                         bool verbose);

/// stream --state: the committed position of every input that has one (a followed file: where its
/// next uncounted line starts; Kafka keeps its own offsets), as the first part of the state file,
/// ending with a blank line.
std::string save_input_positions(const std::vector<std::unique_ptr<PumpInput>>& inputs);
/// Gives each input the position saved for it (matched by name; one that cannot continue there,
/// rotated or truncated, is said on stderr and read from its start) and returns the rest of the
/// text. Throws Error on a malformed part.
std::string_view restore_input_positions(std::string_view text, const std::vector<std::unique_ptr<PumpInput>>& inputs,
                                         bool verbose);

}  // namespace logpipe
