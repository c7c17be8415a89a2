// A transaction as a scope (after SQLiteCpp's Transaction): BEGIN in the
// constructor, COMMIT on commit(), ROLLBACK in the destructor when it was
// not committed (an exception, or a failed COMMIT), never throwing there.
#pragma once

#include "sqlite/database.hpp"
#include "sqlite/statement.hpp"

namespace array_logger::detail {

// BEGIN and COMMIT prepared once, for a connection that opens a transaction
// every few rows (the writer): saves parsing them each time.
struct TransactionStatements {
  explicit TransactionStatements(Database& db)
      : begin(db.prepare("BEGIN")), commit(db.prepare("COMMIT")) {}
  Statement begin, commit;
};

class Transaction {
 public:
  enum class Mode { Deferred, Immediate };
  explicit Transaction(Database& db, Mode mode = Mode::Deferred);
  Transaction(Database& db, TransactionStatements& prepared);
  ~Transaction() { rollback(); }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit();
  // Ends it now without committing (what the destructor does).
  void rollback() noexcept;

 private:
  Database& db_;
  TransactionStatements* prepared_ = nullptr;
  bool open_ = true;
};

}  // namespace array_logger::detail
