#include "server/api/localizer.h"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "engine/localization/detections.h"
#include "engine/localization/resample.h"
#include "engine/localization/segmentation.h"
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

// What a request will do, settled before any engine work.
struct LocalizePlan {
  v1::LocalizationMethod method = v1::LOCALIZATION_METHOD_UNSPECIFIED;
  std::vector<int64_t> classes;  // as asked; empty = the image's top `top_k`
  int64_t top_k = 1;
  int64_t stride = 0;  // DENSE: resolved
  std::string layer;   // Grad-CAM: the layer to explain; empty = the default
  LocalizeWork work;
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
  if (request.has_top_k() && request.top_k() < 1) {
    return InvalidArgument("top_k " + std::to_string(request.top_k()) + " is below 1");
  }
  if (!v1::HeatmapFormat_IsValid(request.map_format())) {
    return InvalidArgument("unknown map_format " + std::to_string(request.map_format()));
  }
  for (int64_t c : request.class_indices()) {
    if (c < 0 || c >= num_classes) {
      return InvalidArgument("class index " + std::to_string(c) + " is outside [0, " + std::to_string(num_classes) +
                             ") (the model has " + std::to_string(num_classes) + " classes)");
    }
  }
  return OkStatus();
}

// Whether `auto` maps `image` densely: the model allows it and the image holds several model inputs in each
// dimension (a whole-image CAM would blur its objects into one blob) without exceeding the dense-pixel limit.
bool PrefersDense(const loc::Localizer& localizer, const imageio::Image& image, const LocalizeOptions& options) {
  const StatusOr<const loc::DenseMapper*> mapper = localizer.Dense();
  if (!mapper.ok()) return false;
  return image.width >= kAutoDenseInputsPerSide * (*mapper)->window_width() &&
         image.height >= kAutoDenseInputsPerSide * (*mapper)->window_height() &&
         image.width * image.height <= options.max_dense_pixels;
}

// SEGMENTATION for a segmentation model asked for it or for no method in particular; FAILED_PRECONDITION naming the
// way out for any other method.
StatusOr<v1::LocalizationMethod> ResolveSegmentationMethod(const ServedModel& model, v1::LocalizationMethod method) {
  if (method == v1::LOCALIZATION_METHOD_UNSPECIFIED || method == v1::LOCALIZATION_METHOD_SEGMENTATION) {
    return v1::LOCALIZATION_METHOD_SEGMENTATION;
  }
  if (!v1::LocalizationMethod_IsValid(method)) {
    return InvalidArgument("unknown localization method " + std::to_string(method));
  }
  const ServedOutput& map = model.outputs.front();
  return FailedPrecondition(ModelTitle(model.name, model.version) + " is a segmentation model (its output '" +
                            map.name + "' is a per-pixel class map " + engine::ShapeToString(map.shape) +
                            "): ask for SEGMENTATION, or leave the method unset");
}

// The method to run: the requested one when the model supports it; when unspecified, SEGMENTATION for a segmentation
// model, Grad-CAM when a layer is named (only Grad-CAM explains a chosen layer), DENSE for an image much larger than
// the model input, else CAM, else Grad-CAM.
StatusOr<v1::LocalizationMethod> ResolveMethod(const ServedModel& model, v1::LocalizationMethod method,
                                               const std::string& layer, const imageio::Image& image,
                                               const LocalizeOptions& options) {
  const bool grad_cam_or_auto =
      method == v1::LOCALIZATION_METHOD_UNSPECIFIED || method == v1::LOCALIZATION_METHOD_GRAD_CAM;
  if (!layer.empty() && (!grad_cam_or_auto || model.segmentation_classes > 0)) {
    return InvalidArgument(
        "layer '" + layer + "' applies to GRAD_CAM only, not to " +
        (model.segmentation_classes > 0 ? std::string("a segmentation model") : v1::LocalizationMethod_Name(method)));
  }
  if (model.segmentation_classes > 0) return ResolveSegmentationMethod(model, method);
  FOVEA_RETURN_IF_ERROR(RequireClassifier(model));
  const auto need = [](const Status& status, const char* name) {
    return status.ok() ? OkStatus()
                       : Status(StatusCode::kFailedPrecondition,
                                std::string(name) + " is not possible for this model: " + status.message());
  };
  const loc::Localizer& localizer = *model.localizer;
  switch (method) {
    case v1::LOCALIZATION_METHOD_UNSPECIFIED:
      if (layer.empty() && PrefersDense(localizer, image, options)) return v1::LOCALIZATION_METHOD_DENSE;
      if (layer.empty() && localizer.cam_status().ok()) return v1::LOCALIZATION_METHOD_CAM;
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
    case v1::LOCALIZATION_METHOD_SEGMENTATION:
      return FailedPrecondition(
          "SEGMENTATION is not possible for this model: it is a classifier (one score per "
          "class, not a per-pixel class map); ask for CAM, GRAD_CAM or DENSE");
    default:
      break;
  }
  return InvalidArgument("unknown localization method " + std::to_string(method));
}

