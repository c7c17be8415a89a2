#include "array_logger/logger.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <iterator>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "array_logger/errors.hpp"
#include "os/crash_point.hpp"
#include "os/fork_guard.hpp"
#include "os/open_files.hpp"
#include "os/frame_cache_file.hpp"
#include "os/segmented_zstd.hpp"
#include "write/array_store.hpp"
#include "write/background_compressor.hpp"
#include "write/periodic_stream.hpp"
#include "write/record_ring.hpp"
#include "write/row_encoder.hpp"
#include "write/store_pool.hpp"

namespace array_logger {

using detail::ArrayStore;
using detail::RecordHeader;
using detail::RecordRing;
using detail::StorePool;
using detail::round8;

namespace {

// What log() checks a row against; immutable after register.
struct StreamInfo {
  std::string name;
  ArraySpec spec;
  std::uint64_t payload_bytes;
  std::vector<std::byte> prefix;  // blob header copied before each payload
  std::size_t fixed_record_bytes;  // record size without text keys
  // Fixed-point or sparse names: log() queues the stored blob itself
  // (row_encoder.hpp). Used under the Logger's mutex.
  std::unique_ptr<detail::RowEncoder> encoder;
  // Periodic names: log() adds each step here; one row per period is queued.
  std::unique_ptr<detail::PeriodicStream> periodic;
  // Checkpoints (guarded by the mutex): the file's last rowid at register
  // and the final rows queued since (all but periodic partial rows), so
  // the k-th final row has rowid base_rowid + k.
  std::uint64_t base_rowid = 0;
  std::uint64_t final_rows = 0;
  // Guarded by the Logger's mutex. Rows logged since the writer last took
  // the queue, and how many more complete this name's open commit group:
  // when `arrived` reaches `needed`, the writer must run so that the group
  // is committed as soon as its last row is logged.
  std::uint64_t arrived = 0;
  std::uint64_t needed = 0;
  // The loss bound: rows whose log() returned, rows the writer has
  // committed (as of its last batch), and how far apart they may be
  // (2 x commit_threshold_rows; unlimited in throughput mode).
  std::uint64_t logged = 0;
  std::uint64_t committed = 0;
  std::uint64_t max_uncommitted = 0;
};

// What a queued row is: logged by the caller, a periodic name's complete
// period, or its open period written as a partial row.
enum class RowKind { Logged, Period, Partial };

}  // namespace

struct Logger::Impl {
  LoggerOptions opts;
  std::uint64_t fork_gen = detail::fork_generation();

  mutable std::mutex mu;
  std::condition_variable writer_cv;  // writer waits for work
  std::condition_variable space_cv;   // producers wait for room / flush / drain
  RecordRing ring;
  std::vector<std::unique_ptr<StreamInfo>> infos;      // by StreamId
  std::vector<std::unique_ptr<ArrayStore>> stores;     // by StreamId, writer-owned after register
  // Adaptive compression: frames compressed during the run, by StreamId, and
  // the thread compressing them (declared after what it reads: destroyed first).
  std::vector<std::shared_ptr<detail::FrameCacheFile>> frame_caches;
  std::unique_ptr<detail::BackgroundCompressor> background;
  std::unordered_map<std::string, StreamId> by_name;
  bool wake = false, stop = false, closed = false;
  std::uint64_t bytes_since_wake = 0;
  std::uint64_t flush_requested = 0, flush_done = 0;
  std::exception_ptr writer_error;
  std::atomic<bool> failed{false};
  std::thread writer;
  // Writer thread only: its pool of open databases, and the rows of the
  // current batch grouped by name.
  StorePool pool;
  std::vector<std::vector<ArrayStore::Row>> rows_by_stream;
  std::vector<std::uint32_t> touched;

