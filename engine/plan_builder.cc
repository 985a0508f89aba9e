#include "engine/plan_builder.h"

#include <algorithm>
#include <cstring>

namespace fovea::engine {

using dnnl::memory;

PlanValue PlanValue::Constant(Tensor t) {
  PlanValue v;
  v.dtype = t.dtype();
  v.shape = t.shape();
  v.constant = std::move(t);
  return v;
}

memory::dims ToDims(const Shape& shape) { return memory::dims(shape.begin(), shape.end()); }

memory::data_type DnnlDataType(DataType type) {
  switch (type) {
    case DataType::kUint8:
    case DataType::kBool:
      return memory::data_type::u8;
    case DataType::kInt8:
      return memory::data_type::s8;
    case DataType::kFloat32:
    case DataType::kInt64:
      break;
  }
  return memory::data_type::f32;
}

memory::desc PlainDesc(const Shape& shape, memory::data_type type) {
  // oneDNN has no rank-0 memory; a scalar is a one-element vector.
  Shape dims = shape.empty() ? Shape{1} : shape;
  memory::dims strides(dims.size(), 1);
  for (int i = static_cast<int>(dims.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * dims[i + 1];
  return memory::desc(ToDims(dims), type, strides);
}

memory::desc ValueDesc(const Shape& shape, DataType type) {
  if (type != DataType::kInt64) return PlainDesc(shape, DnnlDataType(type));
  const auto bytes = static_cast<memory::dim>(std::max<int64_t>(NumElements(shape), 1) * sizeof(int64_t));
  return memory::desc({bytes}, memory::data_type::u8, memory::format_tag::a);
}

memory::desc WithDataType(const memory::desc& desc, memory::data_type type) {
  memory::desc result = desc;
  result.data.data_type = static_cast<dnnl_data_type_t>(type);
  return result;
}

SharedConstants::SharedConstants(const std::map<std::string, Tensor>& model_constants) {
  for (const auto& [name, tensor] : model_constants) {
    if (tensor.has_data()) shareable_.insert(tensor.raw_data());
  }
}

memory SharedConstants::Get(const Tensor& tensor, const memory::desc& desc, const std::function<memory()>& make) {
  std::lock_guard lock(mutex_);
  for (const Entry& entry : entries_) {
    if (entry.data == tensor.raw_data() && entry.dtype == tensor.dtype() && entry.desc == desc) return entry.memory;
  }
  entries_.push_back({tensor.raw_data(), tensor.dtype(), desc, make()});
  return entries_.back().memory;
}

size_t SharedConstants::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

PlanBuilder::PlanBuilder(dnnl::engine engine, memory::data_type compute_type, SharedConstants* shared)
    : engine_(std::move(engine)), compute_type_(compute_type), shared_(shared), stream_(engine_) {}

dnnl::primitive_attr PlanBuilder::DefaultAttr() const {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

int PlanBuilder::AddBuffer(const memory::desc& desc, bool external) {
  PlanBuffer buffer;
  buffer.desc = desc;
  buffer.external = external;
  buffer.storage = static_cast<int>(storage_sizes_.size());
  storage_sizes_.push_back(external ? 0 : desc.get_size());
  buffers_.push_back(buffer);
  return static_cast<int>(buffers_.size()) - 1;
}

PlanValue PlanBuilder::NewValue(const Shape& shape, const memory::desc& desc) {
  PlanValue v;
  v.shape = shape;
  v.desc = desc;
  v.id = AddBuffer(desc, /*external=*/false);
  return v;
}

PlanValue PlanBuilder::NewExternalValue(const Shape& shape, DataType dtype) {
  PlanValue v;
  v.dtype = dtype;
  v.shape = shape;
  v.desc = ValueDesc(shape, dtype);
  v.id = AddBuffer(v.desc, /*external=*/true);
  return v;
}

PlanValue PlanBuilder::Alias(const PlanValue& value, const Shape& shape) {
  PlanValue v = value;
  v.shape = shape;
  if (value.is_constant()) {
    v.constant = value.constant->Reshaped(shape).value();
    return v;
  }
  PlanBuffer buffer = buffers_[static_cast<size_t>(value.id)];
  buffer.desc = PlainDesc(shape, value.desc.data_type());
  buffers_.push_back(buffer);
  v.desc = buffer.desc;
  v.id = static_cast<int>(buffers_.size()) - 1;
  return v;
}

PlanValue PlanBuilder::View(const PlanValue& value, const Shape& shape, const memory::desc& desc) {
  PlanBuffer buffer = buffers_[static_cast<size_t>(value.id)];
  buffer.desc = desc;
  buffers_.push_back(buffer);
  PlanValue v = value;
  v.shape = shape;
  v.desc = desc;
  v.id = static_cast<int>(buffers_.size()) - 1;
  return v;
}

PlanValue PlanBuilder::Reordered(const PlanValue& value, const memory::desc& desc) {
  if (value.is_constant()) {
    PlanValue v = NewValue(value.shape, desc);
    AddStep(dnnl::reorder(dnnl::reorder::primitive_desc(engine_, desc, engine_, desc)),
            {ConstantArg(DNNL_ARG_FROM, ConstantMemory(*value.constant, desc)), {DNNL_ARG_TO, v.id, {}}}, {});
    return v;
  }
  if (value.desc == desc) return value;
  return Copied(value, desc);
}

PlanValue PlanBuilder::Copied(const PlanValue& value, const memory::desc& desc) {
  if (value.is_constant()) return Reordered(value, desc);
  PlanValue v = NewValue(value.shape, desc);
  auto pd = dnnl::reorder::primitive_desc(engine_, value.desc, engine_, desc, DefaultAttr());
  AddStep(dnnl::reorder(pd), {{DNNL_ARG_FROM, value.id, {}}, {DNNL_ARG_TO, v.id, {}}}, pd.scratchpad_desc());
  return v;
}

PlanValue PlanBuilder::Plain(const PlanValue& value) {
  if (value.is_constant()) return value;
  // Float values become f32 (a bf16 layer's output included); quantized values keep their 8-bit type.
  const memory::data_type type = value.desc.data_type();
  const bool quantized = type == memory::data_type::u8 || type == memory::data_type::s8;
  return Reordered(value, PlainDesc(value.shape, quantized ? type : memory::data_type::f32));
}

PlanArg PlanBuilder::Arg(int dnnl_arg, const PlanValue& value, const memory::desc& desc) {
  if (value.is_constant()) return ConstantArg(dnnl_arg, ConstantMemory(*value.constant, desc));
  const PlanValue v = Reordered(value, desc);
  return {dnnl_arg, v.id, {}};
}

PlanArg PlanBuilder::ConstantArg(int dnnl_arg, const memory& memory) { return {dnnl_arg, -1, memory}; }

void PlanBuilder::AddStep(dnnl::primitive primitive, std::vector<PlanArg> args, const memory::desc& scratchpad) {
  scratchpad_bytes_ = std::max(scratchpad_bytes_, scratchpad.get_size());
  PlanStep step;
  step.primitive = std::move(primitive);
  step.args = std::move(args);
  steps_.push_back(std::move(step));
}

std::vector<PlanValue> PlanBuilder::AddHostStep(HostKernel kernel, std::span<const PlanValue> inputs,
                                                const std::vector<Shape>& output_shapes,
                                                const std::vector<DataType>& output_dtypes) {
  PlanStep step;
  step.host = std::move(kernel);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int arg = DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i);
    step.host_input_shapes.push_back(inputs[i].shape);
    if (!inputs[i].present()) {
      step.host_input_dtypes.push_back(DataType::kFloat32);
      step.args.push_back({arg, -1, {}});
    } else if (inputs[i].is_constant()) {
      const Tensor& t = *inputs[i].constant;
      step.host_input_dtypes.push_back(t.dtype());
      // Plan-owned copy: int64 constants (shapes, indices) stay int64 here, which no oneDNN memory could hold.
      Tensor copy = t.Clone();
      const memory::desc bytes({static_cast<memory::dim>(std::max<size_t>(copy.byte_size(), 1))}, memory::data_type::u8,
                               memory::format_tag::a);
      step.args.push_back(ConstantArg(arg, memory(bytes, engine_, copy.raw_data())));
      step.host_constants.push_back(std::move(copy));
    } else {
      const PlanValue plain = Plain(inputs[i]);
      step.host_input_dtypes.push_back(plain.dtype);
      step.args.push_back({arg, plain.id, {}});
    }
  }
  std::vector<PlanValue> outputs;
  for (size_t i = 0; i < output_shapes.size(); ++i) {
    const DataType dtype = i < output_dtypes.size() ? output_dtypes[i] : DataType::kFloat32;
    PlanValue out = NewValue(output_shapes[i], ValueDesc(output_shapes[i], dtype));
    out.dtype = dtype;
    step.args.push_back({DNNL_ARG_MULTIPLE_DST + static_cast<int>(i), out.id, {}});
    step.host_output_shapes.push_back(output_shapes[i]);
    step.host_output_dtypes.push_back(dtype);
    outputs.push_back(out);
  }
  steps_.push_back(std::move(step));
  return outputs;
}

memory PlanBuilder::ConstantMemory(const Tensor& tensor, const memory::desc& desc) {
  if (shared_ != nullptr && shared_->Shares(tensor)) {
    return shared_->Get(tensor, desc, [&] { return ReorderedConstant(tensor, desc); });
  }
  return ReorderedConstant(tensor, desc);
}

memory PlanBuilder::ReorderedConstant(const Tensor& tensor, const memory::desc& desc) {
  // The constant as it is stored (plain), then one reorder into the layout the primitive asked for.
  Tensor source = tensor;
  memory::desc plain = PlainDesc(tensor.shape(), DnnlDataType(tensor.dtype()));
  if (plain.dims() != desc.dims()) plain = plain.reshape(desc.dims());
  memory src(plain, engine_, const_cast<void*>(source.raw_data()));
  memory dst(desc, engine_);
  dnnl::reorder(src, dst).execute(stream_, src, dst);
  stream_.wait();
  return dst;
}

}  // namespace fovea::engine
