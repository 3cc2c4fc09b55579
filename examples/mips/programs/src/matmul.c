/*
 * matmul - integer matrix multiplication.
 *
 * 20x20 matrices: uint32_t products that wrap modulo 2^32 (MULTU/MFLO), int16_t
 * inputs with int32_t accumulation (signed MULT, sign-extending LH), a transposed
 * multiply that must agree with the plain one, and the trace of A^k by repeated
 * squaring. ITERS rounds perturb A and multiply again.
 */
#include "runtime.h"

#ifndef ITERS
#define ITERS 3
#endif

#define N 20

typedef uint32_t matrix[N][N];

static matrix a, b, c, bt, ct, power, tmp;
static int16_t sa[N][N], sb[N][N];
static int32_t sc[N][N];

static void multiply(matrix out, matrix x, matrix y)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            uint32_t sum = 0;
            for (int k = 0; k < N; k++)
                sum += x[i][k] * y[k][j];
            out[i][j] = sum;
        }
}

/* out = x * y given yt = transpose(y): both operands walk along rows. */
static void multiply_transposed(matrix out, matrix x, matrix yt)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            const uint32_t *row = x[i], *col = yt[j];
            uint32_t sum = 0;
            for (int k = 0; k < N; k++)
                sum += row[k] * col[k];
            out[i][j] = sum;
        }
}

static void multiply_i16(void)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            int32_t sum = 0;
            for (int k = 0; k < N; k++)
                sum += sa[i][k] * sb[k][j];          /* |sum| < 20 * 2^11 * 2^15 < 2^31 */
            sc[i][j] = sum;
        }
}

static uint32_t checksum(matrix m)
{
    uint32_t h = 0x811C9DC5u;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            h = (h ^ m[i][j]) * 16777619u;           /* FNV-1a over words */
    return h;
}

int main(void)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            a[i][j] = (uint32_t)(i * 31 + j * 17 + 3) * 2654435761u;
            b[i][j] = (uint32_t)(i ^ (j * 7)) + 0x10001u * (uint32_t)j;
            sa[i][j] = (int16_t)((i * 1103 - j * 2029) % 2048);
            sb[i][j] = (int16_t)(((i + 1) * (j + 3) * 97) % 65536 - 32768);
        }

    uint32_t total = 0;
    for (uint32_t iter = 0; iter < ITERS; iter++) {
        a[iter % N][(iter * 7) % N] += iter + 1;
        sa[(iter * 3) % N][iter % N] ^= (int16_t)(iter & 0x3FF);   /* stays within +-2047 */

        multiply(c, a, b);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                bt[j][i] = b[i][j];
        multiply_transposed(ct, a, bt);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                if (c[i][j] != ct[i][j]) {
                    rt_print("transposed product differs\n");
                    return 1;
                }

        multiply_i16();
        int64_t signed_sum = 0;
        int32_t smallest = sc[0][0];
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                signed_sum += sc[i][j];
                if (sc[i][j] < smallest)
                    smallest = sc[i][j];
            }

        /* trace(A^8) by squaring three times */
        multiply(power, a, a);
        multiply(tmp, power, power);
        multiply(power, tmp, tmp);
        uint32_t trace = 0;
        for (int i = 0; i < N; i++)
            trace += power[i][i];

        if (iter < 3) {
            rt_print("iter ");
            rt_print_u32(iter);
            rt_print(": C=0x");
            rt_print_hex32(checksum(c));
            rt_print(" trace(A^8)=");
            rt_print_u32(trace);
            rt_print(" sum(SA*SB)=");
            rt_print_i64(signed_sum);
            rt_print(" min=");
            rt_print_i32(smallest);
            rt_newline();
        }
        total = total * 3 + checksum(c) + trace + (uint32_t)signed_sum;
    }
    rt_print_kv_hex32("checksum", total);
    return 0;
}
