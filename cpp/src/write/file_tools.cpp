// compress_file / decompress_file: a Logger that resumes the file (register:
// lock, temporaries removed, a .db.zst decompressed durably, the meta
// checked) and closes it (checkpoint, DELETE journal mode, and with a level
// the crash-safe compression). No step is written twice: these are the
// Logger's own (write/store_files.cpp, write/array_store.cpp).
#include "array_logger/file_tools.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "array_logger/errors.hpp"
#include "array_logger/logger.hpp"
#include "array_logger/meta.hpp"
#include "array_logger/reader.hpp"
#include "os/file_ops.hpp"
#include "os/name_lock.hpp"
#include "os/zstd_file.hpp"

namespace array_logger {
namespace {

struct NamedFile {
  std::filesystem::path root;
  std::string name;
  ArraySpec spec;            // what register takes (a periodic file's input, without steps/partial)
  RegisterOptions options;   // the stored form of a long-simulation file (docs/FORMAT.md 5.4-5.6, 10)
};

// register's spec and options that reopen a file of this meta as it is:
// its fixed point, sparse rows and period (else register's check refuses it).
void registered_form(const FileMeta& meta, NamedFile& f) {
  const StoredForm& form = meta.form;
  f.spec = meta.spec;
  f.options.quantize = form.fixed_point;
  f.options.sparse = form.sparse_index_dtype != nullptr;
  f.options.period = form.period;
  if (form.period.steps) {
    f.spec.keys.resize(f.spec.keys.size() - 2);  // steps, partial: added by register
    f.spec.dtype = form.period_input_dtype;
  }
}

// The root, name and spec of an array file (read with a Reader, which also
// refuses files that are not array_logger files).
NamedFile inspect(const std::filesystem::path& path) {
  std::filesystem::path opened;
  NamedFile f;
  {
    Reader reader(path);
    opened = reader.path();
    registered_form(decode_meta(reader.meta()), f);
  }
  std::string base = opened.filename().string();
  for (const std::string suffix : {".db.zst", ".db"}) {
    if (base.size() > suffix.size() && base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0) {
      f.name = base.substr(0, base.size() - suffix.size());
      break;
    }
  }
  if (f.name.empty()) throw InvalidArgument("not a NAME.db or NAME.db.zst path: " + opened.string());
  f.root = opened.parent_path().empty() ? std::filesystem::path(".") : opened.parent_path();
  return f;
}

std::filesystem::path resume_and_close(const NamedFile& f, std::optional<int> level, int workers,
                                       CloseProgressFn progress) {
  LoggerOptions options;
  options.root = f.root;
  options.compression_level = level;
  options.compression_workers = workers;
  options.close_progress = std::move(progress);
  Logger logger(options);
  logger.register_array(f.name, f.spec, f.options);
  logger.close();
  return f.root / (f.name + (level ? ".db.zst" : ".db"));
}

}  // namespace

std::filesystem::path compress_file(const std::filesystem::path& path, int level, int workers,
                                    CloseProgressFn progress) {
  if (level < 1 || level > 22) throw InvalidArgument("compression level must be 1..22, got " + std::to_string(level));
  return resume_and_close(inspect(path), level, workers, std::move(progress));
}

std::filesystem::path decompress_file(const std::filesystem::path& path) {
  return resume_and_close(inspect(path), std::nullopt, 0, {});
}

void decompress_copy(const std::filesystem::path& path, const std::filesystem::path& out) {
  detail::Fd fd = detail::open_file(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  try {
    detail::decompress_to_fd(path, fd, out);
  } catch (...) {
    ::unlink(out.c_str());
    throw;
  }
}

bool writer_active(const std::filesystem::path& path) {
  std::string stem = path.filename().string();
  for (const char* suffix : {".zst", ".db"})
    if (stem.size() > std::strlen(suffix) && stem.compare(stem.size() - std::strlen(suffix), std::string::npos, suffix) == 0)
      stem.resize(stem.size() - std::strlen(suffix));
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  return detail::name_lock_held(dir, stem);
}

}  // namespace array_logger
