#pragma once
// What a `fovea slide` run keeps in its output folder while it works, so that an interrupted run resumes where it
// stopped: the settings it was started with (<name>.run.json), one float map file per class that tiles write their
// cells into (<name>.maps/<class>.f32, row-major, the whole map's rows x cols, zeros where no tile wrote), and a
// journal with one line per finished tile and its detections (<name>.tiles.jsonl). A tile is journaled only after
// its cells are written, so a tile the journal names is complete; a torn last line is ignored and its tile redone.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "slide/tile_plan.h"

namespace fovea::slide {

// One detection in slide pixels (level-0 pixels when the run reads level 0).
struct SlideDetection {
  int64_t class_index = 0;
  std::string label;
  float score = 0;
  double x_min = 0, y_min = 0, x_max = 0, y_max = 0;
};

struct TileRecord {
  int64_t tile = 0;
  bool skipped = false;  // background: no tissue under its windows, never sent
  std::vector<SlideDetection> detections;
};

class SlideStore {
 public:
  // Opens DIR/<name>.* for a run with `settings` (any JSON text that identifies the run) over a map of rows x cols
  // cells and `classes` map files. An existing run with the same settings is resumed; with other settings it is
  // FAILED_PRECONDITION naming both, unless `restart` (which discards it).
  static StatusOr<std::unique_ptr<SlideStore>> Open(const std::string& dir, const std::string& name,
                                                    const std::string& settings, int64_t classes, int64_t rows,
                                                    int64_t cols, bool restart);
  ~SlideStore();
  SlideStore(const SlideStore&) = delete;
  SlideStore& operator=(const SlideStore&) = delete;

  // The finished tiles, by index: those of an earlier run (resume) and those Finish() recorded since. Read it only
  // while no Finish() runs.
  const std::map<int64_t, TileRecord>& finished() const { return finished_; }

  // Writes the cells `tile` owns of class slot `slot` from the tile's own map (`tile_cols` wide, row-major).
  // Thread-safe for different tiles.
  Status WriteCells(const Tile& tile, int64_t slot, const float* tile_map, int64_t tile_cols) const;

  // Records a finished tile (after its cells are written). Thread-safe.
  Status Finish(const TileRecord& record);

  std::string MapPath(int64_t slot) const;
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }

 private:
  SlideStore() = default;
  Status ReadJournal();

  std::string dir_, name_;
  int64_t rows_ = 0, cols_ = 0;
  std::vector<int> map_fds_;
  int journal_fd_ = -1;
  std::map<int64_t, TileRecord> finished_;
  std::mutex journal_mutex_;
};

// The journal line of `record` (JSON, no newline) and back; std::nullopt for a line that is not one (torn).
std::string TileRecordLine(const TileRecord& record);
std::optional<TileRecord> ParseTileRecordLine(const std::string& line);

}  // namespace fovea::slide
