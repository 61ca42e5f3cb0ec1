// The CUDA simulator's engine (cuda_runtime.h says what it is for): device memory, the runtime
// API, and the block scheduler that runs a block's threads as fibers.
//
// Scheduling a block: every thread is a fiber (a context switch costs a few nanoseconds). The
// scheduler runs each ready fiber until it waits or ends, in thread order (or reversed); when
// none is ready, it releases the barrier that everyone alive waits at (the block's, or a warp's),
// or reports a divergent barrier or a deadlock.
#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "cuda_runtime.h"

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

// Under AddressSanitizer (tools/cuda_sim.sh --sanitize) every switch between stacks is announced,
// so ASan follows the fibers; it then checks the kernels' every load and store.
#if defined(__SANITIZE_ADDRESS__)
#define FASTDNN_SIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FASTDNN_SIM_ASAN 1
#endif
#endif
#ifdef FASTDNN_SIM_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace fastdnn_sim {
namespace {

// ---- errors -----------------------------------------------------------------------------------
thread_local cudaError_t t_last = cudaSuccess;
thread_local std::string t_message;

struct Fault : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---- device memory: what the simulator handed out, to check pointers and copies --------------
std::mutex g_mem_mutex;
std::map<uintptr_t, size_t> g_allocations;  // start -> bytes

bool in_device_memory(const void* p, size_t bytes) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  std::lock_guard<std::mutex> lock(g_mem_mutex);
  auto it = g_allocations.upper_bound(a);
  if (it == g_allocations.begin()) return false;
  --it;
  return a >= it->first && a + bytes <= it->first + it->second;
}

// ---- fibers -------------------------------------------------------------------------------------
enum class State { kReady, kWaitBlock, kWaitWarp, kDone };
constexpr size_t kStackBytes = size_t(256) << 10, kGuardBytes = 4096;
constexpr int kMaxThreads = 1024;

#if defined(__x86_64__)
// Saves the callee-saved registers and the SSE/x87 control words on the current stack, stores
// the stack pointer in *save, and continues on the stack `to` (one prepared by new_stack, or
// saved by an earlier switch).
extern "C" void fastdnn_sim_switch(void** save, void* to);
asm(R"(
  .text
  .globl fastdnn_sim_switch
  .type fastdnn_sim_switch, @function
fastdnn_sim_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size fastdnn_sim_switch, .-fastdnn_sim_switch
  .section .note.GNU-stack,"",@progbits
  .text
)");
#endif

struct Fiber {
  char* stack = nullptr;  // lowest address; kGuardBytes of it are a guard page
  State state = State::kDone;
  dim3 tid;
  void* asan_fake_stack = nullptr;
  bool abandoned = false;  // left suspended by a launch that failed: its frames never returned
#if defined(__x86_64__)
  void* sp = nullptr;
#else
  ucontext_t uc;
#endif
};

struct Block {
  const char* kernel = "";
  void (*body)(void*) = nullptr;
  void* ctx = nullptr;
  dim3 dim;
  int n = 0;         // threads
  int cur = -1;      // the fiber running now
  std::vector<Fiber> pool;
  uint64_t slots[kMaxThreads];
  std::string fault;
  const void* sched_bottom = nullptr;  // the scheduler's stack, for ASan
  size_t sched_size = 0;
#if defined(__x86_64__)
  void* sched_sp = nullptr;
#else
  ucontext_t sched;
#endif
};

std::mutex g_launch_mutex;  // one launch at a time: the scheduler's state is global
// FASTDNN_CUDA_SIM_ORDER=reverse runs blocks, and threads between barriers, last first: a kernel
// that leans on an order the GPU does not promise (a missing barrier, one block reading another's
// output) then gives other results, which the tests see.
const bool g_reverse = [] {
  const char* e = std::getenv("FASTDNN_CUDA_SIM_ORDER");
  return e && std::string(e) == "reverse";
}();
Block g_block;
ThreadIndex g_index;

void fiber_main();

char* new_stack() {
  void* p = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("the CUDA simulator cannot map a fiber stack");
  mprotect(p, kGuardBytes, PROT_NONE);  // an overflow faults instead of corrupting a neighbour
  return static_cast<char*>(p);
}

