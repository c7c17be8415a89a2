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
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "array_logger/array_spec.hpp"
#include "array_logger/key_value.hpp"

namespace array_logger {

// SQLite's `synchronous` setting for the databases being written. Both
// survive a killed process with every committed row; only Full and Normal
// survive a power loss (Normal may lose the last commits, never corrupts).
enum class Synchronous { Off, Normal, Full };

// Progress of close-time compression: array name, bytes done, bytes total.
using CloseProgressFn = std::function<void(std::string_view name, std::uint64_t done, std::uint64_t total)>;

struct LoggerOptions {
  std::filesystem::path root;                 // created if missing
  std::optional<int> compression_level = 22;  // 1..22, or nullopt: keep plain .db files
  Synchronous synchronous = Synchronous::Normal;
  // Bytes of logged rows that may wait for the writer thread. log() blocks
  // (without spinning) while the buffer is full, which bounds memory.
  std::size_t buffer_bytes = 16u << 20;
  // false (default): the loss bound of docs/DURABILITY.md. At every moment
  // all rows of a name are committed except at most the last
  // 2 x commit_threshold_rows logged (and those of the last
  // commit_threshold_seconds): log() waits for the writer rather than fall
  // further behind. true: log() waits only for buffer space, so a loop
  // faster than the writer may have up to buffer_bytes of rows uncommitted.
  bool throughput_mode = false;
  int compression_workers = -1;  // zstd worker threads at close; -1 = one per core
  CloseProgressFn close_progress;  // optional
};

struct RegisterOptions {
  std::uint64_t commit_threshold_rows = 100;
  double commit_threshold_seconds = 60.0;
  // Stored verbatim in meta as `user_metadata` (JSON text is customary).
  std::string user_metadata;
  // Per-blob filter: byte shuffle + zstd on the writer thread. Smaller files
  // for smooth float data; decoded transparently by the reader.
  bool shuffle_zstd = false;
  int shuffle_zstd_level = 3;
  // The exact text of the meta `keys` row, when the caller can produce
  // Python's repr() of the key list itself (the Python binding does; C++
  // alone escapes only ASCII and C1 control characters). Must parse back to
  // the same keys; empty = computed.
  std::string keys_repr;
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
  void log(StreamId id, std::span<const KeyRef> keys, const void* data, std::size_t nbytes);
  // Same, but returns false instead of blocking.
  bool try_log(StreamId id, std::span<const KeyRef> keys, const void* data, std::size_t nbytes);

  // Typed convenience for a contiguous buffer whose element type matches.
  template <class T>
  void log(StreamId id, std::initializer_list<KeyRef> keys, std::span<const T> values) {
    static_assert(std::is_trivially_copyable_v<T>);
    log(id, std::span<const KeyRef>(keys.begin(), keys.size()), values.data(), values.size_bytes());
  }

  // Waits until every row logged so far is committed.
  void flush();
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
