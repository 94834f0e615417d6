#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crm::host {

// string -> int64 map for the writer's hot path (customer external id -> row
// id, looked up once per record). Open addressing with linear probing over a
// flat slot array, keys packed in one arena: a lookup touches one slot and
// one key, where std::unordered_map chases a bucket and a node; during a bulk
// sync the SQLite page cache evicts both, so that difference is most of the
// lookup's cost.
class FlatIdMap {
 public:
  [[nodiscard]] std::optional<std::int64_t> find(std::string_view key) const {
    if (slots_.empty()) {
      return std::nullopt;
    }
    const std::uint64_t hash = hash_of(key);
    for (std::size_t at = hash & mask_;; at = (at + 1) & mask_) {
      const Slot& slot = slots_[at];
      if (slot.key_size == kEmpty) {
        return std::nullopt;
      }
      if (slot.hash == hash && key_of(slot) == key) {
        return slot.id;
      }
    }
  }

  void insert(std::string_view key, std::int64_t id) {
    if ((size_ + 1) * 2 > slots_.size()) {
      grow();
    }
    place(hash_of(key), append_key(key), static_cast<std::uint32_t>(key.size()), id);
    ++size_;
  }

  void clear() {
    slots_.clear();
    keys_.clear();
    size_ = 0;
    mask_ = 0;
  }

 private:
  static constexpr std::uint32_t kEmpty = UINT32_MAX;

  struct Slot {
    std::uint64_t hash = 0;
    std::uint64_t key_offset = 0;
    std::uint32_t key_size = kEmpty;
    std::int64_t id = 0;
  };

  static std::uint64_t hash_of(std::string_view key) {
    // std::hash's value, spread so that linear probing sees its high bits too.
    const std::uint64_t hash = std::hash<std::string_view>{}(key);
    return hash ^ (hash >> 29U) ^ (hash >> 47U);
  }

  [[nodiscard]] std::string_view key_of(const Slot& slot) const {
    return std::string_view(keys_).substr(slot.key_offset, slot.key_size);
  }

  std::uint64_t append_key(std::string_view key) {
    const std::uint64_t offset = keys_.size();
    keys_.append(key);
    return offset;
  }

  void place(std::uint64_t hash, std::uint64_t key_offset, std::uint32_t key_size, std::int64_t id) {
    std::size_t at = hash & mask_;
    while (slots_[at].key_size != kEmpty) {
      at = (at + 1) & mask_;
    }
    slots_[at] = Slot{hash, key_offset, key_size, id};
  }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& slot : old) {
      if (slot.key_size != kEmpty) {
        place(slot.hash, slot.key_offset, slot.key_size, slot.id);
      }
    }
  }

  std::vector<Slot> slots_;
  std::string keys_;
  std::size_t size_ = 0;
  std::size_t mask_ = 0;
};

}  // namespace crm::host
