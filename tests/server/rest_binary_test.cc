// The REST infer body in both directions (rest_infer_body.h): the binary tensor data extension of KServe v2 / Triton
// that Triton's HTTP client sends by default, JSON rendering of every output datatype, and the HTTP content codings
// (http_compression.h).

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <string>
#include <vector>

#include "server/transport/rest/http_compression.h"
#include "server/transport/rest/rest_infer_body.h"

namespace fovea::server {
namespace {

namespace oip = ::inference;

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

std::string LengthPrefixed(const std::vector<std::string>& elements) {
  std::string raw;
  for (const std::string& element : elements) {
    const auto length = static_cast<uint32_t>(element.size());
    raw += Bytes(std::vector<uint32_t>{length}) + element;
  }
  return raw;
}

// A request as Triton's client builds it: the JSON, then the binary data, and the JSON's length for the header.
struct BinaryBody {
  std::string body;
  std::string header;
};

BinaryBody WithBinary(const std::string& json, const std::string& binary) {
  return {json + binary, std::to_string(json.size())};
}

TEST(RestBinaryTest, BinaryInputsBecomeRawContentsInInputOrder) {
  const std::string pixels("\x01\x02\x03\x04", 4);
  const std::string floats = Bytes(std::vector<float>{0.5F, -2});
  const BinaryBody request = WithBinary(
      R"({"id": "b1", "inputs": [
            {"name": "x", "datatype": "FP32", "shape": [1, 2], "parameters": {"binary_data_size": 8}},
            {"name": "p", "datatype": "UINT8", "shape": [1, 2, 2, 1], "parameters": {"binary_data_size": 4}}]})",
      floats + pixels);
  const auto parsed = ParseInferRequestBody(request.body, request.header, "net", "1");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const oip::ModelInferRequest& proto = parsed->request;
  EXPECT_EQ(proto.id(), "b1");
  ASSERT_EQ(proto.raw_input_contents_size(), 2);
  EXPECT_EQ(proto.raw_input_contents(0), floats);
  EXPECT_EQ(proto.raw_input_contents(1), pixels);
  // The extension's parameters are the REST layer's; the core never sees them.
  EXPECT_TRUE(proto.inputs(0).parameters().empty());
  EXPECT_FALSE(proto.inputs(0).has_contents());
}

TEST(RestBinaryTest, MixedRequestsHaveTheirJsonInputsConvertedToRaw) {
  const std::string png("\x89PNG-ish", 8);
  const BinaryBody request = WithBinary(
      R"({"inputs": [
            {"name": "f", "datatype": "FP32", "shape": [2], "data": [1.5, -1]},
            {"name": "image", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 12}},
            {"name": "u", "datatype": "UINT8", "shape": [2], "data": [0, 255]},
            {"name": "s", "datatype": "BYTES", "shape": [2], "data": ["ab", {"b64": "AAE="}]},
            {"name": "i", "datatype": "INT32", "shape": [1], "data": [7]}]})",
      LengthPrefixed({png}));
  const auto parsed = ParseInferRequestBody(request.body, request.header, "net", "");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const oip::ModelInferRequest& proto = parsed->request;
  ASSERT_EQ(proto.raw_input_contents_size(), 5);
  EXPECT_EQ(proto.raw_input_contents(0), Bytes(std::vector<float>{1.5F, -1}));
  EXPECT_EQ(proto.raw_input_contents(1), LengthPrefixed({png}));
  EXPECT_EQ(proto.raw_input_contents(2), std::string("\x00\xff", 2));
  EXPECT_EQ(proto.raw_input_contents(3), LengthPrefixed({"ab", std::string("\0\1", 2)}));
  // JSON input is not taken for INT32 (today as before); empty contents let ConvertInferInput name the datatype.
  EXPECT_EQ(proto.raw_input_contents(4), "");
  for (const auto& input : proto.inputs()) EXPECT_FALSE(input.has_contents()) << input.name();
}

