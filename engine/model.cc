#include "engine/model.h"

#include "engine/passes.h"

namespace fovea::engine {

StatusOr<std::shared_ptr<const Model>> Model::Create(Graph graph, ModelMetadata metadata, ModelOptions options) {
  FOVEA_RETURN_IF_ERROR(ValidateGraph(graph));
  if (options.optimize) {
    FOVEA_ASSIGN_OR_RETURN(graph, OptimizeForInference(std::move(graph)));
    FOVEA_RETURN_IF_ERROR(ValidateGraph(graph));
  }
  return std::shared_ptr<const Model>(new Model(std::move(graph), std::move(metadata)));
}

std::string Model::Label(int64_t index) const {
  if (index >= 0 && static_cast<size_t>(index) < metadata_.labels.size()) {
    return metadata_.labels[static_cast<size_t>(index)];
  }
  return std::to_string(index);
}

}  // namespace fovea::engine
