#include "trainer/checkpoint.h"

#include <cstdio>
#include <cstring>
#include <fstream>

namespace fovea::trainer {
namespace {

constexpr char kMagic[8] = {'F', 'O', 'V', 'C', 'K', 'P', 'T', '1'};
constexpr uint64_t kMaxStringBytes = 1 << 20;

class Writer {
 public:
  explicit Writer(std::ofstream& out) : out_(out) {}
  void U64(uint64_t v) { out_.write(reinterpret_cast<const char*>(&v), sizeof(v)); }
  void F64(double v) { out_.write(reinterpret_cast<const char*>(&v), sizeof(v)); }
  void String(const std::string& s) {
    U64(s.size());
    out_.write(s.data(), static_cast<std::streamsize>(s.size()));
  }
  void Floats(const std::vector<float>& v) {
    U64(v.size());
    out_.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  }

 private:
  std::ofstream& out_;
};

class Reader {
 public:
  Reader(std::ifstream& in, std::string path) : in_(in), path_(std::move(path)) {}
  bool U64(uint64_t& v) { return Bytes(&v, sizeof(v)); }
  bool F64(double& v) { return Bytes(&v, sizeof(v)); }
  bool String(std::string& s) {
    uint64_t size = 0;
    if (!U64(size) || size > kMaxStringBytes) return false;
    s.resize(size);
    return Bytes(s.data(), size);
  }
  // Reads a float vector that must have exactly `expected` elements.
  bool Floats(std::vector<float>& v, size_t expected) {
    uint64_t size = 0;
    if (!U64(size) || size != expected) return false;
    v.resize(size);
    return Bytes(v.data(), size * sizeof(float));
  }
  Status Error(const std::string& what) const { return DataLoss(path_ + ": " + what); }

 private:
  bool Bytes(void* dst, size_t size) {
    return static_cast<bool>(in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(size)));
  }
  std::ifstream& in_;
  std::string path_;
};

}  // namespace

Status SaveCheckpoint(const std::string& path, const Network& network, Optimizer& optimizer,
                      const std::vector<EpochRecord>& history) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) return Internal(temporary + ": cannot create checkpoint");
    Writer w(out);
    out.write(kMagic, sizeof(kMagic));
    w.String(network.spec());
    w.U64(network.parameters().all().size());
    for (const auto& p : network.parameters().all()) {
      w.String(p->name);
      w.Floats(p->value);
    }
    const auto state = optimizer.State();
    w.U64(state.size());
    for (const auto* s : state) w.Floats(*s);
    w.U64(history.size());
    for (const auto& e : history) {
      w.U64(static_cast<uint64_t>(e.epoch));
      for (double v : {e.train_loss, e.train_accuracy, e.validation_loss, e.validation_accuracy, e.learning_rate,
                       e.seconds, e.images_per_second}) {
        w.F64(v);
      }
    }
    if (!out) return Internal(temporary + ": cannot write checkpoint");
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) return Internal(path + ": cannot replace checkpoint");
  return OkStatus();
}

Status LoadCheckpoint(const std::string& path, Network& network, Optimizer& optimizer,
                      std::vector<EpochRecord>& history) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot open checkpoint");
  Reader r(in, path);
  char magic[sizeof(kMagic)] = {};
  if (!in.read(magic, sizeof(magic)) || std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
    return r.Error("not a fovea-train checkpoint");
  }
  std::string spec;
  uint64_t count = 0;
  if (!r.String(spec) || !r.U64(count)) return r.Error("truncated header");
  if (spec != network.spec() || count != network.parameters().all().size()) {
    return FailedPrecondition(path + ": checkpoint is for architecture '" + spec + "', not '" + network.spec() + "'");
  }
  for (const auto& p : network.parameters().all()) {
    std::string name;
    if (!r.String(name) || name != p->name || !r.Floats(p->value, p->value.size())) {
      return r.Error("parameter '" + p->name + "' is missing, truncated or has another shape");
    }
  }
  const auto state = optimizer.State();
  if (!r.U64(count) || count != state.size()) return r.Error("optimizer state is for another optimizer");
  for (auto* s : state) {
    if (!r.Floats(*s, s->size())) return r.Error("optimizer state is truncated");
  }
  if (!r.U64(count)) return r.Error("history is missing");
  history.assign(count, {});
  for (auto& e : history) {
    uint64_t epoch = 0;
    bool ok = r.U64(epoch);
    for (double* v : {&e.train_loss, &e.train_accuracy, &e.validation_loss, &e.validation_accuracy, &e.learning_rate,
                      &e.seconds, &e.images_per_second}) {
      ok = ok && r.F64(*v);
    }
    if (!ok) return r.Error("history is truncated");
    e.epoch = static_cast<int64_t>(epoch);
  }
  return OkStatus();
}

}  // namespace fovea::trainer
