#include "engine/ops/gemm.h"

#include <algorithm>
#include <string>

namespace fovea::engine::ops {
namespace {

using dnnl::memory;

constexpr size_t kMatrixRank = 2;

struct GemmDims {
  int64_t m = 0, k = 0, n = 0;
};

// C as a matrix: a scalar is [1, 1] and a vector [N] is the row [1, N], per numpy broadcasting.
Shape AsMatrix(const Shape& c) {
  if (c.empty()) return {1, 1};
  if (c.size() == 1) return {1, c[0]};
  return c;
}

StatusOr<GemmDims> ResolveDims(const GemmParams& params, const Shape& a, const Shape& b, const Shape* c) {
  if (a.size() != kMatrixRank || b.size() != kMatrixRank) {
    return InvalidArgument("Gemm needs 2-D A and B, got A " + ShapeToString(a) + " and B " + ShapeToString(b));
  }
  GemmDims d;
  d.m = params.trans_a ? a[1] : a[0];
  d.k = params.trans_a ? a[0] : a[1];
  const int64_t kb = params.trans_b ? b[1] : b[0];
  d.n = params.trans_b ? b[0] : b[1];
  if (kb != d.k) {
    return InvalidArgument("Gemm inner dimensions differ: A " + ShapeToString(a) + " and B " + ShapeToString(b) +
                           " (transA=" + std::to_string(params.trans_a) + ", transB=" + std::to_string(params.trans_b) +
                           ")");
  }
  if (c != nullptr) {
    const Shape cm = AsMatrix(*c);
    if (cm.size() != kMatrixRank || (cm[0] != 1 && cm[0] != d.m) || (cm[1] != 1 && cm[1] != d.n)) {
      return InvalidArgument("C " + ShapeToString(*c) + " does not broadcast to [" + std::to_string(d.m) + ", " +
                             std::to_string(d.n) + "]");
    }
  }
  return d;
}

Tensor Scaled(const Tensor& t, float factor) {
  Tensor out = t.Clone();
  for (float& v : out.floats()) v *= factor;
  return out;
}

// A runtime value multiplied by `factor` with one eltwise step.
PlanValue EmitScaled(PlanBuilder& builder, const PlanValue& value, float factor) {
  auto desc = dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::eltwise_linear,
                                          value.desc, factor, 0.0f);
  auto pd = dnnl::eltwise_forward::primitive_desc(desc, builder.DefaultAttr(), builder.engine());
  PlanValue y = builder.NewValue(value.shape, pd.dst_desc());
  builder.AddStep(dnnl::eltwise_forward(pd), {builder.Arg(DNNL_ARG_SRC, value), {DNNL_ARG_DST, y.id, {}}},
                  pd.scratchpad_desc());
  return y;
}

// A matmul operand of logical shape [rows, cols]: constants are transposed (and scaled) now; runtime values are read
// in place through a strided view when transposed.
PlanValue Operand(PlanBuilder& builder, const PlanValue& value, bool transpose, float factor) {
  if (value.is_constant()) {
    Tensor t = transpose ? Transposed(*value.constant) : *value.constant;
    return PlanValue::Constant(factor == 1.0f ? t : Scaled(t, factor));
  }
  PlanValue plain = builder.Plain(value);
  if (!transpose) return plain;
  const int64_t rows = value.shape[1], cols = value.shape[0];
  return builder.View(plain, {rows, cols}, memory::desc({rows, cols}, memory::data_type::f32, {1, rows}));
}

}  // namespace

Tensor Transposed(const Tensor& t) {
  const int64_t rows = t.dim(0), cols = t.dim(1);
  Tensor out(DataType::kFloat32, {cols, rows});
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) out.data<float>()[c * rows + r] = t.data<float>()[r * cols + c];
  }
  return out;
}

StatusOr<std::unique_ptr<Gemm>> Gemm::Create(const GemmParams& params) {
  return std::unique_ptr<Gemm>(new Gemm(params));
}

