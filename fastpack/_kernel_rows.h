/* The image kernel's inner row loops (declared to Cython in _kernel_c.pyx).

   In C so they can promise no aliasing (restrict) and, for 3-channel rows, do one pixel per
   SSE2 instruction: a 4-float load covers r, g, b plus one spare lane, so every row buffer
   carries FP_PAD spare floats. Lane arithmetic is the scalar arithmetic, so results are
   bit-identical with or without SSE2. */
#ifndef FASTPACK_KERNEL_ROWS_H
#define FASTPACK_KERNEL_ROWS_H

#include <Python.h>  /* Py_ssize_t (the Cython module includes it first anyway) */
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#include <immintrin.h>
#define FP_SSE2 1
#else
#define FP_SSE2 0
#endif
#define FP_PAD 4

/* The plain row loops vectorise; on x86-64 glibc GCC also builds an AVX2 copy of each and
   picks one at load time. AVX2 without FMA: the same roundings as the SSE2/scalar code. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
#define FP_ROW_LOOP __attribute__((target_clones("avx2", "default")))
#else
#define FP_ROW_LOOP
#endif

FP_ROW_LOOP static void fp_widen(const uint8_t *restrict src, float *restrict dst, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) dst[i] = (float)src[i];
}

/* Pillow's convert("L") in 16-bit fixed point, straight to float; ``step`` bytes per
   pixel (3 for packed RGB, 4 for Pillow's own RGBX memory). */
static void fp_luma(const uint8_t *restrict rgb, Py_ssize_t step, float *restrict dst,
                    Py_ssize_t width) {
    for (Py_ssize_t x = 0; x < width; x++) {
        uint32_t v = rgb[step * x] * 19595u + rgb[step * x + 1] * 38470u
                     + rgb[step * x + 2] * 7471u + 0x8000u;
        dst[x] = (float)(uint8_t)(v >> 16);
    }
}

static void fp_luma_u8(const uint8_t *restrict rgb, Py_ssize_t step, uint8_t *restrict dst,
                       Py_ssize_t width) {
    for (Py_ssize_t x = 0; x < width; x++) {
        uint32_t v = rgb[step * x] * 19595u + rgb[step * x + 1] * 38470u
                     + rgb[step * x + 2] * 7471u + 0x8000u;
        dst[x] = (uint8_t)(v >> 16);
    }
}

/* Arrow's C data interface structs (a stable ABI), as Pillow exports images through them. */
struct FpArrowSchema {
    const char *format; const char *name; const char *metadata; int64_t flags;
    int64_t n_children; struct FpArrowSchema **children; struct FpArrowSchema *dictionary;
    void (*release)(struct FpArrowSchema *); void *private_data;
};
struct FpArrowArray {
    int64_t length; int64_t null_count; int64_t offset; int64_t n_buffers; int64_t n_children;
    const void **buffers; struct FpArrowArray **children; struct FpArrowArray *dictionary;
    void (*release)(struct FpArrowArray *); void *private_data;
};

/* The horizontal passes read source pixels ``step`` floats apart (rc, or 4 for a row widened
   from Pillow's RGBX memory, whose spare lane is never used) and write rc floats per pixel. */

/* out[x] = a + (b - a) * lerp with a, b the (lower, upper) source pixels: ResizeBilinear. */
static void fp_h_lerp(const float *restrict row, Py_ssize_t step, Py_ssize_t rc,
                      const int32_t *restrict index,
                      const float *restrict weight, Py_ssize_t taps, Py_ssize_t out_w,
                      float *restrict out) {
    Py_ssize_t x;
    if (rc == 3) {
#if FP_SSE2
        for (x = 0; x < out_w; x++) {
            __m128 lerp = _mm_set1_ps(weight[x * taps]);
            __m128 a = _mm_loadu_ps(row + step * (Py_ssize_t)index[x * taps]);
            __m128 b = _mm_loadu_ps(row + step * (Py_ssize_t)index[x * taps + 1]);
            _mm_storeu_ps(out + 3 * x, _mm_add_ps(a, _mm_mul_ps(_mm_sub_ps(b, a), lerp)));
        }
        return;
#endif
    }
    for (x = 0; x < out_w; x++) {
        const float *a = row + step * (Py_ssize_t)index[x * taps];
        const float *b = row + step * (Py_ssize_t)index[x * taps + 1];
        float lerp = weight[x * taps];
        for (Py_ssize_t c = 0; c < rc; c++) out[rc * x + c] = a[c] + (b[c] - a[c]) * lerp;
    }
}