  void check_usable() const {
    if (detail::fork_generation() != fork_gen)
      throw StateError("this Logger was created in the parent process before fork(); "
                       "create a new Logger in the child");
  }
  [[noreturn]] void rethrow_writer_error() const { std::rethrow_exception(writer_error); }
  // One wait for the writer to make room or commit (under `lock` on mu):
  // wakes it, waits for space_cv, then throws if it failed or the Logger
  // closed meanwhile. The caller re-checks its own condition.
  void wait_for_writer(std::unique_lock<std::mutex>& lock) {
    wake = true;
    writer_cv.notify_one();
    space_cv.wait(lock);
    if (failed.load(std::memory_order_acquire)) rethrow_writer_error();
    if (closed) throw StateError("Logger is closed");
  }
  void writer_loop();
  void process(std::uint64_t from, std::uint64_t to, std::vector<ArrayStore*>& local);
  void fail(std::exception_ptr e);
  bool push(StreamId id, std::span<const KeyRef> keys, const void* data, std::size_t nbytes, bool may_block);
  bool enqueue(std::unique_lock<std::mutex>& lock, StreamId id, StreamInfo& info, std::span<const KeyRef> keys,
               const void* data, std::size_t nbytes, bool may_block, RowKind kind);
  bool step(StreamId id, StreamInfo& info, std::span<const KeyRef> keys, const void* data, bool may_block);
  void write_open_periods(std::vector<LogPosition>* positions);
  void wait_flushed();
  void compress_all();
};

void Logger::Impl::fail(std::exception_ptr e) {
  std::lock_guard lock(mu);
  if (!writer_error) writer_error = e;
  failed.store(true, std::memory_order_release);
  space_cv.notify_all();
}

void Logger::Impl::process(std::uint64_t from, std::uint64_t to, std::vector<ArrayStore*>& local) {
  // The rows of each name go to its database together: multi-row INSERT
  // statements, and each database opened at most once per batch. Names are
  // separate files, so only the order within a name matters.
  for (std::uint32_t s : touched) rows_by_stream[s].clear();
  touched.clear();
  rows_by_stream.resize(local.size());
  std::uint64_t pos = from;
  while (pos < to) {
    const std::byte* rec = ring.record_at(pos);
    RecordHeader h;
    std::memcpy(&h, rec, sizeof h);
    if (local[h.stream] == nullptr) continue;  // its database failed earlier
    const std::byte* keys = rec + sizeof h;
    const std::byte* blob = keys + round8(h.keys_bytes);
    auto& rows = rows_by_stream[h.stream];
    if (rows.empty()) touched.push_back(h.stream);
    rows.push_back({keys, std::span<const std::byte>(blob, h.blob_bytes)});
  }
  // Databases that are open first: those the pool closes to make room for
  // the others are then ones this batch is done with.
  std::stable_partition(touched.begin(), touched.end(), [&](std::uint32_t s) { return local[s]->is_open(); });
  for (std::uint32_t s : touched) {
    ArrayStore* store = local[s];
    try {
      pool.use(store);
      store->insert(rows_by_stream[s]);
    } catch (...) {
      store->abandon_transaction();
      pool.forget(store);
      local[s] = nullptr;
      fail(std::current_exception());
    }
  }
}

void Logger::Impl::writer_loop() {
  std::vector<ArrayStore*> local;
  std::unique_lock lock(mu);
  for (;;) {
    // Sleep until a producer asks (rows/bytes threshold, flush, close) or
    // the earliest time-based commit is due.
    auto deadline = ArrayStore::Clock::time_point::max();
    for (ArrayStore* s : local)
      if (s) deadline = std::min(deadline, s->commit_deadline());
    if (!wake && !stop) writer_cv.wait_until(lock, deadline, [&] { return wake || stop; });
    wake = false;
    const std::uint64_t from = ring.tail(), to = ring.head();
    const std::uint64_t flush_target = flush_requested;
    const bool stopping = stop;
    for (std::size_t i = local.size(); i < stores.size(); ++i) {
      local.push_back(stores[i].get());
      pool.adopt(local.back());
    }
    for (auto& info : infos) info->arrived = 0;  // these rows are in this batch
    bytes_since_wake = 0;
    lock.unlock();

    process(from, to, local);
    const auto now = ArrayStore::Clock::now();
    const bool commit_all = flush_target != flush_done || stopping;
    for (ArrayStore*& s : local) {
      if (s == nullptr) continue;
      try {
        if (commit_all || s->commit_due(now)) s->commit();
        s->mark_idle(now);
        if (stopping) {
          pool.use(s);
          s->finish();
          pool.forget(s);
        }
      } catch (...) {
        s->abandon_transaction();
        pool.forget(s);
        s = nullptr;
        fail(std::current_exception());
      }
    }

    lock.lock();
    ring.release_to(to);
    // Rows logged during the batch may already complete a commit group.
    for (std::size_t i = 0; i < local.size(); ++i) {
      if (local[i] == nullptr) continue;
      StreamInfo& info = *infos[i];
      info.committed = local[i]->rows_committed();
      info.needed = local[i]->options().commit_threshold_rows - local[i]->rows_in_transaction();
      if (info.arrived >= info.needed) wake = true;
    }
    flush_done = flush_target;
    space_cv.notify_all();
    if (stopping && ring.empty()) return;
  }
}

bool Logger::Impl::push(StreamId id, std::span<const KeyRef> keys, const void* data, std::size_t nbytes,
                        bool may_block) {
  // Validation happens before anything is queued, so a rejected row leaves
  // the logger exactly as it was.
  std::unique_lock lock(mu);
  if (closed) throw StateError("Logger is closed");
  if (failed.load(std::memory_order_acquire)) rethrow_writer_error();
  if (id >= infos.size()) throw InvalidArgument("unknown array id " + std::to_string(id));
  StreamInfo& info = *infos[id];
  if (keys.size() != info.spec.keys.size())
    throw InvalidArgument("'" + info.name + "' expects " + std::to_string(info.spec.keys.size()) +
                          " key values, got " + std::to_string(keys.size()));
  if (nbytes != info.payload_bytes)
    throw InvalidArgument("Shape mismatch for '" + info.name + "': expected " +
                          std::to_string(info.payload_bytes) + " bytes, got " + std::to_string(nbytes));
  if (info.periodic) {
    lock.unlock();
    return step(id, info, keys, data, may_block);
  }
  return enqueue(lock, id, info, keys, data, nbytes, may_block, RowKind::Logged);
}

bool Logger::Impl::enqueue(std::unique_lock<std::mutex>& lock, StreamId id, StreamInfo& info,
                           std::span<const KeyRef> keys, const void* data, std::size_t nbytes, bool may_block,
                           RowKind kind) {
  if (closed) throw StateError("Logger is closed");
  if (failed.load(std::memory_order_acquire)) rethrow_writer_error();
  const bool text_keys =
      std::any_of(keys.begin(), keys.end(), [](const KeyRef& k) { return k.kind == KeyRef::Kind::Text; });
  const std::size_t keys_bytes =
      text_keys ? detail::packed_keys_size(keys) : detail::packed_number_keys_size(keys.size());
  std::size_t blob_bytes = info.prefix.size() + nbytes;
  detail::RowEncoder::Plan plan;
  // The record's size (and, for encoded names, its blob: the encoder's
  // scratch is only ours while we hold the mutex, so it is planned again
  // after every wait).
  auto size_record = [&] {
    if (info.encoder) {
      plan = info.encoder->plan(static_cast<const std::byte*>(data), kind != RowKind::Logged);
      blob_bytes = plan.blob_bytes;
    }
    if (!text_keys && !info.encoder) return info.fixed_record_bytes;
    return round8(sizeof(RecordHeader) + round8(keys_bytes) + blob_bytes);
  };
  std::size_t record = size_record();
  if (text_keys && record > ring.capacity() / 2) throw InvalidArgument("key text too long");
  // Wait while the writer is too far behind (the loss bound: a plain
  // comparison, no system call, while it keeps up) or the buffer is full.
  // Periodic rows are bounded per step instead (step()).
  StreamInfo& stream = info;
  const std::uint64_t max_uncommitted = kind == RowKind::Logged ? stream.max_uncommitted : UINT64_MAX;
  std::byte* out;
  while (stream.logged - stream.committed >= max_uncommitted || (out = ring.try_reserve(record)) == nullptr) {
    if (!may_block) return false;
    wait_for_writer(lock);
    if (info.encoder) record = size_record();
  }
  RecordHeader h{static_cast<std::uint32_t>(record), id, static_cast<std::uint32_t>(keys_bytes),
                 static_cast<std::uint32_t>(blob_bytes)};
  std::memcpy(out, &h, sizeof h);
  detail::pack_keys(keys, out + sizeof h);
  std::byte* blob = out + sizeof h + round8(keys_bytes);
  if (info.encoder) {
    info.encoder->write(plan, static_cast<const std::byte*>(data), blob);
  } else {
    if (!info.prefix.empty()) std::memcpy(blob, info.prefix.data(), info.prefix.size());
    std::memcpy(blob + info.prefix.size(), data, nbytes);
  }
  bytes_since_wake += record;
  ++stream.logged;
  if (kind != RowKind::Partial) ++stream.final_rows;
  if (++stream.arrived == stream.needed || bytes_since_wake >= ring.capacity() / 8) {
    bytes_since_wake = 0;
    wake = true;
    lock.unlock();
    writer_cv.notify_one();
  }
  return true;
}

bool Logger::Impl::step(StreamId id, StreamInfo& info, std::span<const KeyRef> keys, const void* data,
                        bool may_block) {
  detail::PeriodicStream& p = *info.periodic;
  std::unique_lock plock(p.mu);
  // Queueing the period's row may wait: the caller retries blocking (the
  // binding releases the GIL for it), once per period.
  if (!may_block && p.completes_with_next_step()) return false;
  if (p.steps() == 0 && !opts.throughput_mode) {
    // The loss bound of periodic names: a period starts once the previous
    // period's row is committed, so a kill loses at most one period of steps.
    std::unique_lock lock(mu);
    while (info.logged != info.committed) {
      if (!may_block) return false;
      wait_for_writer(lock);
    }
  }
  p.add(keys, static_cast<const std::byte*>(data));
  if (p.steps() < p.period()) return true;
  const auto row = p.row(false);
  std::unique_lock lock(mu);
  enqueue(lock, id, info, row.keys, row.payload.data(), row.payload.size(), true, RowKind::Period);
  p.start_next();
  return true;
}

void Logger::Impl::write_open_periods(std::vector<LogPosition>* positions) {
  std::vector<std::pair<StreamId, StreamInfo*>> all;
  {
    std::lock_guard lock(mu);
    for (std::size_t i = 0; i < infos.size(); ++i) all.emplace_back(static_cast<StreamId>(i), infos[i].get());
  }
  for (auto [id, info] : all) {
    LogPosition pos{info->name, 0, std::nullopt};
    if (!info->periodic) {
      if (positions == nullptr) continue;
      std::lock_guard lock(mu);
      pos.rows = info->base_rowid + info->final_rows;
      positions->push_back(std::move(pos));
      continue;
    }
    // The period's state and the position are taken together, under the
    // name's own mutex: no step of it can come in between.
    detail::PeriodicStream& p = *info->periodic;
    std::lock_guard plock(p.mu);
    if (positions && p.steps()) pos.open_period = p.state();
    std::unique_lock lock(mu);
    if (p.steps()) {
      const auto row = p.row(true);
      enqueue(lock, id, *info, row.keys, row.payload.data(), row.payload.size(), true, RowKind::Partial);
    }
    pos.rows = info->base_rowid + info->final_rows;
    if (positions) positions->push_back(std::move(pos));
  }
}

void Logger::Impl::wait_flushed() {
  std::unique_lock lock(mu);
  if (closed) throw StateError("Logger is closed");
  const std::uint64_t target = ++flush_requested;
  wake = true;
  writer_cv.notify_one();
  space_cv.wait(lock, [&] { return flush_done >= target || failed.load(); });
  if (failed.load()) rethrow_writer_error();
}

void Logger::Impl::compress_all() {
  const int workers = opts.compression_workers >= 0
                          ? opts.compression_workers
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::exception_ptr first;
  if (opts.compression_mode == CompressionMode::Adaptive) {
    // Every finished database in one pool of workers (os/segmented_zstd.hpp);
    // each is renamed into place (publish_zst) as soon as its frames are
    // written and synced, in the same crash-safe order as the plain pass.
    std::vector<detail::SegmentedJob> jobs;
    for (std::size_t i = 0; i < stores.size(); ++i) {
      ArrayStore* store = stores[i].get();
      if (!store->finished()) continue;  // its writes failed: leave the .db as it is
      detail::SegmentedJob job;
      job.src = store->files().db();
      job.dst = store->files().zst_tmp();
      job.cache = i < frame_caches.size() ? frame_caches[i].get() : nullptr;
      job.finish = [store] { store->files().publish_zst(); };
      if (opts.close_progress) {
        job.progress = [this, store](std::uint64_t done, std::uint64_t total) {
          opts.close_progress(store->name(), done, total);
        };
      }
      jobs.push_back(std::move(job));
    }
    detail::crash_point("close.before_compress");
    // A pass opens every file it compresses (source and output) before it
    // starts: at most 64 files per pass, so that thousands of names stay
    // within the descriptor budget (docs/DESIGN.md, "Open files").
    constexpr std::size_t kFilesPerPass = 64;
    for (std::size_t at = 0; at < jobs.size(); at += kFilesPerPass) {
      const auto end = jobs.begin() + static_cast<std::ptrdiff_t>(std::min(jobs.size(), at + kFilesPerPass));
      std::vector<detail::SegmentedJob> pass(std::make_move_iterator(jobs.begin() + static_cast<std::ptrdiff_t>(at)),
                                             std::make_move_iterator(end));
      for (auto& e : detail::compress_files_segmented(pass, *opts.compression_level, workers))
        if (e && !first) first = e;
    }
    if (first) std::rethrow_exception(first);
    return;
  }
  for (auto& store : stores) {
    if (!store->finished()) continue;  // its writes failed: leave the .db as it is
    try {
      detail::ProgressFn progress;
      if (opts.close_progress) {
        progress = [this, &store](std::uint64_t done, std::uint64_t total) {
          opts.close_progress(store->name(), done, total);
        };
      }
      store->files().compress(*opts.compression_level, workers, progress);
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

Logger::Logger(LoggerOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& im = *impl_;
  im.opts = std::move(options);
  if (im.opts.compression_level && (*im.opts.compression_level < 1 || *im.opts.compression_level > 22))
    throw InvalidArgument("compression_level must be 1..22 or None, got " +
                          std::to_string(*im.opts.compression_level));
  if (im.opts.buffer_bytes < (1u << 16)) throw InvalidArgument("buffer_bytes must be at least 64 KiB");
  if (im.opts.root.empty()) throw InvalidArgument("root_path must not be empty");
  im.opts.root = detail::absolute_path(im.opts.root);  // once: every later file operation uses it
  const auto& root = im.opts.root;
  std::error_code ec;
  if (std::filesystem::exists(root, ec) && !std::filesystem::is_directory(root, ec))
    throw StorageError("root_path " + root.string() + " exists and is not a directory", 0, ENOTDIR);
  std::filesystem::create_directories(root, ec);
  if (ec) throw StorageError("cannot create root_path " + root.string() + ": " + ec.message(), 0, ec.value());
  // Thousands of names need more than the common soft limit of 1,024 open
  // files allows (docs/DESIGN.md, "Open files").
  detail::raise_open_file_limit();
  im.ring = RecordRing(im.opts.buffer_bytes);
  if (im.opts.compression_level && im.opts.compression_mode == CompressionMode::Adaptive)
    im.background = std::make_unique<detail::BackgroundCompressor>(*im.opts.compression_level);
  im.writer = std::thread([&im] { im.writer_loop(); });
}

Logger::~Logger() {
  if (!impl_) return;
  if (detail::fork_generation() != impl_->fork_gen) {
    // In a fork() child: the writer thread does not exist here and the
    // databases belong to the parent. Leak rather than touch either.
    (void)impl_.release();
    return;
  }
  try {
    close();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "array_logger: error while closing logger: %s\n", e.what());
  }
}

Logger::StreamId Logger::register_array(std::string_view name, const ArraySpec& spec, const RegisterOptions& options) {
  Impl& im = *impl_;
  im.check_usable();
  // Checked before opening the file and again (the lock was released
  // meanwhile) before the name is taken.
  auto check_can_register = [&im, name] {
    if (im.closed) throw StateError("Logger is closed");
    if (im.by_name.count(std::string(name))) throw InvalidArgument("Array '" + std::string(name) + "' already registered");
  };
  {
    std::lock_guard lock(im.mu);
    check_can_register();
  }
  // Periodic names commit each period's row as it is queued (the loss
  // bound of docs/DURABILITY.md); throughput mode keeps commit groups.
  RegisterOptions effective = options;
  if (options.period.steps && !im.opts.throughput_mode) effective.commit_threshold_rows = 1;
  auto store = std::make_unique<ArrayStore>(im.opts.root, std::string(name), spec, effective, im.opts.synchronous);
  // Over the process's budget of open databases: the writer reopens it
  // when its first rows arrive (it holds no other store of ours yet).
  if (detail::open_databases() > detail::max_open_databases()) store->close_database();
  auto info = std::make_unique<StreamInfo>();
  info->name = std::string(name);
  info->spec = spec;
  info->payload_bytes = spec.payload_bytes();
  info->prefix = store->queued_prefix();
  const StoredForm& form = store->form();
  const ArraySpec& stored = store->stored_spec();
  if (form.fixed_point || form.sparse_index_dtype) info->encoder = std::make_unique<detail::RowEncoder>(stored, form);
  if (form.period.steps)
    info->periodic = std::make_unique<detail::PeriodicStream>(spec, form.period, form.fixed_point, options.resume_period);
  info->base_rowid = store->last_rowid_at_open();
  // The queued rows are the stored ones (a periodic name's output dtype, its steps and partial keys).
  info->fixed_record_bytes = round8(sizeof(RecordHeader) + round8(detail::packed_number_keys_size(stored.keys.size())) +
                                    info->prefix.size() + stored.payload_bytes());

  std::unique_lock lock(im.mu);
  check_can_register();
  // A row must fit the ring several times over; grow it (while it is empty,
  // so the writer holds no pointer into it) for big arrays.
  const std::size_t needed = 4 * info->fixed_record_bytes;
  if (needed > im.ring.capacity()) {
    im.wake = true;
    im.writer_cv.notify_one();
    im.space_cv.wait(lock, [&] { return im.ring.empty() || im.failed.load(); });
    if (im.failed.load()) im.rethrow_writer_error();
    im.ring = RecordRing(needed);
  }
  const auto id = static_cast<StreamId>(im.infos.size());
  info->needed = store->options().commit_threshold_rows - store->rows_in_transaction();
  const std::uint64_t group = store->options().commit_threshold_rows;
  info->max_uncommitted = im.opts.throughput_mode || group > UINT64_MAX / 2 ? UINT64_MAX : 2 * group;
  im.by_name.emplace(info->name, id);
  im.infos.push_back(std::move(info));
  im.stores.push_back(std::move(store));
  if (im.background) {
    // Compress what SQLite has finished with while the run goes on.
    auto cache = std::make_shared<detail::FrameCacheFile>(im.stores.back()->files().frames());
    im.background->watch(im.stores.back()->files().db(), cache);
    im.frame_caches.resize(im.stores.size());
    im.frame_caches.back() = std::move(cache);
  }
  // Let the writer adopt the new database now, so its time-based commits
  // are scheduled even before any row-count wake-up.
  im.wake = true;
  lock.unlock();
  im.writer_cv.notify_one();
  return id;
}

Logger::StreamId Logger::find(std::string_view name) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->by_name.find(std::string(name));
  if (it == impl_->by_name.end()) throw InvalidArgument("Array '" + std::string(name) + "' is not registered");
  return it->second;
}

const ArraySpec& Logger::spec(StreamId id) const {
  std::lock_guard lock(impl_->mu);
  if (id >= impl_->infos.size()) throw InvalidArgument("unknown array id");
  return impl_->infos[id]->spec;
}

const std::string& Logger::name(StreamId id) const {
  std::lock_guard lock(impl_->mu);
  if (id >= impl_->infos.size()) throw InvalidArgument("unknown array id");
  return impl_->infos[id]->name;
}

void Logger::log(StreamId id, std::span<const KeyRef> keys, const void* data, std::size_t nbytes) {
  impl_->check_usable();
  impl_->push(id, keys, data, nbytes, true);
}

bool Logger::try_log(StreamId id, std::span<const KeyRef> keys, const void* data, std::size_t nbytes) {
  impl_->check_usable();
  return impl_->push(id, keys, data, nbytes, false);
}

void Logger::flush() {
  Impl& im = *impl_;
  im.check_usable();
  {
    std::lock_guard lock(im.mu);
    if (im.closed) throw StateError("Logger is closed");
  }
  im.write_open_periods(nullptr);
  im.wait_flushed();
}

std::vector<LogPosition> Logger::checkpoint_positions() {
  Impl& im = *impl_;
  im.check_usable();
  {
    std::lock_guard lock(im.mu);
    if (im.closed) throw StateError("Logger is closed");
  }
  std::vector<LogPosition> positions;
  im.write_open_periods(&positions);
  im.wait_flushed();
  return positions;
}

void Logger::close() {
  Impl& im = *impl_;
  im.check_usable();
  {
    std::lock_guard lock(im.mu);
    if (im.closed) return;
  }
  // Open periods become partial rows (reported after the writer's own error, if any).
  std::exception_ptr period_error;
  try {
    im.write_open_periods(nullptr);
  } catch (...) {
    period_error = std::current_exception();
  }
  {
    std::lock_guard lock(im.mu);
    if (im.closed) return;
    im.closed = true;
    im.stop = true;
    im.wake = true;
  }
  im.writer_cv.notify_one();
  // Step 1 (drain): the writer commits every queued row, checkpoints and
  // closes each database it could (ArrayStore::finish).
  if (im.writer.joinable()) im.writer.join();
  // Step 2 (stop compressing ahead): the frames compressed during the run
  // stay in the side files for step 3, which verifies each before use.
  if (im.background) im.background->stop();
  // Step 3 (compress): each finished .db becomes its .db.zst (compress_all),
  // then the writer's first error (if any) is reported before our own.
  std::exception_ptr compress_error;
  if (im.opts.compression_level) {
    try {
      im.compress_all();
    } catch (...) {
      compress_error = std::current_exception();
    }
  }
  // Step 4 (release): the databases, side files and locks now, not when the
  // Logger object dies: the same names may be registered again right away.
  im.frame_caches.clear();
  im.stores.clear();
  if (im.writer_error) std::rethrow_exception(im.writer_error);
  if (compress_error) std::rethrow_exception(compress_error);
  if (period_error) std::rethrow_exception(period_error);
}

bool Logger::closed() const noexcept {
  std::lock_guard lock(impl_->mu);
  return impl_->closed;
}

const LoggerOptions& Logger::options() const noexcept { return impl_->opts; }

}  // namespace array_logger
