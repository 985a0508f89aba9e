#include "client/result_output.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <map>

#include "client/fovea_client.h"
#include "common/json_text.h"

namespace fovea::client {

std::string FileNameSlug(const std::string& text) {
  std::string slug;
  for (char c : text) slug += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
  return slug;
}

std::vector<std::string> UniqueFileStems(const std::vector<std::string>& paths) {
  std::map<std::string, int> seen;
  std::vector<std::string> stems;
  for (const std::string& path : paths) {
    const std::string stem = std::filesystem::path(path).stem().string();
    const int count = seen[stem]++;
    stems.push_back(count == 0 ? stem : stem + "-" + std::to_string(count + 1));
  }
  return stems;
}

namespace {

constexpr int kProbabilityDigits = 4;

std::string StatusText(const ImageOutcome& outcome) {
  return outcome.failed() ? GrpcCodeName(outcome.error_code) : "ok";
}

std::string Probability(float probability) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.*f", kProbabilityDigits, static_cast<double>(probability));
  return text;
}

void WriteTable(std::ostream& out, const std::vector<ImageOutcome>& outcomes) {
  size_t path_width = 4;
  for (const ImageOutcome& outcome : outcomes) path_width = std::max(path_width, outcome.path.size());
  out << std::left << std::setw(static_cast<int>(path_width)) << "PATH"
      << "  RESULT\n";
  for (const ImageOutcome& outcome : outcomes) {
    out << std::left << std::setw(static_cast<int>(path_width)) << outcome.path << "  ";
    if (outcome.failed()) {
      out << "error " << StatusText(outcome) << ": " << outcome.error_message;
    }
    for (size_t i = 0; i < outcome.predictions.size(); ++i) {
      out << (i == 0 ? "" : ", ") << outcome.predictions[i].label() << " "
          << Probability(outcome.predictions[i].probability());
    }
    out << "\n";
  }
}

void WriteCsv(std::ostream& out, const std::vector<ImageOutcome>& outcomes) {
  size_t columns = 0;
  for (const ImageOutcome& outcome : outcomes) columns = std::max(columns, outcome.predictions.size());
  out << "path,status,error";
  for (size_t i = 1; i <= columns; ++i) out << ",label_" << i << ",probability_" << i;
  out << "\n";
  for (const ImageOutcome& outcome : outcomes) {
    out << CsvField(outcome.path) << "," << StatusText(outcome) << "," << CsvField(outcome.error_message);
    for (size_t i = 0; i < columns; ++i) {
      if (i < outcome.predictions.size()) {
        out << "," << CsvField(outcome.predictions[i].label()) << ","
            << Probability(outcome.predictions[i].probability());
      } else {
        out << ",,";
      }
    }
    out << "\n";
  }
}

void WriteJsonOutcome(std::ostream& out, const ImageOutcome& outcome) {
  out << "{\"path\": " << JsonString(outcome.path) << ", ";
  if (outcome.failed()) {
    out << "\"error\": {\"code\": " << JsonString(StatusText(outcome))
        << ", \"message\": " << JsonString(outcome.error_message) << "}}";
    return;
  }
  out << "\"predictions\": [";
  for (size_t i = 0; i < outcome.predictions.size(); ++i) {
    const v1::Prediction& prediction = outcome.predictions[i];
    out << (i == 0 ? "" : ", ") << "{\"class_index\": " << prediction.class_index()
        << ", \"label\": " << JsonString(prediction.label())
        << ", \"probability\": " << Probability(prediction.probability()) << "}";
  }
  out << "]}";
}

void WriteJson(std::ostream& out, const std::vector<ImageOutcome>& outcomes) {
  out << "[";
  for (size_t i = 0; i < outcomes.size(); ++i) {
    out << (i == 0 ? "\n  " : ",\n  ");
    WriteJsonOutcome(out, outcomes[i]);
  }
  out << (outcomes.empty() ? "]\n" : "\n]\n");
}

}  // namespace

std::optional<OutputFormat> ParseOutputFormat(const std::string& name) {
  if (name == "table") return OutputFormat::kTable;
  if (name == "csv") return OutputFormat::kCsv;
  if (name == "json") return OutputFormat::kJson;
  return std::nullopt;
}

void WriteOutcomes(std::ostream& out, OutputFormat format, const std::vector<ImageOutcome>& outcomes) {
  switch (format) {
    case OutputFormat::kTable:
      WriteTable(out, outcomes);
      break;
    case OutputFormat::kCsv:
      WriteCsv(out, outcomes);
      break;
    case OutputFormat::kJson:
      WriteJson(out, outcomes);
      break;
  }
}

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string JsonString(const std::string& text) {
  std::string quoted(1, '"');
  quoted.append(common::JsonEscape(text)).push_back('"');
  return quoted;
}

}  // namespace fovea::client
