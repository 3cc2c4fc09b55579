#!/bin/sh
# build.sh - builds the Game Boy test programs and their expected outputs.
#
#   ./build.sh            everything below (needs sdcc 4.x with the sm83 port, Debian's
#                         `sdcc` package, and a native gcc with the UB sanitizer)
#
# Outputs, all committed so CI needs no cross compiler:
#   build/NAME.gb         32 KiB ROM-only cartridge image (type 00, ROM size code 00, no
#                         RAM), header and checksums written by makebin -Z
#   expected/NAME.txt     what NAME prints over the serial port
#
# The expected outputs come from compiling the same sources natively with gcc
# (src/host_shim.c prints through stdio) under -fsanitize=undefined, so a program whose
# result could differ between host and guest fails here instead of giving a wrong
# expectation. They never come from an emulator.
set -eu
cd "$(dirname "$0")"

PROGRAMS="arith crc16 sieve"

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
for name in $PROGRAMS; do
    $SDCC -c "src/$name.c" -o "$tmp/$name.rel"
    # crt0 must come first: its _HEADER and area order fix the layout.
    $SDCC $LINKFLAGS "$tmp/crt0.rel" "$tmp/runtime.rel" "$tmp/$name.rel" -o "$tmp/$name.ihx"
    title=$(echo "$name" | tr a-z A-Z)
    makebin -Z -yn "$title" -s 32768 "$tmp/$name.ihx" "build/$name.gb"

    gcc $HOST_CFLAGS "src/$name.c" src/host_shim.c -o "$tmp/$name-host"
    "$tmp/$name-host" > "expected/$name.txt"
    echo "built $name"
done
