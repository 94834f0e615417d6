#pragma once

#include <span>
#include <string_view>

namespace crm::host::api {

// One file of the web app (host/web), compiled into the binary by
// host/web/embed_web_assets.cmake. Static storage: the views never dangle.
struct WebAsset {
  std::string_view path;          // under /assets/<build id>/: "app.js", "vendor/uPlot.esm.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view content;
  std::string_view sha256;  // hex of the content
};

// Every file of the web app, sorted by path (index.html is the shell).
std::span<const WebAsset> web_assets();
// A hash of every file's path and content: changes whenever any file does.
std::string_view web_build_id();

}  // namespace crm::host::api
