// Resuming from a checkpoint: a name's log is brought back to the position
// the checkpoint recorded (Logger::checkpoint_positions), the rows logged
// after it by the run that crashed kept aside, recoverable, in a file of
// their own (docs/DURABILITY.md, "Checkpoints and resume").
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

namespace array_logger {

// Moves the rows of {root}/{name}.db (or .db.zst) whose rowid is above
// `position` into a new array_logger file `aside` (the same meta, plus a
// `set_aside` row holding `note`; the rows keep their rowids), then deletes
// them from the log. The aside file is complete and synced before anything
// is deleted: a kill at any moment loses no row (at worst a row is in both
// files). Returns the rows moved; 0 (no file created) when there are none
// or the name has no file. A .db.zst is decompressed first and stays a .db
// (the next close compresses it). Takes the name's lock: StateError while a
// logger writes it. Throws CorruptFile, StorageError.
std::uint64_t rewind_log(const std::filesystem::path& root, std::string_view name, std::uint64_t position,
                         const std::filesystem::path& aside, std::string_view note);

// The largest rowid of {root}/{name}'s log (0 when empty or missing),
// read without changing the files. Throws CorruptFile, StorageError.
std::uint64_t log_end(const std::filesystem::path& root, std::string_view name);

}  // namespace array_logger
