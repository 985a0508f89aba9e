#pragma once
// HTTP content codings of the REST port: request bodies sent with Content-Encoding gzip or deflate are decoded
// before anything parses them, and responses are compressed when the client's Accept-Encoding asks for it (Triton's
// HTTP client does both with request_compression_algorithm / response_compression_algorithm). zlib does the work.
//
// Decoding is bounded: a body that inflates past the server's body limit is refused as soon as the limit is passed,
// so a small "zip bomb" costs at most that many bytes of memory and the time to produce them.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace fovea::server {

enum class ContentCoding { kIdentity, kGzip, kDeflate };

// The coding a Content-Encoding header names: "" or "identity", "gzip" (or "x-gzip"), "deflate"; case-insensitive.
// UNIMPLEMENTED naming the coding for anything else, including a list of several codings.
StatusOr<ContentCoding> ParseContentEncoding(std::string_view header);

// `body` decoded from `coding`. "deflate" is the zlib format (RFC 9110), and raw deflate data, which some clients
// send under that name, is accepted too; gzip may hold several members. RESOURCE_EXHAUSTED once the output passes
// `max_bytes`; INVALID_ARGUMENT naming the coding for corrupt, truncated or trailing data.
StatusOr<std::string> DecodeContent(ContentCoding coding, std::string_view body, size_t max_bytes);

// The coding to answer with for an Accept-Encoding header: gzip if it accepts gzip (or "*"), else deflate if it
// accepts deflate, else identity. A coding with q=0 is not accepted.
ContentCoding ChooseResponseCoding(std::string_view accept_encoding);

// `body` encoded in `coding`; nullopt for identity, or when zlib cannot (it fails only without memory): then the
// body goes out as it is, without a Content-Encoding.
std::optional<std::string> EncodeContent(ContentCoding coding, std::string_view body);

// "gzip", "deflate" or "identity": the token for the Content-Encoding header.
const char* ContentCodingName(ContentCoding coding);

}  // namespace fovea::server
