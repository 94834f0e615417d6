#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace crm::host {

// The one source of time for the host and, through crm_host.now_ms, for
// plugins. Tests move a ManualClock instead of sleeping.
class Clock {
 public:
  Clock() = default;
  Clock(const Clock&) = delete;
  Clock& operator=(const Clock&) = delete;
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch, UTC.
  [[nodiscard]] virtual std::int64_t now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  [[nodiscard]] std::int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t start_ms) : now_ms_(start_ms) {}
  [[nodiscard]] std::int64_t now_ms() const override { return now_ms_.load(); }
  void advance_ms(std::int64_t delta_ms) { now_ms_ += delta_ms; }
  void set_ms(std::int64_t value_ms) { now_ms_ = value_ms; }

 private:
  std::atomic<std::int64_t> now_ms_;
};

// Another clock moved to start at `start_ms`: it runs at the base clock's pace
// from there. `crmhost run --as-of` replays history on it, so what a run stamps
// (enrolments, waits, offers) lands on the date it replays, not today.
class ShiftedClock final : public Clock {
 public:
  ShiftedClock(const Clock& base, std::int64_t start_ms) : base_(base), offset_ms_(start_ms - base.now_ms()) {}
  [[nodiscard]] std::int64_t now_ms() const override { return base_.now_ms() + offset_ms_; }

 private:
  const Clock& base_;
  std::int64_t offset_ms_;
};

}  // namespace crm::host
