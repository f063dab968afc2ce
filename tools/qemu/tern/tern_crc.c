/*
 * tern device model: CRC-32C, as the device's CRC engine computes it.
 *
 * The stream's record and header CRCs and the engine's CHECKSUM descriptor
 * use tern_crc32c(). On an x86-64 host with SSE4.2 it is the crc32
 * instruction, 8 bytes at a time; otherwise a slice-by-8 table built at
 * startup from the reflected Castagnoli polynomial. Both give exactly what
 * QEMU's byte-at-a-time crc32c() gives, with its convention: the state
 * starts at @crc as given (0xffffffff for a fresh CRC) and the result is
 * XORed with 0xffffffff, so a CRC continues with crc ^ 0xffffffff.
 *
 * tern_crc32c_selftest() checks every implementation the host can run
 * against crc32c() on pseudo-random buffers; the PF runs it at realize,
 * so a wrong path stops the model before it produces a bad stream.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/crc32c.h"
#include "qapi/error.h"
#include "tern.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#define TERN_CRC_SSE42 1
#endif

#define TERN_CRC32C_POLY        0x82f63b78      /* 0x1edc6f41 reflected */
#define TERN_CRC_TEST_BUFS      400
#define TERN_CRC_TEST_MAX       9000

typedef uint32_t TernCrcFn(uint32_t crc, const uint8_t *p, size_t len);

/* tern_crc_table[k][b]: byte b followed by k zero bytes */
static uint32_t tern_crc_table[8][256];
static bool tern_crc_have_sse42;

static uint32_t tern_crc32c_sb8(uint32_t crc, const uint8_t *p, size_t len)
{
    while (len && ((uintptr_t)p & 7)) {
        crc = tern_crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        len--;
    }
    for (; len >= 8; len -= 8, p += 8) {
        uint64_t v = ldq_le_p(p) ^ crc;

        crc = tern_crc_table[7][v & 0xff] ^
              tern_crc_table[6][(v >> 8) & 0xff] ^
              tern_crc_table[5][(v >> 16) & 0xff] ^
              tern_crc_table[4][(v >> 24) & 0xff] ^
              tern_crc_table[3][(v >> 32) & 0xff] ^
              tern_crc_table[2][(v >> 40) & 0xff] ^
              tern_crc_table[1][(v >> 48) & 0xff] ^
              tern_crc_table[0][v >> 56];
    }
    while (len--) {
        crc = tern_crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    }
    return crc ^ 0xffffffff;
}

#ifdef TERN_CRC_SSE42
static uint32_t __attribute__((target("sse4.2")))
tern_crc32c_sse42(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;

    for (; len >= 8; len -= 8, p += 8) {
        c = _mm_crc32_u64(c, ldq_le_p(p));
    }
    crc = c;
    while (len--) {
        crc = _mm_crc32_u8(crc, *p++);
    }
    return crc ^ 0xffffffff;
}
#endif

static TernCrcFn *tern_crc32c_fn = tern_crc32c_sb8;

static void __attribute__((constructor)) tern_crc_init(void)
{
    for (int b = 0; b < 256; b++) {
        uint32_t c = b;

        for (int k = 0; k < 8; k++) {
            c = (c >> 1) ^ ((c & 1) ? TERN_CRC32C_POLY : 0);
        }
        tern_crc_table[0][b] = c;
    }
    for (int b = 0; b < 256; b++) {
        for (int k = 1; k < 8; k++) {
            uint32_t c = tern_crc_table[k - 1][b];

            tern_crc_table[k][b] = (c >> 8) ^ tern_crc_table[0][c & 0xff];
        }
    }
#ifdef TERN_CRC_SSE42
    __builtin_cpu_init();
    tern_crc_have_sse42 = __builtin_cpu_supports("sse4.2");
    if (tern_crc_have_sse42) {
        tern_crc32c_fn = tern_crc32c_sse42;
    }
#endif
}

