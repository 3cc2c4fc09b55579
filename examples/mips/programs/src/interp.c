/*
 * interp - a switch-dispatched stack bytecode interpreter.
 *
 * 32 opcodes numbered densely from 0, so gcc compiles the dispatch switch to a
 * jump table and an indirect JR. A small code generator (emit/label/patch) builds
 * one bytecode program at startup: a driver that calls iterative Fibonacci,
 * Euclid's GCD, recursive factorial (CALL/RET with per-call local frames), a
 * trial-division prime count, Collatz step totals and an integer mixing loop, and
 * PRINTs each result. ITERS rounds run it with a different input.
 * Known answers for input 0: fib(24) = 46368, gcd(1071, 462) = 21, 12! = 479001600.
 */
#include "runtime.h"

#ifndef ITERS
#define ITERS 3
#endif

enum opcode {
    OP_HALT, OP_PUSH, OP_POP, OP_DUP, OP_SWAP, OP_OVER, OP_ROT,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_NEG,
    OP_AND, OP_OR, OP_XOR, OP_NOT, OP_SHL, OP_SHR,
    OP_EQ, OP_LT, OP_GT,
    OP_JMP, OP_JZ, OP_JNZ, OP_CALL, OP_RET,
    OP_LOAD, OP_STORE, OP_INC, OP_DEC, OP_PRINT,
};

/* ---- code generation ------------------------------------------------------ */

static int32_t code[512];
static int code_len;

static int here(void) { return code_len; }
static void emit(int32_t op) { code[code_len++] = op; }
static void emit_arg(int32_t op, int32_t arg) { emit(op); emit(arg); }
/* A jump whose target is not known yet: returns the operand slot for patch(). */
static int emit_forward(int32_t op) { emit(op); emit(0); return code_len - 1; }
static void patch(int slot) { code[slot] = code_len; }

/* fib(n) iteratively: locals n, a, b */
static int gen_fib(void)
{
    int entry = here();
    emit_arg(OP_STORE, 0);
    emit_arg(OP_PUSH, 0); emit_arg(OP_STORE, 1);
    emit_arg(OP_PUSH, 1); emit_arg(OP_STORE, 2);
    int loop = here();
    emit_arg(OP_LOAD, 0);
    int done = emit_forward(OP_JZ);
    emit_arg(OP_LOAD, 1); emit_arg(OP_LOAD, 2); emit(OP_DUP);
    emit_arg(OP_STORE, 1); emit(OP_ADD); emit_arg(OP_STORE, 2);      /* a, b = b, a + b */
    emit_arg(OP_LOAD, 0); emit(OP_DEC); emit_arg(OP_STORE, 0);
    emit_arg(OP_JMP, loop);
    patch(done);
    emit_arg(OP_LOAD, 1);
    emit(OP_RET);
    return entry;
}

/* gcd(a, b) by Euclid's algorithm: locals a, b */
static int gen_gcd(void)
{
    int entry = here();
    emit_arg(OP_STORE, 1); emit_arg(OP_STORE, 0);
    int loop = here();
    emit_arg(OP_LOAD, 1);
    int done = emit_forward(OP_JZ);
    emit_arg(OP_LOAD, 0); emit_arg(OP_LOAD, 1); emit(OP_MOD);        /* a, b = b, a % b */
    emit_arg(OP_LOAD, 1); emit_arg(OP_STORE, 0); emit_arg(OP_STORE, 1);
    emit_arg(OP_JMP, loop);
    patch(done);
    emit_arg(OP_LOAD, 0);
    emit(OP_RET);
    return entry;
}

/* fact(n) recursively */
static int gen_fact(void)
{
    int entry = here();
    emit_arg(OP_STORE, 0);
    emit_arg(OP_LOAD, 0); emit_arg(OP_PUSH, 2); emit(OP_LT);
    int recurse = emit_forward(OP_JZ);
    emit_arg(OP_PUSH, 1);
    emit(OP_RET);
    patch(recurse);
    emit_arg(OP_LOAD, 0); emit_arg(OP_LOAD, 0); emit(OP_DEC);
    emit_arg(OP_CALL, entry);
    emit(OP_MUL);
    emit(OP_RET);
    return entry;
}

