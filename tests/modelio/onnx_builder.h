#pragma once
// Builds small ONNX models with the protobuf API for modelio tests, so that each test states its model in a few lines.

#include <cstdint>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "engine/tensor.h"

namespace fovea::modelio::testing {

// A ModelProto under construction. Dims of -1 become the named dimension "N".
class OnnxBuilder {
 public:
  explicit OnnxBuilder(int64_t opset = 13);

  OnnxBuilder& Input(const std::string& name, const std::vector<int64_t>& dims,
                     int32_t elem_type = onnx::TensorProto::FLOAT);
  OnnxBuilder& Output(const std::string& name, const std::vector<int64_t>& dims,
                      int32_t elem_type = onnx::TensorProto::FLOAT);
  OnnxBuilder& Initializer(const std::string& name, const engine::Tensor& value);
  OnnxBuilder& Metadata(const std::string& key, const std::string& value);
  // Appends a node of the default domain and returns it for adding attributes.
  onnx::NodeProto& Node(const std::string& op_type, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name = "");

  onnx::ModelProto& proto() { return model_; }
  std::string Bytes() const { return model_.SerializeAsString(); }

 private:
  onnx::ModelProto model_;
};

void SetInt(onnx::NodeProto& node, const std::string& name, int64_t value);
void SetFloat(onnx::NodeProto& node, const std::string& name, float value);
void SetString(onnx::NodeProto& node, const std::string& name, const std::string& value);
void SetInts(onnx::NodeProto& node, const std::string& name, const std::vector<int64_t>& values);

// Deterministic pseudo-random floats in [-1, 1) for weights and inputs.
engine::Tensor RandomTensor(const engine::Shape& shape, uint32_t seed);

}  // namespace fovea::modelio::testing
