"""Independent references of fastdnn's counter-based random draws (csrc/random/philox.h,
csrc/dropout/dropout_kernel.h): Philox4x32-10 in plain Python integers, the same vectorised
over NumPy uint64 arrays (no floats anywhere in either), and the dropout family's formulas in
float64 on top of them."""

import numpy as np

M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK32 = 0xFFFFFFFF
SEEDED_STREAM = 2**31


def philox_py(counter, key, rounds=10):
    """Philox4x32 of a 4-word counter and a 2-word key, in Python integers (Salmon et al. 2011)."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for _ in range(rounds):
        p0, p1 = M0 * c0, M1 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & MASK32, (p0 >> 32) ^ c3 ^ k1, p0 & MASK32
        k0, k1 = (k0 + W0) & MASK32, (k1 + W1) & MASK32
    return c0, c1, c2, c3


def philox_np(c0, c1, c2, c3, k0, k1, rounds=10):
    """Philox4x32 over arrays of counter words (uint64 arrays holding 32-bit values)."""
    c = [np.asarray(v, np.uint64) & np.uint64(MASK32) for v in (c0, c1, c2, c3)]
    k0, k1 = np.uint64(k0), np.uint64(k1)
    m32 = np.uint64(MASK32)
    for _ in range(rounds):
        p0, p1 = np.uint64(M0) * c[0], np.uint64(M1) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & m32, (p0 >> np.uint64(32)) ^ c[3] ^ k1, p0 & m32]
        k0, k1 = (k0 + np.uint64(W0)) & m32, (k1 + np.uint64(W1)) & m32
    return c


def draw_bits(n, seed, stream, step):
    """The 32-bit word of each of n elements: word e % 4 of block e / 4 of (seed, stream, step)."""
    blocks = np.arange((n + 3) // 4, dtype=np.uint64)
    words = philox_np(blocks, np.full_like(blocks, stream), np.full_like(blocks, step & MASK32),
                      np.full_like(blocks, step >> 32), seed & MASK32, seed >> 32)
    return np.stack(words, axis=1).reshape(-1)[:n]


def drop_threshold(rate):
    return min(int(round(rate * 2**32)), 2**32 - 1)


def keep_mask(n, rate, seed, stream, step):
    """Boolean keep mask of n elements: kept where the element's word >= rate·2^32."""
    return draw_bits(n, seed, stream, step) >= np.uint64(drop_threshold(rate))


def normals(n, seed, stream, step):
    """float64 Box-Muller normals of n elements from words (0, 1) and (2, 3) of each block."""
    bits = draw_bits(4 * ((n + 3) // 4), seed, stream, step).reshape(-1, 2, 2)
    u1 = ((bits[:, :, 0] >> np.uint64(8)) + np.uint64(1)).astype(np.float64) * 2.0**-24
    u2 = (bits[:, :, 1] >> np.uint64(8)).astype(np.float64) * 2.0**-24
    r, t = np.sqrt(-2.0 * np.log(u1)), 2 * np.pi * u2
    return np.stack([r * np.cos(t), r * np.sin(t)], axis=2).reshape(-1)[:n]
