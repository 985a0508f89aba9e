#include "engine/ops/matmul.h"

#include "engine/ops/gemm.h"

#include <algorithm>
#include <string>

#include "engine/ops/binary.h"

namespace fovea::engine::ops {
namespace {

using dnnl::memory;

// Shapes of one product after numpy promotion: both operands padded to the same rank (≥ 2) and the output shape
// before and after removing the axes that 1-D operands added.
struct MatMulShapes {
  Shape a, b, out, result;
};

Shape PadTo(const Shape& s, size_t rank) {
  Shape padded(rank - s.size(), 1);
  padded.insert(padded.end(), s.begin(), s.end());
  return padded;
}

StatusOr<MatMulShapes> Resolve(const Shape& a_in, const Shape& b_in) {
  if (a_in.empty() || b_in.empty()) return InvalidArgument("MatMul operands must have rank at least 1");
  const Shape a = a_in.size() == 1 ? Shape{1, a_in[0]} : a_in;
  const Shape b = b_in.size() == 1 ? Shape{b_in[0], 1} : b_in;
  const int64_t m = a[a.size() - 2], k = a.back(), n = b.back();
  if (b[b.size() - 2] != k) {
    return InvalidArgument("MatMul inner dimensions differ: " + ShapeToString(a_in) + " x " + ShapeToString(b_in));
  }
  FOVEA_ASSIGN_OR_RETURN(Shape batch, BroadcastShapes(Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2)));
  MatMulShapes s;
  s.a = PadTo(a, batch.size() + 2);
  s.b = PadTo(b, batch.size() + 2);
  s.out = batch;
  s.out.push_back(m);
  s.out.push_back(n);
  s.result = batch;
  if (a_in.size() > 1) s.result.push_back(m);
  if (b_in.size() > 1) s.result.push_back(n);
  return s;
}

// Offset of the matrix at batch position `index` of an operand whose batch dims are `dims` (broadcast where 1).
int64_t BatchOffset(const Shape& dims, const Shape& out, int64_t index) {
  int64_t offset = 0, stride = 1;
  for (size_t d = out.size(); d-- > 0;) {
    const int64_t coordinate = index % out[d];
    index /= out[d];
    if (dims[d] != 1) offset += coordinate * stride;
    stride *= dims[d];
  }
  return offset;
}

// The product as one matrix product when B is the same matrix at every batch position (its batch axes all 1, as
// for a Linear layer applied per pixel): A [batch..., M, K] x B [K, N] is A's rows [batch·M, K] x [K, N]. oneDNN runs
// a batch of small products much slower than the one large GEMM: convnext_tiny's MLP products [1, 14, 14, 384] x
// [384, 1536] ran as 14 products of 14 rows.
MatMulShapes AsOneMatrixProduct(const MatMulShapes& s) {
  const size_t rank = s.b.size();
  const bool b_is_one_matrix = std::all_of(s.b.begin(), s.b.end() - 2, [](int64_t d) { return d == 1; });
  if (rank <= 2 || !b_is_one_matrix) return s;
  const int64_t k = s.a[rank - 1], n = s.b[rank - 1];
  const int64_t rows = NumElements(s.a) / k;
  MatMulShapes flat = s;
  flat.a = {rows, k};
  flat.b = {k, n};
  flat.out = {rows, n};
  return flat;
}

}  // namespace

StatusOr<std::unique_ptr<MatMul>> MatMul::Create() { return std::unique_ptr<MatMul>(new MatMul()); }

StatusOr<std::vector<Tensor>> MatMul::Reference(std::span<const Tensor> inputs) const {
  if (inputs.size() != 2 || !inputs[0].has_data() || !inputs[1].has_data())
    return InvalidArgument("MatMul needs A and B");
  if (inputs[0].dtype() != DataType::kFloat32 || inputs[1].dtype() != DataType::kFloat32) {
    return InvalidArgument("MatMul operands must be float32");
  }
  FOVEA_ASSIGN_OR_RETURN(MatMulShapes s, Resolve(inputs[0].shape(), inputs[1].shape()));
  const size_t rank = s.out.size();
  const int64_t m = s.out[rank - 2], n = s.out[rank - 1], k = s.a[rank - 1];
  const Shape batch(s.out.begin(), s.out.end() - 2);
  const Shape a_batch(s.a.begin(), s.a.end() - 2), b_batch(s.b.begin(), s.b.end() - 2);
  Tensor y(DataType::kFloat32, s.out);
  for (int64_t p = 0; p < NumElements(batch); ++p) {
    const float* a = inputs[0].data<float>() + BatchOffset(a_batch, batch, p) * m * k;
    const float* b = inputs[1].data<float>() + BatchOffset(b_batch, batch, p) * k * n;
    float* out = y.data<float>() + p * m * n;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0.0;
        for (int64_t q = 0; q < k; ++q) acc += static_cast<double>(a[i * k + q]) * b[q * n + j];
        out[i * n + j] = static_cast<float>(acc);
      }
    }
  }
  FOVEA_ASSIGN_OR_RETURN(Tensor result, y.Reshaped(s.result));
  return std::vector<Tensor>{result};
}

