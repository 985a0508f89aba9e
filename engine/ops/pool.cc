#include "engine/ops/pool.h"

#include <algorithm>
#include <limits>
#include <string>

#include "engine/ops/eager.h"
#include "engine/ops/quantize.h"

namespace fovea::engine::ops {
namespace {

using dnnl::memory;

constexpr int64_t kPoolRank = 4;  // N, C, H, W

// The extent along one axis that average pooling with count_include_pad divides by: the window clipped to the input
// plus the padding the model asked for (not the extra padding ceil_mode adds), as PyTorch and onnxruntime do.
int64_t IncludedCount(int64_t start, int64_t kernel, int64_t dilation, int64_t input, int64_t pad_begin,
                      int64_t pad_end) {
  int64_t count = 0;
  for (int64_t k = 0; k < kernel; ++k) {
    const int64_t i = start + k * dilation;
    if (i >= -pad_begin && i < input + pad_end) ++count;
  }
  return count;
}

// Pads after the input as the model states them (auto_pad resolved), without the ceil_mode extension.
StatusOr<std::vector<int64_t>> ModelPadsEnd(WindowAttributes attributes, const Shape& x, const Window& window) {
  attributes.kernel = window.kernel;
  attributes.ceil_mode = false;
  // Floor mode never grows pads_end, but it rejects windows that only fit thanks to ceil_mode; those windows
  // were then never padded by the model itself, so the stated pads are the answer.
  auto floor_window = ResolveWindow(attributes, {x[2], x[3]}, window.kernel);
  if (!floor_window.ok()) return attributes.pads_end.empty() ? std::vector<int64_t>(2, 0) : attributes.pads_end;
  return floor_window->pads_end;
}

}  // namespace

StatusOr<std::unique_ptr<Pool>> Pool::Create(const PoolParams& params) {
  if (!params.global && params.window.kernel.empty()) return InvalidArgument("pooling needs kernel_shape");
  if (params.kind == PoolParams::Kind::kMax && params.count_include_pad) {
    return InvalidArgument("count_include_pad applies only to AveragePool");
  }
  return std::unique_ptr<Pool>(new Pool(params));
}

std::string_view Pool::type() const {
  if (params_.kind == PoolParams::Kind::kMax) return params_.global ? "GlobalMaxPool" : "MaxPool";
  return params_.global ? "GlobalAveragePool" : "AveragePool";
}

StatusOr<Window> Pool::ResolveGeometry(const Shape& x) const {
  if (static_cast<int64_t>(x.size()) != kPoolRank) {
    return Unimplemented("only 2-D pooling is supported (X must be 4-D NCHW), X is " + ShapeToString(x));
  }
  if (params_.global) {
    WindowAttributes whole;
    whole.kernel = {x[2], x[3]};
    return ResolveWindow(whole, {x[2], x[3]}, whole.kernel);
  }
  return ResolveWindow(params_.window, {x[2], x[3]}, params_.window.kernel);
}

StatusOr<std::vector<Tensor>> Pool::Reference(std::span<const Tensor> inputs) const {
  const bool quantized =
      !inputs.empty() && (inputs[0].dtype() == DataType::kUint8 || inputs[0].dtype() == DataType::kInt8);
  if (quantized && params_.kind == PoolParams::Kind::kMax) {
    // Max pooling commutes with quantization (a monotonic map), so 8-bit values pool exactly as their integers.
    QuantizationSlices identity;
    identity.scales = {1.0f};
    identity.zero_points = {0};
    identity.quantized_type = inputs[0].dtype();
    const Tensor as_float[] = {DequantizeTensor(inputs[0], identity)};
    FOVEA_ASSIGN_OR_RETURN(auto y, Reference(as_float));
    return std::vector<Tensor>{QuantizeTensor(y[0], identity)};
  }
  if (inputs.empty() || inputs[0].dtype() != DataType::kFloat32) return InvalidArgument("X must be float32");
  const Tensor& x = inputs[0];
  FOVEA_ASSIGN_OR_RETURN(Window g, ResolveGeometry(x.shape()));
  std::vector<int64_t> model_pads_end = g.pads_end;
  if (!params_.global) {
    FOVEA_ASSIGN_OR_RETURN(model_pads_end, ModelPadsEnd(params_.window, x.shape(), g));
  }
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  const int64_t oh = g.output[0], ow = g.output[1];
  Tensor y(DataType::kFloat32, {n, c, oh, ow});
  const auto* xp = x.data<float>();
  auto* yp = y.data<float>();
  const bool is_max = params_.kind == PoolParams::Kind::kMax;
  for (int64_t plane = 0; plane < n * c; ++plane) {
    for (int64_t oy = 0; oy < oh; ++oy) {
      for (int64_t ox = 0; ox < ow; ++ox) {
        const int64_t y0 = oy * g.strides[0] - g.pads_begin[0], x0 = ox * g.strides[1] - g.pads_begin[1];
        double sum = 0.0;
        float max = -std::numeric_limits<float>::infinity();
        int64_t valid = 0;
        for (int64_t ky = 0; ky < g.kernel[0]; ++ky) {
          const int64_t iy = y0 + ky * g.dilations[0];
          if (iy < 0 || iy >= h) continue;
          for (int64_t kx = 0; kx < g.kernel[1]; ++kx) {
            const int64_t ix = x0 + kx * g.dilations[1];
            if (ix < 0 || ix >= w) continue;
            const float v = xp[(plane * h + iy) * w + ix];
            sum += v;
            max = std::max(max, v);
            ++valid;
          }
        }
        int64_t divisor = valid;
        if (params_.count_include_pad) {
          divisor = IncludedCount(y0, g.kernel[0], g.dilations[0], h, g.pads_begin[0], model_pads_end[0]) *
                    IncludedCount(x0, g.kernel[1], g.dilations[1], w, g.pads_begin[1], model_pads_end[1]);
        }
        yp[(plane * oh + oy) * ow + ox] = is_max ? max : static_cast<float>(sum / static_cast<double>(divisor));
      }
    }
  }
  return std::vector<Tensor>{y};
}

namespace {

constexpr size_t kImageRank = 4;

// oneDNN's plain-loop implementations, named in impl_info_str(): "simple_nchw:any", "ref:any".
bool IsScalarLoop(const dnnl::pooling_v2_forward::primitive_desc& pd) {
  const std::string implementation = pd.impl_info_str();
  return implementation.rfind("simple_nchw", 0) == 0 || implementation.rfind("ref", 0) == 0;
}

}  // namespace

StatusOr<std::vector<PlanValue>> Pool::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.empty() || !inputs[0].present()) return InvalidArgument("pooling needs X");
  // A constant X (only when folding is off) becomes a runtime copy; a runtime X keeps its producer's layout.
  const PlanValue x = inputs[0].is_constant() ? builder.Reordered(inputs[0], PlainDesc(inputs[0].shape)) : inputs[0];
  FOVEA_ASSIGN_OR_RETURN(const PoolProblem problem, Problem(x.shape));
  const Shape y_shape(problem.dst.begin(), problem.dst.end());
  // Pooling keeps its input's element type (bf16 or int8 activations pool without a conversion).
  const memory::desc dst_any(problem.dst, x.desc.data_type(), memory::format_tag::any);
  const auto pooling_of = [&](const memory::desc& src) {
    return dnnl::pooling_v2_forward::primitive_desc(problem.Forward(dnnl::prop_kind::forward_inference, src, dst_any),
                                                    builder.DefaultAttr(), builder.engine());
  };
  auto pd = pooling_of(x.desc);
  // On a plain NCHW map oneDNN pools with a scalar loop (simple_nchw), 10-30x slower than its jit kernels on
  // channels-last data: inception_v3's pools after explicit Pads took 27% of its time. One reorder to channels-last
  // (added by Arg below) costs a pass over the map.
  if (x.shape.size() == kImageRank && IsScalarLoop(pd)) {
    auto channels_last = pooling_of(memory::desc(ToDims(x.shape), x.desc.data_type(), memory::format_tag::acdb));
    if (!IsScalarLoop(channels_last)) pd = channels_last;
  }
  PlanValue y = builder.NewValue(y_shape, pd.dst_desc());
  builder.AddStep(dnnl::pooling_v2_forward(pd), {builder.Arg(DNNL_ARG_SRC, x, pd.src_desc()), {DNNL_ARG_DST, y.id, {}}},
                  pd.scratchpad_desc());
  return std::vector<PlanValue>{y};
}

