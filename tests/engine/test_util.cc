#include "tests/engine/test_util.h"

#include <algorithm>
#include <cmath>

#include "engine/model.h"

namespace fovea::engine::testing {

Tensor RandomTensor(const Shape& shape, uint32_t seed, float low, float high) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> distribution(low, high);
  Tensor t(DataType::kFloat32, shape);
  for (float& v : t.floats()) v = distribution(generator);
  return t;
}

Operand Runtime(Tensor t) { return {std::move(t), false}; }
Operand Constant(Tensor t) { return {std::move(t), true}; }
Operand Absent() { return {Tensor(), false}; }

Graph OneNodeGraph(std::shared_ptr<const Op> op, const std::vector<Operand>& operands) {
  Graph graph;
  Node node;
  node.name = "node";
  node.op = std::move(op);
  for (size_t i = 0; i < operands.size(); ++i) {
    const std::string name = "in" + std::to_string(i);
    const Tensor& t = operands[i].tensor;
    if (!t.has_data()) {
      node.inputs.emplace_back();
      continue;
    }
    node.inputs.push_back(name);
    if (operands[i].constant) {
      graph.initializers[name] = t;
    } else {
      graph.inputs.push_back({name, t.dtype(), t.shape()});
    }
  }
  node.outputs = {"out"};
  graph.nodes.push_back(std::move(node));
  graph.outputs.push_back({"out", DataType::kFloat32, {}});
  return graph;
}

StatusOr<std::vector<Tensor>> RunSession(const Graph& graph, const std::vector<Tensor>& inputs, bool optimize) {
  FOVEA_ASSIGN_OR_RETURN(auto model, Model::Create(graph, {}, {.optimize = optimize}));
  FOVEA_ASSIGN_OR_RETURN(auto session, Session::Create(model));
  return session->Run(inputs);
}

::testing::AssertionResult TensorsNear(const Tensor& expected, const Tensor& actual, float tolerance) {
  if (expected.shape() != actual.shape()) {
    return ::testing::AssertionFailure() << "shape " << ShapeToString(actual.shape()) << " != expected "
                                         << ShapeToString(expected.shape());
  }
  if (expected.dtype() != actual.dtype()) return ::testing::AssertionFailure() << "dtypes differ";
  if (expected.dtype() == DataType::kInt64) {
    for (int64_t i = 0; i < expected.num_elements(); ++i) {
      if (expected.data<int64_t>()[i] != actual.data<int64_t>()[i]) {
        return ::testing::AssertionFailure() << "element " << i << ": " << actual.data<int64_t>()[i] << " != expected "
                                             << expected.data<int64_t>()[i];
      }
    }
    return ::testing::AssertionSuccess();
  }
  if (expected.dtype() == DataType::kUint8 || expected.dtype() == DataType::kInt8) {
    const auto value = [](const Tensor& t, int64_t i) {
      return t.dtype() == DataType::kUint8 ? int{t.data<uint8_t>()[i]} : int{t.data<int8_t>()[i]};
    };
    for (int64_t i = 0; i < expected.num_elements(); ++i) {
      if (std::abs(value(expected, i) - value(actual, i)) > kQuantizedStepTolerance) {
        return ::testing::AssertionFailure()
               << "element " << i << ": " << value(actual, i) << " != expected " << value(expected, i);
      }
    }
    return ::testing::AssertionSuccess();
  }
  const auto e = expected.floats();
  const auto a = actual.floats();
  for (size_t i = 0; i < e.size(); ++i) {
    const float bound = tolerance * std::max(1.0f, std::fabs(e[i]));
    // Written so that NaN in either tensor fails.
    if (!(std::fabs(e[i] - a[i]) <= bound) && !(std::isinf(e[i]) && e[i] == a[i])) {
      return ::testing::AssertionFailure() << "element " << i << " of " << ShapeToString(expected.shape()) << ": "
                                           << a[i] << " != expected " << e[i] << " (tolerance " << bound << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult EmitMatchesReference(std::shared_ptr<const Op> op, const std::vector<Operand>& operands,
                                                float tolerance) {
  std::vector<Tensor> all, runtime;
  for (const auto& operand : operands) {
    all.push_back(operand.tensor);
    if (operand.tensor.has_data() && !operand.constant) runtime.push_back(operand.tensor);
  }
  auto expected = op->Reference(all);
  if (!expected.ok()) return ::testing::AssertionFailure() << "reference: " << expected.status().ToString();
  auto actual = RunSession(OneNodeGraph(op, operands), runtime);
  if (!actual.ok()) return ::testing::AssertionFailure() << "session: " << actual.status().ToString();
  return TensorsNear((*expected)[0], (*actual)[0], tolerance);
}

Tensor Floats(const Shape& shape, std::vector<float> values) { return Tensor::FromFloats(shape, values); }
Tensor Int64s(const Shape& shape, std::vector<int64_t> values) { return Tensor::FromInt64s(shape, values); }

}  // namespace fovea::engine::testing
