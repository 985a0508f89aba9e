// ONNX backend conformance: runs every case of the ONNX test data (one model.onnx plus test_data_set_*/input_*.pb and
// output_*.pb per folder) through modelio import, the inference passes and engine::Session, and compares with the
// expected outputs as ONNX's backend test does: |actual - expected| <= atol + rtol * |expected|. The unoptimized
// graph's reference kernels (engine::RunReference, the oracle of the engine tests) must match the same way.
//
// Usage: onnx_conformance [--filter=SUBSTRING] [--min-pass=N] DIR...   (each DIR holds case folders; prints one line
// per case, the skips grouped by reason and by op, and "N passed, M failed, K skipped"; exits non-zero when any case
// failed or fewer than N passed, so an op that regresses into a skip fails CI instead of hiding).
//
// Skip rules, each printed with the case:
//   1. "opset N": the model imports a default-domain opset outside modelio's supported range (9-17).
//   2. "unsupported op X": a node's op is not in modelio::SupportedOps() (or is outside the default domain).
//   3. "dtype ...": a runtime input or an output is not float32 (int64 outputs computed at load time are fine).
//   4. "only 2-D spatial ops": a Conv or pooling node reads a graph input whose rank is not 4.
//   5. "empty input": a runtime input has a zero-sized dimension, which Session rejects by design.
//   6. "unsupported feature: ...": import or plan compilation returned UNIMPLEMENTED (e.g. MaxPool's Indices
//      output, training-mode BatchNormalization, Gather on runtime data); the engine's own message is printed.
// Everything else that does not match the expected outputs is a failure.
// Parameter inputs: ONNX node tests feed parameters (Reshape's shape, Squeeze's axes, Clip's bounds, Dropout's
// ratio) as graph inputs. Fovea takes parameters at load time, as exported models carry them, so every int64 input
// and every float32 scalar input is baked into an initializer holding the data set's value before import. So is every
// uint8/int8 input (quantized data and zero points: Fovea's runtime inputs are float32; a quantized tensor only
// flows inside a graph), which then folds through the op's reference kernel, every scale input of a
// QuantizeLinear/DequantizeLinear node, and Resize's roi/scales/sizes and Upsample's scales. uint8/int8 outputs compare
// exactly.

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <onnx/onnx_pb.h>

#include "engine/session.h"
#include "modelio/onnx_import.h"
#include "modelio/op_table.h"
#include "modelio/tensor_proto.h"

namespace fovea {
namespace {

namespace fs = std::filesystem;
using engine::Tensor;

// Tolerances of ONNX's backend test runner (onnx/backend/test/runner).
constexpr double kRelativeTolerance = 1e-3;
constexpr double kAbsoluteTolerance = 1e-5;
constexpr int64_t kMaxTestTensorElements = int64_t{1} << 28;
constexpr size_t kImageRank = 4;

enum class Outcome { kPass, kFail, kSkip };

struct CaseResult {
  Outcome outcome = Outcome::kPass;
  std::string reason;
};

// The skip rules of the header comment, by the prefix their reasons start with.
constexpr std::array<std::string_view, 6> kSkipRules = {
    "opset", "unsupported op", "dtype", "only 2-D spatial ops", "empty input", "unsupported feature"};

CaseResult Fail(std::string reason) { return {Outcome::kFail, std::move(reason)}; }
CaseResult Skip(std::string reason) { return {Outcome::kSkip, std::move(reason)}; }

StatusOr<std::string> ReadFile(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return NotFound("cannot open " + path.string());
  std::ostringstream bytes;
  bytes << file.rdbuf();
  return bytes.str();
}

StatusOr<onnx::TensorProto> ReadTensorProto(const fs::path& path) {
  FOVEA_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes)) return InvalidArgument("cannot parse " + path.string());
  return proto;
}

// The graph inputs that are fed at run time (not initializers), in order: input_<i>.pb belongs to the i-th.
std::vector<const onnx::ValueInfoProto*> RuntimeInputs(const onnx::GraphProto& graph) {
  std::set<std::string> initializers;
  for (const auto& init : graph.initializer()) initializers.insert(init.name());
  std::vector<const onnx::ValueInfoProto*> inputs;
  for (const auto& input : graph.input()) {
    if (!initializers.contains(input.name())) inputs.push_back(&input);
  }
  return inputs;
}

