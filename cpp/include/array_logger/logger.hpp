// The write side: a Logger owns one SQLite database per registered array
// name under its root directory and a background writer thread that inserts
// and commits rows while the caller goes on.
//
// Thread safety: every method may be called from any thread; calls are
// serialised internally. A Logger must not be used in a child process after
// fork(): it raises StateError there and leaves the parent's files alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "array_logger/array_spec.hpp"
#include "array_logger/key_value.hpp"
#include "array_logger/options.hpp"

namespace array_logger {

// Where a name's log stands at a checkpoint (Logger::checkpoint_positions):
// the rowid of its last final row (every row but a periodic name's partial
// ones), and the open period of a periodic name.
struct LogPosition {
  std::string name;
  std::uint64_t rows = 0;
  std::optional<PeriodState> open_period;
};

class Logger {
 public:
  using StreamId = std::uint32_t;

  explicit Logger(LoggerOptions options);
  ~Logger();  // closes (errors are reported on stderr, never thrown)
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  // Creates {root}/{name}.db, or resumes it (or {name}.db.zst) when it exists
  // with the same spec. Throws InvalidArgument, MetaMismatch, StorageError.
  StreamId register_array(std::string_view name, const ArraySpec& spec, const RegisterOptions& options = {});

  // Id of a registered name. Throws InvalidArgument when unknown.
  StreamId find(std::string_view name) const;
  const ArraySpec& spec(StreamId id) const;
  const std::string& name(StreamId id) const;

  // Queues one row: `data` holds the array's C-order bytes (exactly
  // spec(id).payload_bytes()), `keys` its key values in registration order.
  // Returns once the bytes are copied; the writer commits later. Blocks
  // while the buffer is full and, unless throughput_mode, while
  // 2 x commit_threshold_rows rows of this name are uncommitted.
  // A periodic name adds the step to its period instead; the step that
  // completes it queues the period's row, and (unless throughput_mode) the
  // first step of a period waits until the previous period's row is
  // committed: a kill loses at most one period of steps.
  void log(StreamId id, std::span<const KeyRef> keys, const void* data, std::size_t nbytes);
  // Same, but returns false instead of blocking.
  bool try_log(StreamId id, std::span<const KeyRef> keys, const void* data, std::size_t nbytes);

  // Typed convenience for a contiguous buffer whose element type matches.
  template <class T>
  void log(StreamId id, std::initializer_list<KeyRef> keys, std::span<const T> values) {
    static_assert(std::is_trivially_copyable_v<T>);
    log(id, std::span<const KeyRef>(keys.begin(), keys.size()), values.data(), values.size_bytes());
  }

  // Waits until every row logged so far is committed. Periodic names write
  // their open period as a partial row first (replaced by its next row).
  void flush();
  // flush(), returning each name's position at the call: what a checkpoint
  // saved next to the logs records, so that resuming from it can set aside
  // the rows logged after it (rewind.hpp) and continue the open periods
  // (RegisterOptions::resume_period).
  std::vector<LogPosition> checkpoint_positions();
  // Commits everything, closes the databases and (when compression is on)
  // replaces each {name}.db by {name}.db.zst. Idempotent.
  void close();
  bool closed() const noexcept;
  const LoggerOptions& options() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace array_logger
