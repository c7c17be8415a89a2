// Whole-file streaming zstd: the close-time compression of a .db into a
// standard zstd frame, and the way back.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>

#include "os/file_ops.hpp"

namespace array_logger::detail {

// Called now and then during a long (de)compression with bytes done and total.
using ProgressFn = std::function<void(std::uint64_t done, std::uint64_t total)>;

// Compresses `src` into `dst` (created 0644, truncated) as one zstd frame
// with the content size recorded, using `workers` threads (0 = single
// threaded), then fsyncs `dst`. Throws StorageError.
void compress_file(const std::filesystem::path& src, const std::filesystem::path& dst, int level,
                   int workers, const ProgressFn& progress);

// Decompresses the zstd stream `src` into `dst` (created with `mode`), then
// fsyncs it. Throws CorruptFile for data that is not a complete zstd stream.
void decompress_file(const std::filesystem::path& src, const std::filesystem::path& dst, int mode);

// Decompresses into an already open descriptor (used for private temp files).
void decompress_to_fd(const std::filesystem::path& src, const Fd& dst, const std::filesystem::path& dst_name);

}  // namespace array_logger::detail