int32_t ElementType(const onnx::ValueInfoProto& value) { return value.type().tensor_type().elem_type(); }

// True for a graph input that a node reads as a parameter real models carry as an initializer: the scale (input 1)
// of QuantizeLinear/DequantizeLinear, per-axis scales included; Resize's roi, scales and sizes (inputs 1-3) and
// Upsample's scales (input 1).
bool IsLoadTimeParameter(const onnx::GraphProto& graph, const std::string& name) {
  for (const auto& node : graph.node()) {
    const bool qdq = node.op_type() == "QuantizeLinear" || node.op_type() == "DequantizeLinear";
    const bool resample = node.op_type() == "Resize" || node.op_type() == "Upsample";
    const int last_parameter = qdq ? 1 : resample ? 3 : 0;
    for (int i = 1; i <= last_parameter && i < node.input_size(); ++i) {
      if (node.input(i) == name) return true;
    }
  }
  return false;
}

bool IsParameterInput(const onnx::ValueInfoProto& value) {
  const bool is_scalar = value.type().tensor_type().has_shape() && value.type().tensor_type().shape().dim_size() == 0;
  return ElementType(value) == onnx::TensorProto::INT64 || ElementType(value) == onnx::TensorProto::UINT8 ||
         ElementType(value) == onnx::TensorProto::INT8 || (ElementType(value) == onnx::TensorProto::FLOAT && is_scalar);
}

std::optional<std::string> OpsetSkipReason(const onnx::ModelProto& model) {
  for (const auto& import : model.opset_import()) {
    if (!import.domain().empty() && import.domain() != "ai.onnx") continue;
    if (import.version() < modelio::kMinSupportedOpset || import.version() > modelio::kMaxSupportedOpset) {
      return "opset " + std::to_string(import.version()) +
             " (supported: " + std::to_string(modelio::kMinSupportedOpset) + "-" +
             std::to_string(modelio::kMaxSupportedOpset) + ")";
    }
  }
  return std::nullopt;
}

std::string TypeName(const onnx::ValueInfoProto& value) {
  if (!value.type().has_tensor_type()) return "not a tensor";
  return modelio::OnnxDataTypeName(ElementType(value));
}

// Applies skip rules 1-4 (see the top of this file); an empty optional means the case runs.
std::optional<std::string> StaticSkipReason(const onnx::ModelProto& model) {
  if (auto reason = OpsetSkipReason(model)) return reason;
  const auto supported = modelio::SupportedOps();
  const onnx::GraphProto& graph = model.graph();
  for (const auto& node : graph.node()) {
    const bool default_domain = node.domain().empty() || node.domain() == "ai.onnx";
    if (!default_domain || !std::binary_search(supported.begin(), supported.end(), node.op_type())) {
      return "unsupported op " + (default_domain ? "" : node.domain() + "::") + node.op_type();
    }
  }
  for (const auto* input : RuntimeInputs(graph)) {
    if (!IsParameterInput(*input) && ElementType(*input) != onnx::TensorProto::FLOAT) {
      return "dtype: input '" + input->name() + "' is " + TypeName(*input);
    }
  }
  for (const auto& output : graph.output()) {
    const std::set<int32_t> kComparable = {onnx::TensorProto::FLOAT, onnx::TensorProto::INT64, onnx::TensorProto::UINT8,
                                           onnx::TensorProto::INT8};
    if (!kComparable.contains(ElementType(output))) {
      return "dtype: output '" + output.name() + "' is " + TypeName(output);
    }
  }
  static const std::set<std::string> kSpatialOps = {"Conv", "MaxPool", "AveragePool", "GlobalAveragePool",
                                                    "GlobalMaxPool"};
  std::map<std::string, int> input_ranks;
  for (const auto& input : graph.input()) input_ranks[input.name()] = input.type().tensor_type().shape().dim_size();
  for (const auto& node : graph.node()) {
    auto it = node.input_size() > 0 ? input_ranks.find(node.input(0)) : input_ranks.end();
    if (kSpatialOps.contains(node.op_type()) && it != input_ranks.end() && it->second != kImageRank) {
      return "only 2-D spatial ops (" + node.op_type() + " on a rank-" + std::to_string(it->second) + " input)";
    }
  }
  return std::nullopt;
}