StatusOr<std::vector<Tensor>> Gemm::Reference(std::span<const Tensor> inputs) const {
  if (inputs.size() < 2 || !inputs[0].has_data() || !inputs[1].has_data()) return InvalidArgument("Gemm needs A and B");
  const Tensor& a = inputs[0];
  const Tensor& b = inputs[1];
  const Tensor* c = inputs.size() > 2 && inputs[2].has_data() ? &inputs[2] : nullptr;
  for (const Tensor* t : {&a, &b, c}) {
    if (t != nullptr && t->dtype() != DataType::kFloat32) return InvalidArgument("Gemm operands must be float32");
  }
  FOVEA_ASSIGN_OR_RETURN(GemmDims d, ResolveDims(params_, a.shape(), b.shape(), c ? &c->shape() : nullptr));
  const Shape cm = c ? AsMatrix(c->shape()) : Shape{1, 1};
  Tensor y(DataType::kFloat32, {d.m, d.n});
  for (int64_t i = 0; i < d.m; ++i) {
    for (int64_t j = 0; j < d.n; ++j) {
      double acc = 0.0;
      for (int64_t p = 0; p < d.k; ++p) {
        const float av = params_.trans_a ? a.data<float>()[p * d.m + i] : a.data<float>()[i * d.k + p];
        const float bv = params_.trans_b ? b.data<float>()[j * d.k + p] : b.data<float>()[p * d.n + j];
        acc += static_cast<double>(av) * bv;
      }
      double v = params_.alpha * acc;
      if (c != nullptr) {
        const int64_t ci = cm[0] == 1 ? 0 : i, cj = cm[1] == 1 ? 0 : j;
        v += static_cast<double>(params_.beta) * c->data<float>()[ci * cm[1] + cj];
      }
      y.data<float>()[i * d.n + j] = static_cast<float>(v);
    }
  }
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> Gemm::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.size() < 2 || !inputs[0].present() || !inputs[1].present()) return InvalidArgument("Gemm needs A and B");
  const bool has_c = inputs.size() > 2 && inputs[2].present() && params_.beta != 0.0f;
  FOVEA_ASSIGN_OR_RETURN(GemmDims d,
                         ResolveDims(params_, inputs[0].shape, inputs[1].shape, has_c ? &inputs[2].shape : nullptr));
  // alpha folds into a constant operand (B first: a classifier's weights); only two runtime operands need the
  // output-scale attribute, which oneDNN applies before post-ops.
  const float b_factor = inputs[1].is_constant() ? params_.alpha : 1.0f;
  const float a_factor = !inputs[1].is_constant() && inputs[0].is_constant() ? params_.alpha : 1.0f;
  const bool use_scales = params_.alpha != 1.0f && !inputs[0].is_constant() && !inputs[1].is_constant();
  const PlanValue src = Operand(builder, inputs[0], params_.trans_a, a_factor);
  const PlanValue weights = Operand(builder, inputs[1], params_.trans_b, b_factor);
  const memory::desc src_desc = src.is_constant() ? PlainDesc({d.m, d.k}) : src.desc;
  // Constant weights let matmul choose its layout; they are reordered into it once, now.
  const memory::desc weights_desc =
      weights.is_constant() ? memory::desc({d.k, d.n}, memory::data_type::f32, memory::format_tag::any) : weights.desc;

  PlanValue c;
  memory::desc c_desc;
  if (has_c) {
    const Shape cm = AsMatrix(inputs[2].shape);
    if (inputs[2].is_constant()) {
      c = PlanValue::Constant(Scaled(inputs[2].constant->Reshaped(cm).value(), params_.beta));
    } else {
      c = builder.Alias(builder.Plain(inputs[2]), cm);
      if (params_.beta != 1.0f) c = EmitScaled(builder, c, params_.beta);
    }
    c_desc = PlainDesc(cm);
  }
  dnnl::primitive_attr attr = builder.DefaultAttr();
  if (use_scales) {
    attr.set_output_scales(0, {params_.alpha});
    // oneDNN scales the bias too, so with alpha in the attribute C joins as a post-op, after the scaling.
    if (has_c) {
      dnnl::post_ops ops;
      ops.append_binary(dnnl::algorithm::binary_add, c_desc);
      attr.set_post_ops(ops);
    }
  }
  const memory::desc dst_desc = PlainDesc({d.m, d.n});
  auto desc = has_c && !use_scales ? dnnl::matmul::desc(src_desc, weights_desc, c_desc, dst_desc)
                                   : dnnl::matmul::desc(src_desc, weights_desc, dst_desc);
  auto pd = dnnl::matmul::primitive_desc(desc, attr, builder.engine());
  std::vector<PlanArg> args = {builder.Arg(DNNL_ARG_SRC, src, pd.src_desc()),
                               builder.Arg(DNNL_ARG_WEIGHTS, weights, pd.weights_desc())};
  if (has_c) {
    args.push_back(
        builder.Arg(use_scales ? (DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1) : DNNL_ARG_BIAS, c, c_desc));
  }
  PlanValue y = builder.NewValue({d.m, d.n}, pd.dst_desc());
  args.push_back({DNNL_ARG_DST, y.id, {}});
  builder.AddStep(dnnl::matmul(pd), std::move(args), pd.scratchpad_desc());
  return std::vector<PlanValue>{y};
}

