// Triton's config.pbtxt: text-format parsing with line:column errors, the fields Fovea does not implement, the checks
// of a configuration on its own and against the loaded model.

#include "server/models/triton_config.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <google/protobuf/util/json_util.h>

namespace fovea::server {
namespace {

bool Contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// A config.pbtxt as Triton's documentation writes one for an ONNX image classifier.
constexpr char kResnetConfig[] = R"(
name: "resnet18"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  {
    name: "input"
    data_type: TYPE_FP32
    format: FORMAT_NCHW
    dims: [ 3, 224, 224 ]
  }
]
output [
  {
    name: "logits"
    data_type: TYPE_FP32
    dims: [ 1000 ]
    label_filename: "labels.txt"
  }
]
dynamic_batching { max_queue_delay_microseconds: 100 }
instance_group [ { count: 1 kind: KIND_CPU } ]
)";

TEST(TritonConfigTest, ParsesTritonsOwnExample) {
  const StatusOr<ParsedTritonConfig> parsed = ParseTritonConfig(kResnetConfig, "resnet18/config.pbtxt");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->config.name(), "resnet18");
  EXPECT_EQ(parsed->config.max_batch_size(), 8);
  ASSERT_EQ(parsed->config.input_size(), 1);
  EXPECT_EQ(parsed->config.input(0).dims_size(), 3);
  EXPECT_EQ(parsed->config.output(0).label_filename(), "labels.txt");
  EXPECT_EQ(parsed->config.dynamic_batching().max_queue_delay_microseconds(), 100u);
  EXPECT_TRUE(parsed->not_implemented.empty());
  EXPECT_TRUE(ValidateTritonConfig(parsed->config, "resnet18").ok());
}

TEST(TritonConfigTest, SyntaxErrorsNameTheFileLineAndColumn) {
  StatusOr<ParsedTritonConfig> parsed = ParseTritonConfig("name: \"m\"\nmax_batch_size: 8\ninput [ { name: }\n", "m/c");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(parsed.status().message().rfind("m/c:3:", 0), 0u) << parsed.status().message();
  parsed = ParseTritonConfig("max_batch_size: \"eight\"\n", "c");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message().rfind("c:1:17:", 0), 0u) << parsed.status().message();
  EXPECT_FALSE(ParseTritonConfig("input { data_type: TYPE_NOPE }", "c").ok()) << "an unknown enum value";
}

TEST(TritonConfigTest, FieldsOutsideTheSubsetAreNamedNotDropped) {
  const StatusOr<ParsedTritonConfig> parsed = ParseTritonConfig(R"(
name: "m"
optimization { execution_accelerators { cpu_execution_accelerator: [ { name: "openvino" } ] } }
model_warmup [ { name: "zeros" batch_size: 1 inputs { key: "x" value: { dims: [ 3 ] zero_data: true } } } ]
response_cache { enable: true }
input [ { name: "x" depth: 2 } ]
)",
                                                                "c");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(Contains(parsed->not_implemented, "ModelConfig.optimization (line 3)"))
      << testing::PrintToString(parsed->not_implemented);
  EXPECT_TRUE(Contains(parsed->not_implemented, "ModelConfig.response_cache (line 5)"))
      << testing::PrintToString(parsed->not_implemented);
  EXPECT_TRUE(Contains(parsed->not_implemented, "ModelInput.depth (line 6)"))
      << testing::PrintToString(parsed->not_implemented);
  EXPECT_TRUE(Contains(parsed->not_implemented, "model_warmup")) << testing::PrintToString(parsed->not_implemented);
  EXPECT_EQ(parsed->config.input(0).name(), "x") << "known fields around a skipped one are kept";
  EXPECT_EQ(parsed->not_implemented.size(), 4u) << testing::PrintToString(parsed->not_implemented);
}

