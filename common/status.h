#pragma once
// Status and StatusOr: how errors cross every boundary in Fovea, in every layer (common/ depends on nothing, so the
// engine, imageio, the client and the server all use it). A small type of our own, since the engine depends on nothing
// but oneDNN; server/ maps StatusCode to grpc::StatusCode in exactly one function.

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace fovea {

// Codes mirror the gRPC canonical codes the server maps them to.
enum class StatusCode {
  kOk = 0,
  kCancelled = 1,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kFailedPrecondition = 9,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kResourceExhausted = 8,
  kUnauthenticated = 16,
};

// Name of a code as gRPC spells it ("INVALID_ARGUMENT"), for logs and messages.
const char* StatusCodeName(StatusCode code);

// The outcome of an operation: OK, or a code with a message that names what went wrong.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

  // Returns this status with `context` prepended to its message ("node conv1: ...").
  Status WithContext(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status OkStatus() { return {}; }
inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status OutOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT: implicit by design
  StatusOr(T value) : value_(std::move(value)) {}                                  // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace fovea

#define FOVEA_CONCAT_INNER(a, b) a##b
#define FOVEA_CONCAT(a, b) FOVEA_CONCAT_INNER(a, b)

// Returns from the current function when `expr` yields a non-OK Status.
#define FOVEA_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::fovea::Status fovea_status_ = (expr);        \
    if (!fovea_status_.ok()) return fovea_status_; \
  } while (false)

// `FOVEA_ASSIGN_OR_RETURN(auto x, Make())` binds x to the value or returns the error.
#define FOVEA_ASSIGN_OR_RETURN(lhs, expr) FOVEA_ASSIGN_OR_RETURN_IMPL(FOVEA_CONCAT(fovea_or_, __LINE__), lhs, expr)
#define FOVEA_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
