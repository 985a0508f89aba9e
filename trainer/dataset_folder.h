#pragma once
// Image-folder datasets: one sub-folder per class (the folder name is the label, classes sorted by name), PNG or
// JPEG files inside, decoded with imageio, converted to the wanted channel count and resized to one size.

#include <string>

#include "trainer/dataset.h"

namespace fovea::trainer {

struct FolderDatasetOptions {
  int64_t channels = 1;  // 1 (gray) or 3 (RGB)
  int64_t height = 28;
  int64_t width = 28;
};

// Loads every *.png / *.jpg / *.jpeg under `root`/<class>/. Errors name the file or folder: unreadable or corrupt
// image, a class folder without images, a root without class folders.
StatusOr<Dataset> LoadImageFolder(const std::string& root, const FolderDatasetOptions& options);

}  // namespace fovea::trainer
