// RAII over sqlite3_stmt: typed binds, and the one place where a step's
// result code becomes an exception. The small methods are inline: the
// writer binds and steps every logged row through them.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "array_logger/key_value.hpp"

namespace array_logger::detail {

[[noreturn]] void throw_sqlite(sqlite3* db, int rc, std::string_view context);

class Statement {
 public:
  Statement() = default;
  // Takes ownership of `raw`; `context` ("file: label") prefixes errors.
  Statement(sqlite3_stmt* raw, std::string context) : st_(raw), context_(std::move(context)) {}

  sqlite3_stmt* get() const noexcept { return st_.get(); }
  explicit operator bool() const noexcept { return static_cast<bool>(st_); }
  void finalize() noexcept { st_.reset(); }

  // Binds keep a pointer to the caller's bytes (SQLITE_STATIC): they must
  // stay valid until the statement is stepped and reset. bind_copy copies.
  void bind(int idx, std::int64_t v) { check(sqlite3_bind_int64(get(), idx, v), "bind"); }
  void bind(int idx, double v) { check(sqlite3_bind_double(get(), idx, v), "bind"); }
  void bind_text(int idx, std::string_view v) {
    check(sqlite3_bind_text(get(), idx, v.data(), static_cast<int>(v.size()), SQLITE_STATIC), "bind");
  }
  void bind_blob(int idx, std::span<const std::byte> v) {
    check(sqlite3_bind_blob(get(), idx, v.data(), static_cast<int>(v.size()), SQLITE_STATIC), "bind data");
  }
  // A key value: INTEGER, REAL or TEXT, so that a key keeps its type.
  void bind(int idx, const KeyRef& k) {
    switch (k.kind) {
      case KeyRef::Kind::Integer: bind(idx, k.integer); break;
      case KeyRef::Kind::Real: bind(idx, k.real); break;
      case KeyRef::Kind::Text: bind_text(idx, k.text); break;
    }
  }
  void bind_copy(int idx, const KeyValue& v);

  // One step: true with a row to read, false when done. Throws on errors.
  bool step() {
    const int rc = sqlite3_step(get());
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) fail(rc);
    return false;
  }
  // Steps a statement that returns no rows (INSERT, BEGIN, COMMIT) and
  // resets it for the next execution, failing after the reset (which keeps
  // SQLite's error code and message).
  void run() {
    const int rc = sqlite3_step(get());
    sqlite3_reset(get());
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) fail(rc);
  }
  void reset() noexcept { sqlite3_reset(get()); }

  int column_type(int col) const noexcept { return sqlite3_column_type(get(), col); }
  std::int64_t column_int64(int col) const noexcept { return sqlite3_column_int64(get(), col); }
  std::string_view column_text(int col) const noexcept {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(get(), col));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(get(), col))) : std::string_view();
  }
  std::span<const std::byte> column_blob(int col) const noexcept {
    const auto* p = static_cast<const std::byte*>(sqlite3_column_blob(get(), col));
    return {p, static_cast<std::size_t>(sqlite3_column_bytes(get(), col))};
  }
  // The value of a key column, with the type it was stored with.
  KeyRef column_key(int col) const noexcept;

  [[noreturn]] void fail(int rc) const { throw_sqlite(sqlite3_db_handle(get()), rc, context_); }

 private:
  // The writer calls check after every bind: only the compare and a call stay
  // inline. With the message built here, clang (the portable wheels' zig)
  // stopped inlining check into the bind loop, ~65 instructions a row
  // (docs/WHEELS.md, "Speed").
  void check(int rc, const char* what) const {
    if (rc != SQLITE_OK) [[unlikely]] fail_bind(rc, what);
  }
  [[noreturn, gnu::cold, gnu::noinline]] void fail_bind(int rc, const char* what) const;
  struct Finalizer {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
  };
  std::unique_ptr<sqlite3_stmt, Finalizer> st_;
  std::string context_;
};

}  // namespace array_logger::detail