// The classes of a classifier or a segmentation model.
int64_t ClassCountOf(const ServedModel& model) { return std::max(model.num_classes, model.segmentation_classes); }

// Classes a dense or segmentation map may pick by default: every class except the model's background class.
std::vector<int64_t> DenseCandidates(const ServedModel& model) {
  std::vector<int64_t> classes;
  for (int64_t c = 0; c < ClassCountOf(model); ++c) {
    if (c != model.model->metadata().background_class) classes.push_back(c);
  }
  return classes;
}

int64_t LongestLabel(const ServedModel& model) {
  size_t longest = 0;
  for (int64_t c = 0; c < ClassCountOf(model); ++c) longest = std::max(longest, model.model->Label(c).size());
  return static_cast<int64_t>(longest);
}

// DENSE's map size and passes; INVALID_ARGUMENT or RESOURCE_EXHAUSTED for an image it cannot map.
Status PlanDense(const ServedModel& model, const imageio::Image& image, const v1::LocalizeRequest& request,
                 const LocalizeOptions& options, LocalizePlan& plan) {
  FOVEA_ASSIGN_OR_RETURN(const loc::DenseMapper* mapper, model.localizer->Dense());
  if (image.width * image.height > options.max_dense_pixels) {
    return ResourceExhausted("image is " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                             " pixels, over the dense-map limit of " + std::to_string(options.max_dense_pixels) +
                             " pixels (the server's --max-dense-pixels); send a smaller image or tiles of it "
                             "(fovea slide tiles a huge image so that the stitched map is exact)");
  }
  if (image.width < mapper->window_width() || image.height < mapper->window_height()) {
    return InvalidArgument("image is " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                           " pixels, smaller than the model's " + std::to_string(mapper->window_width()) + "x" +
                           std::to_string(mapper->window_height()) + " input; DENSE needs at least one window");
  }
  FOVEA_ASSIGN_OR_RETURN(plan.stride, mapper->ResolveStride(request.stride()));
  const int64_t natural = mapper->natural_stride();
  const int64_t shifts = plan.stride < natural ? natural / plan.stride : 1;
  LocalizeWork& work = plan.work;
  work.dense = true;
  work.map_rows = (image.height - mapper->window_height()) / plan.stride + 1;
  work.map_cols = (image.width - mapper->window_width()) / plan.stride + 1;
  work.dense_passes = shifts * shifts;
  work.dense_classes = model.num_classes;
  work.dense_pass_cells =
      ((image.height - mapper->window_height()) / natural + 1) * ((image.width - mapper->window_width()) / natural + 1);
  return OkStatus();
}

