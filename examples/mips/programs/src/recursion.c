/*
 * recursion - deep and branchy recursion (JAL/JR $ra, stack frames).
 *
 * Naive Fibonacci, Ackermann A(2, n) and A(3, 3), the Towers of Hanoi with a move
 * checksum, N-Queens by backtracking, Heap's permutation algorithm, McCarthy's 91
 * function, a recursive-descent parser/evaluator for integer expressions and
 * mutually recursive even/odd tests. Known answers: fib(16) = 987, fib(17) = 1597,
 * A(2, 3) = 9, A(3, 3) = 61, 6, 7 and 8 queens have 4, 40 and 92 solutions,
 * M(x) = 91 for x <= 100, Hanoi with n discs takes 2^n - 1 moves.
 */
#include "runtime.h"

#ifndef ITERS
#define ITERS 2
#endif

static uint32_t fib(uint32_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static uint32_t ackermann(uint32_t m, uint32_t n)
{
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ackermann(m - 1, 1);
    return ackermann(m - 1, ackermann(m, n - 1));
}

static uint32_t hanoi_moves, hanoi_hash;
static void hanoi(int n, int from, int to, int via)
{
    if (n == 0)
        return;
    hanoi(n - 1, from, via, to);
    hanoi_moves++;
    hanoi_hash = hanoi_hash * 7 + (uint32_t)(from * 3 + to);
    hanoi(n - 1, via, to, from);
}

/* N-Queens: columns, diagonals and anti-diagonals taken as bit masks. */
static uint32_t queens(int n, int row, uint32_t cols, uint32_t diag, uint32_t anti)
{
    if (row == n)
        return 1;
    uint32_t count = 0;
    uint32_t free = ~(cols | diag | anti) & ((1u << n) - 1);
    while (free) {
        uint32_t bit = free & -free;
        free ^= bit;
        count += queens(n, row + 1, cols | bit, (diag | bit) << 1, (anti | bit) >> 1);
    }
    return count;
}

static uint8_t perm[8];
static uint32_t perm_count, perm_hash;
static void heap_permute(int k)
{
    if (k == 1) {
        uint32_t h = 0;
        for (int i = 0; i < 7; i++)
            h = h * 8 + perm[i];
        perm_count++;
        perm_hash ^= h * (perm_count | 1);
        return;
    }
    for (int i = 0; i < k; i++) {
        heap_permute(k - 1);
        int j = (k & 1) ? 0 : i;
        uint8_t t = perm[j];
        perm[j] = perm[k - 1];
        perm[k - 1] = t;
    }
}

static int32_t mccarthy91(int32_t x) { return x > 100 ? x - 10 : mccarthy91(mccarthy91(x + 11)); }

static int is_odd(uint32_t n);
static int is_even(uint32_t n) { return n == 0 ? 1 : is_odd(n - 1); }
static int is_odd(uint32_t n) { return n == 0 ? 0 : is_even(n - 1); }

/* expr := term (('+'|'-') term)*; term := factor (('*'|'/'|'%') factor)*;
 * factor := '-' factor | '(' expr ')' | number. Division by zero yields 0. */
static const char *cursor;
static int32_t parse_expr(void);

static int32_t parse_factor(void)
{
    if (*cursor == '-') {
        cursor++;
        return (int32_t)(0u - (uint32_t)parse_factor());
    }
    if (*cursor == '(') {
        cursor++;
        int32_t v = parse_expr();
        cursor++;                                   /* ')' */
        return v;
    }
    uint32_t v = 0;
    while (*cursor >= '0' && *cursor <= '9')
        v = v * 10 + (uint32_t)(*cursor++ - '0');
    return (int32_t)v;
}

static int32_t parse_term(void)
{
    int32_t v = parse_factor();
    while (*cursor == '*' || *cursor == '/' || *cursor == '%') {
        char op = *cursor++;
        int32_t r = parse_factor();
        if (op == '*')
            v = (int32_t)((uint32_t)v * (uint32_t)r);
        else if (r == 0 || (r == -1 && v == INT32_MIN))
            v = 0;
        else
            v = op == '/' ? v / r : v % r;
    }
    return v;
}

static int32_t parse_expr(void)
{
    int32_t v = parse_term();
    while (*cursor == '+' || *cursor == '-') {
        char op = *cursor++;
        uint32_t r = (uint32_t)parse_term();
        v = (int32_t)(op == '+' ? (uint32_t)v + r : (uint32_t)v - r);
    }
    return v;
}

static int32_t evaluate(const char *text)
{
    cursor = text;
    return parse_expr();
}

int main(void)
{
    static const char *const expressions[] = {
        "1+2*3",
        "(1+2)*3",
        "-(7-10)*(2+3)/4",
        "((((((((1+1)*2)+1)*2)+1)*2)+1)*2)-100%7",
        "123456*789-(98765/-43)%1000",
        "2*(3*(4*(5*(6*(7*(8*(9*(10*-11))))))))",
        "(-17)/5+(-17)%5*100",
    };
    for (unsigned i = 0; i < sizeof expressions / sizeof expressions[0]; i++) {
        rt_print(expressions[i]);
        rt_print(" = ");
        rt_print_i32(evaluate(expressions[i]));
        rt_newline();
    }
    rt_print_kv_u32("A(2,3)", ackermann(2, 3));
    rt_print_kv_u32("A(3,3)", ackermann(3, 3));
    rt_print_kv_u32("queens(6)", queens(6, 0, 0, 0, 0));
    rt_print_kv_u32("M(87)", (uint32_t)mccarthy91(87));

    uint32_t total = 0;
    for (uint32_t iter = 0; iter < ITERS; iter++) {
        uint32_t n = 16 + iter % 4;
        uint32_t f = fib(n);
        uint32_t q = queens(7 + (int)(iter % 2), 0, 0, 0, 0);
        hanoi_moves = hanoi_hash = 0;
        hanoi(10 + (int)(iter % 3), 0, 2, 1);
        for (int i = 0; i < 7; i++)
            perm[i] = (uint8_t)((i * 3 + iter) % 7);
        perm_count = perm_hash = 0;
        heap_permute(7);
        uint32_t ack = ackermann(2, 50 + iter % 50);
        int32_t m91 = 0;
        for (int32_t x = 0; x < 120; x += 7)
            m91 += mccarthy91(x + (int32_t)(iter % 5));
        uint32_t parity = (uint32_t)is_even(300 + iter) * 2 + (uint32_t)is_odd(301 + iter);
        if (iter < 3) {
            rt_print("fib(");
            rt_print_u32(n);
            rt_print(")=");
            rt_print_u32(f);
            rt_print(" queens=");
            rt_print_u32(q);
            rt_print(" hanoi=");
            rt_print_u32(hanoi_moves);
            rt_print("/0x");
            rt_print_hex32(hanoi_hash);
            rt_print(" perms=");
            rt_print_u32(perm_count);
            rt_print("/0x");
            rt_print_hex32(perm_hash);
            rt_print(" A(2,n)=");
            rt_print_u32(ack);
            rt_print(" m91sum=");
            rt_print_i32(m91);
            rt_print(" parity=");
            rt_print_u32(parity);
            rt_newline();
        }
        total = total * 5 + f + q + hanoi_moves + hanoi_hash + perm_hash + ack + (uint32_t)m91 + parity;
    }
    rt_print_kv_hex32("checksum", total);
    return 0;
}
