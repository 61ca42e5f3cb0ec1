// Cache-blocked SGEMM templated over SIMD traits V; included by gemm_avx512.cpp, gemm_avx2.cpp
// and gemm_portable.cpp, each compiled with its own ISA flags. Everything here is a template
// on V, so the instantiations of different files never share a symbol.
//
// Blocking (row-major C[M,N] = op(A)[M,K] · op(B)[K,N]):
//   for jc in N step NC:          B block KC×NC (≈ 480 KiB) stays in L2
//     for pc in K step KC:
//       for ir in M step MR:      A sliver MR×KC stays in L1
//         for jr in NC step NR:   MR×NR register tile: MR broadcasts × NV vector loads per k
// A is read in place (its sliver is small and reused across the whole B block), or copied to a
// contiguous sliver where its rows would collide in L1. B is read in place when few slivers
// reuse it, and packed into NR-wide panels when it is transposed or many slivers reuse it.
// Packing both always (as BLIS does) measured slower on the MLP shapes here, where M is small.
// Blocks are equal-sized (no thin remainder). Edge tiles use instantiations with fewer
// rows/vectors and a masked last vector, so no scratch copies are made. The epilogue (bias,
// pre-activation, activation) runs on each tile right after its last K block, while it is
// still in L1.
#pragma once
#include <algorithm>
#include <cstdint>

#include "../core/workspace.h"
#include "../simd/vmath.h"
#include "gemm.h"

namespace fastdnn::gemm_kernel {

template <class V, int MR, int NV, int KC, int NC, int kPackMinRows>
struct Blocked {
  static constexpr int W = V::W;
  static constexpr int NR = NV * W;
  static_assert(NC % NR == 0, "a block must hold whole panels");
  using reg = typename V::reg;

  static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
  static int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

  // Packs columns [j0, j0+nc) and depth [k0, k0+kc) of op(B) into NR-wide panels, zero-padded:
  // row k of a panel holds op(B)[k0+k, j0+jp .. j0+jp+NR].
  static void pack_b(const GemmArgs& g, int64_t j0, int nc, int64_t k0, int kc, float* dst) {
    for (int jp = 0; jp < nc; jp += NR) {
      const int cols = std::min(NR, nc - jp);
      float* d = dst + (int64_t)jp * kc;
      if (g.trans_b) {  // B stored N×K: transpose NR rows of B into the panel
        for (int j = 0; j < cols; ++j) {
          const float* s = g.B + (j0 + jp + j) * g.ldb + k0;
          for (int k = 0; k < kc; ++k) d[k * NR + j] = s[k];
        }
      } else {  // B stored K×N: copy row segments
        for (int k = 0; k < kc; ++k)
          std::copy_n(g.B + (k0 + k) * g.ldb + j0 + jp, cols, d + k * NR);
      }
      for (int k = 0; k < kc; ++k) std::fill(d + k * NR + cols, d + (k + 1) * NR, 0.0f);
    }
  }

  // Copies the rows [i0, i0+rows) × depth [k0, k0+kc) sliver of op(A) to dst: as rows of kc
  // floats (A stored M×K), or as kc groups of MR floats (A stored K×M).
  static void copy_a(const GemmArgs& g, int64_t i0, int rows, int64_t k0, int kc, float* dst) {
    if (g.trans_a) {
      for (int k = 0; k < kc; ++k) {
        const float* s = g.A + (k0 + k) * g.lda + i0;
        for (int i = 0; i < rows; ++i) dst[k * MR + i] = s[i];
      }
    } else {
      for (int i = 0; i < rows; ++i) std::copy_n(g.A + (i0 + i) * g.lda + k0, kc, dst + i * kc);
    }
  }