// The method, classes and the answer's size for `request`; the budget is checked by the caller.
StatusOr<LocalizePlan> PlanRequest(const ServedModel& model, const imageio::Image& image,
                                   const v1::LocalizeRequest& request, const LocalizeOptions& options) {
  LocalizePlan plan;
  FOVEA_ASSIGN_OR_RETURN(plan.method, ResolveMethod(model, request.method(), request.layer(), image, options));
  plan.layer = request.layer();
  const bool dense = plan.method == v1::LOCALIZATION_METHOD_DENSE;
  const bool segmentation = plan.method == v1::LOCALIZATION_METHOD_SEGMENTATION;
  const int64_t candidates =
      dense || segmentation ? static_cast<int64_t>(DenseCandidates(model).size()) : model.num_classes;
  plan.classes.assign(request.class_indices().begin(), request.class_indices().end());
  if (request.has_top_k()) {
    plan.top_k = request.top_k();
  } else if (dense) {
    plan.top_k = candidates <= kDenseEveryClassUpTo ? candidates : kDefaultDenseTopK;
  } else if (segmentation) {
    plan.top_k = kDefaultDenseTopK;  // the classes that win the most cells; usually fewer win at all
  } else {
    plan.top_k = kDefaultAttributionTopK;
  }
  if (dense) {
    FOVEA_RETURN_IF_ERROR(PlanDense(model, image, request, options, plan));
  } else if (segmentation) {
    plan.work.map_rows = image.height;  // one cell per image pixel
    plan.work.map_cols = image.width;
  } else {
    FOVEA_ASSIGN_OR_RETURN(const auto size,
                           model.localizer->AttributionMapSize(plan.method == v1::LOCALIZATION_METHOD_CAM, plan.layer));
    plan.work.map_rows = size.first;
    plan.work.map_cols = size.second;
  }
  LocalizeWork& work = plan.work;
  work.maps = plan.classes.empty() ? std::min(plan.top_k, candidates) : static_cast<int64_t>(plan.classes.size());
  work.png_maps = request.map_format() == v1::HEATMAP_FORMAT_PNG;
  work.overlays = request.render_overlays();
  work.image_width = image.width;
  work.image_height = image.height;
  work.label_bytes = LongestLabel(model);
  work.score_threshold = request.has_score_threshold() ? request.score_threshold() : kDefaultScoreThreshold;
  return plan;
}

// CAM or Grad-CAM on the image resized to the model input; the maps cover the whole image.
StatusOr<MethodResult> RunAttribution(const ServedModel& model, const imageio::Image& image, const LocalizePlan& plan) {
  InputSpec spec = ModelInputSpec(model);
  // The maps must cover the whole image, so it is stretched to the input even for a model that crops to classify.
  spec.preprocessing.resize = ResizeMode::kStretch;
  engine::Tensor input(engine::DataType::kFloat32, {1, spec.channels, spec.height, spec.width});
  FOVEA_RETURN_IF_ERROR(PreparePixels(image, spec, input.floats()));
  const loc::Localizer& localizer = *model.localizer;
  FOVEA_ASSIGN_OR_RETURN(loc::AttributionMaps maps,
                         plan.method == v1::LOCALIZATION_METHOD_CAM
                             ? localizer.Cam(input, plan.classes, plan.top_k)
                             : localizer.GradCam(input, plan.classes, plan.top_k, plan.layer));
  MethodResult result;
  result.probabilities = maps.probabilities;
  for (size_t i = 0; i < maps.classes.size(); ++i) result.maps.push_back({maps.classes[i], maps.maps[i]});
  const engine::Tensor& first = maps.maps.front();
  result.geometry = loc::CoveringGeometry(first.dim(0), first.dim(1), image.width, image.height);
  return result;
}

// The `k` candidates with the highest window probability anywhere in `values` ([classes, rows, cols]), best first.
std::vector<int64_t> TopDenseClasses(const engine::Tensor& values, std::vector<int64_t> candidates, int64_t k) {
  const int64_t cells = values.dim(1) * values.dim(2);
  std::vector<float> peak(static_cast<size_t>(values.dim(0)), 0.0f);
  for (int64_t c : candidates) {
    const auto plane = values.floats().subspan(static_cast<size_t>(c * cells), static_cast<size_t>(cells));
    peak[static_cast<size_t>(c)] = *std::max_element(plane.begin(), plane.end());
  }
  k = std::min(k, static_cast<int64_t>(candidates.size()));
  std::partial_sort(candidates.begin(), candidates.begin() + k, candidates.end(), [&peak](int64_t a, int64_t b) {
    return peak[static_cast<size_t>(a)] > peak[static_cast<size_t>(b)] ||
           (peak[static_cast<size_t>(a)] == peak[static_cast<size_t>(b)] && a < b);
  });
  candidates.resize(static_cast<size_t>(k));
  return candidates;
}

