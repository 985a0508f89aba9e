#pragma once
// What the Localize integration suites (localize_test.cc, segmentation_test.cc) share: building a request, calling the
// RPC expecting an answer or an error, and reading a PNG's size.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>

#include "client/fovea_client.h"

namespace fovea::testing {

// A Localize request of `model` with `method` on the encoded image `png`, overlays rendered.
inline v1::LocalizeRequest LocalizeRequestFor(const std::string& model, v1::LocalizationMethod method,
                                              const std::string& png) {
  v1::LocalizeRequest request;
  request.set_model_name(model);
  request.set_method(method);
  request.mutable_image()->set_encoded(png);
  request.set_render_overlays(true);
  return request;
}

// The answer to `request`; a failed call fails the test.
inline v1::LocalizeResponse LocalizeOk(const client::FoveaClient& client, const v1::LocalizeRequest& request) {
  v1::LocalizeResponse response;
  const grpc::Status status = client.Localize(request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response;
}

// The call's status code, with its message checked to contain `mention`.
inline grpc::StatusCode LocalizeError(const client::FoveaClient& client, const v1::LocalizeRequest& request,
                                      const std::string& mention) {
  v1::LocalizeResponse response;
  const grpc::Status status = client.Localize(request, &response);
  EXPECT_NE(std::string::npos, status.error_message().find(mention)) << status.error_message();
  return status.error_code();
}

// PNG width and height from the IHDR chunk (bytes 16..23, big-endian); {0, 0} for a shorter string.
inline std::pair<uint32_t, uint32_t> PngSize(const std::string& png) {
  const auto at = [&](size_t i) {
    return static_cast<uint32_t>(static_cast<uint8_t>(png[i])) << 24 |
           static_cast<uint32_t>(static_cast<uint8_t>(png[i + 1])) << 16 |
           static_cast<uint32_t>(static_cast<uint8_t>(png[i + 2])) << 8 | static_cast<uint8_t>(png[i + 3]);
  };
  return png.size() < 24 ? std::pair<uint32_t, uint32_t>{0, 0} : std::pair{at(16), at(20)};
}

}  // namespace fovea::testing