TEST(TritonConfigTest, TheJsonFormParsesToTheSameConfigAsTheTextForm) {
  const StatusOr<ParsedTritonConfig> text = ParseTritonConfig(kResnetConfig, "resnet18/config.pbtxt");
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(text->config, &json).ok());
  const StatusOr<ParsedTritonConfig> parsed = ParseTritonConfigJson(json, "request");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->config.SerializeAsString(), text->config.SerializeAsString()) << json;
  EXPECT_TRUE(parsed->not_implemented.empty()) << testing::PrintToString(parsed->not_implemented);
  // Triton's clients write proto field names and numbers for dims; both forms are read.
  const StatusOr<ParsedTritonConfig> snake = ParseTritonConfigJson(
      R"({"max_batch_size": 4, "input": [{"name": "x", "dims": [3, 224, 224]}], "maxBatchSize": 4})", "request");
  ASSERT_TRUE(snake.ok()) << snake.status().ToString();
  EXPECT_EQ(snake->config.max_batch_size(), 4);
  EXPECT_EQ(snake->config.input(0).dims_size(), 3);
}

TEST(TritonConfigTest, JsonFieldsOutsideTheSubsetAreNamedWithTheirPath) {
  const StatusOr<ParsedTritonConfig> parsed = ParseTritonConfigJson(R"({
    "name": "m", "response_cache": {"enable": true},
    "input": [{"name": "x", "depth": 2}],
    "parameters": {"mean": {"string_value": "0.5", "unit": "none"}}})",
                                                                    "request");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->not_implemented,
            (std::vector<std::string>{"input[0].depth", "parameters[mean].unit", "response_cache"}));
  EXPECT_EQ(parsed->config.input(0).name(), "x") << "known fields around a skipped one are kept";
}

TEST(TritonConfigTest, JsonThatIsNotAModelConfigIsRefusedNamingTheSource) {
  for (const char* text : {"", "[1, 2]", "{\"max_batch_size\": \"eight\"}", "{\"input\": 3}", "{\"name\": }",
                           "{\"input\": [{\"data_type\": \"TYPE_NOPE\"}]}"}) {
    const StatusOr<ParsedTritonConfig> parsed = ParseTritonConfigJson(text, "the request");
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(parsed.status().message().rfind("the request is not a ", 0), 0u) << parsed.status().message();
  }
}

TEST(TritonConfigTest, IgnoredFieldsOfTheSubsetAreListed) {
  const StatusOr<ParsedTritonConfig> parsed = ParseTritonConfig(R"(
input [ { name: "x" reshape: { shape: [ 1 ] } is_shape_tensor: true allow_ragged_batch: true } ]
output [ { name: "a" }, { name: "b" label_filename: "b.txt" } ]
instance_group [ { kind: KIND_GPU gpus: [ 0 ] profile: [ "p" ] } ]
dynamic_batching { priority_levels: 2 preserve_ordering: true default_queue_policy { default_timeout_microseconds: 5 } }
metric_tags { key: "team" value: "x" }
parameters { key: "intra_op_thread_count" value: { string_value: "2" } }
)",
                                                                "c");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  for (const char* field :
       {"input[0].reshape", "input[0].is_shape_tensor", "input[0].allow_ragged_batch",
        "output[1].label_filename (only the first output's)", "instance_group[0].kind KIND_GPU (runs on CPU)",
        "instance_group[0].gpus", "instance_group[0].profile", "dynamic_batching.priority_levels",
        "dynamic_batching.preserve_ordering", "dynamic_batching.default_queue_policy.default_timeout_microseconds",
        "metric_tags", "parameters[intra_op_thread_count]"}) {
    EXPECT_TRUE(Contains(parsed->not_implemented, field))
        << field << " in " << testing::PrintToString(parsed->not_implemented);
  }
}

Status Validate(const std::string& text, const std::string& folder = "m") {
  const StatusOr<ParsedTritonConfig> parsed = ParseTritonConfig(text, "c");
  if (!parsed.ok()) return parsed.status();
  return ValidateTritonConfig(parsed->config, folder);
}