TEST(RestBinaryTest, AHeaderWithoutBinaryDataIsPlainJson) {
  const std::string json = R"({"inputs": [{"name": "f", "datatype": "FP32", "shape": [1], "data": [3]}]})";
  const auto parsed = ParseInferRequestBody(json, std::to_string(json.size()), "net", "");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->request.raw_input_contents_size(), 0);
  EXPECT_EQ(parsed->request.inputs(0).contents().fp32_contents(0), 3);
}

TEST(RestBinaryTest, BinaryOutputParametersAreConsumedAndOthersPassedOn) {
  const auto parsed = ParseInferRequestBody(
      R"({"parameters": {"binary_data_output": true, "priority": 2},
          "inputs": [{"name": "f", "datatype": "FP32", "shape": [1], "data": [3]}],
          "outputs": [{"name": "a"}, {"name": "b", "parameters": {"binary_data": false, "classification": 2}},
                      {"name": "c", "parameters": {"binary_data": true}}]})",
      std::nullopt, "net", "");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const BinaryOutputChoice& choice = parsed->binary_outputs;
  EXPECT_TRUE(choice.IsBinary("a"));  // binary_data_output covers outputs that do not say otherwise
  EXPECT_FALSE(choice.IsBinary("b"));
  EXPECT_TRUE(choice.IsBinary("c"));
  EXPECT_TRUE(choice.IsBinary("not-listed"));
  const oip::ModelInferRequest& proto = parsed->request;
  EXPECT_EQ(proto.parameters().size(), 1U);
  EXPECT_EQ(proto.parameters().at("priority").int64_param(), 2);
  EXPECT_EQ(proto.outputs(1).parameters().size(), 1U);
  EXPECT_EQ(proto.outputs(1).parameters().at("classification").int64_param(), 2);
  EXPECT_TRUE(proto.outputs(2).parameters().empty());

  const auto plain = ParseInferRequestBody(R"({"inputs": [], "outputs": [{"name": "c"}]})", std::nullopt, "n", "");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->binary_outputs.IsBinary("c"));
}

struct BodyErrorCase {
  std::string body;
  std::optional<std::string> header;
  std::string message;
};

class RestBinaryErrorTest : public testing::TestWithParam<BodyErrorCase> {};

TEST_P(RestBinaryErrorTest, IsInvalidArgumentNamingTheProblem) {
  const auto parsed = ParseInferRequestBody(GetParam().body, GetParam().header, "net", "");
  ASSERT_FALSE(parsed.ok()) << GetParam().body;
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find(GetParam().message), std::string::npos) << parsed.status().message();
}

const std::string kOneBinaryInput =
    R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "parameters": {"binary_data_size": 4}}]})";
const std::string kTwoBinaryInputs =
    R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "parameters": {"binary_data_size": 4}},
                   {"name": "y", "datatype": "UINT8", "shape": [9], "parameters": {"binary_data_size": 9}}]})";
const std::string kFourBytes("\x00\x00\x80\x3f", 4);

std::string Input(const std::string& parameters, const std::string& data = "") {
  return R"({"inputs": [{"name": "x", "datatype": "UINT8", "shape": [1], "parameters": )" + parameters + data + "}]}";
}

// A JSON UINT8 input with a value over 255, converted to raw because the request's other input is binary.
BodyErrorCase MixedWithBadUint8() {
  const std::string json = R"({"inputs": [{"name": "u", "datatype": "UINT8", "shape": [1], "data": [300]}, )" +
                           kOneBinaryInput.substr(std::string(R"({"inputs": [)").size());
  return {json + kFourBytes, std::to_string(json.size()),
          "inputs[0] ('u') data element 0 must be an integer in [0, 255]"};
}

