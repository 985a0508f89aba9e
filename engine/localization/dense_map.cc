#include "engine/localization/dense_map.h"

#include <algorithm>
#include <cstring>

#include "engine/localization/fully_convolutional.h"

namespace fovea::engine::localization {
namespace {

// A copy of image[:, :, dy:, dx:] (the image shifted up-left by dy, dx pixels).
Tensor Cropped(const Tensor& image, int64_t dy, int64_t dx) {
  if (dy == 0 && dx == 0) return image;
  const int64_t channels = image.dim(1), height = image.dim(2), width = image.dim(3);
  Tensor crop(DataType::kFloat32, {1, channels, height - dy, width - dx});
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t y = 0; y < height - dy; ++y) {
      const float* src = image.data<float>() + (c * height + y + dy) * width + dx;
      float* dst = crop.data<float>() + (c * (height - dy) + y) * (width - dx);
      std::memcpy(dst, src, static_cast<size_t>(width - dx) * sizeof(float));
    }
  }
  return crop;
}

// A dense cell pools `feature` pixels [c, c + k) of the trunk's output (k: its size at the model input), which depend
// on image pixels [c·s − before, (c + k − 1)·s + after): beyond the window [c·s, c·s + window) by `before` and by
// (k − 1)·s + after − window.
DenseContext ContextBeyondWindow(const ClassifierHead& head, const Shape& feature, const Shape& input) {
  const int64_t s = head.natural_stride;
  const auto beyond = [&](size_t axis) {
    const int64_t pooled = feature.at(2 + axis), window = input.at(1 + axis);
    return std::max<int64_t>(0, (pooled - 1) * s + head.reach_after[axis] - window);
  };
  return {.top = std::max<int64_t>(0, head.reach_before[0]),
          .bottom = beyond(0),
          .left = std::max<int64_t>(0, head.reach_before[1]),
          .right = beyond(1)};
}

}  // namespace

StatusOr<Shape> ModelInputShape(const Model& model) {
  const ModelMetadata& metadata = model.metadata();
  const Graph& graph = model.graph();
  if (graph.inputs.size() != 1 || graph.inputs[0].shape.size() != 4) {
    return FailedPrecondition("localization needs one 4-D NCHW image input");
  }
  const Shape& dims = graph.inputs[0].shape;
  Shape shape = {metadata.input_channels > 0 ? metadata.input_channels : dims[1],
                 metadata.input_height > 0 ? metadata.input_height : dims[2],
                 metadata.input_width > 0 ? metadata.input_width : dims[3]};
  for (int64_t d : shape) {
    if (d <= 0) return FailedPrecondition("the model's input size is not fixed: " + ShapeToString(shape));
  }
  return shape;
}

StatusOr<std::map<std::string, Shape>> HeadShapes(const Model& model, const ClassifierHead& head) {
  std::vector<std::string> values = {head.dense_input};
  for (int node : head.chain) values.push_back(model.graph().nodes[static_cast<size_t>(node)].outputs.at(0));
  FOVEA_ASSIGN_OR_RETURN(auto tapped,
                         Model::Create(WithOutputs(model.graph(), values), model.metadata(), {.optimize = false}));
  FOVEA_ASSIGN_OR_RETURN(auto session, Session::Create(tapped));
  FOVEA_ASSIGN_OR_RETURN(Shape input, ModelInputShape(model));
  input.insert(input.begin(), 1);
  FOVEA_ASSIGN_OR_RETURN(auto plan, session->PlanFor(std::span<const Shape>(&input, 1)));
  std::map<std::string, Shape> shapes;
  const auto& outputs = tapped->graph().outputs;
  for (size_t i = 0; i < outputs.size(); ++i) shapes[outputs[i].name] = plan->output_shapes()[i];
  return shapes;
}