bool Close(double actual, double expected) {
  if (std::isnan(expected)) return std::isnan(actual);
  if (std::isinf(expected)) return actual == expected;
  return std::abs(actual - expected) <= kAbsoluteTolerance + kRelativeTolerance * std::abs(expected);
}

double ElementAsDouble(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case engine::DataType::kFloat32:
      return t.data<float>()[i];
    case engine::DataType::kInt64:
      return static_cast<double>(t.data<int64_t>()[i]);
    case engine::DataType::kUint8:
      return t.data<uint8_t>()[i];
    case engine::DataType::kInt8:
      return t.data<int8_t>()[i];
    case engine::DataType::kBool:
      return t.data<uint8_t>()[i];
  }
  return 0.0;
}

// Empty when `actual` matches `expected`; otherwise what differs.
std::string Compare(const Tensor& actual, const Tensor& expected, const std::string& name) {
  if (actual.shape() != expected.shape()) {
    return "output '" + name + "' has shape " + engine::ShapeToString(actual.shape()) + ", expected " +
           engine::ShapeToString(expected.shape());
  }
  if (actual.dtype() != expected.dtype()) {
    return "output '" + name + "' is " + engine::DataTypeName(actual.dtype()) + ", expected " +
           engine::DataTypeName(expected.dtype());
  }
  for (int64_t i = 0; i < expected.num_elements(); ++i) {
    const bool is_float = expected.dtype() == engine::DataType::kFloat32;
    const double a = ElementAsDouble(actual, i);
    const double e = ElementAsDouble(expected, i);
    if (!(is_float ? Close(a, e) : a == e)) {
      std::ostringstream message;
      message << "output '" << name << "' element " << i << " is " << a << ", expected " << e;
      return message.str();
    }
  }
  return {};
}

// A skip for UNIMPLEMENTED (rule 6), a failure for anything else.
CaseResult FromError(const Status& status, const std::string& stage) {
  if (status.code() == StatusCode::kUnimplemented) return Skip("unsupported feature: " + status.message());
  return Fail(stage + ": " + status.ToString());
}

// The runtime inputs and expected outputs of one test_data_set folder.
struct DataSet {
  std::vector<Tensor> inputs;
  std::vector<Tensor> expected;
};

// Reads `dir`; parameter inputs are not returned but baked into `model` as initializers.
StatusOr<DataSet> ReadDataSet(onnx::ModelProto& model, const fs::path& dir) {
  DataSet data;
  const auto inputs = RuntimeInputs(model.graph());
  std::vector<onnx::TensorProto> baked;
  for (size_t i = 0; i < inputs.size(); ++i) {
    FOVEA_ASSIGN_OR_RETURN(onnx::TensorProto proto, ReadTensorProto(dir / ("input_" + std::to_string(i) + ".pb")));
    if (IsParameterInput(*inputs[i]) || IsLoadTimeParameter(model.graph(), inputs[i]->name())) {
      proto.set_name(inputs[i]->name());
      baked.push_back(std::move(proto));
      continue;
    }
    FOVEA_ASSIGN_OR_RETURN(Tensor tensor, modelio::TensorFromProto(proto, kMaxTestTensorElements));
    data.inputs.push_back(std::move(tensor));
  }
  for (auto& proto : baked) *model.mutable_graph()->add_initializer() = std::move(proto);
  for (int j = 0; j < model.graph().output_size(); ++j) {
    FOVEA_ASSIGN_OR_RETURN(onnx::TensorProto proto, ReadTensorProto(dir / ("output_" + std::to_string(j) + ".pb")));
    FOVEA_ASSIGN_OR_RETURN(Tensor tensor, modelio::TensorFromProto(proto, kMaxTestTensorElements));
    data.expected.push_back(std::move(tensor));
  }
  return data;
}

