#pragma once
// The demo page (server/demo/index.html), embedded in the binary at build time so that fovea-server serves it
// wherever it runs (the Docker image included) without a file beside it.

#include <string_view>

namespace fovea::server {

// The page's HTML, served at GET /.
std::string_view DemoPageHtml();

}  // namespace fovea::server
