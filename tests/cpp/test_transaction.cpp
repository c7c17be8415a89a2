// sqlite/: Database, Statement and the RAII Transaction.
#include <doctest/doctest.h>

#include "array_logger/errors.hpp"
#include "sqlite/database.hpp"
#include "sqlite/statement.hpp"
#include "sqlite/transaction.hpp"
#include "temp_dir.hpp"

using namespace array_logger;
using namespace array_logger::detail;

namespace {

Database open_db(const TempDir& dir) {
  const auto p = (dir.path / "t.db").string();
  Database db(p, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, p);
  db.exec("CREATE TABLE IF NOT EXISTS t (k, v)");
  return db;
}

}  // namespace

TEST_CASE("a transaction not committed is rolled back by its destructor") {
  TempDir dir;
  Database db = open_db(dir);
  {
    Transaction txn(db);
    db.exec("INSERT INTO t VALUES (1, 'a')");
  }
  CHECK(db.query_int("SELECT count(*) FROM t") == 0);
  CHECK(sqlite3_get_autocommit(db.get()));
  {
    Transaction txn(db, Transaction::Mode::Immediate);
    db.exec("INSERT INTO t VALUES (1, 'a')");
    txn.commit();
  }
  CHECK(db.query_int("SELECT count(*) FROM t") == 1);
}

TEST_CASE("an exception inside the transaction leaves nothing behind") {
  TempDir dir;
  Database db = open_db(dir);
  TransactionStatements prepared(db);
  CHECK_THROWS_AS(([&] {
                    Transaction txn(db, prepared);
                    db.exec("INSERT INTO t VALUES (2, 'b')");
                    db.exec("INSERT INTO no_such_table VALUES (1)");
                    txn.commit();
                  }()),
                  StorageError);
  CHECK(db.query_int("SELECT count(*) FROM t") == 0);
  CHECK(sqlite3_get_autocommit(db.get()));
  Transaction(db, prepared).commit();  // the prepared BEGIN and COMMIT run again
  CHECK(sqlite3_get_autocommit(db.get()));
}

TEST_CASE("Statement binds keys with their types and runs again after reset") {
  TempDir dir;
  Database db = open_db(dir);
  Statement insert = db.prepare("INSERT INTO t VALUES (?, ?)", "INSERT");
  const KeyRef keys[] = {KeyRef::of(std::int64_t{7}), KeyRef::of(0.5), KeyRef::of(std::string_view("x"))};
  for (const KeyRef& k : keys) {
    insert.bind(1, k);
    insert.bind_copy(2, KeyValue(std::string("v")));
    insert.run();
  }
  Statement select = db.prepare("SELECT k, typeof(k) FROM t ORDER BY rowid");
  for (const KeyRef& want : keys) {
    REQUIRE(select.step());
    const KeyRef got = select.column_key(0);
    CHECK(got.kind == want.kind);
    CHECK(got.integer == want.integer);
    CHECK(got.real == want.real);
    CHECK(got.text == want.text);
  }
  CHECK_FALSE(select.step());
}

TEST_CASE("errors name the file and the statement") {
  TempDir dir;
  Database db = open_db(dir);
  db.exec("CREATE UNIQUE INDEX one_k ON t (k)");
  Statement insert = db.prepare("INSERT INTO t VALUES (1, 'a')", "INSERT");
  insert.run();
  try {
    insert.run();
    FAIL("duplicate accepted");
  } catch (const StorageError& e) {
    CHECK(std::string(e.what()).find("t.db: INSERT: UNIQUE constraint failed") != std::string::npos);
    CHECK(e.sqlite_code() == SQLITE_CONSTRAINT_UNIQUE);
  }
  CHECK_THROWS_AS(db.set_pragma("journal_mode", "no_such_mode"), StorageError);
}