void start_fiber(Fiber& f) {
  if (!f.stack) f.stack = new_stack();
#ifdef FASTDNN_SIM_ASAN
  if (f.abandoned)  // ASan still marks the redzones of the frames left on it
    __asan_unpoison_memory_region(f.stack + kGuardBytes, kStackBytes - kGuardBytes);
#endif
  f.abandoned = false;
  f.state = State::kReady;
#if defined(__x86_64__)
  auto* top = reinterpret_cast<uint64_t*>(f.stack + kStackBytes);
  uint32_t csr[2] = {0, 0x037F};  // MXCSR (filled below), x87 control word
  asm volatile("stmxcsr %0" : "=m"(csr[0]));
  uint64_t csr_word;
  std::memcpy(&csr_word, csr, 8);
  *--top = 0;                                            // fiber_main's return address: never used
  *--top = reinterpret_cast<uint64_t>(&fiber_main);      // where the first switch returns to
  for (int r = 0; r < 6; ++r) *--top = 0;                // rbp rbx r12 r13 r14 r15
  *--top = csr_word;
  f.sp = top;
#else
  getcontext(&f.uc);
  f.uc.uc_stack.ss_sp = f.stack + kGuardBytes;
  f.uc.uc_stack.ss_size = kStackBytes - kGuardBytes;
  f.uc.uc_link = nullptr;
  makecontext(&f.uc, fiber_main, 0);
#endif
}

void resume(int i) {
  Block& b = g_block;
  b.cur = i;
  g_index.thread = b.pool[i].tid;
#ifdef FASTDNN_SIM_ASAN
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, b.pool[i].stack + kGuardBytes, kStackBytes - kGuardBytes);
#endif
#if defined(__x86_64__)
  fastdnn_sim_switch(&b.sched_sp, b.pool[i].sp);
#else
  swapcontext(&b.sched, &b.pool[i].uc);
#endif
#ifdef FASTDNN_SIM_ASAN
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
}

void yield() {
  Block& b = g_block;
  Fiber& f = b.pool[b.cur];
#ifdef FASTDNN_SIM_ASAN
  // a finished fiber's fake stack is released (nullptr): it never runs again
  __sanitizer_start_switch_fiber(f.state == State::kDone ? nullptr : &f.asan_fake_stack, b.sched_bottom,
                                 b.sched_size);
#endif
#if defined(__x86_64__)
  fastdnn_sim_switch(&f.sp, b.sched_sp);
#else
  swapcontext(&f.uc, &b.sched);
#endif
#ifdef FASTDNN_SIM_ASAN
  __sanitizer_finish_switch_fiber(f.asan_fake_stack, &b.sched_bottom, &b.sched_size);
#endif
}

void fiber_main() {
  Block& b = g_block;
#ifdef FASTDNN_SIM_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &b.sched_bottom, &b.sched_size);  // arrived from the scheduler
#endif
  try {
    b.body(b.ctx);
  } catch (const std::exception& e) {
    if (b.fault.empty()) b.fault = e.what();
  }
  b.pool[b.cur].state = State::kDone;
  yield();
  std::abort();  // a finished fiber is never resumed
}

dim3 thread_of(const dim3& d, int linear) {
  return dim3(linear % d.x, linear / d.x % d.y, linear / (d.x * d.y));
}

// Runs every ready fiber until it waits or ends, then releases barriers, until all have ended.
void schedule() {
  Block& b = g_block;
  for (;;) {
    for (int j = 0; j < b.n; ++j) {
      const int i = g_reverse ? b.n - 1 - j : j;
      if (b.pool[i].state == State::kReady) {
        resume(i);
        if (!b.fault.empty()) return;
      }
    }
    int done = 0, at_block = 0;
    for (int i = 0; i < b.n; ++i) {
      done += b.pool[i].state == State::kDone;
      at_block += b.pool[i].state == State::kWaitBlock;
    }
    if (done == b.n) return;
    if (at_block == b.n - done) {  // __syncthreads: every live thread arrived
      if (done) {
        b.fault = "divergent barrier: " + std::to_string(done) + " thread(s) exited without reaching a "
                  "__syncthreads that the other " + std::to_string(at_block) + " wait at";
        return;
      }
      for (int i = 0; i < b.n; ++i)
        if (b.pool[i].state == State::kWaitBlock) b.pool[i].state = State::kReady;
      continue;
    }
    bool released = false;
    for (int w = 0; w * 32 < b.n; ++w) {  // a warp whose live lanes all wait at a shuffle
      const int lo = w * 32, hi = std::min(b.n, lo + 32);
      bool all = true, any = false;
      for (int i = lo; i < hi; ++i) {
        const State s = b.pool[i].state;
        if (s == State::kDone) continue;
        any = true;
        all = all && s == State::kWaitWarp;
      }
      if (any && all) {
        for (int i = lo; i < hi; ++i)
          if (b.pool[i].state == State::kWaitWarp) b.pool[i].state = State::kReady;
        released = true;
      }
    }
    if (!released) {
      b.fault = "deadlock: " + std::to_string(at_block) + " thread(s) wait at __syncthreads while " +
                std::to_string(b.n - done - at_block) + " wait at a warp shuffle that not all of their warp reaches";
      return;
    }
  }
}

