#include <fmt/format.h>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "api/routes.hpp"
#include "api/web_assets.hpp"

namespace crm::host::api {

namespace {

constexpr std::string_view kShellPath = "index.html";
// Where the shell says its assets are: replaced by /assets/<build id> once, at start.
constexpr std::string_view kAssetsPlaceholder = "%ASSETS%";

// No inline script or style anywhere, nothing from another origin, never framed.
// uPlot sizes its canvas through the CSSOM (element.style), which style-src does not govern.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

struct Served {
  std::string content_type;
  std::string body;
  std::string etag;
};

// The shell with its asset base filled in, and each asset by path; built once, read-only after.
class WebFiles {
 public:
  WebFiles() : assets_base_(fmt::format("/assets/{}", web_build_id())) {
    for (const WebAsset& asset : web_assets()) {
      if (asset.path == kShellPath) {
        std::string body(asset.content);
        for (std::size_t at = body.find(kAssetsPlaceholder); at != std::string::npos;
             at = body.find(kAssetsPlaceholder, at + assets_base_.size())) {
          body.replace(at, kAssetsPlaceholder.size(), assets_base_);
        }
        shell_ = Served{std::string(asset.content_type), std::move(body), fmt::format("\"{}\"", web_build_id())};
        continue;
      }
      assets_.emplace(std::string(asset.path), Served{std::string(asset.content_type), std::string(asset.content),
                                                      fmt::format("\"{}\"", asset.sha256.substr(0, 32))});
    }
  }

  [[nodiscard]] const Served& shell() const { return shell_; }
  [[nodiscard]] const std::string& assets_base() const { return assets_base_; }
  [[nodiscard]] const Served* asset(std::string_view path) const {
    const auto found = assets_.find(std::string(path));
    return found == assets_.end() ? nullptr : &found->second;
  }

 private:
  std::string assets_base_;
  Served shell_;
  std::map<std::string, Served, std::less<>> assets_;
};

const WebFiles& web_files() {
  static const WebFiles files;
  return files;
}

void add_security_headers(http::Response& response) {
  response.headers.emplace_back("Content-Security-Policy", std::string(kContentSecurityPolicy));
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  response.headers.emplace_back("X-Frame-Options", "DENY");
  response.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
}

bool etag_matches(const http::Request& request, std::string_view etag) {
  const std::optional<std::string_view> sent = request.header("if-none-match");
  return sent && (*sent == etag || *sent == "*" || sent->find(etag) != std::string_view::npos);
}

http::Response serve(const http::Request& request, const Served& file, std::string_view cache_control) {
  http::Response response;
  response.headers.emplace_back("Cache-Control", std::string(cache_control));
  response.headers.emplace_back("ETag", file.etag);
  add_security_headers(response);
  if (etag_matches(request, file.etag)) {
    response.status = 304;
    response.content_type.clear();
    return response;
  }
  response.content_type = file.content_type;
  response.body = file.body;
  return response;
}

http::Response not_found_page(std::string_view path) {
  http::Response response =
      problem_response(404, "not-found", "Not found", "no such file of the web app", std::string(path));
  add_security_headers(response);
  return response;
}

}  // namespace

std::optional<http::Response> web_response(const http::Request& request, std::string& route_template) {
  if (request.method != "GET" && request.method != "HEAD") {
    return std::nullopt;
  }
  const std::string_view path = request.path;
  const WebFiles& files = web_files();
  if (path == "/") {
    route_template = "/";
    http::Response response;
    response.status = 302;
    response.content_type.clear();
    response.headers.emplace_back("Location", "/app/overview");
    response.headers.emplace_back("Cache-Control", "no-store");
    add_security_headers(response);
    return response;
  }
  if (path == "/app" || path.starts_with("/app/")) {
    // Every page of the app is the same shell: it reads the path and draws the page,
    // so links such as {public_url}/app/customers/{id} in alert messages open it.
    route_template = "/app/*";
    return serve(request, files.shell(), "no-cache");
  }
  if (path.starts_with("/assets/")) {
    route_template = "/assets/*";
    const std::string_view base = files.assets_base();
    if (!path.starts_with(base) || path.size() <= base.size() + 1 || path[base.size()] != '/') {
      // Another build's assets: not served, so a stale shell never caches new files under an old name.
      return not_found_page(path);
    }
    const Served* file = files.asset(path.substr(base.size() + 1));
    if (file == nullptr) {
      return not_found_page(path);
    }
    // The build id in the path changes with any file: a year, never revalidated.
    return serve(request, *file, "public, max-age=31536000, immutable");
  }
  return std::nullopt;
}

}  // namespace crm::host::api