TEST(TritonConfigTest, ValidationNamesTheFieldAndValue) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"name: \"other\"", "name: 'other' differs from the model's folder name 'm'"},
      {"platform: \"tensorflow_savedmodel\"", "platform: 'tensorflow_savedmodel' is not served"},
      {"backend: \"python\"", "backend: 'python' is not served"},
      {"max_batch_size: -1", "max_batch_size: -1 is outside [0, 65536]"},
      {"max_batch_size: 4 dynamic_batching { preferred_batch_size: 8 }",
       "preferred_batch_size: 8 is outside [1, max_batch_size 4]"},
      {"version_policy { latest { num_versions: 0 } }", "num_versions: must be at least 1"},
      {"version_policy { specific { } }", "version_policy.specific: lists no version"},
      {"version_policy { }", "set one of latest, all or specific"},
      {"parameters { key: \"mean\" value: { string_value: \"0.5,x\" } }", "parameters[mean]: '0.5,x' is not"},
      {"parameters { key: \"std\" value: { string_value: \"0\" } }", "positive numbers"},
      {"parameters { key: \"channel_order\" value: { string_value: \"GRB\" } }", "not one of RGB, BGR"},
      {"parameters { key: \"resize_mode\" value: { string_value: \"pad\" } }", "not one of stretch, crop"},
      {"parameters { key: \"precision\" value: { string_value: \"fp16\" } }", "not one of fp32, bf16"},
      {"parameters { key: \"scores\" value: { string_value: \"relu\" } }", "not one of softmax, sigmoid, none"},
      {"parameters { key: \"compute_threads\" value: { string_value: \"0\" } }", "not an integer in [1, 1024]"},
      {"instance_group [ { count: 70 } ]", "over 64"},
      {"input [ { dims: [ 3 ] } ]", "an input has no name"},
  };
  for (const Case& c : cases) {
    const Status status = Validate(c.text);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(status.message().find(c.message), std::string::npos) << c.text << " → " << status.message();
  }
  EXPECT_TRUE(Validate("backend: \"onnxruntime\"").ok());
  EXPECT_TRUE(Validate("").ok()) << "an empty config.pbtxt means the model and the flags decide";
}

const std::vector<TensorSignature> kInputs = {{"input", inference::TYPE_FP32, {-1, 3, 224, 224}}};
const std::vector<TensorSignature> kOutputs = {{"logits", inference::TYPE_FP32, {-1, 1000}},
                                               {"argmax", inference::TYPE_INT64, {-1}}};

Status Check(const std::string& text) {
  const StatusOr<ParsedTritonConfig> parsed = ParseTritonConfig(text, "c");
  if (!parsed.ok()) return parsed.status();
  return CheckConfigAgainstModel(parsed->config, kInputs, kOutputs);
}

TEST(TritonConfigTest, DimsAndTypesAreCheckedAgainstTheModel) {
  EXPECT_TRUE(Check(kResnetConfig).ok()) << Check(kResnetConfig).ToString();
  EXPECT_TRUE(Check("max_batch_size: 4 input [ { name: \"input\" dims: [ 3, -1, -1 ] } ]").ok());
  EXPECT_TRUE(Check("max_batch_size: 0 input [ { name: \"input\" dims: [ 1, 3, 224, 224 ] } ]").ok())
      << "without batching the dims include the batch";
  EXPECT_TRUE(Check("output [ { name: \"argmax\" } ]").ok()) << "no dims: nothing to check";

  Status status = Check("max_batch_size: 8 input [ { name: \"input\" dims: [ 3, 299, 299 ] } ]");
  EXPECT_EQ(status.message(),
            "input 'input': config.pbtxt dims [3, 299, 299] but the model has [3, 224, 224] (without the batch "
            "dimension, as max_batch_size > 0)");
  status = Check("max_batch_size: 0 input [ { name: \"input\" dims: [ 3, 224, 224 ] } ]");
  EXPECT_NE(status.message().find("with the batch dimension, as max_batch_size is 0"), std::string::npos)
      << status.message();
  status = Check("max_batch_size: 8 output [ { name: \"logits\" dims: [ 10 ] } ]");
  EXPECT_NE(status.message().find("output 'logits': config.pbtxt dims [10] but the model has [1000]"),
            std::string::npos)
      << status.message();
  status = Check("output [ { name: \"probabilities\" } ]");
  EXPECT_EQ(status.message(), "output 'probabilities' is not in the model; its outputs: logits, argmax");
  status = Check("output [ { name: \"argmax\" data_type: TYPE_FP32 } ]");
  EXPECT_EQ(status.message(), "output 'argmax': data_type TYPE_FP32 but the model's is TYPE_INT64");
}

}  // namespace
}  // namespace fovea::server
