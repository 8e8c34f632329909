// The dashboard's pages, script and style (dashboard/web), compiled into the binary.
#ifndef HPO_DASHBOARD_WEB_ASSETS_H_
#define HPO_DASHBOARD_WEB_ASSETS_H_

#include <string_view>
#include <vector>

namespace hpo::dashboard {

struct WebAsset {
  const char* name;       // the file's name in dashboard/web, e.g. "study.html"
  std::string_view body;  // its bytes
};

// Every file, as built. Thread-safe (built once, then read-only).
const std::vector<WebAsset>& WebAssets();

}  // namespace hpo::dashboard

#endif  // HPO_DASHBOARD_WEB_ASSETS_H_