INSTANTIATE_TEST_SUITE_P(
    Bodies, RestBinaryErrorTest,
    testing::Values(
        BodyErrorCase{kOneBinaryInput + kFourBytes, "abc", "Inference-Header-Content-Length 'abc' is not a byte count"},
        BodyErrorCase{kOneBinaryInput + kFourBytes, "-1", "'-1' is not a byte count"},
        BodyErrorCase{kOneBinaryInput + kFourBytes, "", "'' is not a byte count"},
        BodyErrorCase{kOneBinaryInput + kFourBytes, "99999999999999999999999", "is not a byte count"},
        BodyErrorCase{kOneBinaryInput + kFourBytes, "500", "Inference-Header-Content-Length 500 is beyond the end"},
        BodyErrorCase{kTwoBinaryInputs + kFourBytes + "12", std::to_string(kTwoBinaryInputs.size()),
                      "inputs[1] ('y') has parameters.binary_data_size 9 but only 2 bytes of binary data follow the "
                      "JSON and the inputs before it"},
        BodyErrorCase{kOneBinaryInput + "12", std::to_string(kOneBinaryInput.size()),
                      "inputs[0] ('x') has parameters.binary_data_size 4 but only 2 bytes"},
        BodyErrorCase{kOneBinaryInput + kFourBytes + "extra", std::to_string(kOneBinaryInput.size()),
                      "the body has 9 bytes after its"},
        BodyErrorCase{R"({"inputs": []})" + kFourBytes, "14", "parameters.binary_data_size add up to 0"},
        BodyErrorCase{Input(R"({"binary_data_size": -1})"), std::nullopt, "must be an integer byte count"},
        BodyErrorCase{Input(R"({"binary_data_size": 18446744073709551615})"), std::nullopt,
                      "inputs[0].parameters.binary_data_size must be an integer byte count"},
        BodyErrorCase{Input(R"({"binary_data_size": "4"})"), std::nullopt, "must be an integer byte count"},
        BodyErrorCase{Input(R"({"binary_data_size": 1})", R"(, "data": [1])"), std::nullopt,
                      "inputs[0] has both \"data\" and parameters.binary_data_size"},
        BodyErrorCase{kOneBinaryInput, std::nullopt,
                      "inputs[0] ('x') has parameters.binary_data_size, but the request has no "
                      "Inference-Header-Content-Length header"},
        BodyErrorCase{kOneBinaryInput + kFourBytes, std::nullopt,
                      "looks like a JSON header followed by binary tensor data, but the "
                      "Inference-Header-Content-Length header"},
        BodyErrorCase{kOneBinaryInput + "1234", std::nullopt, "looks like a JSON header followed by binary"},
        BodyErrorCase{std::string("\x89PNG\r\n\x1a\n", 8), std::nullopt, "looks like a JSON header followed"},
        BodyErrorCase{"{\"inputs\": [" + kFourBytes, "4", "the first 4 bytes of the body"},
        BodyErrorCase{kOneBinaryInput + kFourBytes, "10", "the first 10 bytes of the body"},
        BodyErrorCase{R"({"inputs": [], "outputs": [{"name": "o", "parameters": {"binary_data": 1}}]})", std::nullopt,
                      "outputs[0].parameters.binary_data must be true or false"},
        BodyErrorCase{R"({"inputs": [], "parameters": {"binary_data_output": "yes"}})", std::nullopt,
                      "request.parameters.binary_data_output must be true or false"},
        MixedWithBadUint8(), BodyErrorCase{"{\"inputs\": [", std::nullopt, "request body is not valid JSON"}));

oip::ModelInferResponse::InferOutputTensor* AddOutput(oip::ModelInferResponse& response, const std::string& name,
                                                      const std::string& datatype, std::vector<int64_t> shape,
                                                      std::string raw) {
  auto* output = response.add_outputs();
  output->set_name(name);
  output->set_datatype(datatype);
  for (int64_t dim : shape) output->add_shape(dim);
  response.add_raw_output_contents(std::move(raw));
  return output;
}