// The server maps one dense image at a time. Each pass already runs on every core of the calling thread's team, so a
// second one at once only splits them (and oversubscribes them), while it doubles the memory: a pass holds a working
// set proportional to the image, about 265 MB for a 1-Mpixel tile on the bundled model. Whole-slide clients keep
// several tiles in flight; they queue here, decoded, rather than each taking its working set.
StatusOr<loc::ClassMaps> ComputeOneAtATime(const loc::DenseMapper& mapper, const engine::Tensor& input,
                                           int64_t stride) {
  static std::mutex one_pass;
  const std::lock_guard lock(one_pass);
  return mapper.Compute(input, stride);
}

StatusOr<MethodResult> RunDense(const ServedModel& model, const imageio::Image& image, const LocalizePlan& plan) {
  FOVEA_ASSIGN_OR_RETURN(const loc::DenseMapper* mapper, model.localizer->Dense());
  // Native resolution: the spec takes the image's own size, so PreparePixels converts and normalizes only.
  InputSpec spec = ModelInputSpec(model);
  spec.height = image.height;
  spec.width = image.width;
  spec.preprocessing.resize = ResizeMode::kStretch;
  engine::Tensor input(engine::DataType::kFloat32, {1, spec.channels, spec.height, spec.width});
  FOVEA_RETURN_IF_ERROR(PreparePixels(image, spec, input.floats()));
  FOVEA_ASSIGN_OR_RETURN(loc::ClassMaps maps, ComputeOneAtATime(*mapper, input, plan.stride));
  MethodResult result;
  result.geometry = maps.geometry;
  result.box_shape = loc::BoxShape::kWindow;
  const int64_t rows = maps.values.dim(1), cols = maps.values.dim(2);
  const std::vector<int64_t> classes =
      plan.classes.empty() ? TopDenseClasses(maps.values, DenseCandidates(model), plan.top_k) : plan.classes;
  for (int64_t c : classes) {
    engine::Tensor plane(engine::DataType::kFloat32, {rows, cols});
    const auto source =
        maps.values.floats().subspan(static_cast<size_t>(c * rows * cols), static_cast<size_t>(rows * cols));
    std::copy(source.begin(), source.end(), plane.floats().begin());
    result.maps.push_back({c, plane});
  }
  return result;
}

loc::PlaneScores PlaneScoresOf(ScoreActivation activation) {
  switch (activation) {
    case ScoreActivation::kSigmoid:
      return loc::PlaneScores::kIndependentLogits;
    case ScoreActivation::kNone:
      return loc::PlaneScores::kProbabilities;
    case ScoreActivation::kSoftmax:
      break;
  }
  return loc::PlaneScores::kLogits;
}

// The segmentation model's class probabilities on the image resized to its input, read bilinearly at every pixel of
// the image. Without asked-for classes, the `top_k` that win the most output cells.
StatusOr<MethodResult> RunSegmentation(const ServedModel& model, const imageio::Image& image,
                                       const LocalizePlan& plan) {
  InputSpec spec = ModelInputSpec(model);
  // The maps must cover the whole image, as for CAM.
  spec.preprocessing.resize = ResizeMode::kStretch;
  engine::Tensor input(engine::DataType::kFloat32, {1, spec.channels, spec.height, spec.width});
  FOVEA_RETURN_IF_ERROR(PreparePixels(image, spec, input.floats()));
  FOVEA_ASSIGN_OR_RETURN(std::vector<engine::Tensor> outputs, RunServedModel(model, input));
  FOVEA_ASSIGN_OR_RETURN(const engine::Tensor planes,
                         loc::ClassProbabilityPlanes(outputs.front(), PlaneScoresOf(model.score_activation)));
  std::vector<int64_t> classes = plan.classes;
  if (classes.empty()) {
    classes = loc::WinningClasses(planes, model.model->metadata().background_class);
    if (static_cast<int64_t>(classes.size()) > plan.top_k) classes.resize(static_cast<size_t>(plan.top_k));
  }
  const loc::MapGeometry cells = loc::CoveringGeometry(planes.dim(1), planes.dim(2), image.width, image.height);
  MethodResult result;
  result.geometry = loc::CoveringGeometry(image.height, image.width, image.width, image.height);
  for (int64_t c : classes) {
    result.maps.push_back({c, loc::ResampleToImage(loc::ClassPlane(planes, c), cells, image.width, image.height)});
  }
  return result;
}

