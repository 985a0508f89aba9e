// The op table: each supported op maps to its engine op with the node's attributes; unsupported features are errors
// that name the node, the op and what is supported.

#include "modelio/op_table.h"

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/ops/activation.h"
#include "engine/ops/conv.h"
#include "engine/ops/pool.h"
#include "engine/ops/softmax.h"
#include "tests/modelio/onnx_builder.h"

namespace fovea::modelio {
namespace {

using ::testing::HasSubstr;

onnx::NodeProto MakeNode(const std::string& op_type, const std::string& name = "n",
                         const std::vector<std::string>& outputs = {"y"}) {
  onnx::NodeProto node;
  node.set_op_type(op_type);
  node.set_name(name);
  // Not add_input("x"): GCC 12 at -O3 reports a false -Wrestrict positive for it.
  node.mutable_input()->Add()->assign(1, 'x');
  for (const auto& out : outputs) node.add_output(out);
  return node;
}

template <typename T>
const T& As(const std::shared_ptr<const engine::Op>& op) {
  const T* typed = dynamic_cast<const T*>(op.get());
  EXPECT_NE(typed, nullptr) << "op is " << op->type();
  return *typed;
}

// The ops the "Supported ops" table of docs/model-format.md names in its first column (several per row, comma
// separated, each in backticks or plain).
std::set<std::string> DocumentedOps() {
  std::ifstream doc(std::string(FOVEA_SOURCE_DIR) + "/docs/model-format.md");
  EXPECT_TRUE(doc) << "cannot open docs/model-format.md";
  std::set<std::string> ops;
  std::string line;
  bool in_table = false;
  while (std::getline(doc, line)) {
    if (line.starts_with("### Supported ops")) in_table = true;
    if (!in_table) continue;
    if (line.starts_with("## ")) break;
    if (!line.starts_with("| ") || line.starts_with("| op ") || line.starts_with("| ---")) continue;
    const std::string first_cell = line.substr(2, line.find(" |", 2) - 2);
    std::stringstream names(first_cell);
    std::string name;
    while (std::getline(names, name, ',')) {
      std::erase(name, '`');
      std::erase(name, ' ');
      if (!name.empty()) ops.insert(name);
    }
  }
  return ops;
}

TEST(OpTableTest, SupportedOpsAreSortedAndDocumented) {
  const auto ops = SupportedOps();
  EXPECT_TRUE(std::is_sorted(ops.begin(), ops.end()));
  // The ops every exported CNN of the first round used must never drop out of the table. (clang-format would put each
  // name on a line of its own.)
  // clang-format off
  for (const char* op : {"Conv", "Relu", "LeakyRelu", "Clip", "Sigmoid", "MaxPool", "AveragePool",
                         "GlobalAveragePool", "GlobalMaxPool", "BatchNormalization", "Gemm", "MatMul", "Add", "Sub",
                         "Mul", "Div", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Softmax", "LogSoftmax", "Concat",
                         "Dropout", "Identity", "Constant", "Shape", "Gather", "Cast", "Pad", "QuantizeLinear",
                         "DequantizeLinear"}) {
    // clang-format on
    EXPECT_TRUE(std::binary_search(ops.begin(), ops.end(), op)) << op;
  }
  // docs/model-format.md lists exactly the ops of the table: a new op is documented in the same change.
  const std::set<std::string> documented = DocumentedOps();
  for (const auto& op : ops) EXPECT_TRUE(documented.contains(op)) << op << " is supported but not documented";
  for (const auto& op : documented) {
    EXPECT_TRUE(std::binary_search(ops.begin(), ops.end(), op)) << op << " is documented but not supported";
  }
}

TEST(OpTableTest, EveryNonConstantOpCreates) {
  for (const auto& type : SupportedOps()) {
    if (type == "Constant") continue;
    onnx::NodeProto node = MakeNode(type);
    if (type == "Concat") testing::SetInt(node, "axis", 0);
    if (type == "Cast") testing::SetInt(node, "to", onnx::TensorProto::FLOAT);
    if (type == "MaxPool" || type == "AveragePool") testing::SetInts(node, "kernel_shape", {2, 2});
    if (type == "DepthToSpace" || type == "SpaceToDepth") testing::SetInt(node, "blocksize", 2);
    if (type == "LRN") testing::SetInt(node, "size", 3);
    auto op = CreateOp(node, 13);
    ASSERT_TRUE(op.ok()) << type << ": " << op.status().ToString();
    EXPECT_EQ((*op)->type(), type);
  }
}

TEST(OpTableTest, ConvAttributesReachTheParams) {
  onnx::NodeProto node = MakeNode("Conv");
  testing::SetInts(node, "strides", {2, 1});
  testing::SetInts(node, "pads", {1, 2, 3, 4});
  testing::SetInt(node, "group", 4);
  testing::SetString(node, "auto_pad", "NOTSET");
  auto op = CreateOp(node, 11);
  ASSERT_TRUE(op.ok()) << op.status().ToString();
  const auto& params = As<engine::ops::Conv>(*op).params();
  EXPECT_EQ(params.group, 4);
  EXPECT_EQ(params.window.strides, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(params.window.pads_begin, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(params.window.pads_end, (std::vector<int64_t>{3, 4}));
}

TEST(OpTableTest, ClipBoundsComeFromAttributesBeforeOpset11) {
  onnx::NodeProto node = MakeNode("Clip");
  testing::SetFloat(node, "min", -1.0f);
  testing::SetFloat(node, "max", 6.0f);
  auto op = CreateOp(node, 9);
  ASSERT_TRUE(op.ok());
  EXPECT_EQ(As<engine::ops::Activation>(*op).params().alpha, -1.0f);
  EXPECT_EQ(As<engine::ops::Activation>(*op).params().beta, 6.0f);
  auto unbounded = CreateOp(MakeNode("Clip"), 13);
  ASSERT_TRUE(unbounded.ok());
  EXPECT_EQ(As<engine::ops::Activation>(*unbounded).params().beta, std::numeric_limits<float>::max());
}

TEST(OpTableTest, SoftmaxIsLegacyBeforeOpset13) {
  auto legacy = CreateOp(MakeNode("Softmax"), 11);
  ASSERT_TRUE(legacy.ok());
  EXPECT_TRUE(As<engine::ops::Softmax>(*legacy).params().legacy_2d);
  EXPECT_EQ(As<engine::ops::Softmax>(*legacy).params().axis, 1);
  auto modern = CreateOp(MakeNode("LogSoftmax"), 13);
  ASSERT_TRUE(modern.ok());
  EXPECT_FALSE(As<engine::ops::Softmax>(*modern).params().legacy_2d);
  EXPECT_EQ(As<engine::ops::Softmax>(*modern).params().axis, -1);
  EXPECT_TRUE(As<engine::ops::Softmax>(*modern).params().log);
}

struct RejectedNodeCase {
  std::string description;
  onnx::NodeProto node;
  std::string expected_message;
};

std::vector<RejectedNodeCase> RejectedNodes() {
  std::vector<RejectedNodeCase> cases;
  onnx::NodeProto storage_order = MakeNode("MaxPool", "pool");
  testing::SetInt(storage_order, "storage_order", 1);
  cases.push_back({"storage_order", storage_order, "node 'pool' (MaxPool): storage_order=1 is not supported"});
  cases.push_back({"indices", MakeNode("MaxPool", "pool", {"y", "indices"}), "node 'pool' (MaxPool): output 1"});
  onnx::NodeProto auto_pad = MakeNode("Conv", "conv");
  testing::SetString(auto_pad, "auto_pad", "SAME_MIDDLE");
  cases.push_back({"auto_pad", auto_pad, "auto_pad 'SAME_MIDDLE' is not supported; supported: NOTSET"});
  onnx::NodeProto cast = MakeNode("Cast", "to_double");
  testing::SetInt(cast, "to", onnx::TensorProto::DOUBLE);
  cases.push_back({"cast", cast, "node 'to_double' (Cast): cast to DOUBLE is not supported; supported: FLOAT, INT64"});
  onnx::NodeProto training = MakeNode("BatchNormalization", "bn");
  testing::SetInt(training, "training_mode", 1);
  cases.push_back({"training", training, "node 'bn' (BatchNormalization): training_mode=1"});
  cases.push_back({"mask", MakeNode("Dropout", "drop", {"y", "mask"}), "output 1 ('mask', mask)"});
  onnx::NodeProto domain = MakeNode("Foo", "custom");
  domain.set_domain("com.example");
  cases.push_back({"domain", domain, "node 'custom' (com.example::Foo): unsupported op domain"});
  cases.push_back({"op", MakeNode("Einsum", ""), "node producing 'y' (Einsum): unsupported op; supported ops:"});
  onnx::NodeProto wrong_type = MakeNode("Gemm", "fc");
  testing::SetString(wrong_type, "alpha", "big");
  cases.push_back({"type", wrong_type, "node 'fc' (Gemm): attribute 'alpha' must be FLOAT, not STRING"});
  return cases;
}

TEST(OpTableTest, UnsupportedFeaturesAreNamed) {
  for (const auto& c : RejectedNodes()) {
    auto op = CreateOp(c.node, 13);
    ASSERT_FALSE(op.ok()) << c.description;
    EXPECT_THAT(op.status().message(), HasSubstr(c.expected_message)) << c.description;
  }
}

}  // namespace
}  // namespace fovea::modelio
