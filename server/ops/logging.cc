#include "server/ops/logging.h"

#include <cstdio>
#include <random>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "common/json_text.h"

namespace fovea::server {
namespace {

constexpr size_t kMaxClientRequestIdLength = 64;
constexpr char kTextPattern[] = "%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v";
// '*' is our JSON-escaped message flag: spdlog's %v would break the JSON on a quote in a message.
constexpr char kJsonPattern[] = R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","message":"%*"})";

class JsonMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*time*/, spdlog::memory_buf_t& dest) override {
    const std::string escaped = common::JsonEscape(std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

bool IsRequestIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

}  // namespace

void SetUpLogging(const ServerConfig& config) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("fovea-server", std::move(sink));
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (config.log_format == LogFormat::kJson) {
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(kJsonPattern);
  } else {
    formatter->set_pattern(kTextPattern);
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(spdlog::level::from_str(config.log_level));
  // Lines must reach a log collector even if the process is killed right after.
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

std::string RequestIdFrom(const std::string& client_value) {
  bool usable = !client_value.empty() && client_value.size() <= kMaxClientRequestIdLength;
  for (char c : client_value) usable = usable && IsRequestIdChar(c);
  if (usable) return client_value;
  thread_local std::mt19937_64 generator{std::random_device{}()};
  char buffer[17];
  std::snprintf(buffer, sizeof(buffer), "%016llx", static_cast<unsigned long long>(generator()));
  return buffer;
}

}  // namespace fovea::server