StatusOr<std::unique_ptr<DenseMapper>> DenseMapper::Create(const Model& model) {
  FOVEA_ASSIGN_OR_RETURN(const ClassifierHead head, AnalyzeHead(model.graph()));
  FOVEA_RETURN_IF_ERROR(head.dense_status);
  FOVEA_ASSIGN_OR_RETURN(const auto shapes, HeadShapes(model, head));
  FOVEA_ASSIGN_OR_RETURN(Graph dense, FullyConvolutional(model.graph(), head, shapes));
  FOVEA_ASSIGN_OR_RETURN(auto dense_model, Model::Create(std::move(dense), model.metadata(), {.optimize = false}));
  FOVEA_ASSIGN_OR_RETURN(const Shape input, ModelInputShape(model));
  std::unique_ptr<DenseMapper> mapper(new DenseMapper());
  FOVEA_ASSIGN_OR_RETURN(mapper->session_, Session::Create(dense_model));
  mapper->natural_stride_ = head.natural_stride;
  mapper->channels_ = input[0];
  mapper->window_height_ = input[1];
  mapper->window_width_ = input[2];
  mapper->context_ = ContextBeyondWindow(head, shapes.at(head.dense_input), input);
  return mapper;
}

StatusOr<int64_t> DenseMapper::ResolveStride(int64_t requested) const {
  if (requested == 0) return natural_stride_;
  if (requested > 0 && (natural_stride_ % requested == 0 || requested % natural_stride_ == 0)) return requested;
  return InvalidArgument("stride " + std::to_string(requested) + " is not usable: this model's natural stride is " +
                         std::to_string(natural_stride_) + "; use 0 (natural), a divisor of it or a multiple of it");
}

StatusOr<Tensor> DenseMapper::RunShifted(const Tensor& image, int64_t dy, int64_t dx) const {
  const Tensor crop = Cropped(image, dy, dx);
  FOVEA_ASSIGN_OR_RETURN(auto outputs, session_->Run(std::span<const Tensor>(&crop, 1)));
  return outputs.at(0);
}

StatusOr<ClassMaps> DenseMapper::Compute(const Tensor& image, int64_t stride) const {
  if (image.rank() != 4 || image.dim(0) != 1 || image.dim(1) != channels_) {
    return InvalidArgument("dense maps take one [1, " + std::to_string(channels_) + ", H, W] image, got " +
                           ShapeToString(image.shape()));
  }
  const int64_t height = image.dim(2), width = image.dim(3);
  if (height < window_height_ || width < window_width_) {
    return InvalidArgument("image is " + std::to_string(width) + "x" + std::to_string(height) +
                           " pixels, smaller than the model's " + std::to_string(window_width_) + "x" +
                           std::to_string(window_height_) + " input window");
  }
  const int64_t rows = (height - window_height_) / stride + 1, cols = (width - window_width_) / stride + 1;
  // Shifted passes at multiples of `stride` below the natural stride fill the cells between natural positions.
  const int64_t shifts = stride < natural_stride_ ? natural_stride_ / stride : 1;
  Tensor values;
  int64_t filled = 0;
  for (int64_t sy = 0; sy < shifts; ++sy) {
    for (int64_t sx = 0; sx < shifts; ++sx) {
      const int64_t dy = sy * stride, dx = sx * stride;
      if (height - dy < window_height_ || width - dx < window_width_) continue;
      FOVEA_ASSIGN_OR_RETURN(const Tensor pass, RunShifted(image, dy, dx));
      const int64_t classes = pass.dim(1), pass_rows = pass.dim(2), pass_cols = pass.dim(3);
      if (!values.has_data()) values = Tensor(DataType::kFloat32, {classes, rows, cols});
      for (int64_t r = 0; r < pass_rows; ++r) {
        const int64_t y = r * natural_stride_ + dy;
        if (y % stride != 0 || y / stride >= rows) continue;
        for (int64_t c = 0; c < pass_cols; ++c) {
          const int64_t x = c * natural_stride_ + dx;
          if (x % stride != 0 || x / stride >= cols) continue;
          for (int64_t k = 0; k < classes; ++k) {
            values.data<float>()[(k * rows + y / stride) * cols + x / stride] =
                pass.data<float>()[(k * pass_rows + r) * pass_cols + c];
          }
          ++filled;
        }
      }
    }
  }
  if (filled != rows * cols) {
    return Internal("dense map filled " + std::to_string(filled) + " of " + std::to_string(rows * cols) +
                    " cells; the model's pooling does not tile this image size evenly");
  }
  ClassMaps maps{values, {}};
  maps.geometry.stride_x = maps.geometry.stride_y = static_cast<double>(stride);
  maps.geometry.offset_x = static_cast<double>(window_width_) / 2.0;
  maps.geometry.offset_y = static_cast<double>(window_height_) / 2.0;
  maps.geometry.window_width = window_width_;
  maps.geometry.window_height = window_height_;
  return maps;
}

}  // namespace fovea::engine::localization