/* the number of primes below limit, by trial division: locals limit, n, d, count */
static int gen_primes(void)
{
    int entry = here();
    emit_arg(OP_STORE, 0);
    emit_arg(OP_PUSH, 0); emit_arg(OP_STORE, 3);
    emit_arg(OP_PUSH, 2); emit_arg(OP_STORE, 1);
    int outer = here();
    emit_arg(OP_LOAD, 1); emit_arg(OP_LOAD, 0); emit(OP_LT);
    int done = emit_forward(OP_JZ);
    emit_arg(OP_PUSH, 2); emit_arg(OP_STORE, 2);
    int inner = here();
    emit_arg(OP_LOAD, 2); emit(OP_DUP); emit(OP_MUL); emit_arg(OP_LOAD, 1); emit(OP_GT);
    int prime = emit_forward(OP_JNZ);                               /* d * d > n */
    emit_arg(OP_LOAD, 1); emit_arg(OP_LOAD, 2); emit(OP_MOD);
    int composite = emit_forward(OP_JZ);
    emit_arg(OP_LOAD, 2); emit(OP_INC); emit_arg(OP_STORE, 2);
    emit_arg(OP_JMP, inner);
    patch(prime);
    emit_arg(OP_LOAD, 3); emit(OP_INC); emit_arg(OP_STORE, 3);
    patch(composite);
    emit_arg(OP_LOAD, 1); emit(OP_INC); emit_arg(OP_STORE, 1);
    emit_arg(OP_JMP, outer);
    patch(done);
    emit_arg(OP_LOAD, 3);
    emit(OP_RET);
    return entry;
}

/* the total number of Collatz steps for 1..limit: locals limit, i, x, total */
static int gen_collatz(void)
{
    int entry = here();
    emit_arg(OP_STORE, 0);
    emit_arg(OP_PUSH, 0); emit_arg(OP_STORE, 3);
    emit_arg(OP_PUSH, 1); emit_arg(OP_STORE, 1);
    int outer = here();
    emit_arg(OP_LOAD, 1); emit_arg(OP_LOAD, 0); emit(OP_GT);
    int done = emit_forward(OP_JNZ);
    emit_arg(OP_LOAD, 1); emit_arg(OP_STORE, 2);
    int inner = here();
    emit_arg(OP_LOAD, 2); emit_arg(OP_PUSH, 1); emit(OP_EQ);
    int next = emit_forward(OP_JNZ);
    emit_arg(OP_LOAD, 3); emit(OP_INC); emit_arg(OP_STORE, 3);
    emit_arg(OP_LOAD, 2); emit_arg(OP_PUSH, 1); emit(OP_AND);
    int even = emit_forward(OP_JZ);
    emit_arg(OP_LOAD, 2); emit_arg(OP_PUSH, 3); emit(OP_MUL); emit(OP_INC); emit_arg(OP_STORE, 2);
    emit_arg(OP_JMP, inner);
    patch(even);
    emit_arg(OP_LOAD, 2); emit_arg(OP_PUSH, 2); emit(OP_DIV); emit_arg(OP_STORE, 2);
    emit_arg(OP_JMP, inner);
    patch(next);
    emit_arg(OP_LOAD, 1); emit(OP_INC); emit_arg(OP_STORE, 1);
    emit_arg(OP_JMP, outer);
    patch(done);
    emit_arg(OP_LOAD, 3);
    emit(OP_RET);
    return entry;
}

