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

namespace {

// Σ weights·outputs in double: the scalar loss whose gradient BackwardMatchesFiniteDifferences checks.
StatusOr<double> WeightedLoss(const Op& op, const std::vector<Tensor>& inputs, const std::vector<Tensor>& weights) {
  FOVEA_ASSIGN_OR_RETURN(auto outputs, op.Reference(inputs));
  double loss = 0.0;
  for (size_t o = 0; o < outputs.size() && o < weights.size(); ++o) {
    const auto y = outputs[o].floats();
    const auto w = weights[o].floats();
    for (size_t i = 0; i < y.size(); ++i) loss += static_cast<double>(y[i]) * w[i];
  }
  return loss;
}

}  // namespace

::testing::AssertionResult BackwardMatchesFiniteDifferences(const Op& op, const std::vector<Tensor>& inputs,
                                                            const std::vector<size_t>& differentiable_inputs,
                                                            float step, float tolerance, int64_t max_elements) {
  auto outputs = op.Reference(inputs);
  if (!outputs.ok()) return ::testing::AssertionFailure() << "reference: " << outputs.status().ToString();
  std::vector<Tensor> weights;
  for (size_t o = 0; o < outputs->size(); ++o) {
    weights.push_back(RandomTensor((*outputs)[o].shape(), 1000 + static_cast<uint32_t>(o)));
  }
  auto grads = op.Backward(inputs, *outputs, weights, {});
  if (!grads.ok()) return ::testing::AssertionFailure() << "backward: " << grads.status().ToString();
  for (size_t index : differentiable_inputs) {
    if (index >= grads->size() || !(*grads)[index].has_data()) {
      return ::testing::AssertionFailure() << "backward returned no gradient for input " << index;
    }
    const Tensor& analytic = (*grads)[index];
    if (analytic.shape() != inputs[index].shape()) {
      return ::testing::AssertionFailure()
             << "gradient of input " << index << " has shape " << ShapeToString(analytic.shape()) << ", the input "
             << ShapeToString(inputs[index].shape());
    }
    const int64_t n = inputs[index].num_elements();
    const int64_t stride = std::max<int64_t>(1, n / max_elements);
    for (int64_t e = 0; e < n; e += stride) {
      std::vector<Tensor> perturbed = inputs;
      perturbed[index] = inputs[index].Clone();
      float& x = perturbed[index].data<float>()[e];
      const float original = x;
      x = original + step;
      auto plus = WeightedLoss(op, perturbed, weights);
      x = original - step;
      auto minus = WeightedLoss(op, perturbed, weights);
      if (!plus.ok() || !minus.ok()) return ::testing::AssertionFailure() << "reference failed when perturbed";
      const double numeric = (*plus - *minus) / (2.0 * step);
      const double got = analytic.data<float>()[e];
      if (std::abs(numeric - got) > tolerance * std::max(1.0, std::abs(numeric))) {
        return ::testing::AssertionFailure() << op.type() << ": d/d input " << index << " element " << e << " is "
                                             << got << ", finite differences give " << numeric;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

Tensor Floats(const Shape& shape, std::vector<float> values) { return Tensor::FromFloats(shape, values); }
Tensor Int64s(const Shape& shape, std::vector<int64_t> values) { return Tensor::FromInt64s(shape, values); }

ops::PoolParams PoolingParams(ops::PoolParams::Kind kind, std::vector<int64_t> kernel, std::vector<int64_t> strides,
                              std::vector<int64_t> pads, bool ceil, bool include_pad, std::vector<int64_t> dilations) {
  ops::PoolParams p;
  p.kind = kind;
  p.window.kernel = std::move(kernel);
  p.window.strides = std::move(strides);
  if (!pads.empty()) {
    p.window.pads_begin = {pads[0], pads[1]};
    p.window.pads_end = {pads[2], pads[3]};
  }
  p.window.ceil_mode = ceil;
  p.window.dilations = std::move(dilations);
  p.count_include_pad = include_pad;
  return p;
}

ops::PoolParams GlobalPooling(ops::PoolParams::Kind kind) {
  ops::PoolParams p;
  p.kind = kind;
  p.global = true;
  return p;
}

}  // namespace fovea::engine::testing