void run_block() {
  Block& b = g_block;
  for (int i = 0; i < b.n; ++i) {
    start_fiber(b.pool[i]);
    b.pool[i].tid = thread_of(b.dim, i);
  }
  schedule();
}

std::string dims(const dim3& d) {
  return "(" + std::to_string(d.x) + ", " + std::to_string(d.y) + ", " + std::to_string(d.z) + ")";
}

}  // namespace

ThreadIndex& index() { return g_index; }

int lane_id() { return g_block.cur % 32; }

void syncthreads() {
  Block& b = g_block;
  b.pool[b.cur].state = State::kWaitBlock;
  yield();
}

uint64_t exchange(unsigned mask, uint64_t bits, int src_lane) {
  Block& b = g_block;
  const int me = b.cur, base = me / 32 * 32;
  b.slots[me] = bits;
  b.pool[me].state = State::kWaitWarp;
  yield();  // every live lane has stored its value
  for (int l = 0; l < 32; ++l)
    if ((mask >> l & 1u) && base + l < b.n && b.pool[base + l].state == State::kDone)
      throw Fault("a warp shuffle whose mask names lane " + std::to_string(l) + " of warp " +
                  std::to_string(base / 32) + ", which has exited");
  const int src = base + (src_lane & 31);
  const uint64_t out = src < b.n ? b.slots[src] : bits;
  b.pool[me].state = State::kWaitWarp;
  yield();  // every lane has read before a later shuffle overwrites the slots
  return out;
}

bool is_device_pointer(const void* p) { return in_device_memory(p, 0); }

cudaError_t fail(cudaError_t code, const std::string& message) {
  t_last = code;
  t_message = message;
  return code;
}

cudaError_t run_grid(const char* kernel, dim3 grid, dim3 block, void (*body)(void*), void* ctx) {
  const uint64_t threads = (uint64_t)block.x * block.y * block.z;
  if (threads == 0 || threads > kMaxThreads || block.x > 1024 || block.y > 1024 || block.z > 64 || grid.x == 0 ||
      grid.y == 0 || grid.z == 0 || grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535)
    return fail(cudaErrorInvalidConfiguration, std::string(kernel) + ": invalid configuration argument (grid " +
                                                   dims(grid) + ", block " + dims(block) + ")");
  std::lock_guard<std::mutex> lock(g_launch_mutex);
  Block& b = g_block;
  b.kernel = kernel, b.body = body, b.ctx = ctx, b.dim = block, b.n = (int)threads;
  b.fault.clear();
  if ((int)b.pool.size() < b.n) b.pool.resize(b.n);
  g_index.block_dim = block, g_index.grid_dim = grid;
  const uint64_t blocks = (uint64_t)grid.x * grid.y * grid.z;
  for (uint64_t j = 0; j < blocks; ++j) {
    const uint64_t q = g_reverse ? blocks - 1 - j : j;
    g_index.block = dim3((unsigned)(q % grid.x), (unsigned)(q / grid.x % grid.y), (unsigned)(q / grid.x / grid.y));
    run_block();
    if (!b.fault.empty()) {
      for (int i = 0; i < b.n; ++i) b.pool[i].abandoned = b.pool[i].state != State::kDone;
      return fail(cudaErrorLaunchFailure,
                  std::string(kernel) + " failed in block " + dims(g_index.block) + ": " + b.fault);
    }
  }
  return cudaSuccess;
}

}  // namespace fastdnn_sim

