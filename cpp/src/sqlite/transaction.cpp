#include "sqlite/transaction.hpp"

namespace array_logger::detail {

Transaction::Transaction(Database& db, Mode mode) : db_(db) {
  db_.exec(mode == Mode::Immediate ? "BEGIN IMMEDIATE" : "BEGIN");
}

Transaction::Transaction(Database& db, TransactionStatements& prepared) : db_(db), prepared_(&prepared) {
  prepared_->begin.run();
}

void Transaction::commit() {
  if (prepared_ != nullptr) prepared_->commit.run();
  else db_.exec("COMMIT");
  open_ = false;
}

void Transaction::rollback() noexcept {
  if (!open_) return;
  open_ = false;
  // A failed COMMIT may already have ended the transaction (SQLite rolls
  // back by itself after some errors): roll back only what is still open.
  if (db_ && !sqlite3_get_autocommit(db_.get())) db_.try_exec("ROLLBACK");
}

}  // namespace array_logger::detail
