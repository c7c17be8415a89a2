#include "write/shard_dir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "array_logger/dtype.hpp"
#include "array_logger/errors.hpp"
#include "array_logger/meta.hpp"
#include "os/file_ops.hpp"
#include "write/store_files.hpp"

namespace array_logger::detail {
namespace {

// `.spec` is text, one `field: value` per line; values are the file meta's
// own text forms (Python reprs, which never contain a newline).
constexpr std::string_view kSpecHeader = "array_logger shard spec 1\n";

std::string spec_text(const std::string& shard, const ArraySpec& spec, const std::string& keys_text) {
  return std::string(kSpecHeader) + "shard: " + shard + "\nshape: " + shape_repr(spec.shape) +
         "\ndtype: " + std::string(spec.dtype->name) + "\nkeys: " + keys_text + "\n";
}

struct StoredSpec {
  std::string shard;
  ArraySpec spec;
};

StoredSpec parse_spec(const std::string& text, const std::filesystem::path& path) {
  if (text.rfind(kSpecHeader, 0) != 0) throw CorruptFile(path.string() + " is not an array_logger shard spec");
  StoredSpec out;
  std::string shape, dtype, keys;
  std::size_t pos = kSpecHeader.size();
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) break;  // a torn last line cannot happen (link of a complete file)
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    const std::size_t colon = line.find(": ");
    if (colon == std::string::npos) continue;
    const std::string field = line.substr(0, colon), value = line.substr(colon + 2);
    if (field == "shard") out.shard = value;
    if (field == "shape") shape = value;
    if (field == "dtype") dtype = value;
    if (field == "keys") keys = value;
  }
  out.spec.shape = parse_shape_repr(shape);
  out.spec.keys = parse_keys_repr(keys);
  out.spec.dtype = &dtype_from_string(dtype);
  return out;
}

std::string read_text(const std::filesystem::path& path) {
  Fd fd = open_file(path, O_RDONLY | O_CLOEXEC);
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read " + path.string(), errno);
    }
    if (n == 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  Fd fd = open_file(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  write_all(fd.get(), text.data(), text.size(), path);
  fsync_fd(fd, path);
}

}  // namespace

std::filesystem::path store_dir(const std::filesystem::path& root, const std::string& name, const std::string& shard) {
  if (shard.empty()) return root;
  try {
    validate_array_name(shard);
  } catch (const InvalidArgument& e) {
    std::string msg = e.what();  // "Invalid array name '...': why"
    msg.replace(0, 18, "Invalid shard id");
    throw InvalidArgument(msg + " (a shard of '" + name + "')");
  }
  std::filesystem::path dir = root / (name + ".shards");
  std::error_code ec;
  if (std::filesystem::create_directory(dir, ec)) {
    fsync_dir(root);  // the directory itself survives a power loss with the first shard
  } else if (ec || !std::filesystem::is_directory(dir)) {
    throw StorageError("cannot create the shards directory " + dir.string() +
                           (ec ? ": " + ec.message() : std::string(": it exists and is not a directory")),
                       0, ec ? ec.value() : ENOTDIR);
  }
  return dir;
}

void check_shard_spec(const std::filesystem::path& dir, const std::string& name, const std::string& shard,
                      const ArraySpec& spec, const std::string& keys_text) {
  const std::filesystem::path path = dir / ".spec";
  if (!file_exists(path)) {
    // Written whole under a name of this shard's own (its lock is held), then
    // linked: link(2) never replaces, so of two first shards exactly one wins
    // and the other compares with it below.
    const std::filesystem::path tmp = dir / (".spec." + shard + ".tmp");
    write_text(tmp, spec_text(shard, spec, keys_text));
    const int rc = ::link(tmp.c_str(), path.c_str());
    const int err = errno;
    remove_if_exists(tmp);
    if (rc == 0) {
      fsync_dir(dir);
      return;
    }
    if (err != EEXIST) throw_errno("cannot create " + path.string(), err);
  }
  const StoredSpec first = parse_spec(read_text(path), path);
  if (!(first.spec == spec))
    throw MetaMismatch("Meta mismatch for '" + name + "' shard '" + shard + "': shard '" + first.shard +
                       "' (the first under " + dir.string() + ") has " + first.spec.describe() +
                       " but register asked for " + spec.describe());
}

}  // namespace array_logger::detail
