// GeoIP lookups through libmaxminddb (geoip.h). An address is checked by netaddr.h first (a
// host name never reaches the resolver; libmaxminddb's own parse is numeric-only anyway), then
// looked up once: the memo answers every later record of that client. Every database is asked,
// each field kept from the first one that has it.
#include "logpipe/geoip.h"

#include "logpipe/error.h"
#include "logpipe/netaddr.h"

#include <maxminddb.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <unordered_map>

namespace logpipe {

namespace detail {
std::string maxminddb_version() { return std::string("libmaxminddb ") + MMDB_lib_version(); }
}  // namespace detail

struct GeoIp::Impl {
  std::vector<MMDB_s> dbs;
  std::vector<std::string> paths;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>()(s); }
  };
  std::unordered_map<std::string, GeoInfo, Hash, std::equal_to<>> memo;
  ~Impl() {
    for (auto& db : dbs) MMDB_close(&db);
  }
};

GeoIp::GeoIp(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GeoIp::~GeoIp() = default;

std::unique_ptr<GeoIp> GeoIp::open(const std::vector<std::string>& paths) {
  auto impl = std::make_unique<Impl>();
  impl->dbs.reserve(paths.size());
  for (const auto& path : paths) {
    MMDB_s db;
    errno = 0;
    int status = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &db);
    if (status != MMDB_SUCCESS) {
      const int err = errno;
      if ((status == MMDB_FILE_OPEN_ERROR || status == MMDB_IO_ERROR) && err != 0)
        usage_error("--geoip {}: cannot read it: {}", path, std::strerror(err));
      usage_error("--geoip {}: not a MaxMind DB file ({})", path, MMDB_strerror(status));
    }
    impl->dbs.push_back(db);
    impl->paths.push_back(path);
  }
  return std::unique_ptr<GeoIp>(new GeoIp(std::move(impl)));
}

std::vector<std::string> GeoIp::describe() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < impl_->dbs.size(); ++i)
    out.push_back(impl_->paths[i] + ": " + impl_->dbs[i].metadata.database_type);
  return out;
}

namespace {

void string_at(MMDB_entry_s& entry, std::string& out, const char* const* path) {
  if (!out.empty()) return;  // an earlier database had it
  MMDB_entry_data_s data;
  if (MMDB_aget_value(&entry, &data, path) == MMDB_SUCCESS && data.has_data &&
      data.type == MMDB_DATA_TYPE_UTF8_STRING)
    out.assign(data.utf8_string, data.data_size);
}

}  // namespace

GeoInfo GeoIp::resolve(std::string_view ip) const {
  GeoInfo info;
  std::array<unsigned char, 16> bytes;
  if (!parse_ip_address(ip, bytes)) return info;
  const std::string key(ip);  // libmaxminddb wants a C string
  static const char* const kCountry[] = {"country", "iso_code", nullptr};
  static const char* const kCountryName[] = {"country", "names", "en", nullptr};
  static const char* const kCity[] = {"city", "names", "en", nullptr};
  static const char* const kAsn[] = {"autonomous_system_number", nullptr};
  static const char* const kAsOrg[] = {"autonomous_system_organization", nullptr};
  for (auto& db : impl_->dbs) {
    int gai_error = 0, error = MMDB_SUCCESS;
    MMDB_lookup_result_s result = MMDB_lookup_string(&db, key.c_str(), &gai_error, &error);
    // An IPv6 address in an IPv4-only database is an error, not a miss: nothing to learn there.
    if (gai_error != 0 || error != MMDB_SUCCESS || !result.found_entry) continue;
    string_at(result.entry, info.country_code, kCountry);
    string_at(result.entry, info.country_name, kCountryName);
    string_at(result.entry, info.city, kCity);
    string_at(result.entry, info.as_org, kAsOrg);
    if (info.asn == 0) {
      MMDB_entry_data_s data;
      if (MMDB_aget_value(&result.entry, &data, kAsn) == MMDB_SUCCESS && data.has_data) {
        if (data.type == MMDB_DATA_TYPE_UINT32) info.asn = data.uint32;
        else if (data.type == MMDB_DATA_TYPE_UINT16) info.asn = data.uint16;
      }
    }
  }
  return info;
}

const GeoInfo& GeoIp::lookup(std::string_view ip) {
  // Heterogeneous find: a record's address is looked up without a string made for it.
  auto it = impl_->memo.find(ip);
  if (it != impl_->memo.end()) return it->second;
  if (impl_->memo.size() >= (size_t{1} << 20)) impl_->memo.clear();
  return impl_->memo.emplace(std::string(ip), resolve(ip)).first->second;
}

}  // namespace logpipe
