// What a Logger and each registered array are configured with. Separate
// from logger.hpp so that the writer's internals can take the options
// without seeing the Logger class.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "array_logger/stream_options.hpp"

namespace array_logger {

// SQLite's `synchronous` setting for the databases being written. Both
// survive a killed process with every committed row; only Full and Normal
// survive a power loss (Normal may lose the last commits, never corrupts).
enum class Synchronous { Off, Normal, Full };

// How a new file is journaled while it is written (docs/DESIGN.md, "Journal
// modes"). Chosen when the file is created and recorded in its meta
// (`write_journal`); a resumed file keeps its recorded mode whatever is asked.
//   Wal:      rows are written to the -wal file, then copied into the
//             database by checkpoints (every byte written twice), commits
//             need no fsync and readers never block the writer.
//   Rollback: appended pages are written once, straight into the database
//             (SQLite journals only the few pages a commit changes in
//             place); each commit syncs (synchronous=normal/full), and a
//             reader in another process waits for a commit to finish.
//   Auto:     Rollback for rows of more than 32 KiB, Wal otherwise.
enum class Journal { Auto, Wal, Rollback };

// Progress of close-time compression: array name, bytes done, bytes total.
using CloseProgressFn = std::function<void(std::string_view name, std::uint64_t done, std::uint64_t total)>;

// How close() compresses (docs/DESIGN.md "Close"). Adaptive: 4 MiB frames on
// every core, each with the cheapest zstd parameters that come within 2% of
// the level on a sample, segments compressed during the run reused. Plain:
// one frame of the whole file at exactly the level (2.0.0's behaviour).
enum class CompressionMode { Adaptive, Plain };

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
  CompressionMode compression_mode = CompressionMode::Adaptive;
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
  Journal journal = Journal::Auto;  // for a new file only
  // Long simulations (stream_options.hpp, docs/FORMAT.md 5.4-5.6 and 10):
  // fixed-point storage of float arrays, sparse rows, and one row per
  // period of `period.steps` log() calls instead of one per call. A
  // periodic name's file has two more key columns, `steps` and `partial`.
  std::optional<FixedPoint> quantize;
  bool sparse = false;
  Period period;
  // Continue this open period (from a checkpoint) instead of starting one.
  std::optional<PeriodState> resume_period;
  // Empty (default): the name's one file {root}/{name}.db, one writer at a
  // time. Otherwise this writer's shard of the name (a plain file name, e.g.
  // "3" or "node07-4711"): {root}/{name}.shards/{shard}.db, with its own
  // lock, so any number of processes write the name at once; its spec must
  // be that of the shards already there (docs/SCALING.md).
  std::string shard;
};

}  // namespace array_logger
