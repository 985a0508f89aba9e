// The Open Inference Protocol core (oip_inputs.h, oip_infer.h) on a real engine model whose scores are easy to
// predict: global average pooling of the normalized input, so class c scores the mean of input channel c.

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <tuple>

#include "imageio/image.h"
#include "server/api/oip_infer.h"
#include "server/api/oip_inputs.h"
#include "tests/server/channel_mean_model.h"

namespace fovea::server {
namespace {

using InputTensor = oip::ModelInferRequest::InferInputTensor;

constexpr int64_t kChannels = 3;
constexpr int64_t kSize = 4;
constexpr float kMean = 0.5F;
constexpr float kStd = 0.25F;
constexpr float kTolerance = 1e-5F;
constexpr char kInputName[] = "pixels";
constexpr char kOutputName[] = "scores";

// pixels [N, 3, 4, 4] → GlobalAveragePool → Flatten → scores [N, 3] (logits, returned as computed).
std::shared_ptr<const ServedModel> ChannelMeanModel() {
  return testing::ChannelMeanModel("means", 2, {"red", "green", "blue"}, kSize, kMean, kStd, kInputName, kOutputName);
}

float Normalized(uint8_t pixel) { return (static_cast<float>(pixel) / 255.0F - kMean) / kStd; }

std::vector<float> RawFloats(const std::string& raw) {
  std::vector<float> values(raw.size() / sizeof(float));
  std::memcpy(values.data(), raw.data(), values.size() * sizeof(float));
  return values;
}

InputTensor& AddInput(oip::ModelInferRequest& request, const std::string& datatype, std::vector<int64_t> shape) {
  InputTensor* input = request.add_inputs();
  input->set_name(kInputName);
  input->set_datatype(datatype);
  for (int64_t dim : shape) input->add_shape(dim);
  return *input;
}

// One solid-color image of `width` x `height` pixels, interleaved RGB.
std::string SolidPixels(int64_t width, int64_t height, std::array<uint8_t, 3> rgb) {
  std::string pixels;
  for (int64_t i = 0; i < width * height; ++i) pixels.append(reinterpret_cast<const char*>(rgb.data()), rgb.size());
  return pixels;
}

class OipInferTest : public ::testing::Test {
 protected:
  // Runs the request; the status goes to `status_`, the answer to `response_`.
  Status Infer(const oip::ModelInferRequest& request) {
    response_.Clear();
    return RunModelInfer(*model_, request, options_, response_);
  }
  // The scores Infer returned for image `row`.
  std::vector<float> Row(int64_t row) const {
    const std::vector<float> all = RawFloats(response_.raw_output_contents(0));
    return {all.begin() + row * kChannels, all.begin() + (row + 1) * kChannels};
  }
  void ExpectRow(int64_t row, const std::vector<float>& channel_means) const {
    const std::vector<float>& expected = channel_means;  // the graph's output, no softmax
    const std::vector<float> actual = Row(row);
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t c = 0; c < expected.size(); ++c) EXPECT_NEAR(actual[c], expected[c], kTolerance) << "class " << c;
  }