TEST(RestBinaryTest, EveryDatatypeRendersAsFlatJsonData) {
  oip::ModelInferResponse response;
  response.set_model_name("net");
  response.set_model_version("1");
  AddOutput(response, "f", "FP32", {2, 1, 1}, Bytes(std::vector<float>{0.25F, -1}));
  AddOutput(response, "d", "FP64", {1}, Bytes(std::vector<double>{0.125}));
  AddOutput(response, "l", "INT64", {3}, Bytes(std::vector<int64_t>{-5, 0, int64_t{1} << 40}));
  AddOutput(response, "i", "INT32", {1, 2}, Bytes(std::vector<int32_t>{-7, 2147483647}));
  AddOutput(response, "u", "UINT8", {2}, std::string("\x00\xff", 2));
  AddOutput(response, "s", "INT8", {2}, std::string("\xff\x7f", 2));
  AddOutput(response, "b", "BOOL", {1, 1, 3}, std::string("\x01\x00\x02", 3));
  AddOutput(response, "t", "BYTES", {2, 1}, LengthPrefixed({"1.0:3:cat", ""}));
  AddOutput(response, "scalar", "INT32", {}, Bytes(std::vector<int32_t>{9}));
  AddOutput(response, "deep", "UINT8", {1, 1, 1, 1, 1, 2}, std::string("\x03\x04", 2));
  const auto rendered = RenderInferResponse(response, {});
  ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
  EXPECT_FALSE(rendered->json_length.has_value());
  EXPECT_EQ(rendered->body, R"({"model_name":"net","model_version":"1","outputs":[)"
                            R"({"name":"f","datatype":"FP32","shape":[2,1,1],"data":[0.25,-1.0]},)"
                            R"({"name":"d","datatype":"FP64","shape":[1],"data":[0.125]},)"
                            R"({"name":"l","datatype":"INT64","shape":[3],"data":[-5,0,1099511627776]},)"
                            R"({"name":"i","datatype":"INT32","shape":[1,2],"data":[-7,2147483647]},)"
                            R"({"name":"u","datatype":"UINT8","shape":[2],"data":[0,255]},)"
                            R"({"name":"s","datatype":"INT8","shape":[2],"data":[-1,127]},)"
                            R"({"name":"b","datatype":"BOOL","shape":[1,1,3],"data":[true,false,true]},)"
                            R"({"name":"t","datatype":"BYTES","shape":[2,1],"data":["1.0:3:cat",""]},)"
                            R"({"name":"scalar","datatype":"INT32","shape":[],"data":[9]},)"
                            R"({"name":"deep","datatype":"UINT8","shape":[1,1,1,1,1,2],"data":[3,4]}]})");
}

TEST(RestBinaryTest, BinaryOutputsFollowTheJsonHeader) {
  oip::ModelInferResponse response;
  response.set_model_name("net");
  response.set_model_version("1");
  response.set_id("r");
  const std::string scores = Bytes(std::vector<float>{0.25F, 0.75F});
  const std::string labels = LengthPrefixed({"cat"});
  AddOutput(response, "scores", "FP32", {1, 2}, scores);
  AddOutput(response, "top", "INT64", {1}, Bytes(std::vector<int64_t>{1}));
  AddOutput(response, "labels", "BYTES", {1}, labels);
  BinaryOutputChoice choice;
  choice.all = true;
  choice.not_binary.insert("top");
  const auto rendered = RenderInferResponse(response, choice);
  ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
  const std::string json = R"({"model_name":"net","model_version":"1","id":"r","outputs":[)"
                           R"({"name":"scores","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":8}},)"
                           R"({"name":"top","datatype":"INT64","shape":[1],"data":[1]},)"
                           R"({"name":"labels","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":7}}]})";
  ASSERT_EQ(rendered->json_length, json.size());
  EXPECT_EQ(rendered->body, json + scores + labels);
}

