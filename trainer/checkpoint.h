#pragma once
// Checkpoints: every parameter (and running statistic), the optimizer state and the epoch history in one binary
// file, so `--resume` continues training where it stopped. The architecture spec is stored and must match.

#include <string>
#include <vector>

#include "trainer/network.h"
#include "trainer/optimizer.h"
#include "trainer/trainer.h"

namespace fovea::trainer {

// Writes the checkpoint atomically (temporary file, then rename).
Status SaveCheckpoint(const std::string& path, const Network& network, Optimizer& optimizer,
                      const std::vector<EpochRecord>& history);

// Restores parameters, optimizer state and history. Errors name the file: not a checkpoint, truncated, or written
// for another architecture / parameter shapes.
Status LoadCheckpoint(const std::string& path, Network& network, Optimizer& optimizer,
                      std::vector<EpochRecord>& history);

}  // namespace fovea::trainer
