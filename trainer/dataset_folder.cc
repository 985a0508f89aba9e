#include "trainer/dataset_folder.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "imageio/image.h"

namespace fovea::trainer {
namespace {

namespace fs = std::filesystem;

bool IsImageFile(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

StatusOr<std::vector<fs::path>> SortedEntries(const fs::path& dir, bool directories) {
  std::vector<fs::path> entries;
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    if (directories ? it->is_directory() : (it->is_regular_file() && IsImageFile(it->path()))) {
      entries.push_back(it->path());
    }
  }
  if (error) return NotFound(dir.string() + ": cannot list folder (" + error.message() + ")");
  std::sort(entries.begin(), entries.end());
  return entries;
}

// Decodes one file into planar CHW bytes appended to `pixels`.
Status AppendImage(const fs::path& path, const FolderDatasetOptions& options, std::vector<uint8_t>& pixels) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) return NotFound(path.string() + ": cannot read");
  auto decoded = imageio::Decode(bytes);
  if (!decoded.ok()) return decoded.status().WithContext(path.string());
  imageio::Image image = imageio::ConvertChannels(*decoded, options.channels);
  if (image.width != options.width || image.height != options.height) {
    image = imageio::Resize(image, options.width, options.height);
  }
  const int64_t plane = options.height * options.width;
  const size_t base = pixels.size();
  pixels.resize(base + static_cast<size_t>(plane * options.channels));
  for (int64_t i = 0; i < plane; ++i) {
    for (int64_t c = 0; c < options.channels; ++c) {
      pixels[base + static_cast<size_t>(c * plane + i)] = image.pixels[static_cast<size_t>(i * options.channels + c)];
    }
  }
  return OkStatus();
}

}  // namespace

StatusOr<Dataset> LoadImageFolder(const std::string& root, const FolderDatasetOptions& options) {
  if (options.channels != 1 && options.channels != 3) return InvalidArgument("image folders load 1 or 3 channels");
  if (options.height < 1 || options.width < 1) return InvalidArgument("image size must be positive");
  FOVEA_ASSIGN_OR_RETURN(auto class_dirs, SortedEntries(root, true));
  if (class_dirs.size() < 2) return InvalidArgument(root + ": needs at least two class sub-folders");
  Dataset dataset;
  dataset.channels = options.channels;
  dataset.height = options.height;
  dataset.width = options.width;
  dataset.source = root;
  for (const auto& dir : class_dirs) {
    FOVEA_ASSIGN_OR_RETURN(auto files, SortedEntries(dir, false));
    if (files.empty()) return InvalidArgument(dir.string() + ": class folder has no PNG or JPEG images");
    for (const auto& file : files) {
      FOVEA_RETURN_IF_ERROR(AppendImage(file, options, dataset.pixels));
      dataset.labels.push_back(static_cast<int32_t>(dataset.class_names.size()));
    }
    dataset.class_names.push_back(dir.filename().string());
  }
  return dataset;
}

}  // namespace fovea::trainer