Tensor ClassWeights(const Tensor& b, bool trans_b, float alpha) {
  const int64_t rows = trans_b ? b.dim(0) : b.dim(1);
  const int64_t cols = trans_b ? b.dim(1) : b.dim(0);
  Tensor weights(DataType::kFloat32, {rows, cols});
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const float v = trans_b ? b.data<float>()[r * cols + c] : b.data<float>()[c * rows + r];
      weights.data<float>()[r * cols + c] = alpha * v;
    }
  }
  return weights;
}

std::optional<LinearMap> Gemm::AsLinearMap(std::span<const Tensor> parameters) const {
  if (params_.trans_a || parameters.empty() || !parameters[0].has_data()) return std::nullopt;
  const Tensor& b = parameters[0];
  if (b.rank() != static_cast<int64_t>(kMatrixRank) || b.dtype() != DataType::kFloat32) return std::nullopt;
  LinearMap map;
  map.weights = ClassWeights(b, params_.trans_b, params_.alpha);
  const int64_t outputs = map.weights.dim(0);
  map.bias = Tensor(DataType::kFloat32, {outputs});
  if (parameters.size() > 1 && parameters[1].has_data()) {
    const Tensor& c = parameters[1];
    // Only a bias per output broadcasts over the batch like a classifier's does.
    if (c.num_elements() != outputs && c.num_elements() != 1) return std::nullopt;
    for (int64_t k = 0; k < outputs; ++k) {
      map.bias.data<float>()[k] = params_.beta * c.data<float>()[c.num_elements() == 1 ? 0 : k];
    }
  }
  return map;
}

StatusOr<std::vector<Tensor>> Gemm::Backward(std::span<const Tensor> inputs, std::span<const Tensor> /*outputs*/,
                                             std::span<const Tensor> output_grads, std::span<const bool> needed) const {
  if (inputs.size() < 2 || output_grads.empty()) return InvalidArgument("Gemm backward needs A, B and dY");
  const Tensor* c = inputs.size() > 2 && inputs[2].has_data() ? &inputs[2] : nullptr;
  for (const Tensor* t : {&inputs[0], &inputs[1], &output_grads[0], c}) {
    if (t != nullptr && t->dtype() != DataType::kFloat32) return InvalidArgument("Gemm operands must be float32");
  }
  FOVEA_ASSIGN_OR_RETURN(const GemmDims d,
                         ResolveDims(params_, inputs[0].shape(), inputs[1].shape(), c ? &c->shape() : nullptr));
  const Tensor& dy = output_grads[0];
  if (dy.shape() != Shape{d.m, d.n}) return InvalidArgument("dY " + ShapeToString(dy.shape()) + " is not [M, N]");
  // Y = alpha·op(A)·op(B) + beta·C is alpha times the inner product of X = op(A) [M, K] with W = op(B)ᵀ [N, K].
  const Tensor x = params_.trans_a ? Transposed(inputs[0]) : inputs[0];
  const Tensor w = params_.trans_b ? inputs[1] : Transposed(inputs[1]);
  const bool b_needed = GradientNeeded(needed, 1);
  std::vector<Tensor> linear = LinearBackward(x, w, dy, b_needed);
  std::vector<Tensor> grads(inputs.size());
  grads[0] = Scaled(params_.trans_a ? Transposed(linear[0]) : linear[0], params_.alpha);
  if (b_needed) grads[1] = Scaled(params_.trans_b ? linear[1] : Transposed(linear[1]), params_.alpha);
  if (c != nullptr && GradientNeeded(needed, 2)) {
    // C broadcasts to [M, N]: its gradient sums dY along the axes where C has extent 1.
    const Shape cm = AsMatrix(c->shape());
    Tensor dc(DataType::kFloat32, c->shape());
    auto out = dc.floats();
    std::fill(out.begin(), out.end(), 0.0f);
    for (int64_t i = 0; i < d.m; ++i) {
      for (int64_t j = 0; j < d.n; ++j) {
        out[static_cast<size_t>((cm[0] == 1 ? 0 : i) * cm[1] + (cm[1] == 1 ? 0 : j))] +=
            params_.beta * dy.data<float>()[i * d.n + j];
      }
    }
    grads[2] = std::move(dc);
  }
  return grads;
}

}  // namespace fovea::engine::ops
