#pragma once
// The per-image results of `fovea classify` and the three ways of printing them (table, CSV, JSON). Every input
// appears exactly once, in input order, with its predictions or its error.

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "fovea/v1/inference.pb.h"

namespace fovea::client {

struct ImageOutcome {
  std::string path;
  std::vector<v1::Prediction> predictions;  // most probable first
  int error_code = 0;                       // a gRPC status code; 0 = classified
  std::string error_message;

  bool failed() const { return error_code != 0; }
};

// A file-name-safe version of a class label ("T-shirt/top" → "T-shirt_top"), for the files written per class.
std::string FileNameSlug(const std::string& text);

// The file names of `paths` without folder and extension, numbered ("scan-2") where two inputs share one: the stems of
// the output files written per input.
std::vector<std::string> UniqueFileStems(const std::vector<std::string>& paths);

enum class OutputFormat { kTable, kCsv, kJson };

// "table", "csv" or "json"; std::nullopt for anything else.
std::optional<OutputFormat> ParseOutputFormat(const std::string& name);

// Table: one aligned line per image. CSV: header `path,status,error,label_1,probability_1,...` and one row per
// image. JSON: an array with one object per image: {"path", "predictions": [{"class_index", "label",
// "probability"}]} or {"path", "error": {"code", "message"}}.
void WriteOutcomes(std::ostream& out, OutputFormat format, const std::vector<ImageOutcome>& outcomes);

// Quotes a CSV field when it holds a comma, quote or line break (RFC 4180).
std::string CsvField(const std::string& text);

// `text` as a JSON string literal, quotes included.
std::string JsonString(const std::string& text);

}  // namespace fovea::client
