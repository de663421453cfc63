// GeoIP (`--geoip FILE.mmdb`, analyze and export): country, city and autonomous system of a
// client address, from MaxMind DB files read with libmaxminddb (GeoLite2, DB-IP lite or any
// database with the GeoLite2 field names). Several files combine (a City and an ASN database):
// each field comes from the first file that has it. Lookups are memoised per address.
//
// No database is shipped: docs/geoip.md says where to get a free one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace logpipe {

/// What the databases know of one address; empty strings and asn 0 when unknown.
struct GeoInfo {
  std::string country_code;  ///< ISO 3166-1 alpha-2 (`country.iso_code`)
  std::string country_name;  ///< `country.names.en`
  std::string city;          ///< `city.names.en`
  uint32_t asn = 0;          ///< `autonomous_system_number`
  std::string as_org;        ///< `autonomous_system_organization`
  bool found() const noexcept { return !country_code.empty() || !city.empty() || asn != 0; }
};

class GeoIp {
 public:
  /// Opens every file (memory-mapped). Throws Error (usage) naming a file that cannot be opened
  /// or is not a MaxMind DB.
  static std::unique_ptr<GeoIp> open(const std::vector<std::string>& paths);
  ~GeoIp();
  GeoIp(const GeoIp&) = delete;
  GeoIp& operator=(const GeoIp&) = delete;
  /// The information of a textual address (IPv4 or IPv6); an empty GeoInfo for anything else
  /// (a host name, `-`) or an address no database holds. Memoised: the reference stays valid
  /// until the 2^20th distinct address after it (the memo is then emptied). Not thread-safe.
  const GeoInfo& lookup(std::string_view ip);
  /// The same answer, not memoised: for callers that ask once per address (analyze's panels,
  /// which would otherwise keep a copy of every address).
  GeoInfo resolve(std::string_view ip) const;
  /// The databases' types (`GeoLite2-City`, ...), for -v.
  std::vector<std::string> describe() const;

 private:
  struct Impl;
  explicit GeoIp(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace logpipe