  // R×(NVR·W) register tile of C += A·B over kc steps. Element (i, k) of the A sliver is at
  // a[i*a_row + k*a_step]: A in place (lda, 1), or a copy (kc, 1) or (1, MR). Row k of the B
  // tile starts at b + k*b_step: a packed panel (NR) or B itself (ldb). The last vector writes
  // only `nlast` lanes. add_c: C += tile, else C = tile.
  template <int R, int NVR>
  static void micro(int kc, const float* __restrict a, int64_t a_row, int64_t a_step,
                    const float* __restrict b, int64_t b_step, float* c, int64_t ldc, int nlast,
                    bool add_c) {
    // Fetch the C tile while the k loop runs, so its final load/store does not stall.
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < NVR; ++j) __builtin_prefetch(c + i * ldc + j * W, 1, 3);
    reg acc[R][NVR];
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < NVR; ++j) acc[i][j] = V::zero();
    for (int k = 0; k < kc; ++k) {
      reg bv[NVR];
#pragma GCC unroll 4
      for (int j = 0; j < NVR; ++j)  // the partial last vector must not read past B's end
        bv[j] = (j == NVR - 1 && nlast < W) ? V::load_n(b + j * W, nlast) : V::load(b + j * W);
#pragma GCC unroll 16
      for (int i = 0; i < R; ++i) {
        const reg av = V::bcast(a + i * a_row);
#pragma GCC unroll 4
        for (int j = 0; j < NVR; ++j) acc[i][j] = V::fma(av, bv[j], acc[i][j]);
      }
      a += a_step;
      b += b_step;
    }
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      float* ci = c + i * ldc;
#pragma GCC unroll 4
      for (int j = 0; j < NVR; ++j) {
        reg v = acc[i][j];
        if (j == NVR - 1 && nlast < W) {
          if (add_c) v = V::add(v, V::load_n(ci + j * W, nlast));
          V::store_n(ci + j * W, v, nlast);
        } else {
          if (add_c) v = V::add(v, V::load(ci + j * W));
          V::store(ci + j * W, v);
        }
      }
    }
  }

  using MicroFn = void (*)(int, const float*, int64_t, int64_t, const float*, int64_t, float*,
                           int64_t, int, bool);

  template <int R, int J = 1>
  static MicroFn pick_vecs(int vecs) {
    if constexpr (J > NV) return nullptr;
    else return vecs == J ? &micro<R, J> : pick_vecs<R, J + 1>(vecs);
  }
  template <int R = 1>
  static MicroFn pick(int rows, int vecs) {
    if constexpr (R > MR) return nullptr;
    else return rows == R ? pick_vecs<R>(vecs) : pick<R + 1>(rows, vecs);
  }
  // The instantiation for a rows × vecs tile, looked up in a table built once.
  static MicroFn micro_for(int rows, int vecs) {
    struct Table { MicroFn f[MR][NV]; };
    static const Table table = [] {
      Table t{};
      for (int r = 0; r < MR; ++r)
        for (int v = 0; v < NV; ++v) t.f[r][v] = pick(r + 1, v + 1);
      return t;
    }();
    return table.f[rows - 1][vecs - 1];
  }

  static void epilogue_rows(const GemmArgs& g, int64_t i0, int rows, int64_t j0, int cols) {
    for (int i = 0; i < rows; ++i) {
      float* z = g.Z ? g.Z + (i0 + i) * g.ldz + j0 : nullptr;
      vmath::epilogue_row<V>(g.C + (i0 + i) * g.ldc + j0, g.bias ? g.bias + j0 : nullptr, z,
                             cols, g.act, g.alpha);
    }
  }

  static bool has_epilogue(const GemmArgs& g) {
    return g.bias || g.Z || g.act != Act::kIdentity;
  }

  static void run(const GemmArgs& g, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    if (m1 <= m0 || n1 <= n0) return;
    const bool epi = has_epilogue(g);
    if (g.K == 0) {  // no product: C = (accumulate ? C : 0), then the epilogue
      for (int64_t i = m0; i < m1; ++i) {
        if (!g.accumulate) std::fill(g.C + i * g.ldc + n0, g.C + i * g.ldc + n1, 0.0f);
        if (epi) epilogue_rows(g, i, 1, n0, (int)(n1 - n0));
      }
      return;
    }
    // B is read in place when few row slivers will reuse it (packing costs more than it saves
    // there); it is packed into contiguous panels when it is stored transposed (its tile rows
    // would be strided gathers) or when many slivers reuse each block (packed panels keep the
    // block free of cache-set and TLB conflicts, whatever B's row stride).
    const bool pack = g.trans_b || m1 - m0 >= kPackMinRows;
    float* pb = pack ? workspace(Workspace::kPackB, (size_t)NC * KC) : nullptr;
    // A slivers are read in place, unless their rows are a multiple of 1 KiB apart (or A is
    // transposed, with k rows lda apart): then the sliver's lines share a few L1 sets and evict
    // each other, so each sliver is first copied to a small contiguous buffer.
    float* pa = (g.trans_a || g.lda % 256 == 0) ? workspace(Workspace::kPackA, (size_t)MR * KC)
                                                : nullptr;
    // Equal blocks of at most NC columns and KC depth, so no block is a thin remainder.
    const int64_t nc_max = std::min<int64_t>(NC, round_up(ceil_div(n1 - n0, ceil_div(n1 - n0, NC)), NR));
    const int64_t kc_max = ceil_div(g.K, ceil_div(g.K, KC));
    for (int64_t jc = n0; jc < n1; jc += nc_max) {
      const int nc = (int)std::min<int64_t>(nc_max, n1 - jc);
      for (int64_t pc = 0; pc < g.K; pc += kc_max) {
        const int kc = (int)std::min<int64_t>(kc_max, g.K - pc);
        const bool add_c = pc > 0 || g.accumulate;
        const bool last = pc + kc == g.K;
        if (pb) pack_b(g, jc, nc, pc, kc, pb);
        for (int64_t ir = m0; ir < m1; ir += MR) {
          const int rows = (int)std::min<int64_t>(MR, m1 - ir);
          const float* a;
          int64_t a_row, a_step;
          if (pa) {
            copy_a(g, ir, rows, pc, kc, pa);
            a = pa, a_row = g.trans_a ? 1 : kc, a_step = g.trans_a ? MR : 1;
          } else {
            a = g.A + ir * g.lda + pc, a_row = g.lda, a_step = 1;
          }
          for (int jr = 0; jr < nc; jr += NR) {
            const int cols = std::min(NR, nc - jr);
            const int vecs = (cols + W - 1) / W;
            const float* b = pb ? pb + (int64_t)jr * kc : g.B + pc * g.ldb + jc + jr;
            float* c = g.C + ir * g.ldc + jc + jr;
            micro_for(rows, vecs)(kc, a, a_row, a_step, b, pb ? NR : g.ldb, c, g.ldc,
                                  cols - (vecs - 1) * W, add_c);
            if (last && epi) epilogue_rows(g, ir, rows, jc + jr, cols);
          }
        }
      }
    }
  }
};

}  // namespace fastdnn::gemm_kernel
