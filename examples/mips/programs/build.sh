#!/bin/sh
# build.sh - builds the bare-metal VR4300 test programs and their expected outputs.
#
#   ./build.sh            everything below (needs Debian's gcc-mips-linux-gnu,
#                         gcc-mips64-linux-gnuabi64 and a native gcc)
#
# Outputs, all committed so CI needs no cross compiler:
#   build/o32/NAME.{elf,bin}        mips-linux-gnu-gcc -mabi=32, default ITERS
#   build/n32/NAME.{elf,bin}        mips64-linux-gnuabi64-gcc -mabi=n32, default ITERS
#   build/bench-o32/, bench-n32/    the same with the larger ITERS of bench_iters below
#   build/test-o32/, test-n32/      the same with ITERS=1: the lockstep tests' inputs
#   expected/NAME.txt               output of the default build
#   expected/bench/NAME.txt         output of the bench build
#   expected/test/NAME.txt          output of the test build
# NAME.bin is the raw image of the loadable bytes, to be placed at 0x80000400
# (physical 0x400); execution starts at its first byte (_start).
#
# The expected outputs come from compiling the same sources natively with the host
# gcc (src/host_shim.c prints through stdio) and running them, with the address and
# undefined-behaviour sanitizers on, so a program whose result could differ between
# host and guest fails here instead of producing a wrong expectation.
set -eu
cd "$(dirname "$0")"

PROGRAMS="bitops crc32 int64 interp linklist lzss matmul mixed packed qsort recursion sieve strings"

# ITERS for the bench builds: each runs about 1.5-3.5 s in Unicorn 2.1.4 (o32 and n32; n32
# int64 is shorter, interp is sized for dynarec, as Unicorn dies on it), so a steady-state
# measurement is seconds long: 0.2-3.3 billion guest instructions.
bench_iters() {
    case "$1" in
        bitops) echo 13000 ;;
        crc32) echo 17000 ;;
        int64) echo 7000 ;;
        interp) echo 1500 ;;
        linklist) echo 1100 ;;
        lzss) echo 1150 ;;
        matmul) echo 4600 ;;
        mixed) echo 15000 ;;
        packed) echo 6500 ;;
        qsort) echo 370 ;;
        recursion) echo 520 ;;
        sieve) echo 460 ;;
        strings) echo 3000 ;;
    esac
}

# Freestanding code for the MIPS III VR4300: no PIC/abicalls, no small-data
# section (-G0), no libc or libgcc (src/runtime.c has what is needed), big-endian.
CFLAGS="-march=vr4300 -EB -O2 -G0 -mno-abicalls -fno-pic -ffreestanding -std=gnu11 -Wall -Wextra -Isrc"
# -n: do not page-align the loadable segment, so it starts at 0x80000400 rather
# than pulling the ELF header into the exception-vector area at 0x80000000.
LDFLAGS="-nostdlib -static -no-pie -T link.ld -Wl,-n -Wl,--build-id=none"
HOST_CFLAGS="-O2 -std=gnu11 -Wall -Wextra -fsanitize=address,undefined -fno-sanitize-recover=all -Isrc"

cross_compiler() {
    case "$1" in
        o32) echo "mips-linux-gnu-gcc -mabi=32" ;;
        n32) echo "mips64-linux-gnuabi64-gcc -mabi=n32" ;;
    esac
}

build_guest() {   # abi outdir name [extra cflags]
    abi=$1 out=$2 name=$3
    shift 3
    mkdir -p "$out"
    # shellcheck disable=SC2046
    $(cross_compiler "$abi") $CFLAGS "$@" $LDFLAGS crt0.S src/runtime.c "src/$name.c" -o "$out/$name.elf"
    mips-linux-gnu-objcopy -O binary "$out/$name.elf" "$out/$name.bin"
}

expected_output() {   # name outfile [extra cflags]
    name=$1 out=$2
    shift 2
    tmp=$(mktemp -d)
    gcc $HOST_CFLAGS "$@" "src/$name.c" src/host_shim.c -o "$tmp/$name"
    "$tmp/$name" > "$out"
    rm -rf "$tmp"
}

mkdir -p expected/bench expected/test
for name in $PROGRAMS; do
    iters=$(bench_iters "$name")
    for abi in o32 n32; do
        build_guest "$abi" "build/$abi" "$name"
        build_guest "$abi" "build/bench-$abi" "$name" "-DITERS=$iters"
        build_guest "$abi" "build/test-$abi" "$name" "-DITERS=1"
    done
    expected_output "$name" "expected/$name.txt"
    expected_output "$name" "expected/bench/$name.txt" "-DITERS=$iters"
    expected_output "$name" "expected/test/$name.txt" "-DITERS=1"
    echo "built $name (bench ITERS=$iters)"
done
