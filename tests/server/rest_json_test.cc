// The REST JSON forms of the Open Inference Protocol messages (rest_json.h), base64 (common/base64.h), and the HTTP
// status of each error (rest_api.h). The binary tensor data extension and the response body: rest_binary_test.cc.

#include <gtest/gtest.h>

#include "common/base64.h"
#include "server/transport/rest/rest_api.h"
#include "server/transport/rest/rest_json.h"

namespace fovea::server {
namespace {

namespace oip = ::inference;

TEST(Base64Test, RoundTripsTheRfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [data, text] : vectors) {
    EXPECT_EQ(common::Base64Encode(data), text);
    EXPECT_EQ(common::Base64Decode(text), data) << text;
  }
  std::string every_byte;
  for (int i = 0; i < 256; ++i) every_byte += static_cast<char>(i);
  EXPECT_EQ(common::Base64Decode(common::Base64Encode(every_byte)), every_byte);
}

TEST(Base64Test, RejectsWhatIsNotPaddedBase64) {
  for (const char* bad : {"Zg", "Zg=", "Z===", "Zm9v!A==", "Zg==Zg==", "Zm 9v", "=Zm9", "Zm=v"}) {
    EXPECT_FALSE(common::Base64Decode(bad).has_value()) << bad;
  }
}

TEST(RestJsonTest, InferRequestFlattensNestedDataIntoTheTypedContents) {
  const auto request = ParseInferRequestJson(
      R"({"id": "r1", "inputs": [
            {"name": "a", "datatype": "FP32", "shape": [1, 2, 2], "data": [[[1, 2.5], [3, -4]]]},
            {"name": "b", "datatype": "UINT8", "shape": [3], "data": [0, 128, 255]},
            {"name": "c", "datatype": "BYTES", "shape": [2], "data": ["text", {"b64": "AAEC"}]}],
          "outputs": [{"name": "scores", "parameters": {"classification": 3, "flag": true, "note": "x"}}]})",
      "net", "2");
  ASSERT_TRUE(request.ok()) << request.status().ToString();
  const oip::ModelInferRequest& proto = request->request;
  EXPECT_EQ(proto.model_name(), "net");
  EXPECT_EQ(proto.model_version(), "2");
  EXPECT_EQ(proto.id(), "r1");
  ASSERT_EQ(proto.inputs_size(), 3);
  const auto& fp32 = proto.inputs(0).contents().fp32_contents();
  EXPECT_EQ(std::vector<float>(fp32.begin(), fp32.end()), (std::vector<float>{1, 2.5F, 3, -4}));
  EXPECT_EQ(std::vector<int64_t>(proto.inputs(0).shape().begin(), proto.inputs(0).shape().end()),
            (std::vector<int64_t>{1, 2, 2}));
  const auto& uint8 = proto.inputs(1).contents().uint_contents();
  EXPECT_EQ(std::vector<uint32_t>(uint8.begin(), uint8.end()), (std::vector<uint32_t>{0, 128, 255}));
  const auto& bytes = proto.inputs(2).contents().bytes_contents();
  ASSERT_EQ(bytes.size(), 2);
  EXPECT_EQ(bytes[0], "text");
  EXPECT_EQ(bytes[1], std::string("\0\1\2", 3));
  const auto& parameters = proto.outputs(0).parameters();
  EXPECT_EQ(parameters.at("classification").int64_param(), 3);
  EXPECT_TRUE(parameters.at("flag").bool_param());
  EXPECT_EQ(parameters.at("note").string_param(), "x");
}

