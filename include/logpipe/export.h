// logpipe export: each parsed record as one JSON object per line (docs/export.md), with Elastic
// Common Schema names by default or the record's own field names, optionally as an
// Elasticsearch/OpenSearch `_bulk` body (an action line before each document).
#pragma once

#include "logpipe/pump.h"
#include "logpipe/record.h"
#include "logpipe/sink.h"

#include <cstdint>
#include <string>

namespace logpipe {

class GeoIp;
struct GeoInfo;

enum class ExportNames : uint8_t {
  kEcs,      ///< @timestamp, source.ip, url.path, http.response.status_code, ... (nested objects)
  kLogpipe,  ///< the record's fields: time, ip, url, status, ... (docs/reference.md)
};

struct ExportOptions {
  ExportNames names = ExportNames::kEcs;
  std::string bulk_index;            ///< non-empty: a `_bulk` body for this index
  std::string bulk_action = "index";  ///< `index` or `create` (data streams need create)
  GeoIp* geoip = nullptr;             ///< --geoip: country, city and network of source.ip
};

/// Appends one record as a JSON object (no newline). Absent fields are left out. `geo`: what
/// --geoip knows of the record's address (source.geo.*, source.as.*; country, city, asn, as_org).
void append_record_json(std::string& out, const Record& r, ExportNames names, const GeoInfo* geo = nullptr);

/// A RecordSink that writes each record to a ByteSink (in blocks: no write per record).
class ExportWriter final : public RecordSink {
 public:
  ExportWriter(const ExportOptions& options, ByteSink& out);
  ParseError on_record(const Record& record) override;
  /// Writes what is buffered (the sink is not flushed).
  void finish();
  uint64_t written() const noexcept { return written_; }

 private:
  ExportOptions options_;
  ByteSink& out_;
  std::string action_;  // the bulk action line, newline included
  std::string buffer_;
  uint64_t written_ = 0;
};

}  // namespace logpipe
