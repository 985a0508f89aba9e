#pragma once
// ServingContext: what every transport's services share (the models, the worker pool, the batchers, the metrics and
// the per-request limits). main.cc owns the parts; the services borrow them through one of these.

#include "common/thread_pool.h"
#include "server/api/classifier.h"
#include "server/models/model_batchers.h"
#include "server/models/model_repository.h"
#include "server/models/repository_poller.h"
#include "server/ops/metrics.h"

namespace fovea::server {

struct ServingContext {
  const ModelRepository& repository;
  common::ThreadPool& workers;  // CPU-bound preparation (decoding, converting) off the transports' threads
  ModelBatchers& batchers;
  Metrics& metrics;
  RepositoryPoller& poller;  // loads and unloads models on request (Triton's model-repository extension)
  ClassifyOptions options;   // request limits, the same for every transport
};

}  // namespace fovea::server