// ---- the runtime API --------------------------------------------------------------------------
using fastdnn_sim::fail;
using fastdnn_sim::in_device_memory;

namespace {

cudaError_t check_range(const void* p, size_t bytes, bool device, const char* what) {
  if (bytes == 0) return cudaSuccess;
  if (device && !in_device_memory(p, bytes))
    return fail(cudaErrorInvalidValue, std::string(what) + ": " + std::to_string(bytes) +
                                           " bytes at a device address outside any allocation (or past its end)");
  if (!device && in_device_memory(p, 1))
    return fail(cudaErrorInvalidValue, std::string(what) + ": a host address that is device memory");
  return cudaSuccess;
}

}  // namespace

cudaError_t cudaGetDeviceCount(int* n) {
  *n = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (device != 0) return fail(cudaErrorInvalidDevice, "invalid device ordinal");
  std::memset(p, 0, sizeof(*p));
  std::snprintf(p->name, sizeof(p->name), "fastdnn CUDA simulator (host CPU)");
  p->totalGlobalMem = size_t(16) << 30;
  p->major = 9, p->minor = 0, p->multiProcessorCount = 1, p->warpSize = 32, p->maxThreadsPerBlock = 1024;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice, "invalid device ordinal");
}

cudaError_t cudaGetLastError() {
  const cudaError_t e = fastdnn_sim::t_last;
  fastdnn_sim::t_last = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError() { return fastdnn_sim::t_last; }

const char* cudaGetErrorString(cudaError_t e) {
  if (e == cudaSuccess) return "no error";
  if (!fastdnn_sim::t_message.empty()) return fastdnn_sim::t_message.c_str();  // the latest failure's detail
  switch (e) {
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    default: return "unspecified launch failure";
  }
}

cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = nullptr;
  if (bytes == 0) return cudaSuccess;
  void* q = nullptr;  // 256-byte aligned as cudaMalloc's, and exactly `bytes` long, so ASan sees overruns
  if (posix_memalign(&q, 256, bytes) != 0) return fail(cudaErrorMemoryAllocation, "out of memory");
  std::lock_guard<std::mutex> lock(fastdnn_sim::g_mem_mutex);
  fastdnn_sim::g_allocations[reinterpret_cast<uintptr_t>(q)] = bytes;
  *p = q;
  return cudaSuccess;
}

cudaError_t cudaMallocAsync(void** p, size_t bytes, cudaStream_t) { return cudaMalloc(p, bytes); }

cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  {
    std::lock_guard<std::mutex> lock(fastdnn_sim::g_mem_mutex);
    if (!fastdnn_sim::g_allocations.erase(reinterpret_cast<uintptr_t>(p)))
      return fail(cudaErrorInvalidValue, "cudaFree of a pointer that is not the start of a device allocation");
  }
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaFreeAsync(void* p, cudaStream_t) { return cudaFree(p); }

cudaError_t cudaMallocHost(void** p, size_t bytes) {
  *p = std::malloc(bytes ? bytes : 1);
  return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation, "out of memory");
}

cudaError_t cudaFreeHost(void* p) {
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  const bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice) {
    if (cudaError_t e = check_range(dst, bytes, dst_dev, "cudaMemcpy destination")) return e;
    if (cudaError_t e = check_range(src, bytes, src_dev, "cudaMemcpy source")) return e;
  }
  if (bytes) std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemset(void* p, int value, size_t bytes) {
  if (cudaError_t e = check_range(p, bytes, true, "cudaMemset")) return e;
  if (bytes) std::memset(p, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t) { return cudaMemset(p, value, bytes); }

// Streams and events are tokens: every call above completes before it returns.
cudaError_t cudaStreamCreate(cudaStream_t* s) {
  *s = reinterpret_cast<cudaStream_t>(new char);
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) { return cudaStreamCreate(s); }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned) { return cudaSuccess; }
cudaError_t cudaEventCreate(cudaEvent_t* e) {
  *e = reinterpret_cast<cudaEvent_t>(new char);
  return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned) { return cudaEventCreate(e); }
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return cudaSuccess; }
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete reinterpret_cast<char*>(e);
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t* pool, int) {
  *pool = nullptr;
  return cudaSuccess;
}
cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t, cudaMemPoolAttr, void*) { return cudaSuccess; }
