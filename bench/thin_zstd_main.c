/* Driver of the zstd workload of bench/thin.sh: compresses a generated text
 * buffer at several levels (one-shot, streaming with two worker threads, and
 * with a trained dictionary), decompresses everything, checks the round trips
 * and prints sizes and an FNV-1a checksum of all compressed bytes. The output
 * is deterministic. */
#define ZSTD_STATIC_LINKING_ONLY
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zdict.h"
#include "zstd.h"

static uint64_t checksum = 1469598103934665603ULL;

static void fnv(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) checksum = (checksum ^ b[i]) * 1099511628211ULL;
}

static void check(size_t r, const char *what) {
    if (ZSTD_isError(r)) {
        fprintf(stderr, "%s: %s\n", what, ZSTD_getErrorName(r));
        exit(1);
    }
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *words[] = {
    "link", "time", "optimization", "bitcode", "module", "summary", "import", "export",
    "thin", "fat", "object", "archive", "symbol", "resolution", "inline", "function",
    "global", "internalize", "cache", "job", "thread", "native", "section", "relocation",
};

static size_t generate(char *buf, size_t size) {
    size_t n = 0;
    while (n + 32 < size) {
        uint64_t r = next();
        if (r % 11 == 0)
            n += (size_t)sprintf(buf + n, "%u ", (unsigned)(r >> 40) % 100000);
        else
            n += (size_t)sprintf(buf + n, "%s%c", words[(r >> 8) % (sizeof words / sizeof *words)],
                                 r % 13 == 0 ? '\n' : ' ');
    }
    return n;
}

int main(void) {
    size_t size = 8u << 20;
    char *src = malloc(size);
    size = generate(src, size);
    size_t cap = ZSTD_compressBound(size);
    char *dst = malloc(cap), *back = malloc(size);
    printf("input %zu bytes\n", size);

    static const int levels[] = {1, 3, 6, 9, 12};
    for (size_t i = 0; i < sizeof levels / sizeof *levels; i++) {
        size_t c = ZSTD_compress(dst, cap, src, size, levels[i]);
        check(c, "compress");
        fnv(dst, c);
        size_t d = ZSTD_decompress(back, size, dst, c);
        check(d, "decompress");
        if (d != size || memcmp(back, src, size)) { fprintf(stderr, "level %d: round trip differs\n", levels[i]); return 1; }
        printf("level %2d: %zu bytes\n", levels[i], c);
    }

    /* Streaming with two workers and a content checksum. */
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 5), "level");
    check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1), "checksum");
    check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, 2), "workers");
    ZSTD_outBuffer out = {dst, cap, 0};
    for (size_t pos = 0; pos < size;) {
        size_t chunk = size - pos < 100000 ? size - pos : 100000;
        ZSTD_inBuffer in = {src + pos, chunk, 0};
        int last = pos + chunk == size;
        size_t left;
        do {
            left = ZSTD_compressStream2(cctx, &out, &in, last ? ZSTD_e_end : ZSTD_e_continue);
            check(left, "compressStream2");
        } while (last ? left != 0 : in.pos < in.size);
        pos += chunk;
    }
    fnv(dst, out.pos);
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    ZSTD_inBuffer zin = {dst, out.pos, 0};
    ZSTD_outBuffer zout = {back, size, 0};
    while (zin.pos < zin.size) check(ZSTD_decompressStream(dctx, &zout, &zin), "decompressStream");
    if (zout.pos != size || memcmp(back, src, size)) { fprintf(stderr, "stream: round trip differs\n"); return 1; }
    printf("stream level 5, 2 workers: %zu bytes\n", out.pos);

    /* Dictionary trained on 2000 samples, used on each of them. */
    enum { samples = 2000, sample_size = 700 };
    size_t sizes[samples];
    for (size_t i = 0; i < samples; i++) sizes[i] = sample_size - (i * 37) % 300;
    char dict[16384];
    size_t dict_size = ZDICT_trainFromBuffer(dict, sizeof dict, src, sizes, samples);
    if (ZDICT_isError(dict_size)) { fprintf(stderr, "train: %s\n", ZDICT_getErrorName(dict_size)); return 1; }
    fnv(dict, dict_size);
    size_t with = 0, without = 0, off = 0;
    char sbuf[2048], dbuf[2048];
    for (size_t i = 0; i < samples; off += sizes[i], i++) {
        size_t c = ZSTD_compress_usingDict(cctx, sbuf, sizeof sbuf, src + off, sizes[i], dict, dict_size, 3);
        check(c, "compress_usingDict");
        fnv(sbuf, c);
        with += c;
        size_t d = ZSTD_decompress_usingDict(dctx, dbuf, sizeof dbuf, sbuf, c, dict, dict_size);
        check(d, "decompress_usingDict");
        if (d != sizes[i] || memcmp(dbuf, src + off, d)) { fprintf(stderr, "dict: round trip differs\n"); return 1; }
        size_t p = ZSTD_compress(sbuf, sizeof sbuf, src + off, sizes[i], 3);
        check(p, "compress");
        without += p;
    }
    printf("dictionary %zu bytes: %d samples %zu bytes with it, %zu without\n", dict_size, samples, with, without);
    printf("checksum %016llx\n", (unsigned long long)checksum);
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
    free(src), free(dst), free(back);
    return 0;
}