/* Two output pixels per step of fp_h_lerp_u8's vector loop, with AVX2's 8 lanes (one pixel
   in each half: the same lane arithmetic, so the same bits). Returns how far it got. */
#if defined(__GNUC__) && defined(__x86_64__)
#define FP_AVX2_H 1
__attribute__((target("avx2")))
static Py_ssize_t fp_h_lerp_u8_avx2(const uint8_t *restrict row, Py_ssize_t step,
                                    const int32_t *restrict index, const float *restrict weight,
                                    Py_ssize_t taps, Py_ssize_t vec_w, float *restrict out) {
    Py_ssize_t x = 0;
    for (; x + 2 <= vec_w; x += 2) {
        uint32_t a0, b0, a1, b1;
        memcpy(&a0, row + step * (Py_ssize_t)index[x * taps], 4);
        memcpy(&b0, row + step * (Py_ssize_t)index[x * taps + 1], 4);
        memcpy(&a1, row + step * (Py_ssize_t)index[(x + 1) * taps], 4);
        memcpy(&b1, row + step * (Py_ssize_t)index[(x + 1) * taps + 1], 4);
        __m128i bytes = _mm_set_epi32((int)b1, (int)b0, (int)a1, (int)a0);
        __m256 a = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
        __m256 b = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(bytes, bytes)));
        __m256 lerp = _mm256_set_m128(_mm_set1_ps(weight[(x + 1) * taps]),
                                      _mm_set1_ps(weight[x * taps]));
        __m256 r = _mm256_add_ps(a, _mm256_mul_ps(_mm256_sub_ps(b, a), lerp));
        _mm_storeu_ps(out + 3 * x, _mm256_castps256_ps128(r));  /* its spare lane: next store */
        _mm_storeu_ps(out + 3 * x + 3, _mm256_extractf128_ps(r, 1));
    }
    return x;
}
#else
#define FP_AVX2_H 0
#endif

/* fp_h_lerp straight from the uint8 source row, the widening fused in: each tap is read as
   bytes and made a float exactly as fp_widen would, then the same a + (b - a) * lerp. The
   vector loop loads a packed RGB pixel as 4 bytes (the spare lane is never stored past the
   row), so it stops where that 4th byte would lie past ``readable`` (the bytes that may be read
   from ``row`` on: to the end of the image) and the scalar loop finishes the row. */
FP_ROW_LOOP static void fp_h_lerp_u8(const uint8_t *restrict row, Py_ssize_t step, Py_ssize_t rc,
                         Py_ssize_t readable, const int32_t *restrict index,
                         const float *restrict weight, Py_ssize_t taps, Py_ssize_t out_w,
                         float *restrict out) {
    Py_ssize_t x = 0;
#if FP_SSE2
    if (rc == 3) {
        const __m128i zero = _mm_setzero_si128();
        /* taps ascend with x: the upper tap of the last pixel is the furthest read */
        Py_ssize_t vec_w = out_w;
        while (vec_w > 0 && step * (Py_ssize_t)index[(vec_w - 1) * taps + 1] + 4 > readable) vec_w--;
#if FP_AVX2_H
        if (__builtin_cpu_supports("avx2"))
            x = fp_h_lerp_u8_avx2(row, step, index, weight, taps, vec_w, out);
#endif
        for (; x < vec_w; x++) {
            uint32_t ua, ub;
            memcpy(&ua, row + step * (Py_ssize_t)index[x * taps], 4);
            memcpy(&ub, row + step * (Py_ssize_t)index[x * taps + 1], 4);
            /* bytes a0..a3 b0..b3 -> 16-bit lanes -> two 4 x int32 -> two 4 x float */
            __m128i ab = _mm_unpacklo_epi8(
                _mm_unpacklo_epi32(_mm_cvtsi32_si128((int)ua), _mm_cvtsi32_si128((int)ub)), zero);
            __m128 a = _mm_cvtepi32_ps(_mm_unpacklo_epi16(ab, zero));
            __m128 b = _mm_cvtepi32_ps(_mm_unpackhi_epi16(ab, zero));
            __m128 lerp = _mm_set1_ps(weight[x * taps]);
            _mm_storeu_ps(out + 3 * x, _mm_add_ps(a, _mm_mul_ps(_mm_sub_ps(b, a), lerp)));
        }
    }
#endif
    (void)readable;
    for (; x < out_w; x++) {
        const uint8_t *a = row + step * (Py_ssize_t)index[x * taps];
        const uint8_t *b = row + step * (Py_ssize_t)index[x * taps + 1];
        float lerp = weight[x * taps];
        for (Py_ssize_t c = 0; c < rc; c++) {
            float fa = (float)a[c], fb = (float)b[c];
            out[rc * x + c] = fa + (fb - fa) * lerp;
        }
    }
}