// Empty when every output matches; otherwise the first difference, prefixed with `label`.
std::string CompareOutputs(const std::vector<Tensor>& actual, const DataSet& data, const onnx::GraphProto& graph,
                           const std::string& label) {
  if (actual.size() != data.expected.size()) {
    return label + ": " + std::to_string(actual.size()) + " outputs, expected " + std::to_string(data.expected.size());
  }
  for (size_t j = 0; j < actual.size(); ++j) {
    const std::string mismatch = Compare(actual[j], data.expected[j], graph.output(static_cast<int>(j)).name());
    if (!mismatch.empty()) return label + ": " + mismatch;
  }
  return {};
}

// Runs one test_data_set folder through import, passes and Session, and through the unoptimized graph's reference
// kernels (the oracle of the engine's own tests), comparing both with the expected outputs.
CaseResult RunDataSet(onnx::ModelProto model, const fs::path& dir) {
  auto data = ReadDataSet(model, dir);
  if (!data.ok()) return Fail(dir.filename().string() + ": " + data.status().ToString());
  for (const auto& input : data->inputs) {
    if (input.num_elements() == 0) return Skip("empty input: a runtime input has a zero-sized dim");
  }
  auto imported = modelio::ImportOnnx(model.SerializeAsString());
  if (!imported.ok()) return FromError(imported.status(), "import");
  const engine::Graph unoptimized = imported->graph;
  auto built = engine::Model::Create(std::move(imported->graph), std::move(imported->metadata));
  if (!built.ok()) return FromError(built.status(), "model");
  auto session = engine::Session::Create(*built);
  if (!session.ok()) return Fail(session.status().ToString());
  auto outputs = (*session)->Run(data->inputs);
  if (!outputs.ok()) return FromError(outputs.status(), "run");
  std::string mismatch = CompareOutputs(*outputs, *data, model.graph(), dir.filename().string());
  if (!mismatch.empty()) return Fail(mismatch);
  auto reference = engine::RunReference(unoptimized, data->inputs);
  if (!reference.ok()) return Fail("reference kernels: " + reference.status().ToString());
  mismatch = CompareOutputs(*reference, *data, model.graph(), "reference kernels");
  if (!mismatch.empty()) return Fail(mismatch);
  return {};
}

CaseResult RunCase(const fs::path& case_dir) {
  auto bytes = ReadFile(case_dir / "model.onnx");
  if (!bytes.ok()) return Fail(bytes.status().ToString());
  onnx::ModelProto model;
  if (!model.ParseFromString(*bytes)) return Fail("model.onnx does not parse");
  if (auto reason = StaticSkipReason(model)) return Skip(*reason);
  std::vector<fs::path> data_sets;
  for (const auto& entry : fs::directory_iterator(case_dir)) {
    if (entry.is_directory() && entry.path().filename().string().starts_with("test_data_set_")) {
      data_sets.push_back(entry.path());
    }
  }
  std::sort(data_sets.begin(), data_sets.end());
  if (data_sets.empty()) return Fail("no test_data_set_* folder");
  for (const auto& data_set : data_sets) {
    CaseResult result = RunDataSet(model, data_set);
    if (result.outcome != Outcome::kPass) return result;
  }
  return {};
}

// Counts outcomes and prints one line per case, then the summary.
class Tally {
 public:
  void Record(const std::string& name, const CaseResult& result) {
    switch (result.outcome) {
      case Outcome::kPass:
        ++passed_;
        std::cout << "PASS " << name << "\n";
        break;
      case Outcome::kFail:
        ++failed_;
        std::cout << "FAIL " << name << ": " << result.reason << "\n";
        break;
      case Outcome::kSkip:
        ++skipped_;
        for (std::string_view rule : kSkipRules) {
          if (result.reason.starts_with(rule)) ++skips_by_rule_[rule];
        }
        ++skips_by_reason_[GroupOf(result.reason)];
        std::cout << "SKIP " << name << ": " << result.reason << "\n";
        break;
    }
  }

