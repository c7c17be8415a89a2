// os/name_lock: one writer per array name across loggers and processes.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "array_logger/errors.hpp"
#include "os/file_ops.hpp"
#include "os/name_lock.hpp"
#include "temp_dir.hpp"

using namespace array_logger;
using namespace array_logger::detail;

TEST_CASE("a held name refuses a second lock and is free again once released") {
  TempDir dir;
  const auto file = dir.path / ".loss.lock";
  {
    NameLock first(dir.path, "loss");
    CHECK(file_exists(file));
    CHECK_THROWS_AS(NameLock(dir.path, "loss"), StateError);
    NameLock other(dir.path, "reward");  // other names are independent
  }
  CHECK_FALSE(file_exists(file));  // removed when released
  NameLock again(dir.path, "loss");
  CHECK(file_exists(file));
}

TEST_CASE("another process cannot take a held name") {
  TempDir dir;
  NameLock held(dir.path, "loss");
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    int code = 3;
    try {
      NameLock(dir.path, "loss");
      code = 1;  // taken: wrong
    } catch (const StateError&) {
      code = 0;
    } catch (...) {
      code = 2;
    }
    _exit(code);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("the refusal names the array and the directory") {
  TempDir dir;
  NameLock held(dir.path, "q_values");
  try {
    NameLock second(dir.path, "q_values");
    FAIL("second lock taken");
  } catch (const StateError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("'q_values'") != std::string::npos);
    CHECK(msg.find(dir.path.string()) != std::string::npos);
  }
}
