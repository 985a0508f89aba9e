#include "tests/modelio/onnx_builder.h"

#include <random>

#include "modelio/tensor_proto.h"

namespace fovea::modelio::testing {
namespace {

constexpr int64_t kIrVersion = 8;  // what ONNX 1.12 writes

void SetValueInfo(onnx::ValueInfoProto& info, const std::string& name, const std::vector<int64_t>& dims,
                  int32_t elem_type) {
  info.set_name(name);
  auto* tensor_type = info.mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(elem_type);
  auto* shape = tensor_type->mutable_shape();
  for (int64_t d : dims) {
    auto* dim = shape->add_dim();
    if (d < 0) {
      dim->set_dim_param("N");
    } else {
      dim->set_dim_value(d);
    }
  }
}

onnx::AttributeProto& AddAttribute(onnx::NodeProto& node, const std::string& name,
                                   onnx::AttributeProto::AttributeType type) {
  auto* attribute = node.add_attribute();
  attribute->set_name(name);
  attribute->set_type(type);
  return *attribute;
}

}  // namespace

OnnxBuilder::OnnxBuilder(int64_t opset) {
  model_.set_ir_version(kIrVersion);
  model_.set_producer_name("fovea-modelio-tests");
  auto* import = model_.add_opset_import();
  import->set_domain("");
  import->set_version(opset);
  model_.mutable_graph()->set_name("test");
}

OnnxBuilder& OnnxBuilder::Input(const std::string& name, const std::vector<int64_t>& dims, int32_t elem_type) {
  SetValueInfo(*model_.mutable_graph()->add_input(), name, dims, elem_type);
  return *this;
}

OnnxBuilder& OnnxBuilder::Output(const std::string& name, const std::vector<int64_t>& dims, int32_t elem_type) {
  SetValueInfo(*model_.mutable_graph()->add_output(), name, dims, elem_type);
  return *this;
}

OnnxBuilder& OnnxBuilder::Initializer(const std::string& name, const engine::Tensor& value) {
  *model_.mutable_graph()->add_initializer() = TensorToProto(value, name);
  return *this;
}

OnnxBuilder& OnnxBuilder::Metadata(const std::string& key, const std::string& value) {
  auto* entry = model_.add_metadata_props();
  entry->set_key(key);
  entry->set_value(value);
  return *this;
}

onnx::NodeProto& OnnxBuilder::Node(const std::string& op_type, const std::vector<std::string>& inputs,
                                   const std::vector<std::string>& outputs, const std::string& name) {
  auto* node = model_.mutable_graph()->add_node();
  node->set_op_type(op_type);
  node->set_name(name);
  for (const auto& in : inputs) node->add_input(in);
  for (const auto& out : outputs) node->add_output(out);
  return *node;
}

void SetInt(onnx::NodeProto& node, const std::string& name, int64_t value) {
  AddAttribute(node, name, onnx::AttributeProto::INT).set_i(value);
}

void SetFloat(onnx::NodeProto& node, const std::string& name, float value) {
  AddAttribute(node, name, onnx::AttributeProto::FLOAT).set_f(value);
}

void SetString(onnx::NodeProto& node, const std::string& name, const std::string& value) {
  AddAttribute(node, name, onnx::AttributeProto::STRING).set_s(value);
}

void SetInts(onnx::NodeProto& node, const std::string& name, const std::vector<int64_t>& values) {
  auto& attribute = AddAttribute(node, name, onnx::AttributeProto::INTS);
  for (int64_t v : values) attribute.add_ints(v);
}

engine::Tensor RandomTensor(const engine::Shape& shape, uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> distribution(-1.0f, 1.0f);
  engine::Tensor tensor(engine::DataType::kFloat32, shape);
  for (float& v : tensor.floats()) v = distribution(generator);
  return tensor;
}

}  // namespace fovea::modelio::testing
