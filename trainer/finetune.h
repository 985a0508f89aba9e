#pragma once
// Fine-tuning (`fovea-train --from MODEL.onnx`): a classifier trained elsewhere (any ONNX CNN the engine loads) adapted
// to new classes. Its final fully connected layer is replaced by a new one for the new classes; everything before it,
// the backbone, runs frozen in the engine, exactly as the server runs it (trainer/layers FrozenLayerParams), and the
// new layer trains in the trainer's own loop (augmentation, schedule, optimizer, checkpoints, report).
//
// The exported model is the source file with only that layer replaced (modelio/onnx_edit.h): the backbone's weights
// are bit-identical to the source's by construction, and its preprocessing metadata (input size, mean/std, channel
// order, resize mode) is kept.

#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/localization/final_layer.h"
#include "engine/model.h"
#include "trainer/augment.h"
#include "trainer/network.h"

namespace fovea::trainer {

struct FineTuneSource {
  std::string path;
  std::string bytes;               // the source file
  engine::ModelMetadata metadata;  // as imported (labels, preprocessing, properties)
  engine::localization::FinalLayer final_layer;
  InputGeometry input;         // from the fovea.input.* metadata or the graph input's static shape
  FrozenLayerParams backbone;  // the source graph with `final_layer.features` as its only output
};

// Reads and analyses the model at `path`, and runs its backbone once on a black image to learn the feature count.
// Errors name the file and what does not fit (no fixed input size, no final fully connected layer).
StatusOr<FineTuneSource> LoadFineTuneSource(const std::string& path);

// The second phase, every layer trained: `source` rebuilt as a trainer network (a fovea-train model: its
// fovea.train.architecture spec, every backbone parameter and running statistic loaded by name from its
// initializers), with the new layer `head` trained in the first phase, and the backbone's learning rate scaled by
// `backbone_lr_scale`. FAILED_PRECONDITION when the source cannot be rebuilt (not trained by fovea-train, or its
// weights do not fit the spec), naming what is missing.
StatusOr<std::unique_ptr<Network>> UnfrozenNetwork(const FineTuneSource& source, const Network& head,
                                                   float backbone_lr_scale, uint64_t seed);

// `source`'s metadata for a fine-tuned model: `labels` instead of the source's, the preprocessing kept, the source's
// fovea.train.* entries and background class dropped. `normalization` is what training used (the source's mean/std
// when it has them).
engine::ModelMetadata FineTunedMetadata(const FineTuneSource& source, const std::vector<std::string>& labels,
                                        const Normalization& normalization);

// The fine-tuned model's ONNX bytes: the source with `network`'s classifier as its final layer and `metadata`.
StatusOr<std::string> ExportFineTuned(const FineTuneSource& source, const Network& network,
                                      const engine::ModelMetadata& metadata);

}  // namespace fovea::trainer
