// A first-in first-out queue of byte chunks: the bodies the engine's nghttp2 data providers send.
// Every stream and every h2c exchange has one, most of them never used or used for one chunk, so
// an empty queue owns no memory (libstdc++'s std::deque allocates its map and a first block when
// it is made: two mallocs per request).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace meshgate {
namespace engine {

class ChunkQueue {
 public:
  using Chunk = std::vector<uint8_t>;

  bool empty() const { return first_ == items_.size(); }
  size_t size() const { return items_.size() - first_; }
  Chunk& front() { return items_[first_]; }
  std::vector<Chunk>::iterator begin() { return items_.begin() + static_cast<std::ptrdiff_t>(first_); }
  std::vector<Chunk>::iterator end() { return items_.end(); }

  void push_back(Chunk&& chunk) { items_.push_back(std::move(chunk)); }
  template <class... Args>
  void emplace_back(Args&&... args) {
    items_.emplace_back(std::forward<Args>(args)...);
  }

  // Frees the front chunk's bytes at once. The slots of taken chunks are reused when the queue
  // empties, or dropped once they are half of it, so a queue that never empties stays bounded.
  void pop_front() {
    Chunk().swap(items_[first_]);
    if (++first_ == items_.size()) {
      items_.clear();
      first_ = 0;
    } else if (first_ >= kCompactAfter && first_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(first_));
      first_ = 0;
    }
  }

  void clear() {
    items_.clear();
    first_ = 0;
  }

 private:
  static constexpr size_t kCompactAfter = 32;
  std::vector<Chunk> items_;
  size_t first_ = 0;
};

}  // namespace engine
}  // namespace meshgate