/* Same arguments and result as crc32c(crc, buf, len). */
uint32_t tern_crc32c(uint32_t crc, const void *buf, size_t len)
{
    return tern_crc32c_fn(crc, buf, len);
}

const char *tern_crc32c_impl(void)
{
    return tern_crc_have_sse42 ? "sse4.2" : "slice-by-8";
}

static uint64_t tern_crc_test_rand(uint64_t *x)
{
    /* xorshift64*: fixed seed, so a failure reproduces */
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 0x2545f4914f6cdd1dULL;
}

static bool tern_crc_test_one(const char *name, TernCrcFn *fn, uint32_t seed,
                              const uint8_t *buf, size_t off, size_t len,
                              Error **errp)
{
    uint32_t want = crc32c(seed, buf + off, len);
    uint32_t got = fn(seed, buf + off, len);

    if (got != want) {
        error_setg(errp, "CRC-32C self-test: %s gives 0x%08" PRIx32
                   " for %zu bytes at offset %zu with seed 0x%08" PRIx32
                   ", crc32c() 0x%08" PRIx32, name, got, len, off, seed,
                   want);
        return false;
    }
    return true;
}

static uint32_t tern_crc32c_dispatch(uint32_t crc, const uint8_t *p,
                                     size_t len)
{
    return tern_crc32c(crc, p, len);
}

/*
 * Check slice-by-8, the SSE4.2 path when the host has it, and what
 * tern_crc32c() uses: the check value, then against crc32c() on
 * TERN_CRC_TEST_BUFS pseudo-random buffers with seeds 0xffffffff, 0 and
 * random ones, lengths 0 .. TERN_CRC_TEST_MAX - 1 (half of them below 64,
 * for the heads and tails) at every offset modulo 8. @checked names the
 * paths that were checked.
 */
bool tern_crc32c_selftest(const char **checked, Error **errp)
{
    static const struct {
        const char *name;
        TernCrcFn *fn;
        bool sse42;
    } impls[] = {
        { "slice-by-8", tern_crc32c_sb8, false },
#ifdef TERN_CRC_SSE42
        { "sse4.2", tern_crc32c_sse42, true },
#endif
        { "tern_crc32c()", tern_crc32c_dispatch, false },
    };
    g_autofree uint8_t *buf = g_malloc(TERN_CRC_TEST_MAX + 8);
    uint64_t x = 0x7465726e63726333ULL;

    for (size_t i = 0; i < TERN_CRC_TEST_MAX + 8; i += 8) {
        stq_le_p(buf + i, tern_crc_test_rand(&x));
    }
    for (size_t k = 0; k < ARRAY_SIZE(impls); k++) {
        uint32_t got;

        if (impls[k].sse42 && !tern_crc_have_sse42) {
            continue;
        }
        got = impls[k].fn(0xffffffff, (const uint8_t *)"123456789", 9);
        if (got != 0xe3069283) {
            error_setg(errp, "CRC-32C self-test: %s gives 0x%08" PRIx32
                       " for \"123456789\", expected 0xe3069283",
                       impls[k].name, got);
            return false;
        }
    }
    for (int n = 0; n < TERN_CRC_TEST_BUFS; n++) {
        uint64_t r = tern_crc_test_rand(&x);
        size_t off = r & 7;
        size_t len = (r >> 8) % ((n & 1) ? 64 : TERN_CRC_TEST_MAX);
        uint32_t seed = (n % 3 == 0) ? 0xffffffff :
                        (n % 3 == 1) ? 0 : tern_crc_test_rand(&x);

        for (size_t k = 0; k < ARRAY_SIZE(impls); k++) {
            if (impls[k].sse42 && !tern_crc_have_sse42) {
                continue;
            }
            if (!tern_crc_test_one(impls[k].name, impls[k].fn, seed, buf,
                                   off, len, errp)) {
                return false;
            }
        }
    }
    *checked = tern_crc_have_sse42 ? "slice-by-8 sse4.2" : "slice-by-8";
    return true;
}
