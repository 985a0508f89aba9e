#pragma once
// The request fuzzers' shared fixture: the small real model they serve (FOVEA_FUZZ_MODEL, the seed
// tiny_classifier.onnx) in a repository, and request limits small enough that inputs passing every check stay cheap.

#include <memory>

#include "server/api/classifier.h"
#include "server/models/model_repository.h"

namespace fovea::fuzz {

inline constexpr char kTinyModelName[] = "tiny";
inline constexpr int64_t kTinyModelVersion = 1;

// The server's request checks with smaller image and batch limits than its defaults.
server::ClassifyOptions FuzzClassifyOptions();

// The repository holding FOVEA_FUZZ_MODEL as kTinyModelName version kTinyModelVersion. A fuzzer is useless without
// its model: when it cannot be served, prints why (naming `fuzzer`) and exits.
std::unique_ptr<server::ModelRepository> LoadTinyRepository(const char* fuzzer);

}  // namespace fovea::fuzz
