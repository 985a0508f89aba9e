#include "trainer/layers/layer.h"

namespace fovea::trainer {

dnnl::memory NewMemory(const dnnl::memory::desc& desc, const LayerContext& context) { return {desc, context.engine}; }

dnnl::memory::desc PlainF32(const dnnl::memory::dims& dims) {
  using Tag = dnnl::memory::format_tag;
  static constexpr Tag kTags[] = {Tag::a, Tag::ab, Tag::abc, Tag::abcd, Tag::abcde};
  return {dims, dnnl::memory::data_type::f32, kTags[dims.size() - 1]};
}

dnnl::memory LayoutAdapter::Adapt(const dnnl::memory& src, const dnnl::memory::desc& want,
                                  const LayerContext& context) {
  const dnnl::memory::desc have = src.get_desc();
  if (have == want) return src;
  if (!dst_ || dst_.get_desc() != want || src_desc_ != have) {
    dst_ = NewMemory(want, context);
    reorder_ = dnnl::reorder(src, dst_);
    src_desc_ = have;
  }
  dnnl::memory source = src;  // execute() takes non-const handles; the handle copy shares the buffer
  reorder_.execute(context.stream, source, dst_);
  return dst_;
}

}  // namespace fovea::trainer

#include "trainer/layers/layers.h"

namespace fovea::trainer {

StatusOr<Parameter*> FindParameter(ParameterStore& store, const std::string& name, const engine::Shape& shape) {
  Parameter* param = store.Find(name);
  if (param == nullptr) return NotFound("parameter '" + name + "' is missing");
  if (param->shape != shape) {
    return InvalidArgument("parameter '" + name + "' has shape " + engine::ShapeToString(param->shape) +
                           ", the layer needs " + engine::ShapeToString(shape));
  }
  return param;
}

}  // namespace fovea::trainer