TEST(RestBinaryTest, DatatypesWithoutAJsonFormMustBeAskedForAsBinary) {
  oip::ModelInferResponse response;
  AddOutput(response, "half", "FP16", {1}, std::string(2, '\0'));
  const auto refused = RenderInferResponse(response, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("output 'half' has datatype FP16, which has no JSON form"),
            std::string::npos)
      << refused.status().message();
  BinaryOutputChoice choice;
  choice.binary.insert("half");
  const auto binary = RenderInferResponse(response, choice);
  ASSERT_TRUE(binary.ok());
  EXPECT_EQ(binary->body.substr(*binary->json_length), std::string(2, '\0'));
}

// --- Content codings ---

// `data` compressed by zlib itself with `window_bits` (15 zlib, 31 gzip, -15 raw deflate), fed `repeat` times.
std::string Compress(const std::string& data, int window_bits, int repeat = 1) {
  z_stream stream{};
  EXPECT_EQ(deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out;
  std::string buffer(1 << 16, '\0');
  for (int i = 0; i < repeat; ++i) {
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    stream.avail_in = static_cast<uInt>(data.size());
    const int flush = i + 1 == repeat ? Z_FINISH : Z_NO_FLUSH;
    int result = Z_OK;
    do {
      stream.next_out = reinterpret_cast<Bytef*>(buffer.data());
      stream.avail_out = static_cast<uInt>(buffer.size());
      result = deflate(&stream, flush);
      out.append(buffer.data(), buffer.size() - stream.avail_out);
    } while (stream.avail_out == 0 || (flush == Z_FINISH && result != Z_STREAM_END));
  }
  deflateEnd(&stream);
  return out;
}

std::string Text(size_t size) {
  std::string text;
  for (size_t i = 0; text.size() < size; ++i) text += "tensor " + std::to_string(i * 7919 % 1000) + ", ";
  return text.substr(0, size);
}

TEST(HttpCompressionTest, DecodesWhatZlibEncodes) {
  const std::string text = Text(300000);  // several of the decoder's 64 KiB output steps
  const size_t limit = 1 << 20;
  EXPECT_EQ(*DecodeContent(ContentCoding::kGzip, Compress(text, 31), limit), text);
  EXPECT_EQ(*DecodeContent(ContentCoding::kDeflate, Compress(text, 15), limit), text);
  // Raw deflate data under the name "deflate", as some clients send it.
  EXPECT_EQ(*DecodeContent(ContentCoding::kDeflate, Compress(text, -15), limit), text);
  // Two gzip members back to back decode to both.
  EXPECT_EQ(*DecodeContent(ContentCoding::kGzip, Compress("ab", 31) + Compress("cd", 31), limit), "abcd");
  EXPECT_EQ(*DecodeContent(ContentCoding::kIdentity, "as is", limit), "as is");
  EXPECT_EQ(*DecodeContent(ContentCoding::kGzip, Compress("", 31), limit), "");
}

TEST(HttpCompressionTest, EncodesWhatDecodes) {
  const std::string text = Text(200000);
  for (const ContentCoding coding : {ContentCoding::kGzip, ContentCoding::kDeflate}) {
    const std::optional<std::string> encoded = EncodeContent(coding, text);
    ASSERT_TRUE(encoded.has_value());
    EXPECT_LT(encoded->size(), text.size() / 2);
    EXPECT_EQ(*DecodeContent(coding, *encoded, text.size()), text);
  }
  EXPECT_FALSE(EncodeContent(ContentCoding::kIdentity, text).has_value());
  EXPECT_EQ(*DecodeContent(ContentCoding::kGzip, *EncodeContent(ContentCoding::kGzip, ""), 0), "");
}

TEST(HttpCompressionTest, AZipBombStopsAtTheLimit) {
  // 64 MiB of zeros in about 64 KiB of gzip; refused after inflating just past the 1 MiB limit.
  const std::string bomb = Compress(std::string(1 << 20, '\0'), 31, 64);
  ASSERT_LT(bomb.size(), size_t{1} << 17);
  const auto decoded = DecodeContent(ContentCoding::kGzip, bomb, 1 << 20);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(decoded.status().message().find("decoded gzip request body is larger than the limit of 1048576 bytes"),
            std::string::npos)
      << decoded.status().message();
  // Exactly at the limit is still fine.
  EXPECT_TRUE(DecodeContent(ContentCoding::kGzip, Compress(std::string(1000, 'a'), 31), 1000).ok());
  EXPECT_FALSE(DecodeContent(ContentCoding::kGzip, Compress(std::string(1001, 'a'), 31), 1000).ok());
}

TEST(HttpCompressionTest, CorruptTruncatedAndTrailingDataAreInvalidArgument) {
  const std::string gzip = Compress(Text(5000), 31);
  const std::string deflate = Compress(Text(5000), 15);
  const std::pair<StatusOr<std::string>, const char*> cases[] = {
      {DecodeContent(ContentCoding::kGzip, gzip.substr(0, gzip.size() / 2), 1 << 20),
       "gzip request body ends before its compressed data does"},
      {DecodeContent(ContentCoding::kGzip, "", 1 << 20), "ends before its compressed data does"},
      {DecodeContent(ContentCoding::kGzip, "plain text, not gzip", 1 << 20), "is not valid gzip data"},
      {DecodeContent(ContentCoding::kGzip, gzip + "junk", 1 << 20), "is not valid gzip data"},
      {DecodeContent(ContentCoding::kDeflate, deflate + "junk", 1 << 20), "has 4 bytes after its compressed data"},
      {DecodeContent(ContentCoding::kDeflate, "\xff\xff\xff\xff", 1 << 20), "is not valid deflate data"},
  };
  for (const auto& [result, message] : cases) {
    ASSERT_FALSE(result.ok()) << message;
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << message;
    EXPECT_NE(result.status().message().find(message), std::string::npos) << result.status().message();
  }
}

TEST(HttpCompressionTest, ContentEncodingNames) {
  EXPECT_EQ(*ParseContentEncoding(""), ContentCoding::kIdentity);
  EXPECT_EQ(*ParseContentEncoding("identity"), ContentCoding::kIdentity);
  EXPECT_EQ(*ParseContentEncoding(" GZIP "), ContentCoding::kGzip);
  EXPECT_EQ(*ParseContentEncoding("x-gzip"), ContentCoding::kGzip);
  EXPECT_EQ(*ParseContentEncoding("Deflate"), ContentCoding::kDeflate);
  for (const char* unknown : {"br", "gzip, br", "zstd"}) {
    const auto coding = ParseContentEncoding(unknown);
    ASSERT_FALSE(coding.ok()) << unknown;
    EXPECT_EQ(coding.status().code(), StatusCode::kUnimplemented);
    EXPECT_NE(coding.status().message().find(std::string("Content-Encoding '") + unknown + "' is not supported"),
              std::string::npos)
        << coding.status().message();
  }
}

TEST(HttpCompressionTest, AcceptEncodingChoosesGzipThenDeflate) {
  EXPECT_EQ(ChooseResponseCoding(""), ContentCoding::kIdentity);
  EXPECT_EQ(ChooseResponseCoding("gzip"), ContentCoding::kGzip);
  EXPECT_EQ(ChooseResponseCoding("deflate"), ContentCoding::kDeflate);
  EXPECT_EQ(ChooseResponseCoding("deflate, gzip"), ContentCoding::kGzip);
  EXPECT_EQ(ChooseResponseCoding("gzip;q=0, deflate;q=0.5"), ContentCoding::kDeflate);
  EXPECT_EQ(ChooseResponseCoding("*"), ContentCoding::kGzip);
  EXPECT_EQ(ChooseResponseCoding("*, gzip; q=0"), ContentCoding::kDeflate);
  EXPECT_EQ(ChooseResponseCoding("br, identity"), ContentCoding::kIdentity);
  EXPECT_EQ(ContentCodingName(ContentCoding::kGzip), std::string("gzip"));
  EXPECT_EQ(ContentCodingName(ContentCoding::kDeflate), std::string("deflate"));
}

}  // namespace
}  // namespace fovea::server