/* count rounds of x, y = mix(x, y) from fixed seeds, returning x ^ y: locals count, x, y */
static int gen_mix(void)
{
    int entry = here();
    emit_arg(OP_STORE, 0);
    emit_arg(OP_PUSH, 0x1234567); emit_arg(OP_STORE, 1);
    emit_arg(OP_PUSH, -559038737); emit_arg(OP_STORE, 2);
    int loop = here();
    emit_arg(OP_LOAD, 0);
    int done = emit_forward(OP_JZ);
    emit_arg(OP_LOAD, 1); emit(OP_DUP); emit_arg(OP_PUSH, 5); emit(OP_SHL); emit(OP_XOR);
    emit_arg(OP_LOAD, 2); emit(OP_NOT); emit(OP_ADD);                 /* t = (x ^ x << 5) + ~y */
    emit_arg(OP_LOAD, 2); emit(OP_OVER); emit(OP_SUB); emit(OP_NEG);  /* t, t - y */
    emit(OP_SWAP);
    emit(OP_DUP); emit_arg(OP_PUSH, 3); emit(OP_SHR); emit(OP_XOR);   /* t - y, t ^ t >> 3 */
    emit_arg(OP_PUSH, 40503); emit(OP_ROT); emit(OP_MUL);              /* t ^ t >> 3, 40503 (t - y) */
    emit_arg(OP_STORE, 2); emit_arg(OP_STORE, 1);
    emit_arg(OP_LOAD, 1); emit_arg(OP_PUSH, 7); emit(OP_OR); emit(OP_POP);  /* computed, then dropped */
    emit_arg(OP_LOAD, 0); emit(OP_DEC); emit_arg(OP_STORE, 0);
    emit_arg(OP_JMP, loop);
    patch(done);
    emit_arg(OP_LOAD, 1); emit_arg(OP_LOAD, 2); emit(OP_XOR);
    emit(OP_RET);
    return entry;
}

/* The driver: input on the stack at entry, one PRINT per function. */
static void gen_program(void)
{
    int skip = emit_forward(OP_JMP);
    int fib = gen_fib(), gcd = gen_gcd(), fact = gen_fact();
    int primes = gen_primes(), collatz = gen_collatz(), mix = gen_mix();
    patch(skip);
    emit_arg(OP_STORE, 0);
    emit_arg(OP_PUSH, 24); emit_arg(OP_LOAD, 0); emit(OP_ADD); emit_arg(OP_CALL, fib); emit(OP_PRINT);
    emit_arg(OP_PUSH, 1071); emit_arg(OP_LOAD, 0); emit(OP_ADD); emit_arg(OP_PUSH, 462);
    emit_arg(OP_CALL, gcd); emit(OP_PRINT);
    emit_arg(OP_PUSH, 12); emit_arg(OP_CALL, fact); emit(OP_PRINT);
    emit_arg(OP_PUSH, 150); emit_arg(OP_LOAD, 0); emit(OP_ADD); emit_arg(OP_CALL, primes); emit(OP_PRINT);
    emit_arg(OP_PUSH, 40); emit_arg(OP_LOAD, 0); emit(OP_ADD); emit_arg(OP_CALL, collatz); emit(OP_PRINT);
    emit_arg(OP_PUSH, 100); emit_arg(OP_CALL, mix); emit(OP_PRINT);
    emit(OP_HALT);
}

/* ---- the interpreter ----------------------------------------------------- */

#define STACK_SIZE 64
#define MAX_FRAMES 32
#define NLOCALS 4
#define MAX_PRINTS 8

struct frame {
    int return_pc;
    uint32_t locals[NLOCALS];
};

struct vm {
    uint32_t stack[STACK_SIZE];
    struct frame frames[MAX_FRAMES];
    uint32_t printed[MAX_PRINTS];
    int nprinted;
    uint32_t executed;              /* bytecode instructions run */
};