StatusOr<PoolProblem> Pool::Problem(const Shape& x) const {
  FOVEA_ASSIGN_OR_RETURN(const Window g, ResolveGeometry(x));
  PoolProblem problem;
  if (params_.kind == PoolParams::Kind::kAverage) {
    problem.algorithm = params_.count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                                  : dnnl::algorithm::pooling_avg_exclude_padding;
  }
  if (params_.count_include_pad) {
    // oneDNN divides by the whole window, which differs from ONNX where ceil_mode pushes a window past the padding.
    FOVEA_ASSIGN_OR_RETURN(auto model_pads_end, ModelPadsEnd(params_.window, x, g));
    if (model_pads_end != g.pads_end) {
      return Unimplemented(
          "AveragePool with count_include_pad=1 and ceil_mode=1 whose last window extends past the "
          "padding is not supported");
    }
  }
  problem.src = ToDims(x);
  problem.dst = {x[0], x[1], g.output[0], g.output[1]};
  problem.kernel = {g.kernel[0], g.kernel[1]};
  problem.strides = {g.strides[0], g.strides[1]};
  problem.dilations = {g.dilations[0] - 1, g.dilations[1] - 1};  // ONNX counts dilation from 1, oneDNN from 0
  problem.pads_begin = {g.pads_begin[0], g.pads_begin[1]};
  problem.pads_end = {g.pads_end[0], g.pads_end[1]};
  return problem;
}

