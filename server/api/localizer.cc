#include "server/api/localizer.h"

#include "engine/localization/detections.h"
#include "engine/localization/resample.h"
#include "imageio/overlay.h"
#include "server/api/classifier.h"

namespace fovea::server {
namespace {

namespace loc = engine::localization;

// One class's map ready for the response.
struct ClassMap {
  int64_t class_index;
  engine::Tensor values;  // [rows, cols]
};

// What either kind of method produces.
struct MethodResult {
  std::vector<ClassMap> maps;
  loc::MapGeometry geometry;
  loc::BoxShape box_shape = loc::BoxShape::kRegion;
  engine::Tensor probabilities;  // empty for DENSE
};

Status ValidateRequest(const v1::LocalizeRequest& request, int64_t num_classes) {
  if (request.stride() < 0) {
    return InvalidArgument("stride " + std::to_string(request.stride()) + " is negative; use 0 for the natural stride");
  }
  if (request.has_score_threshold() && !(request.score_threshold() >= 0.0f && request.score_threshold() <= 1.0f)) {
    return InvalidArgument("score_threshold " + std::to_string(request.score_threshold()) + " is outside [0, 1]");
  }
  if (request.has_nms_iou() && !(request.nms_iou() >= 0.0f && request.nms_iou() <= 1.0f)) {
    return InvalidArgument("nms_iou " + std::to_string(request.nms_iou()) + " is outside [0, 1]");
  }
  for (int64_t c : request.class_indices()) {
    if (c < 0 || c >= num_classes) {
      return InvalidArgument("class index " + std::to_string(c) + " is outside [0, " + std::to_string(num_classes) +
                             ") (the model has " + std::to_string(num_classes) + " classes)");
    }
  }
  return OkStatus();
}

// The method to run: the requested one when the model supports it, CAM or else Grad-CAM when unspecified (Grad-CAM
// when a layer is named, since only Grad-CAM explains a chosen layer).
StatusOr<v1::LocalizationMethod> ResolveMethod(const loc::Localizer& localizer, v1::LocalizationMethod method,
                                               const std::string& layer) {
  const auto need = [](const Status& status, const char* name) {
    return status.ok() ? OkStatus()
                       : Status(StatusCode::kFailedPrecondition,
                                std::string(name) + " is not possible for this model: " + status.message());
  };
  if (!layer.empty() && method != v1::LOCALIZATION_METHOD_UNSPECIFIED && method != v1::LOCALIZATION_METHOD_GRAD_CAM) {
    return InvalidArgument("layer '" + layer + "' applies to GRAD_CAM only, not to " +
                           v1::LocalizationMethod_Name(method));
  }
  switch (method) {
    case v1::LOCALIZATION_METHOD_UNSPECIFIED:
      if (localizer.cam_status().ok() && layer.empty()) return v1::LOCALIZATION_METHOD_CAM;
      FOVEA_RETURN_IF_ERROR(need(localizer.grad_cam_status(), "Grad-CAM"));
      return v1::LOCALIZATION_METHOD_GRAD_CAM;
    case v1::LOCALIZATION_METHOD_CAM:
      FOVEA_RETURN_IF_ERROR(need(localizer.cam_status(), "CAM"));
      return method;
    case v1::LOCALIZATION_METHOD_GRAD_CAM:
      FOVEA_RETURN_IF_ERROR(need(localizer.grad_cam_status(), "Grad-CAM"));
      return method;
    case v1::LOCALIZATION_METHOD_DENSE:
      FOVEA_RETURN_IF_ERROR(need(localizer.dense_status(), "DENSE"));
      return method;
    default:
      break;
  }
  return InvalidArgument("unknown localization method " + std::to_string(method));
}

// CAM or Grad-CAM on the image resized to the model input; the maps cover the whole image.
StatusOr<MethodResult> RunAttribution(const ServedModel& model, const imageio::Image& image,
                                      const v1::LocalizeRequest& request, v1::LocalizationMethod method) {
  InputSpec spec = ModelInputSpec(model);
  // The maps must cover the whole image, so it is stretched to the input even for a model that crops to classify.
  spec.preprocessing.resize = ResizeMode::kStretch;
  engine::Tensor input(engine::DataType::kFloat32, {1, spec.channels, spec.height, spec.width});
  FOVEA_RETURN_IF_ERROR(PreparePixels(image, spec, input.floats()));
  const std::vector<int64_t> classes(request.class_indices().begin(), request.class_indices().end());
  const loc::Localizer& localizer = *model.localizer;
  FOVEA_ASSIGN_OR_RETURN(loc::AttributionMaps maps, method == v1::LOCALIZATION_METHOD_CAM
                                                        ? localizer.Cam(input, classes)
                                                        : localizer.GradCam(input, classes, request.layer()));
  MethodResult result;
  result.probabilities = maps.probabilities;
  for (size_t i = 0; i < maps.classes.size(); ++i) result.maps.push_back({maps.classes[i], maps.maps[i]});
  const engine::Tensor& first = maps.maps.front();
  result.geometry = loc::CoveringGeometry(first.dim(0), first.dim(1), image.width, image.height);
  return result;
}

// Every class except the model's background class, when the request names none.
std::vector<int64_t> DenseClasses(const ServedModel& model, const v1::LocalizeRequest& request) {
  std::vector<int64_t> classes(request.class_indices().begin(), request.class_indices().end());
  if (!classes.empty()) return classes;
  for (int64_t c = 0; c < model.num_classes; ++c) {
    if (c != model.model->metadata().background_class) classes.push_back(c);
  }
  return classes;
}

StatusOr<MethodResult> RunDense(const ServedModel& model, const imageio::Image& image,
                                const v1::LocalizeRequest& request, const LocalizeOptions& options) {
  FOVEA_ASSIGN_OR_RETURN(const loc::DenseMapper* mapper, model.localizer->Dense());
  if (image.width * image.height > options.max_dense_pixels) {
    return ResourceExhausted("image is " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                             " pixels, over the dense-map limit of " + std::to_string(options.max_dense_pixels) +
                             " pixels");
  }
  if (image.width < mapper->window_width() || image.height < mapper->window_height()) {
    return InvalidArgument("image is " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                           " pixels, smaller than the model's " + std::to_string(mapper->window_width()) + "x" +
                           std::to_string(mapper->window_height()) + " input; DENSE needs at least one window");
  }
  FOVEA_ASSIGN_OR_RETURN(const int64_t stride, mapper->ResolveStride(request.stride()));
  // Native resolution: the spec takes the image's own size, so PreparePixels converts and normalizes only.
  InputSpec spec = ModelInputSpec(model);
  spec.height = image.height;
  spec.width = image.width;
  spec.preprocessing.resize = ResizeMode::kStretch;
  engine::Tensor input(engine::DataType::kFloat32, {1, spec.channels, spec.height, spec.width});
  FOVEA_RETURN_IF_ERROR(PreparePixels(image, spec, input.floats()));
  FOVEA_ASSIGN_OR_RETURN(loc::ClassMaps maps, mapper->Compute(input, stride));
  MethodResult result;
  result.geometry = maps.geometry;
  result.box_shape = loc::BoxShape::kWindow;
  const int64_t rows = maps.values.dim(1), cols = maps.values.dim(2);
  for (int64_t c : DenseClasses(model, request)) {
    engine::Tensor plane(engine::DataType::kFloat32, {rows, cols});
    const auto source =
        maps.values.floats().subspan(static_cast<size_t>(c * rows * cols), static_cast<size_t>(rows * cols));
    std::copy(source.begin(), source.end(), plane.floats().begin());
    result.maps.push_back({c, plane});
  }
  return result;
}

// The heatmap blended over the image, with this class's detections outlined.
StatusOr<std::string> RenderOverlay(const imageio::Image& image, const ClassMap& map, const loc::MapGeometry& geometry,
                                    const std::vector<loc::Detection>& detections) {
  constexpr imageio::Rgb kBoxColor = {255, 255, 255};
  constexpr int64_t kBoxThickness = 1;
  const engine::Tensor dense = loc::ResampleToImage(map.values, geometry, image.width, image.height);
  const imageio::Image heat =
      imageio::RenderHeatmap(dense.floats(), image.width, image.height, 0.0f, 1.0f, imageio::Colormap::kJet);
  imageio::Image overlay = imageio::Overlay(image, heat, kOverlayAlpha);
  for (const loc::Detection& d : detections) {
    if (d.class_index != map.class_index) continue;
    // Box corners are inclusive pixels for DrawBox; the proto's max edges are exclusive.
    imageio::DrawBox(overlay, static_cast<int64_t>(d.box.x_min), static_cast<int64_t>(d.box.y_min),
                     static_cast<int64_t>(d.box.x_max) - 1, static_cast<int64_t>(d.box.y_max) - 1, kBoxColor,
                     kBoxThickness);
  }
  return imageio::EncodePng(overlay);
}

void AddPredictions(const ServedModel& model, const engine::Tensor& probabilities, v1::LocalizeResponse& response) {
  for (const auto& [index, probability] : TopValues(probabilities.floats(), kLocalizePredictions)) {
    v1::Prediction* prediction = response.add_predictions();
    prediction->set_class_index(index);
    prediction->set_label(model.model->Label(index));
    prediction->set_probability(probability);
  }
}

Status FillResponse(const ServedModel& model, const imageio::Image& image, const v1::LocalizeRequest& request,
                    const MethodResult& result, v1::LocalizeResponse& response) {
  const float threshold = request.has_score_threshold() ? request.score_threshold() : kDefaultScoreThreshold;
  std::vector<loc::Detection> detections;
  for (const ClassMap& map : result.maps) {
    auto peaks = loc::FindPeaks(map.values, map.class_index, threshold, result.geometry, result.box_shape, image.width,
                                image.height);
    detections.insert(detections.end(), peaks.begin(), peaks.end());
  }
  detections =
      loc::NonMaximumSuppression(std::move(detections), request.has_nms_iou() ? request.nms_iou() : kDefaultNmsIou);
  for (const ClassMap& map : result.maps) {
    v1::Heatmap* heatmap = response.add_heatmaps();
    heatmap->set_class_index(map.class_index);
    heatmap->set_label(model.model->Label(map.class_index));
    heatmap->set_height(static_cast<int32_t>(map.values.dim(0)));
    heatmap->set_width(static_cast<int32_t>(map.values.dim(1)));
    heatmap->mutable_values()->Add(map.values.floats().begin(), map.values.floats().end());
    heatmap->set_stride_x(static_cast<float>(result.geometry.stride_x));
    heatmap->set_stride_y(static_cast<float>(result.geometry.stride_y));
    heatmap->set_offset_x(static_cast<float>(result.geometry.offset_x));
    heatmap->set_offset_y(static_cast<float>(result.geometry.offset_y));
    heatmap->set_window_width(static_cast<int32_t>(result.geometry.window_width));
    heatmap->set_window_height(static_cast<int32_t>(result.geometry.window_height));
    if (request.render_overlays()) {
      FOVEA_ASSIGN_OR_RETURN(std::string png, RenderOverlay(image, map, result.geometry, detections));
      heatmap->set_overlay_png(std::move(png));
    }
  }
  for (const loc::Detection& d : detections) {
    v1::Detection* detection = response.add_detections();
    detection->set_class_index(d.class_index);
    detection->set_label(model.model->Label(d.class_index));
    detection->set_score(d.score);
    v1::Box* box = detection->mutable_box();
    box->set_x_min(d.box.x_min);
    box->set_y_min(d.box.y_min);
    box->set_x_max(d.box.x_max);
    box->set_y_max(d.box.y_max);
  }
  return OkStatus();
}

}  // namespace

Status LocalizeImage(const ServedModel& model, const v1::LocalizeRequest& request, const LocalizeOptions& options,
                     v1::LocalizeResponse& response) {
  if (!model.localizer) return FailedPrecondition("model '" + model.name + "' has no localizer");
  FOVEA_RETURN_IF_ERROR(RequireClassifier(model));
  // The maps are computed on NCHW feature maps of the whole image.
  if (model.preprocessing.nhwc) {
    return FailedPrecondition(ModelTitle(model.name, model.version) + " takes NHWC input; Localize serves NCHW models");
  }
  FOVEA_RETURN_IF_ERROR(ValidateRequest(request, model.num_classes));
  FOVEA_ASSIGN_OR_RETURN(const v1::LocalizationMethod method,
                         ResolveMethod(*model.localizer, request.method(), request.layer()));
  if (!request.has_image()) return InvalidArgument("request has no image");
  StatusOr<imageio::Image> image = DecodePixels(request.image(), options.image_limits);
  if (!image.ok()) return image.status().WithContext("image");
  StatusOr<MethodResult> result = method == v1::LOCALIZATION_METHOD_DENSE
                                      ? RunDense(model, *image, request, options)
                                      : RunAttribution(model, *image, request, method);
  if (!result.ok()) return result.status();
  response.set_model_name(model.name);
  response.set_model_version(model.version);
  response.set_method(method);
  response.set_image_width(static_cast<int32_t>(image->width));
  response.set_image_height(static_cast<int32_t>(image->height));
  if (result->probabilities.has_data()) AddPredictions(model, result->probabilities, response);
  return FillResponse(model, *image, request, *result, response);
}

}  // namespace fovea::server
