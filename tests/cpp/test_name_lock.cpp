// NameLock: one writer per array name, across Loggers of one process and
// across processes; one lock file per root, removed when no name is held.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "array_logger/errors.hpp"
#include "os/name_lock.hpp"
#include "temp_dir.hpp"

using array_logger::StateError;
using array_logger::detail::NameLock;
using array_logger::detail::name_lock_held;
namespace fs = std::filesystem;

namespace {

struct LockDir : TempDir {
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path)) out.push_back(e.path().filename().string());
    return out;
  }
};

// Runs `body` in a fork() child; returns its exit status.
template <class F>
int in_child(F body) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) _exit(body());
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

int try_lock(const fs::path& root, const std::string& name) {
  try {
    NameLock lock(root, name);
    return 0;
  } catch (const StateError&) {
    return 1;
  } catch (...) {
    return 2;
  }
}

// A child process takes `name` and dies (_exit: no destructor) without releasing it.
void die_holding(const fs::path& root, const std::string& name) {
  CHECK(in_child([&] {
          static std::unique_ptr<NameLock> leaked;
          leaked = std::make_unique<NameLock>(root, name);
          _exit(0);
          return 0;
        }) == 0);
}

}  // namespace

TEST_CASE("a name is held once per process; other names share one lock file") {
  LockDir dir;
  {
    NameLock a(dir.path, "a");
    CHECK_THROWS_AS(NameLock(dir.path, "a"), StateError);  // a second Logger of this process
    std::vector<std::unique_ptr<NameLock>> many;
    for (int i = 0; i < 2000; ++i) many.push_back(std::make_unique<NameLock>(dir.path, "n" + std::to_string(i)));
#ifdef F_OFD_SETLK
    CHECK(dir.files() == std::vector<std::string>{".array_logger.lock"});
#endif
  }
  CHECK(dir.files().empty());  // removed with the last name
  NameLock again(dir.path, "a");
}

TEST_CASE("another process cannot take a held name, and gets it once released") {
  LockDir dir;
  auto held = std::make_unique<NameLock>(dir.path, "x");
  CHECK(in_child([&] { return try_lock(dir.path, "x"); }) == 1);
  CHECK(in_child([&] { return try_lock(dir.path, "y"); }) == 0);
  // The child released "y" and exited; "x" is still held here.
  CHECK_THROWS_AS(NameLock(dir.path, "x"), StateError);
  held.reset();
  CHECK(in_child([&] { return try_lock(dir.path, "x"); }) == 0);
  CHECK(dir.files().empty());
}

TEST_CASE("a process that dies releases its names") {
  LockDir dir;
  die_holding(dir.path, "z");
  NameLock z(dir.path, "z");  // the kernel dropped the dead process's lock
}

TEST_CASE("name_lock_held tells a held name from a free one, in this process and another, taking nothing") {
  LockDir dir;
  CHECK_FALSE(name_lock_held(dir.path, "q"));  // no lock file at all
  auto q = std::make_unique<NameLock>(dir.path, "q");
  CHECK(name_lock_held(dir.path, "q"));
  CHECK_FALSE(name_lock_held(dir.path, "r"));  // the lock file exists, this name's byte is free
  CHECK(in_child([&] { return name_lock_held(dir.path, "q") ? 0 : 1; }) == 0);
  // probing took nothing: another process can take a free name at once
  CHECK(in_child([&] { return try_lock(dir.path, "r"); }) == 0);
  q.reset();
  CHECK_FALSE(name_lock_held(dir.path, "q"));
  // a dead writer's name reads as free, although its lock file stays behind
  die_holding(dir.path, "dead");
  CHECK_FALSE(name_lock_held(dir.path, "dead"));
}

TEST_CASE("the refusal names the array and the directory") {
  LockDir dir;
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
