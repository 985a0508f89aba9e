#include "slide/slide_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace fovea::slide {
namespace {

namespace fs = std::filesystem;

Status Errno(const std::string& what) { return DataLoss(what + ": " + std::strerror(errno)); }

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Status WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return DataLoss("cannot write '" + path.string() + "'");
  return OkStatus();
}

// pwrite of all `size` bytes at `offset`, resuming after short writes.
Status WriteAll(int fd, const void* data, size_t size, off_t offset, const std::string& what) {
  const auto* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t written = pwrite(fd, bytes, size, offset);
    if (written < 0) {
      if (errno == EINTR) continue;
      return Errno(what);
    }
    bytes += written;
    size -= static_cast<size_t>(written);
    offset += written;
  }
  return OkStatus();
}

// write() of all of `text` to a file opened O_APPEND, resuming after short writes.
Status AppendAll(int fd, const std::string& text, const std::string& what) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t written = write(fd, text.data() + done, text.size() - done);
    if (written < 0) {
      if (errno == EINTR) continue;
      return Errno(what);
    }
    done += static_cast<size_t>(written);
  }
  return OkStatus();
}

// The settings as canonical JSON when they parse (so key order and spacing do not matter), else as given.
std::string Canonical(const std::string& settings) {
  const auto parsed = nlohmann::json::parse(settings, nullptr, false);
  return parsed.is_discarded() ? settings : parsed.dump();
}

}  // namespace

std::string TileRecordLine(const TileRecord& record) {
  nlohmann::json detections = nlohmann::json::array();
  for (const SlideDetection& d : record.detections) {
    detections.push_back({{"class", d.class_index},
                          {"label", d.label},
                          {"score", d.score},
                          {"box", {d.x_min, d.y_min, d.x_max, d.y_max}}});
  }
  return nlohmann::json{{"tile", record.tile}, {"skipped", record.skipped}, {"detections", detections}}.dump();
}

std::optional<TileRecord> ParseTileRecordLine(const std::string& line) {
  const auto json = nlohmann::json::parse(line, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return std::nullopt;
  try {
    TileRecord record;
    record.tile = json.at("tile").get<int64_t>();
    record.skipped = json.at("skipped").get<bool>();
    for (const auto& d : json.at("detections")) {
      const auto& box = d.at("box");
      record.detections.push_back({d.at("class").get<int64_t>(), d.at("label").get<std::string>(),
                                   d.at("score").get<float>(), box.at(0).get<double>(), box.at(1).get<double>(),
                                   box.at(2).get<double>(), box.at(3).get<double>()});
    }
    return record;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

StatusOr<std::unique_ptr<SlideStore>> SlideStore::Open(const std::string& dir, const std::string& name,
                                                       const std::string& settings, int64_t classes, int64_t rows,
                                                       int64_t cols, bool restart) {
  const fs::path base(dir);
  const fs::path settings_path = base / (name + ".run.json"), maps = base / (name + ".maps"),
                 journal = base / (name + ".tiles.jsonl");
  std::error_code error;
  fs::create_directories(base, error);
  if (error) return InvalidArgument("cannot create the output folder '" + dir + "': " + error.message());
  const std::string wanted = Canonical(settings);
  if (fs::exists(settings_path)) {
    const std::string earlier = Canonical(ReadText(settings_path));
    if (earlier != wanted && !restart) {
      return FailedPrecondition("'" + settings_path.string() + "' holds an earlier run with other settings (" +
                                earlier + "; now " + wanted +
                                "); resume it with the same flags, use another --out, or pass --restart to discard it");
    }
    if (earlier != wanted || restart) {
      fs::remove_all(maps, error);
      fs::remove(journal, error);
    }
  }
  FOVEA_RETURN_IF_ERROR(WriteText(settings_path, wanted + "\n"));
  fs::create_directories(maps, error);
  if (error) return DataLoss("cannot create '" + maps.string() + "': " + error.message());

  std::unique_ptr<SlideStore> store(new SlideStore());
  store->dir_ = dir;
  store->name_ = name;
  store->rows_ = rows;
  store->cols_ = cols;
  for (int64_t slot = 0; slot < classes; ++slot) {
    const std::string path = store->MapPath(slot);
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("cannot open '" + path + "'");
    store->map_fds_.push_back(fd);
    // Sparse: cells no tile writes (background) read as 0 and take no disc.
    if (ftruncate(fd, static_cast<off_t>(rows * cols * static_cast<int64_t>(sizeof(float)))) != 0) {
      return Errno("cannot size '" + path + "'");
    }
  }
  FOVEA_RETURN_IF_ERROR(store->ReadJournal());
  store->journal_fd_ = open(journal.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (store->journal_fd_ < 0) return Errno("cannot open '" + journal.string() + "'");
  return store;
}

Status SlideStore::ReadJournal() {
  const fs::path journal = fs::path(dir_) / (name_ + ".tiles.jsonl");
  if (!fs::exists(journal)) return OkStatus();
  std::ifstream in(journal);
  std::string line, kept;
  while (std::getline(in, line)) {
    const auto record = ParseTileRecordLine(line);
    if (!record) continue;  // torn by an interruption: the tile is done again
    finished_[record->tile] = *record;
    kept += line + "\n";
  }
  // Rewritten without torn lines, so appends start on a line of their own.
  return WriteText(journal, kept);
}

SlideStore::~SlideStore() {
  for (int fd : map_fds_) close(fd);
  if (journal_fd_ >= 0) close(journal_fd_);
}

std::string SlideStore::MapPath(int64_t slot) const {
  return (fs::path(dir_) / (name_ + ".maps") / (std::to_string(slot) + ".f32")).string();
}

Status SlideStore::WriteCells(const Tile& tile, int64_t slot, const float* tile_map, int64_t tile_cols) const {
  const int fd = map_fds_.at(static_cast<size_t>(slot));
  for (int64_t r = 0; r < tile.cells.height; ++r) {
    const float* source = tile_map + (tile.first_row + r) * tile_cols + tile.first_col;
    const off_t offset = static_cast<off_t>(((tile.cells.y + r) * cols_ + tile.cells.x) * 4);
    FOVEA_RETURN_IF_ERROR(WriteAll(fd, source, static_cast<size_t>(tile.cells.width) * sizeof(float), offset,
                                   "cannot write map '" + MapPath(slot) + "'"));
  }
  return OkStatus();
}

Status SlideStore::Finish(const TileRecord& record) {
  const std::string line = TileRecordLine(record) + "\n";
  std::lock_guard lock(journal_mutex_);
  FOVEA_RETURN_IF_ERROR(AppendAll(journal_fd_, line, "cannot write the tile journal"));
  finished_[record.tile] = record;
  return OkStatus();
}

}  // namespace fovea::slide
