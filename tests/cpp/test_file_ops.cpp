// os/file_ops: descriptors, durable renames, temporary files, header sniffing.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "array_logger/errors.hpp"
#include "os/file_ops.hpp"
#include "temp_dir.hpp"

using namespace array_logger;
using namespace array_logger::detail;
namespace fs = std::filesystem;

namespace {

void write_text(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

bool fd_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

void make_database(const fs::path& p, const char* journal_mode) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(p.c_str(), &db) == SQLITE_OK);
  const std::string sql = std::string("PRAGMA journal_mode=") + journal_mode + "; CREATE TABLE t (a);";
  REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

}  // namespace

TEST_CASE("Fd closes once, and moves ownership") {
  TempDir dir;
  write_text(dir.path / "f", "x");
  int raw;
  {
    Fd a = open_file(dir.path / "f", O_RDONLY);
    raw = a.get();
    CHECK(fd_open(raw));
    Fd b(std::move(a));
    CHECK(a.get() == -1);
    CHECK(b.get() == raw);
    Fd c;
    c = std::move(b);
    CHECK(fd_open(raw));
  }
  CHECK_FALSE(fd_open(raw));
}

TEST_CASE("open_file keeps errno in the StorageError") {
  TempDir dir;
  try {
    open_file(dir.path / "missing", O_RDONLY);
    FAIL("opened a missing file");
  } catch (const StorageError& e) {
    CHECK(e.sys_errno() == ENOENT);
    CHECK(std::string(e.what()).find("missing") != std::string::npos);
  }
}

TEST_CASE("durable_rename, remove_if_exists, file_exists, size_if_exists") {
  TempDir dir;
  write_text(dir.path / "a", "12345");
  CHECK(size_if_exists(dir.path / "a") == 5u);
  CHECK_FALSE(size_if_exists(dir.path / "nothing").has_value());
  durable_rename(dir.path / "a", dir.path / "b");
  CHECK_FALSE(file_exists(dir.path / "a"));
  CHECK(file_exists(dir.path / "b"));
  remove_if_exists(dir.path / "b");
  CHECK_FALSE(file_exists(dir.path / "b"));
  CHECK_NOTHROW(remove_if_exists(dir.path / "b"));  // already gone: fine
  fs::create_directory(dir.path / "d");
  write_text(dir.path / "d" / "inside", "x");
  CHECK_THROWS_AS(remove_if_exists(dir.path / "d"), StorageError);  // not a file
  CHECK_THROWS_AS(durable_rename(dir.path / "missing", dir.path / "c"), StorageError);
  CHECK_NOTHROW(fsync_dir(dir.path));
}

TEST_CASE("TempFile is private, writable, and removed with its object") {
  fs::path path;
  {
    TempFile t(".db");
    path = t.path();
    CHECK(path.filename().string().rfind("array_logger-", 0) == 0);
    CHECK(path.extension() == ".db");
    struct stat st;
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(::write(t.fd().get(), "abc", 3) == 3);
    t.close_fd();
    CHECK(t.fd().get() == -1);
    CHECK(size_if_exists(path) == 3u);
  }
  CHECK_FALSE(file_exists(path));
}

TEST_CASE("read_sqlite_header tells journal modes apart and refuses other files") {
  TempDir dir;
  make_database(dir.path / "wal.db", "WAL");
  make_database(dir.path / "rollback.db", "DELETE");
  write_text(dir.path / "text.db", std::string(100, 'x'));
  write_text(dir.path / "short.db", "SQLite format 3");
  const auto wal = read_sqlite_header(dir.path / "wal.db");
  REQUIRE(wal.has_value());
  CHECK(wal->wal());
  CHECK_FALSE(wal->rollback());
  const auto rollback = read_sqlite_header(dir.path / "rollback.db");
  REQUIRE(rollback.has_value());
  CHECK(rollback->rollback());
  CHECK_FALSE(rollback->wal());
  CHECK(rollback->page_size >= 512);
  REQUIRE(rollback->page_count.has_value());  // a closed rollback-mode file: the count is valid
  CHECK(std::uint64_t{*rollback->page_count} * rollback->page_size == fs::file_size(dir.path / "rollback.db"));
  CHECK_FALSE(read_sqlite_header(dir.path / "text.db").has_value());
  CHECK_FALSE(read_sqlite_header(dir.path / "short.db").has_value());
  CHECK_FALSE(read_sqlite_header(dir.path / "missing.db").has_value());
}

TEST_CASE("write_all writes at the position or at an offset; pread_full reads up to the end") {
  TempDir dir;
  const auto path = dir.path / "f";
  Fd fd = open_file(path, O_RDWR | O_CREAT | O_TRUNC);
  write_all(fd.get(), "abcdef", 6, path);
  write_all(fd.get(), "XY", 2, path, 2);  // pwrite: the position stays after "abcdef"
  write_all(fd.get(), "gh", 2, path);
  char buf[16] = {};
  CHECK(pread_full(fd.get(), buf, 8, 0, Injectable::no) == 8);
  CHECK(std::string(buf, 8) == "abXYefgh");
  CHECK(pread_full(fd.get(), buf, 16, 5, Injectable::no) == 3);  // short only at the end of the file
  CHECK(std::string(buf, 3) == "fgh");
  CHECK(pread_full(fd.get(), buf, 4, 100, Injectable::no) == 0);
  CHECK(pread_full(-1, buf, 4, 0, Injectable::no) == -1);
  try {
    write_all(-1, "x", 1, path);
    FAIL("wrote to a closed descriptor");
  } catch (const StorageError& e) {
    CHECK(e.sys_errno() == EBADF);
    CHECK(std::string(e.what()).find(path.string()) != std::string::npos);
  }
}