TEST(RestJsonTest, InferRequestErrorsNameTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {"{", "not valid JSON"},
      {"[]", "must be a JSON object"},
      // Found by rest_body_fuzz: nlohmann throws out_of_range, not parse_error, for a number beyond a double.
      {R"({"id": 1e999})", "not valid JSON: [json.exception.out_of_range.406] number overflow"},
      {R"({})", "request.inputs is missing"},
      {R"({"inputs": {}})", "request.inputs must be an array"},
      {R"({"inputs": [{"datatype": "FP32", "shape": [1], "data": [1]}]})", "inputs[0].name is missing"},
      {R"({"inputs": [{"name": "a", "datatype": "FP32", "shape": [1.5], "data": [1]}]})", "inputs[0].shape must be"},
      {R"({"inputs": [{"name": "a", "datatype": "FP32", "shape": [1], "data": [true]}]})",
       "inputs[0].data element 0 must be a number"},
      {R"({"inputs": [{"name": "a", "datatype": "UINT8", "shape": [1], "data": [-1]}]})",
       "inputs[0].data element 0 must be an integer in [0, 255]"},
      {R"({"inputs": [{"name": "a", "datatype": "BYTES", "shape": [1], "data": [7]}]})",
       "inputs[0].data element 0 must be a string or {\"b64\""},
      {R"({"inputs": [{"name": "a", "datatype": "BYTES", "shape": [1], "data": [{"b64": "@@@@"}]}]})",
       "not valid base64"},
      {R"({"inputs": [{"name": "a", "datatype": "FP32", "shape": [1], "data": [[[[[[[[[[1]]]]]]]]]]}]})",
       "nests arrays deeper than"},
      {R"({"inputs": [{"name": "a", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": -4}}]})",
       "inputs[0].parameters.binary_data_size must be an integer byte count"},
      {R"({"inputs": [], "outputs": [{"name": "o", "parameters": {"classification": 1.5}}]})",
       "outputs[0].parameters.classification must be a boolean, an integer or a string"},
  };
  for (const auto& [body, fragment] : cases) {
    const auto request = ParseInferRequestJson(body, "net", "");
    ASSERT_FALSE(request.ok()) << body;
    EXPECT_EQ(request.status().code(), StatusCode::kInvalidArgument) << body;
    EXPECT_NE(request.status().message().find(fragment), std::string::npos) << request.status().message();
  }
}

TEST(RestJsonTest, ErrorsAndLabelsThatAreNotUtf8StillMakeJson) {
  EXPECT_EQ(ErrorJson("bad \"x\""), R"({"error":"bad \"x\""})");
  EXPECT_EQ(ErrorJson("model '\xff'"), "{\"error\":\"model '\xEF\xBF\xBD'\"}");
}

TEST(RestJsonTest, LocalizationMethodNames) {
  EXPECT_EQ(*ParseLocalizationMethod(""), v1::LOCALIZATION_METHOD_UNSPECIFIED);
  EXPECT_EQ(*ParseLocalizationMethod("auto"), v1::LOCALIZATION_METHOD_UNSPECIFIED);
  EXPECT_EQ(*ParseLocalizationMethod("cam"), v1::LOCALIZATION_METHOD_CAM);
  EXPECT_EQ(*ParseLocalizationMethod("grad-cam"), v1::LOCALIZATION_METHOD_GRAD_CAM);
  EXPECT_EQ(*ParseLocalizationMethod("gradcam"), v1::LOCALIZATION_METHOD_GRAD_CAM);
  EXPECT_EQ(*ParseLocalizationMethod("dense"), v1::LOCALIZATION_METHOD_DENSE);
  EXPECT_EQ(ParseLocalizationMethod("Cam").status().code(), StatusCode::kInvalidArgument);
}

TEST(RestApiTest, StatusCodesMapToHttp) {
  EXPECT_EQ(HttpStatusFor(OkStatus(), false), 200);
  EXPECT_EQ(HttpStatusFor(InvalidArgument("x"), false), 400);
  EXPECT_EQ(HttpStatusFor(FailedPrecondition("x"), false), 400);
  EXPECT_EQ(HttpStatusFor(NotFound("x"), false), 404);
  EXPECT_EQ(HttpStatusFor(ResourceExhausted("image too large"), true), 413);
  EXPECT_EQ(HttpStatusFor(ResourceExhausted("queue full"), false), 429);
  EXPECT_EQ(HttpStatusFor({StatusCode::kUnavailable, "x"}, false), 503);
  EXPECT_EQ(HttpStatusFor({StatusCode::kDeadlineExceeded, "x"}, false), 504);
  EXPECT_EQ(HttpStatusFor({StatusCode::kUnauthenticated, "x"}, false), 401);
  EXPECT_EQ(HttpStatusFor(Internal("x"), false), 500);
}

}  // namespace
}  // namespace fovea::server