/* out[x] = sum_k weight[k] * pixel[index[k]], from 0 in tap order: the other resamplers. */
static void fp_h_weights(const float *restrict row, Py_ssize_t step, Py_ssize_t rc,
                         const int32_t *restrict index, const float *restrict weight,
                         const int32_t *restrict count, Py_ssize_t taps, Py_ssize_t out_w,
                         float *restrict out) {
    Py_ssize_t x, k;
    if (rc == 3) {
#if FP_SSE2
        for (x = 0; x < out_w; x++) {
            __m128 acc = _mm_setzero_ps();
            for (k = 0; k < count[x]; k++) {
                __m128 w = _mm_set1_ps(weight[x * taps + k]);
                __m128 p = _mm_loadu_ps(row + step * (Py_ssize_t)index[x * taps + k]);
                acc = _mm_add_ps(acc, _mm_mul_ps(w, p));
            }
            _mm_storeu_ps(out + 3 * x, acc);
        }
        return;
#endif
    }
    for (x = 0; x < out_w; x++) {
        for (Py_ssize_t c = 0; c < rc; c++) {
            float acc = 0.0f;
            for (k = 0; k < count[x]; k++)
                acc = acc + weight[x * taps + k] * row[step * (Py_ssize_t)index[x * taps + k] + c];
            out[rc * x + c] = acc;
        }
    }
}

FP_ROW_LOOP static void fp_v_lerp(const float *restrict top, const float *restrict bottom, float lerp,
                      float *restrict out, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) out[i] = top[i] + (bottom[i] - top[i]) * lerp;
}

FP_ROW_LOOP static void fp_axpy(float w, const float *restrict x, float *restrict y, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) y[i] = y[i] + w * x[i];
}

FP_ROW_LOOP static void fp_axpy_u8(float w, const uint8_t *restrict x, float *restrict y, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) y[i] = y[i] + w * (float)x[i];
}

FP_ROW_LOOP static void fp_scale(float s, float *restrict y, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) y[i] = y[i] * s;
}

FP_ROW_LOOP static void fp_affine(const float *restrict v, const float *restrict mul,
                      const float *restrict add, float *restrict out, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) out[i] = v[i] * mul[i] + add[i];
}

/* fp_affine written straight into the output bytes (float32, any alignment: the request's
   tensor bytes need not sit on a 4-byte boundary), without a scratch row and a copy. */
FP_ROW_LOOP static void fp_affine_store(const float *restrict v, const float *restrict mul,
                      const float *restrict add, uint8_t *restrict dst, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        float o = v[i] * mul[i] + add[i];
        memcpy(dst + 4 * i, &o, 4);
    }
}

/* fp_v_lerp then fp_affine_store in one pass, each value rounded to float between the two as
   before: (top + (bottom - top) * lerp) * mul + add. */
FP_ROW_LOOP static void fp_v_lerp_affine_store(const float *restrict top,
                      const float *restrict bottom, float lerp, const float *restrict mul,
                      const float *restrict add, uint8_t *restrict dst, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        float v = top[i] + (bottom[i] - top[i]) * lerp;
        float o = v * mul[i] + add[i];
        memcpy(dst + 4 * i, &o, 4);
    }
}

#endif  /* FASTPACK_KERNEL_ROWS_H */
