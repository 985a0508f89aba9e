#include "client/input_files.h"

#include <glob.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <set>
#include <system_error>

namespace fovea::client {
namespace {

namespace fs = std::filesystem;

constexpr std::array<unsigned char, 8> kPngSignature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
constexpr std::array<unsigned char, 3> kJpegSignature = {0xFF, 0xD8, 0xFF};

// Collects inputs while keeping each path once, in first-seen order.
class Collector {
 public:
  void AddFile(const std::string& path, std::string error = {}) {
    if (seen_.insert(path).second) list_.files.push_back({path, std::move(error)});
  }
  void AddFolder(const fs::path& folder) {
    std::vector<std::string> images;
    std::error_code error;
    for (auto it = fs::recursive_directory_iterator(folder, fs::directory_options::skip_permission_denied, error);
         !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
      if (!it->is_regular_file(error)) continue;
      if (LooksLikeImageFile(it->path().string())) {
        images.push_back(it->path().string());
      } else {
        ++list_.skipped_non_images;
      }
    }
    if (error) AddFile(folder.string(), "cannot read folder: " + error.message());
    std::sort(images.begin(), images.end());
    for (const std::string& image : images) AddFile(image);
  }
  void AddPath(const std::string& path) {
    std::error_code error;
    if (fs::is_directory(path, error)) {
      AddFolder(path);
    } else if (fs::exists(path, error)) {
      AddFile(path);
    } else {
      AddFile(path, "no such file or folder");
    }
  }
  InputList Take() { return std::move(list_); }

 private:
  InputList list_;
  std::set<std::string> seen_;
};

bool IsGlob(const std::string& argument) { return argument.find_first_of("*?[") != std::string::npos; }

std::vector<std::string> GlobMatches(const std::string& pattern) {
  glob_t matches{};
  std::vector<std::string> paths;
  if (glob(pattern.c_str(), 0, nullptr, &matches) == 0) {
    for (size_t i = 0; i < matches.gl_pathc; ++i) paths.emplace_back(matches.gl_pathv[i]);
  }
  globfree(&matches);
  return paths;
}

}  // namespace

bool LooksLikeImageFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::array<unsigned char, kPngSignature.size()> head{};
  file.read(reinterpret_cast<char*>(head.data()), head.size());
  const auto read = static_cast<size_t>(file.gcount());
  const bool png = read >= kPngSignature.size() && std::equal(kPngSignature.begin(), kPngSignature.end(), head.begin());
  const bool jpeg =
      read >= kJpegSignature.size() && std::equal(kJpegSignature.begin(), kJpegSignature.end(), head.begin());
  return png || jpeg;
}

InputList ExpandInputs(const std::vector<std::string>& arguments) {
  Collector collector;
  for (const std::string& argument : arguments) {
    std::error_code error;
    if (!IsGlob(argument) || fs::exists(argument, error)) {
      collector.AddPath(argument);
      continue;
    }
    const std::vector<std::string> matches = GlobMatches(argument);
    if (matches.empty()) collector.AddFile(argument, "no file matches this pattern");
    for (const std::string& match : matches) collector.AddPath(match);
  }
  return collector.Take();
}

}  // namespace fovea::client