/* Runs code from pc 0 with input on the stack; returns 0, or -1 on a fault. */
static int run(struct vm *vm, uint32_t input)
{
    uint32_t *sp = vm->stack;           /* points above the top of stack */
    struct frame *frame = vm->frames;
    int pc = 0;
    *sp++ = input;
    vm->nprinted = 0;
    for (;;) {
        int32_t op = code[pc++];
        uint32_t a, b;
        vm->executed++;
        switch (op) {
        case OP_HALT: return 0;
        case OP_PUSH: *sp++ = (uint32_t)code[pc++]; break;
        case OP_POP: sp--; break;
        case OP_DUP: sp[0] = sp[-1]; sp++; break;
        case OP_SWAP: a = sp[-1]; sp[-1] = sp[-2]; sp[-2] = a; break;
        case OP_OVER: sp[0] = sp[-2]; sp++; break;
        case OP_ROT: a = sp[-3]; sp[-3] = sp[-2]; sp[-2] = sp[-1]; sp[-1] = a; break;
        case OP_ADD: sp--; sp[-1] += sp[0]; break;
        case OP_SUB: sp--; sp[-1] -= sp[0]; break;
        case OP_MUL: sp--; sp[-1] *= sp[0]; break;
        case OP_DIV:
        case OP_MOD: {
            sp--;
            int32_t n = (int32_t)sp[-1], d = (int32_t)sp[0];
            if (d == 0 || (d == -1 && n == INT32_MIN))
                sp[-1] = 0;                                 /* defined here as 0 */
            else
                sp[-1] = (uint32_t)(op == OP_DIV ? n / d : n % d);
            break;
        }
        case OP_NEG: sp[-1] = -sp[-1]; break;
        case OP_AND: sp--; sp[-1] &= sp[0]; break;
        case OP_OR: sp--; sp[-1] |= sp[0]; break;
        case OP_XOR: sp--; sp[-1] ^= sp[0]; break;
        case OP_NOT: sp[-1] = ~sp[-1]; break;
        case OP_SHL: sp--; sp[-1] <<= sp[0] & 31; break;
        case OP_SHR: sp--; sp[-1] >>= sp[0] & 31; break;
        case OP_EQ: sp--; sp[-1] = sp[-1] == sp[0]; break;
        case OP_LT: sp--; sp[-1] = (int32_t)sp[-1] < (int32_t)sp[0]; break;
        case OP_GT: sp--; sp[-1] = (int32_t)sp[-1] > (int32_t)sp[0]; break;
        case OP_JMP: pc = code[pc]; break;
        case OP_JZ: b = *--sp; pc = b ? pc + 1 : code[pc]; break;
        case OP_JNZ: b = *--sp; pc = b ? code[pc] : pc + 1; break;
        case OP_CALL:
            if (++frame == vm->frames + MAX_FRAMES)
                return -1;
            frame->return_pc = pc + 1;
            pc = code[pc];
            break;
        case OP_RET: pc = frame->return_pc; frame--; break;
        case OP_LOAD: *sp++ = frame->locals[code[pc++]]; break;
        case OP_STORE: frame->locals[code[pc++]] = *--sp; break;
        case OP_INC: sp[-1]++; break;
        case OP_DEC: sp[-1]--; break;
        case OP_PRINT:
            if (vm->nprinted == MAX_PRINTS)
                return -1;
            vm->printed[vm->nprinted++] = *--sp;
            break;
        default: return -1;
        }
    }
}

static struct vm vm;

int main(void)
{
    static const char *const names[] = {"fib", "gcd", "fact", "primes", "collatz", "mix"};
    gen_program();
    rt_print_kv_u32("bytecode-words", (uint32_t)code_len);
    uint32_t total = 0;
    for (uint32_t iter = 0; iter < ITERS; iter++) {
        if (run(&vm, iter % 16) != 0 || vm.nprinted != 6) {
            rt_print("vm fault\n");
            return 1;
        }
        for (int i = 0; i < vm.nprinted; i++) {
            if (iter < 3) {
                rt_print(names[i]);
                rt_putc('=');
                rt_print_u32(vm.printed[i]);
                rt_putc(i == vm.nprinted - 1 ? '\n' : ' ');
            }
            total = total * 31 + vm.printed[i];
        }
    }
    rt_print_kv_u32("bytecodes-executed", vm.executed);
    rt_print_kv_hex32("checksum", total);
    return 0;
}
