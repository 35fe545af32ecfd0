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
#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
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

#endif  /* FASTPACK_KERNEL_ROWS_H */