  std::shared_ptr<const ServedModel> model_ = ChannelMeanModel();
  ClassifyOptions options_;
  oip::ModelInferResponse response_;
};

TEST_F(OipInferTest, Fp32RawAndTypedContentsGiveTheChannelMeansAsTheGraphComputesThem) {
  const std::vector<float> means = {0.5F, -1.0F, 2.0F, 1.0F, 0.0F, -0.25F};  // two images
  std::vector<float> values;
  for (float mean : means) values.insert(values.end(), kSize * kSize, mean);
  oip::ModelInferRequest raw;
  raw.set_model_name("means");
  raw.set_id("req-7");
  AddInput(raw, "FP32", {2, kChannels, kSize, kSize});
  raw.add_raw_input_contents(std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
  ASSERT_TRUE(Infer(raw).ok());
  EXPECT_EQ(response_.model_name(), "means");
  EXPECT_EQ(response_.model_version(), "2");
  EXPECT_EQ(response_.id(), "req-7");
  ASSERT_EQ(response_.outputs_size(), 1);
  EXPECT_EQ(response_.outputs(0).name(), kOutputName);
  EXPECT_EQ(response_.outputs(0).datatype(), "FP32");
  EXPECT_EQ(std::vector<int64_t>(response_.outputs(0).shape().begin(), response_.outputs(0).shape().end()),
            (std::vector<int64_t>{2, kChannels}));
  ExpectRow(0, {0.5F, -1.0F, 2.0F});
  ExpectRow(1, {1.0F, 0.0F, -0.25F});

  oip::ModelInferRequest typed;
  typed.set_model_name("means");
  AddInput(typed, "FP32", {2, kChannels, kSize, kSize})
      .mutable_contents()
      ->mutable_fp32_contents()
      ->Add(values.begin(), values.end());
  const std::string raw_answer = response_.raw_output_contents(0);
  ASSERT_TRUE(Infer(typed).ok());
  EXPECT_EQ(response_.raw_output_contents(0), raw_answer);
}

TEST_F(OipInferTest, Uint8PixelsAreResizedAndNormalizedLikeAnImage) {
  oip::ModelInferRequest request;
  // 8x6 pixels: not the model's 4x4, so the server resizes (a solid color stays solid).
  AddInput(request, "UINT8", {1, 6, 8, 3});
  request.add_raw_input_contents(SolidPixels(8, 6, {255, 0, 128}));
  ASSERT_TRUE(Infer(request).ok()) << Infer(request).ToString();
  ExpectRow(0, {Normalized(255), Normalized(0), Normalized(128)});

  oip::ModelInferRequest typed;
  const std::string pixels = SolidPixels(kSize, kSize, {10, 200, 30});
  auto* contents = AddInput(typed, "UINT8", {1, kSize, kSize, 3}).mutable_contents()->mutable_uint_contents();
  for (char pixel : pixels) contents->Add(static_cast<uint8_t>(pixel));
  ASSERT_TRUE(Infer(typed).ok());
  ExpectRow(0, {Normalized(10), Normalized(200), Normalized(30)});
}

TEST_F(OipInferTest, BytesInputsDecodePngFromRawAndTypedContents) {
  imageio::Image red{kSize, kSize, 3, {}};
  const std::string solid = SolidPixels(kSize, kSize, {250, 5, 60});
  red.pixels.assign(solid.begin(), solid.end());
  const std::string png = imageio::EncodePng(red).value();
  imageio::Image gray{kSize, kSize, 1, std::vector<uint8_t>(kSize * kSize, 100)};
  const std::string gray_png = imageio::EncodePng(gray).value();

  oip::ModelInferRequest raw;
  AddInput(raw, "BYTES", {2});
  std::string elements;
  AppendBytesElement(png, elements);
  AppendBytesElement(gray_png, elements);
  raw.add_raw_input_contents(elements);
  ASSERT_TRUE(Infer(raw).ok()) << Infer(raw).ToString();
  ExpectRow(0, {Normalized(250), Normalized(5), Normalized(60)});
  ExpectRow(1, {Normalized(100), Normalized(100), Normalized(100)});  // gray becomes RGB

  oip::ModelInferRequest typed;
  AddInput(typed, "BYTES", {1, 1}).mutable_contents()->add_bytes_contents(png);
  ASSERT_TRUE(Infer(typed).ok());
  ExpectRow(0, {Normalized(250), Normalized(5), Normalized(60)});
}

TEST_F(OipInferTest, ClassificationReturnsTopKStringsLikeTriton) {
  oip::ModelInferRequest request;
  AddInput(request, "UINT8", {1, kSize, kSize, 3});
  request.add_raw_input_contents(SolidPixels(kSize, kSize, {0, 255, 128}));
  auto* output = request.add_outputs();
  output->set_name(kOutputName);
  (*output->mutable_parameters())[kClassificationParameter].set_int64_param(2);
  ASSERT_TRUE(Infer(request).ok());
  ASSERT_EQ(response_.outputs_size(), 1);
  EXPECT_EQ(response_.outputs(0).datatype(), "BYTES");
  EXPECT_EQ(std::vector<int64_t>(response_.outputs(0).shape().begin(), response_.outputs(0).shape().end()),
            (std::vector<int64_t>{1, 2}));
  const auto strings = SplitBytesElements(response_.raw_output_contents(0), 2);
  ASSERT_TRUE(strings.ok()) << strings.status().ToString();
  const std::vector<float> values = {Normalized(0), Normalized(255), Normalized(128)};
  // "value:index:label", the raw value printed with six decimals.
  const std::vector<std::tuple<std::string, int, std::string>> expected = {{std::string((*strings)[0]), 1, "green"},
                                                                           {std::string((*strings)[1]), 2, "blue"}};
  for (const auto& [text, index, label] : expected) {
    const size_t first = text.find(':');
    ASSERT_NE(first, std::string::npos) << text;
    EXPECT_NEAR(std::stof(text.substr(0, first)), values[static_cast<size_t>(index)], 1e-5F) << text;
    EXPECT_EQ(text.substr(first), ":" + std::to_string(index) + ":" + label);
  }
}

TEST_F(OipInferTest, ClassificationCountAboveTheClassesIsClampedLikeTriton) {
  oip::ModelInferRequest request;
  AddInput(request, "UINT8", {2, kSize, kSize, 3});
  request.add_raw_input_contents(SolidPixels(kSize, kSize, {0, 255, 128}) + SolidPixels(kSize, kSize, {9, 9, 9}));
  auto* output = request.add_outputs();
  output->set_name(kOutputName);
  (*output->mutable_parameters())[kClassificationParameter].set_int64_param(10);
  ASSERT_TRUE(Infer(request).ok());
  EXPECT_EQ(std::vector<int64_t>(response_.outputs(0).shape().begin(), response_.outputs(0).shape().end()),
            (std::vector<int64_t>{2, kChannels}));
  EXPECT_TRUE(SplitBytesElements(response_.raw_output_contents(0), 2 * kChannels).ok());
}

// The model's outputs as the graph computed them, and what each request's outputs asked for.
class OipMultiOutputTest : public ::testing::Test {
 protected:
  static constexpr int64_t kMapChannels = 2;
  static constexpr int64_t kMapSize = 3;

  // Two images: image i holds value values[i][c] in channel c.
  oip::ModelInferRequest Request(const std::vector<std::vector<float>>& values) const {
    oip::ModelInferRequest request;
    InputTensor* input = request.add_inputs();
    input->set_name("pixels");
    input->set_datatype("FP32");
    for (int64_t dim : {static_cast<int64_t>(values.size()), kMapChannels, kMapSize, kMapSize}) input->add_shape(dim);
    std::vector<float> data;
    for (const auto& image : values) {
      for (float value : image) data.insert(data.end(), kMapSize * kMapSize, value);
    }
    request.add_raw_input_contents(std::string(reinterpret_cast<const char*>(data.data()), data.size() * 4));
    return request;
  }

  std::shared_ptr<const ServedModel> model_ = testing::MapAndScoresModel("mapper", kMapChannels, kMapSize);
  ClassifyOptions options_;
};

TEST_F(OipMultiOutputTest, NoRequestedOutputsMeansEveryOutputInGraphOrderWithItsOwnShape) {
  oip::ModelInferResponse response;
  ASSERT_TRUE(RunModelInfer(*model_, Request({{0.0F, 2.0F}, {-1.0F, 0.5F}}), options_, response).ok());
  ASSERT_EQ(response.outputs_size(), 2);
  EXPECT_EQ(response.outputs(0).name(), "map");
  EXPECT_EQ(std::vector<int64_t>(response.outputs(0).shape().begin(), response.outputs(0).shape().end()),
            (std::vector<int64_t>{2, kMapChannels, kMapSize, kMapSize}));
  const std::vector<float> map = RawFloats(response.raw_output_contents(0));
  ASSERT_EQ(map.size(), static_cast<size_t>(2 * kMapChannels * kMapSize * kMapSize));
  EXPECT_NEAR(map[0], 0.5F, kTolerance);                                               // sigmoid(0), image 0 channel 0
  EXPECT_NEAR(map[kMapSize * kMapSize], 1.0F / (1.0F + std::exp(-2.0F)), kTolerance);  // image 0 channel 1
  EXPECT_NEAR(map.back(), 1.0F / (1.0F + std::exp(-0.5F)), kTolerance);                // image 1 channel 1
  EXPECT_EQ(response.outputs(1).name(), "means");
  EXPECT_EQ(response.outputs(1).datatype(), "FP32");
  const std::vector<float> means = RawFloats(response.raw_output_contents(1));
  EXPECT_EQ(means, (std::vector<float>{0.0F, 2.0F, -1.0F, 0.5F}));
}

TEST_F(OipMultiOutputTest, RequestedOutputsComeInTheRequestsOrderAndOnlyThose) {
  oip::ModelInferRequest request = Request({{1.0F, 3.0F}});
  request.add_outputs()->set_name("means");
  oip::ModelInferResponse response;
  ASSERT_TRUE(RunModelInfer(*model_, request, options_, response).ok());
  ASSERT_EQ(response.outputs_size(), 1);
  EXPECT_EQ(response.outputs(0).name(), "means");
  EXPECT_EQ(RawFloats(response.raw_output_contents(0)), (std::vector<float>{1.0F, 3.0F}));

  request.add_outputs()->set_name("map");
  response.Clear();
  ASSERT_TRUE(RunModelInfer(*model_, request, options_, response).ok());
  ASSERT_EQ(response.outputs_size(), 2);
  EXPECT_EQ(response.outputs(1).name(), "map");
}

TEST_F(OipMultiOutputTest, ClassificationOfAMapIsRefusedNamingItsShape) {
  oip::ModelInferRequest request = Request({{1.0F, 3.0F}});
  auto* output = request.add_outputs();
  output->set_name("map");
  (*output->mutable_parameters())[kClassificationParameter].set_int64_param(1);
  oip::ModelInferResponse response;
  const Status status = RunModelInfer(*model_, request, options_, response);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("classification ranks an FP32 [N, K] or [N, K, 1, 1] output, and 'map' is FP32 "
                                  "[-1, 2, 3, 3]"),
            std::string::npos)
      << status.message();
}

TEST_F(OipMultiOutputTest, MetadataListsEveryOutputWithItsShape) {
  oip::ModelMetadataResponse metadata;
  DescribeOipModel(*model_, {1}, metadata);
  ASSERT_EQ(metadata.outputs_size(), 2);
  EXPECT_EQ(metadata.outputs(0).name(), "map");
  EXPECT_EQ(std::vector<int64_t>(metadata.outputs(0).shape().begin(), metadata.outputs(0).shape().end()),
            (std::vector<int64_t>{-1, kMapChannels, kMapSize, kMapSize}));
  EXPECT_EQ(metadata.outputs(1).name(), "means");
}

TEST_F(OipInferTest, MetadataDescribesTheModelWithAFreeBatch) {
  oip::ModelMetadataResponse metadata;
  DescribeOipModel(*model_, {1, 2}, metadata);
  EXPECT_EQ(metadata.name(), "means");
  EXPECT_EQ(std::vector<std::string>(metadata.versions().begin(), metadata.versions().end()),
            (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(metadata.platform(), "onnx");
  ASSERT_EQ(metadata.inputs_size(), 1);
  EXPECT_EQ(metadata.inputs(0).name(), kInputName);
  EXPECT_EQ(metadata.inputs(0).datatype(), "FP32");
  EXPECT_EQ(std::vector<int64_t>(metadata.inputs(0).shape().begin(), metadata.inputs(0).shape().end()),
            (std::vector<int64_t>{-1, kChannels, kSize, kSize}));
  ASSERT_EQ(metadata.outputs_size(), 1);
  EXPECT_EQ(metadata.outputs(0).name(), kOutputName);
  EXPECT_EQ(std::vector<int64_t>(metadata.outputs(0).shape().begin(), metadata.outputs(0).shape().end()),
            (std::vector<int64_t>{-1, kChannels}));
}

// A malformed request and the words its error must contain.
struct BadRequestCase {
  const char* name;
  std::function<void(oip::ModelInferRequest&)> build;
  StatusCode code;
  const char* message_part;
};

class OipBadRequestTest : public OipInferTest, public ::testing::WithParamInterface<BadRequestCase> {};

TEST_P(OipBadRequestTest, FailsWithACodeAndAMessageNamingTheProblem) {
  oip::ModelInferRequest request;
  GetParam().build(request);
  const Status status = Infer(request);
  EXPECT_EQ(status.code(), GetParam().code) << status.ToString();
  EXPECT_NE(status.message().find(GetParam().message_part), std::string::npos) << status.message();
}

void AddPixels(oip::ModelInferRequest& request) {
  AddInput(request, "UINT8", {1, kSize, kSize, 3});
  request.add_raw_input_contents(SolidPixels(kSize, kSize, {1, 2, 3}));
}

void AddClassification(oip::ModelInferRequest& request, const oip::InferParameter& parameter) {
  auto* output = request.add_outputs();
  output->set_name(kOutputName);
  (*output->mutable_parameters())[kClassificationParameter] = parameter;
}

oip::InferParameter Int64Parameter(int64_t value) {
  oip::InferParameter parameter;
  parameter.set_int64_param(value);
  return parameter;
}

const BadRequestCase kBadRequests[] = {
    {"NoInput", [](auto&) {}, StatusCode::kInvalidArgument, "takes one input, 'pixels'; the request has 0"},
    {"WrongInputName",
     [](auto& r) {
       AddPixels(r);
       r.mutable_inputs(0)->set_name("image");
     },
     StatusCode::kInvalidArgument, "unexpected input 'image'"},
    {"UnsupportedDatatype",
     [](auto& r) {
       AddPixels(r);
       r.mutable_inputs(0)->set_datatype("INT32");
     },
     StatusCode::kInvalidArgument, "input 'pixels' has datatype 'INT32'; expected FP32"},
    {"Fp32WrongShape",
     [](auto& r) {
       AddInput(r, "FP32", {1, kChannels, 5, 5});
       r.add_raw_input_contents(std::string(kChannels * 25 * 4, '\0'));
     },
     StatusCode::kInvalidArgument, "input 'pixels' of datatype FP32 must have shape [N, 3, 4, 4], got [1, 3, 5, 5]"},
    {"Fp32WrongByteCount",
     [](auto& r) {
       AddInput(r, "FP32", {1, kChannels, kSize, kSize});
       r.add_raw_input_contents(std::string(10, '\0'));
     },
     StatusCode::kInvalidArgument, "needs 192 bytes in raw_input_contents, got 10"},
    {"Fp32NaN",
     [](auto& r) {
       std::vector<float> values(kChannels * kSize * kSize, 0.0F);
       values[5] = std::nanf("");
       AddInput(r, "FP32", {1, kChannels, kSize, kSize})
           .mutable_contents()
           ->mutable_fp32_contents()
           ->Add(values.begin(), values.end());
     },
     StatusCode::kInvalidArgument, "input 'pixels': tensor element 5 is NaN"},
    {"Uint8FiveChannels",
     [](auto& r) {
       AddInput(r, "UINT8", {1, kSize, kSize, 5});
       r.add_raw_input_contents(std::string(kSize * kSize * 5, '\0'));
     },
     StatusCode::kInvalidArgument, "with 1, 3 or 4 channels, got [1, 4, 4, 5]"},
    {"Uint8ValueOver255",
     [](auto& r) {
       auto* values = AddInput(r, "UINT8", {1, 1, 1, 3}).mutable_contents()->mutable_uint_contents();
       for (uint32_t v : {1U, 300U, 2U}) values->Add(v);
     },
     StatusCode::kInvalidArgument, "uint_contents element 1 is 300, over the UINT8 maximum"},
    {"Uint8TooManyPixels",
     [](auto& r) {
       AddInput(r, "UINT8", {1, 1 << 14, 1 << 14, 1});
       r.add_raw_input_contents("x");
     },
     StatusCode::kResourceExhausted, "pixels, over the limit"},
    {"RawAndTypedContents",
     [](auto& r) {
       AddPixels(r);
       r.mutable_inputs(0)->mutable_contents()->add_uint_contents(1);
     },
     StatusCode::kInvalidArgument, "has both contents and raw_input_contents"},
    {"BatchOverTheLimit",
     [](auto& r) {
       AddInput(r, "BYTES", {1025});
       r.add_raw_input_contents("");
     },
     StatusCode::kResourceExhausted, "batch of 1025 images, over the limit of 1024"},
    {"BytesWrongShape",
     [](auto& r) {
       AddInput(r, "BYTES", {1, 2}).mutable_contents()->add_bytes_contents("x");
     },
     StatusCode::kInvalidArgument, "of datatype BYTES must have shape [N] or [N, 1]"},
    {"BytesCutOffElement",
     [](auto& r) {
       AddInput(r, "BYTES", {1});
       r.add_raw_input_contents(std::string("\x10\0\0\0abc", 7));
     },
     StatusCode::kInvalidArgument, "raw_input_contents: BYTES element 0 declares 16 bytes but only 3 remain"},
    {"BytesNotAnImage", [](auto& r) { AddInput(r, "BYTES", {1}).mutable_contents()->add_bytes_contents("not a png"); },
     StatusCode::kInvalidArgument, "input 'pixels' image 0: "},
    {"UnknownOutput",
     [](auto& r) {
       AddPixels(r);
       r.add_outputs()->set_name("probabilities");
     },
     StatusCode::kInvalidArgument, "unknown output 'probabilities'; model 'means' has 'scores'"},
    {"ClassificationZero",
     [](auto& r) {
       AddPixels(r);
       AddClassification(r, Int64Parameter(0));
     },
     StatusCode::kInvalidArgument, "parameter 'classification' is 0; ask for at least 1 class"},
    {"ClassificationNotAnInteger",
     [](auto& r) {
       AddPixels(r);
       oip::InferParameter text;
       text.set_string_param("2");
       AddClassification(r, text);
     },
     StatusCode::kInvalidArgument, "must be an int64_param"},
};

INSTANTIATE_TEST_SUITE_P(Cases, OipBadRequestTest, ::testing::ValuesIn(kBadRequests),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ParseModelVersionTest, EmptyIsLatestAndOnlyPositiveIntegersAreVersions) {
  EXPECT_EQ(ParseModelVersion("").value(), 0);
  EXPECT_EQ(ParseModelVersion("12").value(), 12);
  for (const char* bad : {"0", "-1", "1.5", "v1", " 1", "1 ", "99999999999999999999"}) {
    const StatusOr<int64_t> parsed = ParseModelVersion(bad);
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(parsed.status().message().find("is not a positive integer"), std::string::npos) << bad;
  }
}

TEST(BytesElementsTest, RoundTripAndMalformedInput) {
  std::string raw;
  AppendBytesElement("ab", raw);
  AppendBytesElement("", raw);
  AppendBytesElement("xyz", raw);
  EXPECT_EQ(raw.size(), 3 * 4 + 5U);
  const auto elements = SplitBytesElements(raw, 3);
  ASSERT_TRUE(elements.ok());
  EXPECT_EQ(*elements, (std::vector<std::string_view>{"ab", "", "xyz"}));
  EXPECT_NE(SplitBytesElements(raw, 2).status().message().find("more than the 2 BYTES elements"), std::string::npos);
  EXPECT_NE(SplitBytesElements(raw, 4).status().message().find("holds 3 BYTES elements, its shape needs 4"),
            std::string::npos);
  EXPECT_NE(SplitBytesElements(raw.substr(0, 2), 1).status().message().find("cut off in its 4-byte length prefix"),
            std::string::npos);
}

}  // namespace
}  // namespace fovea::server
