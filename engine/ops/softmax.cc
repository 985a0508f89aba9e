#include "engine/ops/softmax.h"

#include <cmath>
#include <string>

#include "engine/plan_builder.h"

namespace fovea::engine::ops {
namespace {

// The input viewed as [outer, extent, inner] with normalization along the middle axis.
struct SoftmaxLayout {
  int64_t outer = 1, extent = 1, inner = 1;
};

StatusOr<SoftmaxLayout> Layout(const SoftmaxParams& params, const Shape& x) {
  const auto rank = static_cast<int64_t>(x.size());
  int64_t axis = params.axis;
  if (axis < -rank || axis >= rank) {
    return InvalidArgument("softmax axis " + std::to_string(axis) + " is outside the input " + ShapeToString(x));
  }
  if (axis < 0) axis += rank;
  const auto split = x.begin() + axis;
  SoftmaxLayout layout;
  layout.outer = NumElements(Shape(x.begin(), split));
  if (params.legacy_2d) {
    // Opset < 13 coerces the input to 2-D and normalizes each row as a whole.
    layout.extent = NumElements(Shape(split, x.end()));
  } else {
    layout.extent = *split;
    layout.inner = NumElements(Shape(split + 1, x.end()));
  }
  return layout;
}

}  // namespace

StatusOr<std::unique_ptr<Softmax>> Softmax::Create(const SoftmaxParams& params) {
  return std::unique_ptr<Softmax>(new Softmax(params));
}

std::string_view Softmax::type() const { return params_.log ? "LogSoftmax" : "Softmax"; }

StatusOr<std::vector<Tensor>> Softmax::Reference(std::span<const Tensor> inputs) const {
  if (inputs.empty() || inputs[0].dtype() != DataType::kFloat32) return InvalidArgument("X must be float32");
  const Tensor& x = inputs[0];
  FOVEA_ASSIGN_OR_RETURN(SoftmaxLayout l, Layout(params_, x.shape()));
  Tensor y(DataType::kFloat32, x.shape());
  const auto* xp = x.data<float>();
  auto* yp = y.data<float>();
  for (int64_t o = 0; o < l.outer; ++o) {
    for (int64_t i = 0; i < l.inner; ++i) {
      const auto at = [&](int64_t k) { return (o * l.extent + k) * l.inner + i; };
      // Subtracting the maximum keeps exp() finite; the result is mathematically unchanged.
      double max = xp[at(0)];
      for (int64_t k = 1; k < l.extent; ++k) max = std::max<double>(max, xp[at(k)]);
      double sum = 0.0;
      for (int64_t k = 0; k < l.extent; ++k) sum += std::exp(xp[at(k)] - max);
      for (int64_t k = 0; k < l.extent; ++k) {
        const double shifted = xp[at(k)] - max;
        yp[at(k)] = static_cast<float>(params_.log ? shifted - std::log(sum) : std::exp(shifted) / sum);
      }
    }
  }
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> Softmax::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.empty() || !inputs[0].present()) return InvalidArgument(std::string(type()) + " needs X");
  FOVEA_ASSIGN_OR_RETURN(SoftmaxLayout l, Layout(params_, inputs[0].shape));
  // [outer, extent, inner] normalized along axis 1 is every case, legacy or not, as one plain 3-D view.
  const Shape view_shape = {l.outer, l.extent, l.inner};
  const PlanValue x = builder.Alias(builder.Plain(inputs[0]), view_shape);
  constexpr int kAxis = 1;
  // oneDNN 2.6 has jit softmax only along the innermost dense axis; along a middle one (a dense map's classes,
  // [1, classes, cells]) it runs its reference kernel, 3.5 ms for 10 x 2,500 on AVX2. So the step reads and writes
  // the view with the axis innermost (format acb), which costs two small reorders.
  const dnnl::memory::desc src_desc =
      l.inner > 1 ? dnnl::memory::desc(ToDims(view_shape), dnnl::memory::data_type::f32, dnnl::memory::format_tag::acb)
                  : x.desc;
  PlanValue y;
  if (params_.log) {
    auto desc = dnnl::logsoftmax_forward::desc(dnnl::prop_kind::forward_inference, src_desc, kAxis);
    auto pd = dnnl::logsoftmax_forward::primitive_desc(desc, builder.DefaultAttr(), builder.engine());
    y = builder.NewValue(view_shape, pd.dst_desc());
    builder.AddStep(dnnl::logsoftmax_forward(pd),
                    {builder.Arg(DNNL_ARG_SRC, x, pd.src_desc()), {DNNL_ARG_DST, y.id, {}}}, pd.scratchpad_desc());
  } else {
    auto desc = dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, src_desc, kAxis);
    auto pd = dnnl::softmax_forward::primitive_desc(desc, builder.DefaultAttr(), builder.engine());
    y = builder.NewValue(view_shape, pd.dst_desc());
    builder.AddStep(dnnl::softmax_forward(pd), {builder.Arg(DNNL_ARG_SRC, x, pd.src_desc()), {DNNL_ARG_DST, y.id, {}}},
                    pd.scratchpad_desc());
  }
  return std::vector<PlanValue>{builder.Alias(builder.Plain(y), inputs[0].shape)};
}

StatusOr<SpatialGeometry> Softmax::Geometry(std::span<const Shape> input_shapes) const {
  constexpr int64_t kImageRank = 4;
  const int64_t rank = input_shapes.empty() ? 0 : static_cast<int64_t>(input_shapes[0].size());
  const bool over_channels = params_.axis == 1 || (rank == kImageRank && params_.axis == 1 - kImageRank);
  // Legacy softmax normalizes the whole block from the axis on: over C, H and W together unless H = W = 1.
  if (over_channels && !params_.legacy_2d) return SpatialGeometry::Pointwise();
  return FailedPrecondition(std::string(type()) + " over axis " + std::to_string(params_.axis) +
                            " mixes pixels; only a softmax over the channels of NCHW keeps them apart");
}

}  // namespace fovea::engine::ops
