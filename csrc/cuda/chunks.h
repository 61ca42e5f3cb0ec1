// The table a multi-tensor kernel reads (optim.cu, penalty.cu): the tensors' descriptors, then
// chunks of kChunk elements of one tensor each (one block per chunk), then each tensor's first
// chunk, uploaded in one buffer that lives as long as the returned table.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "runtime.h"

namespace fastdnn::cuda {

constexpr int64_t kChunk = 8192;

struct Chunk {
  int tensor;
  int64_t start;  // elements [start, min(n, start + kChunk)) of the tensor
};

template <class T>
struct ChunkTable {
  Tensor storage;
  const T* tensors = nullptr;
  const Chunk* chunks = nullptr;
  const int* first = nullptr;  // count + 1 entries: chunks of tensor t are [first[t], first[t + 1])
  int nchunks = 0;
};

// T has an `n` (its element count). An empty table (nchunks 0) when every tensor is empty.
template <class T>
ChunkTable<T> chunk_table(const T* host_tensors, int count) {
  std::vector<Chunk> chunks;
  std::vector<int> first(count + 1);
  for (int t = 0; t < count; ++t) {
    first[t] = (int)chunks.size();
    for (int64_t i = 0; i < host_tensors[t].n; i += kChunk) chunks.push_back({t, i});
  }
  first[count] = (int)chunks.size();
  ChunkTable<T> table;
  table.nchunks = (int)chunks.size();
  if (chunks.empty()) return table;
  const size_t tb = sizeof(T) * count, cb = sizeof(Chunk) * chunks.size(), fb = sizeof(int) * (count + 1);
  const size_t off_c = (tb + 15) / 16 * 16, off_f = off_c + (cb + 15) / 16 * 16, total = off_f + fb;
  std::vector<char> host((total + 7) / 8 * 8);
  std::memcpy(host.data(), host_tensors, tb);
  std::memcpy(host.data() + off_c, chunks.data(), cb);
  std::memcpy(host.data() + off_f, first.data(), fb);
  table.storage = empty({(int64_t)(host.size() / 8)}, DType::kI64);
  upload(host.data(), table.storage);
  const char* base = static_cast<const char*>(table.storage.data());
  table.tensors = reinterpret_cast<const T*>(base);
  table.chunks = reinterpret_cast<const Chunk*>(base + off_c);
  table.first = reinterpret_cast<const int*>(base + off_f);
  return table;
}

}  // namespace fastdnn::cuda
