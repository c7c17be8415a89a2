#include "array_logger/rewind.hpp"

#include <fcntl.h>

#include <string>

#include "array_logger/errors.hpp"
#include "array_logger/meta.hpp"
#include "array_logger/reader.hpp"
#include "format/schema.hpp"
#include "os/file_ops.hpp"
#include "sqlite/sql_text.hpp"
#include "sqlite/statement.hpp"
#include "sqlite/transaction.hpp"
#include "write/store_files.hpp"

namespace array_logger {
namespace {

using detail::Database;
using detail::Statement;
using detail::Transaction;

// The aside file's tables: those of the log (format 1 keeps INTEGER keys).
void create_aside_tables(Database& aside, const FileMeta& meta, std::string_view note) {
  detail::MetaRows rows(meta.rows.begin(), meta.rows.end());
  rows.emplace_back("set_aside", std::string(note));
  detail::create_tables(aside, meta.spec.keys, rows, meta.format_version == kFormatLegacy ? "INTEGER" : "");
}

std::string column_list(const std::vector<std::string>& keys) {
  std::string cols;
  for (const auto& k : keys) cols += detail::quote_identifier(k) + ", ";
  return cols + "data";
}

}  // namespace

std::uint64_t rewind_log(const std::filesystem::path& root_in, std::string_view name, std::uint64_t position,
                         const std::filesystem::path& aside, std::string_view note) {
  detail::validate_array_name(name);
  const std::filesystem::path root = detail::absolute_path(root_in);
  const std::string n(name);
  if (!detail::file_exists(root / (n + ".db")) && !detail::file_exists(root / (n + ".db.zst"))) return 0;
  detail::StoreFiles files(root, n);  // the name's lock; a .db.zst becomes a .db
  std::uint64_t moved = 0;
  try {
    Database db(files.db().string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, files.db().string());
    const FileMeta meta = decode_meta(detail::read_meta_rows(db));
    detail::check_array_log_columns(db, meta.spec.keys, files.db().string());
    {
      Statement count = db.prepare("SELECT count(*) FROM array_log WHERE rowid > ?", "counting rows to set aside");
      count.bind(1, static_cast<std::int64_t>(position));
      if (count.step()) moved = static_cast<std::uint64_t>(count.column_int64(0));
    }
    if (moved == 0) {
      db.close();
      files.abandon();  // leave a .db.zst as it was
      return 0;
    }
    // 1. The aside file, complete and synced under its final name.
    const std::filesystem::path tmp = aside.string() + ".tmp";
    std::filesystem::create_directories(aside.parent_path());
    detail::remove_if_exists(tmp);
    {
      Database out(tmp.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, tmp.string());
      out.exec("PRAGMA page_size=" + std::to_string(db.query_int("PRAGMA page_size")));
      Transaction txn(out, Transaction::Mode::Immediate);
      create_aside_tables(out, meta, note);
      txn.commit();
    }
    const std::string tmp_text = tmp.string();  // bound without a copy: must outlive the statement
    {
      Statement attach = db.prepare("ATTACH DATABASE ? AS aside", "attaching the aside file");
      attach.bind_text(1, tmp_text);
      attach.run();
      Transaction txn(db, Transaction::Mode::Immediate);
      const std::string cols = column_list(meta.spec.keys);
      Statement copy = db.prepare("INSERT INTO aside.array_log (rowid, " + cols + ") SELECT rowid, " + cols +
                                      " FROM main.array_log WHERE rowid > ? ORDER BY rowid",
                                  "copying rows aside");
      copy.bind(1, static_cast<std::int64_t>(position));
      copy.run();
      txn.commit();
      db.exec("DETACH DATABASE aside");
    }
    {
      detail::Fd fd = detail::open_file(tmp, O_RDONLY);
      detail::fsync_fd(fd, tmp);
    }
    detail::durable_rename(tmp, aside);
    // 2. Only then, the rows leave the log.
    {
      Transaction txn(db, Transaction::Mode::Immediate);
      Statement del = db.prepare("DELETE FROM array_log WHERE rowid > ?", "removing rows set aside");
      del.bind(1, static_cast<std::int64_t>(position));
      del.run();
      txn.commit();
    }
  } catch (...) {
    // Nothing was deleted before the aside file was complete: drop a
    // partial one, and a decompressed copy nothing changed.
    std::error_code ec;
    std::filesystem::remove(aside.string() + ".tmp", ec);
    if (!std::filesystem::exists(aside, ec)) files.abandon();
    throw;
  }
  files.drop_stale_zst();
  return moved;
}

std::uint64_t log_end(const std::filesystem::path& root_in, std::string_view name) {
  detail::validate_array_name(name);
  const std::filesystem::path root = detail::absolute_path(root_in);
  const std::string n(name);
  if (!detail::file_exists(root / (n + ".db")) && !detail::file_exists(root / (n + ".db.zst"))) return 0;
  Reader reader(root / (n + ".db"));
  std::uint64_t lo = 0, hi = 1;
  // The largest rowid, by bisection over counts (the reader's queries are
  // user-level: WHERE clauses over the rowid).
  if (reader.count() == 0) return 0;
  auto above = [&reader](std::uint64_t v) {
    const KeyValue p[1] = {static_cast<std::int64_t>(v)};
    return reader.count("_rowid_ > ?", p) > 0;
  };
  while (above(hi)) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    const std::uint64_t mid = lo + (hi - lo) / 2;
    if (above(mid))
      lo = mid;
    else
      hi = mid;
  }
  return hi;
}

}  // namespace array_logger
