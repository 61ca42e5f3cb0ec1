#include "threadpool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FASTDNN_PAUSE() _mm_pause()
#else
#define FASTDNN_PAUSE() std::this_thread::yield()
#endif
#if defined(__unix__)
#include <pthread.h>
#endif

namespace fastdnn {
namespace {

// The job word packs (generation, task count, next task) so a worker claims a task with one CAS
// and can never take an index that belongs to another job.
constexpr int kIndexBits = 20;
constexpr uint64_t kIndexMask = (1ull << kIndexBits) - 1;
constexpr uint64_t pack(uint64_t gen, uint64_t ntasks, uint64_t next) {
  return (gen << (2 * kIndexBits)) | (ntasks << kIndexBits) | next;
}
constexpr auto kSpin = std::chrono::microseconds(200);

thread_local bool tls_in_task = false;

class Pool {
 public:
  Pool() { start(default_threads()); }

  int size() const { return nthreads_; }

  void resize(int n) {
    std::lock_guard<std::mutex> run(run_mu_);
    stop();
    start(n);
  }

  void run(int n, const std::function<void(int)>& fn) {
    if (n <= 0) return;
    std::unique_lock<std::mutex> run(run_mu_, std::try_to_lock);
    if (n == 1 || nthreads_ == 1 || tls_in_task || !run.owns_lock() ||
        n > (int)kIndexMask) {
      for (int i = 0; i < n; ++i) fn(i);
      return;
    }
    job_.store(&fn, std::memory_order_relaxed);
    error_ = nullptr;
    pending_.store(n, std::memory_order_relaxed);
    gen_ = (gen_ + 1) & 0xFFFFFF;
    word_.store(pack(gen_, n, 0), std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lk(sleep_mu_);
      cv_.notify_all();
    }
    work();  // the caller takes tasks too
    // Wait for tasks other threads hold. Spin (a balanced split ends within a few hundred
    // microseconds); only after 2 ms, when a worker has lost its CPU to another process, yield
    // it back. Yielding after a short spin measured 30% slower on 2-thread 1024³ products.
    const auto patience = std::chrono::steady_clock::now() + std::chrono::milliseconds(2);
    bool patient = true;
    for (int spins = 1; pending_.load(std::memory_order_acquire) > 0; ++spins) {
      if (patient) {
        FASTDNN_PAUSE();
        if ((spins & 1023) == 0) patient = std::chrono::steady_clock::now() < patience;
      } else {
        std::this_thread::yield();
      }
    }
    job_.store(nullptr, std::memory_order_relaxed);
    if (error_) std::rethrow_exception(error_);
  }

  // Called in a forked child: the parent's workers do not exist here.
  void reset_after_fork() {
    new (&run_mu_) std::mutex();
    new (&sleep_mu_) std::mutex();
    new (&cv_) std::condition_variable();
    new (&error_mu_) std::mutex();
    workers_ = new std::vector<std::thread>();  // the parent's handles are dropped, not joined
    sleepers_.store(0);
    pending_.store(0);
    word_.store(pack(gen_, 0, 0));
    stop_.store(false);
    restart_threads_ = nthreads_;  // the child keeps the parent's setting
    nthreads_ = 1;
    restart_ = true;
  }

  void ensure_started() {
    if (restart_) {
      std::lock_guard<std::mutex> run(run_mu_);
      if (restart_) {
        restart_ = false;
        start(restart_threads_);
      }
    }
  }

 private:
  static int default_threads() {
    for (const char* name : {"FASTDNN_NUM_THREADS", "OMP_NUM_THREADS"}) {
      if (const char* s = std::getenv(name)) {
        const int n = std::atoi(s);
        if (n >= 1) return n;
      }
    }
    return cpu::available_cpus();
  }

  void start(int n) {
    nthreads_ = n;
    stop_.store(false);
    for (int i = 1; i < n; ++i) workers_->emplace_back([this] { worker(); });
  }

  void stop() {
    stop_.store(true, std::memory_order_seq_cst);
    {
      std::lock_guard<std::mutex> lk(sleep_mu_);
      cv_.notify_all();
    }
    for (auto& t : *workers_) t.join();
    workers_->clear();
    nthreads_ = 1;
  }

  // Claims and runs tasks of the current job until none is left.
  void work() {
    for (;;) {
      uint64_t w = word_.load(std::memory_order_acquire);
      const uint64_t ntasks = (w >> kIndexBits) & kIndexMask, next = w & kIndexMask;
      if (next >= ntasks) return;
      const std::function<void(int)>* job = job_.load(std::memory_order_acquire);
      if (!word_.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel)) continue;
      tls_in_task = true;
      try {
        (*job)((int)next);
      } catch (...) {
        std::lock_guard<std::mutex> lk(error_mu_);
        if (!error_) error_ = std::current_exception();
      }
      tls_in_task = false;
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  void worker() {
    uint64_t seen = word_.load() >> (2 * kIndexBits);
    while (!stop_.load(std::memory_order_acquire)) {
      // Spin for a short while, then sleep until a new job or stop.
      const auto until = std::chrono::steady_clock::now() + kSpin;
      bool fresh = false;
      for (int i = 0;; ++i) {
        if ((word_.load(std::memory_order_acquire) >> (2 * kIndexBits)) != seen ||
            stop_.load(std::memory_order_relaxed)) {
          fresh = true;
          break;
        }
        FASTDNN_PAUSE();
        if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) break;
      }
      if (!fresh) {
        std::unique_lock<std::mutex> lk(sleep_mu_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        while ((word_.load(std::memory_order_seq_cst) >> (2 * kIndexBits)) == seen &&
               !stop_.load(std::memory_order_seq_cst))
          cv_.wait(lk);
        sleepers_.fetch_sub(1, std::memory_order_seq_cst);
      }
      if (stop_.load()) return;
      seen = word_.load(std::memory_order_acquire) >> (2 * kIndexBits);
      work();
    }
  }

  std::vector<std::thread>* workers_ = new std::vector<std::thread>();
  int nthreads_ = 1;
  uint64_t gen_ = 0;
  std::atomic<bool> restart_{false};
  int restart_threads_ = 1;
  std::mutex run_mu_, sleep_mu_, error_mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> word_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::atomic<const std::function<void(int)>*> job_{nullptr};
  std::exception_ptr error_;
};

// Never destroyed: workers may still be parked when the interpreter exits.
Pool& pool() {
  static Pool* p = [] {
    Pool* q = new Pool();
#if defined(__unix__)
    pthread_atfork(nullptr, nullptr, [] { pool().reset_after_fork(); });
#endif
    return q;
  }();
  p->ensure_started();
  return *p;
}

}  // namespace

int get_num_threads() { return pool().size(); }

void set_num_threads(int n) {
  if (n < 1)
    throw std::invalid_argument("set_num_threads expects a positive integer. Received: n=" +
                                std::to_string(n));
  pool().resize(n);
}

void parallel_for(int n, const std::function<void(int)>& fn) { pool().run(n, fn); }

}  // namespace fastdnn
