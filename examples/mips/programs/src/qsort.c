/*
 * qsort - sorting pseudo-random arrays.
 *
 * A specialised quicksort on uint32_t (median-of-three pivot, Hoare partition,
 * recursion into the smaller half, insertion sort below 16 elements) and a generic
 * byte-wise quicksort that calls a comparison function through a pointer (JALR),
 * sorting int32_t values ascending and records by (key descending, index ascending).
 * Each round checks the order and prints order-sensitive checksums.
 */
#include "runtime.h"

#ifndef ITERS
#define ITERS 2
#endif

#define N 1200
#define NREC 300

static uint32_t keys[N];
static int32_t values[N];

struct record {
    uint16_t key;
    uint16_t index;
    uint32_t payload;
};
static struct record records[NREC];

static uint32_t lcg_state;
static uint32_t lcg(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;   /* Numerical Recipes' LCG */
    return lcg_state;
}

static void swap_u32(uint32_t *a, uint32_t *b)
{
    uint32_t t = *a;
    *a = *b;
    *b = t;
}

static void insertion_sort(uint32_t *a, int n)
{
    for (int i = 1; i < n; i++) {
        uint32_t v = a[i];
        int j = i - 1;
        while (j >= 0 && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

static void quicksort_u32(uint32_t *a, int n)
{
    while (n > 16) {
        int mid = n / 2;
        if (a[mid] < a[0])
            swap_u32(&a[mid], &a[0]);
        if (a[n - 1] < a[0])
            swap_u32(&a[n - 1], &a[0]);
        if (a[n - 1] < a[mid])
            swap_u32(&a[n - 1], &a[mid]);
        uint32_t pivot = a[mid];
        int i = -1, j = n;
        for (;;) {
            do i++; while (a[i] < pivot);
            do j--; while (a[j] > pivot);
            if (i >= j)
                break;
            swap_u32(&a[i], &a[j]);
        }
        int left = j + 1;                 /* a[0..j] <= pivot <= a[j+1..n-1] */
        if (left < n - left) {
            quicksort_u32(a, left);
            a += left;
            n -= left;
        } else {
            quicksort_u32(a + left, n - left);
            n = left;
        }
    }
    insertion_sort(a, n);
}

typedef int (*compare_fn)(const void *, const void *);

static void swap_bytes(unsigned char *a, unsigned char *b, size_t size)
{
    while (size--) {
        unsigned char t = *a;
        *a++ = *b;
        *b++ = t;
    }
}

/* Lomuto-partition quicksort over elements of any size, like the C library's qsort. */
static void generic_qsort(void *base, size_t count, size_t size, compare_fn cmp)
{
    unsigned char *a = base;
    while (count > 1) {
        unsigned char *pivot = a + (count - 1) * size;
        swap_bytes(a + (count / 2) * size, pivot, size);
        size_t store = 0;
        for (size_t i = 0; i + 1 < count; i++) {
            if (cmp(a + i * size, pivot) < 0) {
                swap_bytes(a + i * size, a + store * size, size);
                store++;
            }
        }
        swap_bytes(a + store * size, pivot, size);
        generic_qsort(a, store, size, cmp);
        a += (store + 1) * size;
        count -= store + 1;
    }
}

static int compare_i32(const void *x, const void *y)
{
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return (a > b) - (a < b);
}

static int compare_record(const void *x, const void *y)
{
    const struct record *a = x, *b = y;
    if (a->key != b->key)
        return a->key > b->key ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

int main(void)
{
    uint32_t total = 0;
    lcg_state = 2024;
    for (uint32_t iter = 0; iter < ITERS; iter++) {
        for (int i = 0; i < N; i++) {
            keys[i] = lcg();
            values[i] = (int32_t)(lcg() % 200001u) - 100000;
        }
        for (int i = 0; i < NREC; i++) {
            records[i].key = (uint16_t)(lcg() >> 26);      /* many equal keys */
            records[i].index = (uint16_t)i;
            records[i].payload = lcg();
        }

        quicksort_u32(keys, N);
        generic_qsort(values, N, sizeof values[0], compare_i32);
        generic_qsort(records, NREC, sizeof records[0], compare_record);

        uint32_t sum_keys = 0, sum_values = 0, sum_records = 0;
        for (int i = 0; i < N; i++) {
            if ((i && keys[i - 1] > keys[i]) || (i && values[i - 1] > values[i])) {
                rt_print("not sorted\n");
                return 1;
            }
            sum_keys = sum_keys * 31 + keys[i];
            sum_values = sum_values * 31 + (uint32_t)values[i];
        }
        for (int i = 0; i < NREC; i++) {
            if (i && compare_record(&records[i - 1], &records[i]) > 0) {
                rt_print("records not sorted\n");
                return 1;
            }
            sum_records = sum_records * 17 + records[i].index + records[i].payload;
        }
        if (iter < 3) {
            rt_print("iter ");
            rt_print_u32(iter);
            rt_print(": min=");
            rt_print_u32(keys[0]);
            rt_print(" max=");
            rt_print_u32(keys[N - 1]);
            rt_print(" median=");
            rt_print_i32(values[N / 2]);
            rt_print(" lowest=");
            rt_print_i32(values[0]);
            rt_print(" first-record=");
            rt_print_u32(records[0].key);
            rt_putc('/');
            rt_print_u32(records[0].index);
            rt_newline();
        }
        total ^= sum_keys ^ (sum_values << 1) ^ (sum_records << 2);
    }
    rt_print_kv_hex32("checksum", total);
    return 0;
}
