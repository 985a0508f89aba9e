#pragma once
// IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed: big-endian magic 0x0000TTRR (type TT = 0x08
// for unsigned bytes, rank RR), RR big-endian uint32 dimensions, then the bytes.

#include <cstdint>
#include <string>
#include <vector>

#include "trainer/dataset.h"

namespace fovea::trainer {

// An unsigned-byte IDX array as stored: its dimensions and the data.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

// Upper bound on the elements an IDX file may declare, checked before allocating (4 Gi elements).
inline constexpr int64_t kMaxIdxElements = int64_t{1} << 32;

// Reads an IDX file (gzip or plain). Errors name the file and what is wrong (not IDX, unsupported type, truncated,
// corrupt compressed data, trailing bytes).
StatusOr<IdxArray> ReadIdxFile(const std::string& path);

// Reads an image file [N, H, W] and a label file [N] into a one-channel Dataset. Errors name the file: wrong rank,
// counts that disagree, labels ≥ class_names.size().
StatusOr<Dataset> LoadIdxDataset(const std::string& images_path, const std::string& labels_path,
                                 std::vector<std::string> class_names);

// Fashion-MNIST's ten class names, in label order.
std::vector<std::string> FashionMnistClassNames();

// Loads `<dir>/<prefix>-images-idx3-ubyte.gz` and the matching labels; prefix is "train" or "t10k".
StatusOr<Dataset> LoadFashionMnist(const std::string& dir, const std::string& prefix);

}  // namespace fovea::trainer