  // Prints the skip counts per rule, per reason (most frequent first), and the final "N passed, M failed, K skipped".
  void PrintSummary() const {
    std::cout << "skips by rule:";
    for (const auto& [rule, count] : skips_by_rule_) std::cout << " " << rule << " " << count << ";";
    std::vector<std::pair<int, std::string>> reasons;
    for (const auto& [reason, count] : skips_by_reason_) reasons.emplace_back(count, reason);
    std::sort(reasons.begin(), reasons.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    std::cout << "\nskips by reason:\n";
    for (const auto& [count, reason] : reasons) std::cout << "  " << count << "  " << reason << "\n";
    std::cout << passed_ << " passed, " << failed_ << " failed, " << skipped_ << " skipped" << std::endl;
  }

  [[nodiscard]] bool any_failed() const { return failed_ > 0; }
  [[nodiscard]] int passed() const { return passed_; }

 private:
  // The part of a skip reason that names what is missing: the op ("unsupported op Resize"), the opset, the dtype
  // rule, or an engine message up to its first detail.
  static std::string GroupOf(const std::string& reason) {
    constexpr size_t kMaxGroupLength = 110;
    if (reason.starts_with("dtype")) return "dtype (a runtime input or output is not float32/int64/uint8/int8)";
    std::string group = reason;
    if (reason.starts_with("opset")) group = reason.substr(0, reason.find(' ', std::string_view("opset ").size()));
    if (reason.starts_with("unsupported feature")) {
      // Node names and shapes differ per case; keep what the engine says is missing.
      const size_t colon = reason.rfind(": ");
      group = "unsupported feature: " + (colon == std::string::npos ? reason : reason.substr(colon + 2));
    }
    return group.size() > kMaxGroupLength ? group.substr(0, kMaxGroupLength) + "…" : group;
  }

  int passed_ = 0, failed_ = 0, skipped_ = 0;
  std::map<std::string_view, int> skips_by_rule_;
  std::map<std::string, int> skips_by_reason_;
};

// The case folders (those holding a model.onnx) of every directory argument, sorted by name.
StatusOr<std::vector<fs::path>> FindCases(const std::vector<std::string>& dirs) {
  std::vector<fs::path> cases;
  for (const auto& dir : dirs) {
    if (!fs::is_directory(dir)) return NotFound("not a directory: " + dir);
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.is_directory() && fs::exists(entry.path() / "model.onnx")) cases.push_back(entry.path());
    }
  }
  std::sort(cases.begin(), cases.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  return cases;
}

}  // namespace
}  // namespace fovea

int main(int argc, char** argv) {
  constexpr std::string_view kFilterFlag = "--filter=";
  constexpr std::string_view kMinPassFlag = "--min-pass=";
  std::string filter;
  int min_pass = 0;
  std::vector<std::string> dirs;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.starts_with(kFilterFlag)) {
      filter = arg.substr(kFilterFlag.size());
    } else if (arg.starts_with(kMinPassFlag)) {
      min_pass = std::stoi(arg.substr(kMinPassFlag.size()));
    } else {
      dirs.push_back(arg);
    }
  }
  auto cases = fovea::FindCases(dirs);
  if (!cases.ok() || cases->empty()) {
    std::cerr << (cases.ok() ? "no test cases found" : cases.status().message()) << "\n"
              << "usage: onnx_conformance [--filter=SUBSTRING] [--min-pass=N] DIR...\n";
    return 2;
  }
  fovea::Tally tally;
  for (const auto& case_dir : *cases) {
    const std::string name = case_dir.filename().string();
    if (!filter.empty() && name.find(filter) == std::string::npos) continue;
    fovea::CaseResult result;
    try {
      result = fovea::RunCase(case_dir);
    } catch (const std::exception& e) {
      result = fovea::Fail(std::string("exception: ") + e.what());
    }
    tally.Record(name, result);
  }
  tally.PrintSummary();
  if (tally.passed() < min_pass) {
    std::cout << "only " << tally.passed() << " cases passed; at least " << min_pass
              << " must (--min-pass): an op that used to pass now fails to load or is skipped" << std::endl;
    return 1;
  }
  return tally.any_failed() ? 1 : 0;
}