dnnl::pooling_v2_forward::desc PoolProblem::Forward(dnnl::prop_kind prop, const memory::desc& src_md,
                                                    const memory::desc& dst_md) const {
  return {prop, algorithm, src_md, dst_md, strides, kernel, dilations, pads_begin, pads_end};
}

dnnl::pooling_v2_backward::desc PoolProblem::Backward(const memory::desc& src_md, const memory::desc& dst_md) const {
  return {algorithm, src_md, dst_md, strides, kernel, dilations, pads_begin, pads_end};
}

StatusOr<std::vector<Tensor>> Pool::Backward(std::span<const Tensor> inputs, std::span<const Tensor> /*outputs*/,
                                             std::span<const Tensor> output_grads,
                                             std::span<const bool> /*needed*/) const {
  if (inputs.empty() || output_grads.empty() || inputs[0].dtype() != DataType::kFloat32) {
    return InvalidArgument(std::string(type()) + " backward needs float32 X and dY");
  }
  const Tensor& x = inputs[0];
  FOVEA_ASSIGN_OR_RETURN(const PoolProblem problem, Problem(x.shape()));
  const Shape y_shape(problem.dst.begin(), problem.dst.end());
  if (output_grads[0].shape() != y_shape) {
    return InvalidArgument("dY " + ShapeToString(output_grads[0].shape()) + " does not match the pooled output");
  }
  Eager eager;
  const memory::desc src_md = PlainDesc(x.shape()), dst_md = PlainDesc(y_shape);
  const dnnl::pooling_v2_forward::primitive_desc forward(
      problem.Forward(dnnl::prop_kind::forward_training, src_md, dst_md), eager.engine());
  const dnnl::pooling_v2_backward::primitive_desc backward(problem.Backward(src_md, dst_md), eager.engine(), forward);
  std::unordered_map<int, memory> args;
  if (problem.algorithm == dnnl::algorithm::pooling_max) {
    // Max pooling's gradient goes to the argmax of each window, which only a training forward pass records.
    memory workspace(forward.workspace_desc(), eager.engine());
    Tensor y(DataType::kFloat32, y_shape);
    eager.Run(dnnl::pooling_v2_forward(forward),
              {{DNNL_ARG_SRC, eager.Memory(x)}, {DNNL_ARG_DST, eager.Memory(y)}, {DNNL_ARG_WORKSPACE, workspace}});
    args[DNNL_ARG_WORKSPACE] = workspace;
  }
  std::vector<Tensor> grads(inputs.size());
  grads[0] = Tensor(DataType::kFloat32, x.shape());
  args[DNNL_ARG_DIFF_DST] = eager.Memory(output_grads[0]);
  args[DNNL_ARG_DIFF_SRC] = eager.Memory(grads[0]);
  eager.Run(dnnl::pooling_v2_backward(backward), args);
  return grads;
}

std::shared_ptr<const Op> Pool::WindowedOver(std::array<int64_t, 2> window) const {
  if (!params_.global) return nullptr;
  PoolParams params = params_;
  params.global = false;
  params.window = {};
  params.window.kernel = {window[0], window[1]};
  params.window.strides = {1, 1};
  auto windowed = Pool::Create(params);
  if (!windowed.ok()) return nullptr;
  return std::shared_ptr<const Op>(std::move(windowed).value());
}

StatusOr<SpatialGeometry> Pool::Geometry(std::span<const Shape> /*input_shapes*/) const {
  if (params_.global) return SpatialGeometry::Global();
  return WindowGeometry(params_.window, {}, type());
}

}  // namespace fovea::engine::ops
