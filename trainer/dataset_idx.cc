#include "trainer/dataset_idx.h"

#include <zlib.h>

#include <array>
#include <memory>

namespace fovea::trainer {
namespace {

constexpr uint8_t kUnsignedByteType = 0x08;
constexpr int kMaxIdxRank = 8;

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// Reads exactly `size` bytes; zlib transparently passes through files that are not compressed.
Status ReadExactly(gzFile file, void* dst, size_t size, const std::string& path, const std::string& what) {
  auto* out = static_cast<uint8_t*>(dst);
  while (size > 0) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(size, size_t{1} << 30));
    const int got = gzread(file, out, chunk);
    if (got < 0) {
      int code = 0;
      const char* message = gzerror(file, &code);
      return DataLoss(path + ": corrupt compressed data while reading " + what + " (" + message + ")");
    }
    if (got == 0) return DataLoss(path + ": file is truncated while reading " + what);
    out += got;
    size -= static_cast<size_t>(got);
  }
  return OkStatus();
}

uint32_t BigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

StatusOr<std::vector<int64_t>> ReadHeader(gzFile file, const std::string& path) {
  std::array<uint8_t, 4> magic{};
  FOVEA_RETURN_IF_ERROR(ReadExactly(file, magic.data(), magic.size(), path, "the IDX magic number"));
  if (magic[0] != 0 || magic[1] != 0) return InvalidArgument(path + ": not an IDX file (bad magic number)");
  if (magic[2] != kUnsignedByteType) {
    return Unimplemented(path + ": IDX element type " + std::to_string(magic[2]) +
                         " is not supported (only 0x08, "
                         "unsigned byte)");
  }
  const int rank = magic[3];
  if (rank < 1 || rank > kMaxIdxRank)
    return InvalidArgument(path + ": IDX rank " + std::to_string(rank) + " is invalid");
  std::vector<uint8_t> raw(static_cast<size_t>(rank) * 4);
  FOVEA_RETURN_IF_ERROR(ReadExactly(file, raw.data(), raw.size(), path, "the IDX dimensions"));
  std::vector<int64_t> dims;
  int64_t elements = 1;
  for (int i = 0; i < rank; ++i) {
    dims.push_back(BigEndian32(raw.data() + size_t{4} * static_cast<size_t>(i)));
    elements *= std::max<int64_t>(dims.back(), 1);
    if (elements > kMaxIdxElements) return ResourceExhausted(path + ": IDX dimensions declare too many elements");
  }
  return dims;
}

}  // namespace

StatusOr<IdxArray> ReadIdxFile(const std::string& path) {
  GzFile file(gzopen(path.c_str(), "rb"));
  if (!file) return NotFound(path + ": cannot open IDX file");
  IdxArray array;
  FOVEA_ASSIGN_OR_RETURN(array.dims, ReadHeader(file.get(), path));
  int64_t elements = 1;
  for (const int64_t d : array.dims) elements *= d;
  array.data.resize(static_cast<size_t>(elements));
  FOVEA_RETURN_IF_ERROR(ReadExactly(file.get(), array.data.data(), array.data.size(), path, "the IDX data"));
  uint8_t extra = 0;
  const int trailing = gzread(file.get(), &extra, 1);
  if (trailing < 0) return DataLoss(path + ": corrupt compressed data after the IDX data");
  if (trailing > 0) return InvalidArgument(path + ": unexpected bytes after the IDX data (dimensions mismatch?)");
  return array;
}

StatusOr<Dataset> LoadIdxDataset(const std::string& images_path, const std::string& labels_path,
                                 std::vector<std::string> class_names) {
  FOVEA_ASSIGN_OR_RETURN(IdxArray images, ReadIdxFile(images_path));
  FOVEA_ASSIGN_OR_RETURN(IdxArray labels, ReadIdxFile(labels_path));
  if (images.dims.size() != 3) {
    return InvalidArgument(images_path + ": expected images of rank 3 [N, H, W], got rank " +
                           std::to_string(images.dims.size()));
  }
  if (labels.dims.size() != 1) {
    return InvalidArgument(labels_path + ": expected labels of rank 1 [N], got rank " +
                           std::to_string(labels.dims.size()));
  }
  if (images.dims[0] != labels.dims[0]) {
    return InvalidArgument(images_path + " has " + std::to_string(images.dims[0]) + " images but " + labels_path +
                           " has " + std::to_string(labels.dims[0]) + " labels");
  }
  Dataset dataset;
  dataset.channels = 1;
  dataset.height = images.dims[1];
  dataset.width = images.dims[2];
  dataset.pixels = std::move(images.data);
  dataset.class_names = std::move(class_names);
  dataset.labels.reserve(labels.data.size());
  for (size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] >= dataset.class_names.size()) {
      return InvalidArgument(labels_path + ": label " + std::to_string(labels.data[i]) + " of item " +
                             std::to_string(i) + " is not below the class count " +
                             std::to_string(dataset.class_names.size()));
    }
    dataset.labels.push_back(labels.data[i]);
  }
  dataset.source = images_path;
  return dataset;
}

std::vector<std::string> FashionMnistClassNames() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
}

StatusOr<Dataset> LoadFashionMnist(const std::string& dir, const std::string& prefix) {
  return LoadIdxDataset(dir + "/" + prefix + "-images-idx3-ubyte.gz", dir + "/" + prefix + "-labels-idx1-ubyte.gz",
                        FashionMnistClassNames());
}

}  // namespace fovea::trainer
