#!/bin/sh
# build.sh - builds the Game Boy test programs and the expected outputs of the computing ones.
#
#   ./build.sh            everything below (needs sdcc 4.x with the sm83 port, Debian's
#                         `sdcc` package, and a native gcc with the UB sanitizer)
#
# Outputs, all committed so CI needs no cross compiler:
#   build/NAME.gb         the cartridge image, header and checksums written by makebin -Z:
#                         32 KiB ROM only (type 00) except mbc.gb (MBC1+RAM+BATTERY, type
#                         03, 8 ROM banks, 4 RAM banks)
#   expected/NAME.txt     what NAME prints over the serial port, for the computing programs
#                         (COMPUTING below)
#
# The computing programs' expected outputs come from compiling the same sources natively
# with gcc (src/host_shim.c prints through stdio) under -fsanitize=undefined, so a program
# whose result could differ between host and guest fails here instead of giving a wrong
# expectation. The hardware tests (HARDWARE) print checks whose wanted values are worked out
# from Pan Docs in their sources; their expected/NAME.txt is written by hand from those. No
# expected output ever comes from an emulator.
set -eu
cd "$(dirname "$0")"

COMPUTING="arith crc16 sieve bench"
HARDWARE="interrupts halt"

# --std-c11: sdcc's C11 dialect; --no-std-crt0: crt0.s below instead of sdcc's own.
SDCC="sdcc -msm83 --std-c11 -Isrc"
# Code from 0200 (after crt0's _start at 0150), RAM data from C000 (WRAM).
LINKFLAGS="--no-std-crt0 --code-loc 0x200 --data-loc 0xC000"
HOST_CFLAGS="-O2 -std=gnu11 -Wall -Wextra -fsanitize=undefined -fno-sanitize-recover=all -Isrc"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p build expected

sdasgb -plosgff -o "$tmp/crt0.rel" crt0.s
$SDCC -c src/runtime.c -o "$tmp/runtime.rel"

# rom NAME [makebin options] [extra .rel files and linker options]: build/NAME.gb from
# src/NAME.c. crt0 must come first: its _HEADER and area order fix the layout.
rom() {
    name=$1
    makebin_options=$2
    shift 2
    $SDCC -c "src/$name.c" -o "$tmp/$name.rel"
    $SDCC $LINKFLAGS "$tmp/crt0.rel" "$tmp/runtime.rel" "$tmp/$name.rel" "$@" \
        -o "$tmp/$name.ihx"
    title=$(echo "$name" | tr a-z A-Z)
    makebin -Z -yn "$title" $makebin_options "$tmp/$name.ihx" "build/$name.gb"
    echo "built $name"
}

for name in $COMPUTING; do
    rom "$name" "-s 32768"
    gcc $HOST_CFLAGS "src/$name.c" src/host_shim.c -o "$tmp/$name-host"
    "$tmp/$name-host" > "expected/$name.txt"
done

for name in $HARDWARE; do
    rom "$name" "-s 32768"
done

# mbc: banks 1..7 each get bank.c's header at 4000 and bank_id.c's function at 4200
# (src/bank.h); the linker's address N*0x10000 + 0x4000 is ROM bank N's 4000 to makebin.
bank_objects=""
for n in 1 2 3 4 5 6 7; do
    $SDCC -DBANK=$n --codeseg "BANK$n" -c src/bank.c -o "$tmp/bank$n.rel"
    $SDCC -DBANK=$n --codeseg "BANK${n}_ID" -c src/bank_id.c -o "$tmp/bank_id$n.rel"
    bank_objects="$bank_objects $tmp/bank$n.rel $tmp/bank_id$n.rel -Wl-b_BANK$n=0x${n}4000"
    bank_objects="$bank_objects -Wl-b_BANK${n}_ID=0x${n}4200"
done
# -yt 03: MBC1+RAM+BATTERY; -yo 8: 8 ROM banks (128 KiB); -ya 4: 4 RAM banks (32 KiB)
rom mbc "-yt 0x03 -yo 8 -ya 4" $bank_objects