StatusOr<std::vector<PlanValue>> MatMul::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.size() != 2 || !inputs[0].present() || !inputs[1].present())
    return InvalidArgument("MatMul needs A and B");
  FOVEA_ASSIGN_OR_RETURN(const MatMulShapes resolved, Resolve(inputs[0].shape, inputs[1].shape));
  const MatMulShapes s = AsOneMatrixProduct(resolved);
  // oneDNN matmul broadcasts batch dimensions of size 1 itself, as long as all operands have the same rank.
  const PlanValue a = builder.Alias(builder.Plain(inputs[0]), s.a);
  const PlanValue b = builder.Alias(builder.Plain(inputs[1]), s.b);
  const memory::desc src_desc = PlainDesc(s.a);
  // Constant B (weights) may take the layout matmul prefers; it is reordered into it once, now.
  const memory::desc weights_desc =
      b.is_constant() ? memory::desc(ToDims(s.b), memory::data_type::f32, memory::format_tag::any) : PlainDesc(s.b);
  auto desc = dnnl::matmul::desc(src_desc, weights_desc, PlainDesc(s.out));
  auto pd = dnnl::matmul::primitive_desc(desc, builder.DefaultAttr(), builder.engine());
  PlanValue y = builder.NewValue(s.out, pd.dst_desc());
  builder.AddStep(dnnl::matmul(pd),
                  {builder.Arg(DNNL_ARG_SRC, a, pd.src_desc()),
                   builder.Arg(DNNL_ARG_WEIGHTS, b, pd.weights_desc()),
                   {DNNL_ARG_DST, y.id, {}}},
                  pd.scratchpad_desc());
  if (s.result != s.out) y = builder.Alias(y, s.result);
  return std::vector<PlanValue>{y};
}

std::optional<LinearMap> MatMul::AsLinearMap(std::span<const Tensor> parameters) const {
  constexpr int64_t kMatrixRank = 2;
  if (parameters.empty() || !parameters[0].has_data()) return std::nullopt;
  const Tensor& b = parameters[0];
  if (b.rank() != kMatrixRank || b.dtype() != DataType::kFloat32) return std::nullopt;
  LinearMap map;
  map.weights = ClassWeights(b, /*trans_b=*/false, 1.0f);
  map.bias = Tensor(DataType::kFloat32, {map.weights.dim(0)});
  return map;
}

StatusOr<std::vector<Tensor>> MatMul::Backward(std::span<const Tensor> inputs, std::span<const Tensor> /*outputs*/,
                                               std::span<const Tensor> output_grads,
                                               std::span<const bool> needed) const {
  if (inputs.size() < 2 || output_grads.empty()) return InvalidArgument("MatMul backward needs A, B and dY");
  const Tensor& a = inputs[0];
  const Tensor& b = inputs[1];
  if (a.dtype() != DataType::kFloat32 || b.dtype() != DataType::kFloat32) {
    return InvalidArgument("MatMul backward needs float32 operands");
  }
  if (b.rank() > 2) return Unimplemented("MatMul backward with a batched B " + ShapeToString(b.shape()));
  FOVEA_ASSIGN_OR_RETURN(const MatMulShapes s, Resolve(a.shape(), b.shape()));
  if (output_grads[0].shape() != s.result) {
    return InvalidArgument("dY " + ShapeToString(output_grads[0].shape()) + " does not match MatMul's output");
  }
  const int64_t k = s.b[s.b.size() - 2], n = s.b.back();
  const int64_t rows = a.num_elements() / k;
  // Every row of A (over its batch axes too) meets the same B: one inner product of X [rows, K] with W = Bᵀ [N, K].
  FOVEA_ASSIGN_OR_RETURN(const Tensor x, a.Reshaped({rows, k}));
  FOVEA_ASSIGN_OR_RETURN(const Tensor b_matrix, b.Reshaped({k, n}));
  FOVEA_ASSIGN_OR_RETURN(const Tensor dy, output_grads[0].Reshaped({rows, n}));
  const bool b_needed = GradientNeeded(needed, 1);
  std::vector<Tensor> linear = LinearBackward(x, Transposed(b_matrix), dy, b_needed);
  std::vector<Tensor> grads(inputs.size());
  FOVEA_ASSIGN_OR_RETURN(grads[0], linear[0].Reshaped(a.shape()));
  if (b_needed) {
    FOVEA_ASSIGN_OR_RETURN(grads[1], Transposed(linear[1]).Reshaped(b.shape()));
  }
  return grads;
}

}  // namespace fovea::engine::ops