// The map as an 8-bit grayscale PNG: gray 0 is its minimum, 255 its maximum (all 0 for a constant map).
Status SetValuesPng(const engine::Tensor& values, v1::Heatmap& heatmap) {
  constexpr float kMaxGray = 255.0f;
  const auto cells = values.floats();
  const auto [low, high] = std::minmax_element(cells.begin(), cells.end());
  const float scale = *high > *low ? kMaxGray / (*high - *low) : 0.0f;
  imageio::Image gray{values.dim(1), values.dim(0), 1, std::vector<uint8_t>(cells.size())};
  for (size_t i = 0; i < cells.size(); ++i) {
    gray.pixels[i] = static_cast<uint8_t>(std::lround((cells[i] - *low) * scale));
  }
  FOVEA_ASSIGN_OR_RETURN(std::string png, imageio::EncodePng(gray));
  heatmap.set_values_png(std::move(png));
  heatmap.set_value_min(*low);
  heatmap.set_value_max(*high);
  return OkStatus();
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
    if (request.map_format() == v1::HEATMAP_FORMAT_PNG) {
      FOVEA_RETURN_IF_ERROR(SetValuesPng(map.values, *heatmap));
    } else {
      heatmap->mutable_values()->Add(map.values.floats().begin(), map.values.floats().end());
    }
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

LocalizeOptions LocalizeOptionsFor(const ClassifyOptions& options) {
  LocalizeOptions localize;
  localize.image_limits = options.image_limits;
  localize.limits.max_response_bytes = static_cast<int64_t>(options.max_message_bytes);
  localize.max_dense_pixels = options.max_dense_pixels;
  return localize;
}

Status LocalizeImage(const ServedModel& model, const v1::LocalizeRequest& request, const LocalizeOptions& options,
                     v1::LocalizeResponse& response) {
  if (!model.localizer) return FailedPrecondition("model '" + model.name + "' has no localizer");
  // The maps are computed on NCHW feature maps of the whole image.
  if (model.preprocessing.nhwc) {
    return FailedPrecondition(ModelTitle(model.name, model.version) + " takes NHWC input; Localize serves NCHW models");
  }
  FOVEA_RETURN_IF_ERROR(ValidateRequest(request, ClassCountOf(model)));
  if (!request.has_image()) return InvalidArgument("request has no image");
  StatusOr<imageio::Image> image = DecodePixels(request.image(), options.image_limits);
  if (!image.ok()) return image.status().WithContext("image");
  // Everything the answer will hold is known now, before any engine work: refuse what cannot be sent.
  FOVEA_ASSIGN_OR_RETURN(const LocalizePlan plan, PlanRequest(model, *image, request, options));
  FOVEA_RETURN_IF_ERROR(CheckLocalizeBudget(plan.work, options.limits));
  StatusOr<MethodResult> result = plan.method == v1::LOCALIZATION_METHOD_DENSE ? RunDense(model, *image, plan)
                                  : plan.method == v1::LOCALIZATION_METHOD_SEGMENTATION
                                      ? RunSegmentation(model, *image, plan)
                                      : RunAttribution(model, *image, plan);
  if (!result.ok()) return result.status();
  response.set_model_name(model.name);
  response.set_model_version(model.version);
  response.set_method(plan.method);
  response.set_image_width(static_cast<int32_t>(image->width));
  response.set_image_height(static_cast<int32_t>(image->height));
  if (result->probabilities.has_data()) AddPredictions(model, result->probabilities, response);
  return FillResponse(model, *image, request, *result, response);
}

}  // namespace fovea::server
