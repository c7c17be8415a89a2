// Sharded names (docs/SCALING.md): many processes write one array name, each
// into its own file next to the others':
//   {root}/{name}.shards/{shard}.db      (.db.zst after close)
//   {root}/{name}.shards/.spec           the spec every shard must have
// Each shard file is a complete array_logger file with a `shard` meta row;
// each has its own writer lock (os/name_lock) inside the shards directory,
// so shards never wait for each other. The first shard to register writes
// `.spec` (create-exclusive through link(2), no lock); every later shard is
// compared with it and refused with MetaMismatch naming that first shard.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "array_logger/array_spec.hpp"

namespace array_logger::detail {

// The directory of the files of `name` (the root itself without a shard,
// else {root}/{name}.shards, created if missing) and the stem of the
// writer's file in it (`name`, or `shard`). Throws InvalidArgument for a
// shard id that is not a plain file name (the rules of array names).
std::filesystem::path store_dir(const std::filesystem::path& root, const std::string& name, const std::string& shard);
inline const std::string& file_stem(const std::string& name, const std::string& shard) {
  return shard.empty() ? name : shard;
}

// Compares `spec` with {dir}/.spec, writing it first when no shard has yet.
// Throws MetaMismatch naming the shard that wrote it.
void check_shard_spec(const std::filesystem::path& dir, const std::string& name, const std::string& shard,
                      const ArraySpec& spec, const std::string& keys_text);

}  // namespace array_logger::detail
