#include "common/data_split.h"

#include <algorithm>

namespace stampede::common {
namespace {

// SplitMix64's finalizer: every bit of `x` moves every bit of the result.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

bool ParseDataMode(std::string_view text, DataMode* mode) {
  if (text.empty() || text == "circular") {
    *mode = DataMode::kCircular;
  } else if (text == "unique") {
    *mode = DataMode::kUnique;
  } else if (text == "random") {
    *mode = DataMode::kRandom;
  } else {
    return false;
  }
  return true;
}

bool ParseDataPer(std::string_view text, DataPer* per) {
  if (text.empty() || text == "vu") {
    *per = DataPer::kVu;
  } else if (text == "iteration") {
    *per = DataPer::kIteration;
  } else {
    return false;
  }
  return true;
}

const char* DataModeName(DataMode mode) {
  switch (mode) {
    case DataMode::kUnique:
      return "unique";
    case DataMode::kRandom:
      return "random";
    case DataMode::kCircular:
      break;
  }
  return "circular";
}

std::vector<std::string> DataSetNames(const v1::TestPlan& plan) {
  std::vector<std::string> names;
  names.reserve(plan.data_size());
  for (const auto& [name, set] : plan.data()) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

uint64_t AgentRowCount(DataMode mode, const std::vector<uint32_t>& weights,
                       uint32_t agent, uint64_t total) {
  if (mode != DataMode::kUnique) return total;
  return Slice(weights, agent, 0, 1).CountBelow(total);
}

uint64_t AgentRowAt(DataMode mode, const std::vector<uint32_t>& weights,
                    uint32_t agent, uint64_t k) {
  if (mode != DataMode::kUnique) return k;
  return Slice(weights, agent, 0, 1).At(k);
}

uint64_t DataSeed(std::string_view run_id) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (char c : run_id) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

DataPicker::DataPicker(DataMode mode, bool wrap, uint64_t total_rows,
                       uint64_t seed, const std::vector<uint32_t>& weights,
                       uint32_t agent, uint32_t worker, uint32_t workers)
    : mode_(mode),
      wrap_(wrap),
      total_(total_rows),
      seed_(seed),
      slice_(weights, agent, worker, std::max<uint32_t>(1, workers)),
      worker_(worker),
      workers_(std::max<uint32_t>(1, workers)) {
  worker_rows_ =
      mode == DataMode::kUnique ? slice_.CountBelow(total_rows) : total_rows;
}

bool DataPicker::Pick(uint64_t m, uint64_t* index) const {
  if (total_ == 0) return false;
  switch (mode_) {
    case DataMode::kUnique: {
      // The worker's m-th row is the agent's (worker + workers * m)-th: the
      // same interleaving Slice gives the worker's items.
      uint64_t n = m;
      if (n >= worker_rows_) {
        if (!wrap_ || worker_rows_ == 0) return false;
        n %= worker_rows_;
      }
      *index = worker_ + uint64_t{workers_} * n;
      return true;
    }
    case DataMode::kCircular:
      *index = slice_.At(m) % total_;
      return true;
    case DataMode::kRandom:
      *index = Mix(seed_ ^ Mix(slice_.At(m))) % total_;
      return true;
  }
  return false;
}

}  // namespace stampede::common
