"""Serial port, joypad and IF (Pan Docs, "Serial Data Transfer (Link Cable)", "Joypad
Input", "Interrupts"), alone and through SM83 code on the JIT."""

import pytest
from gb_romlib import make_rom

from dynarec_gameboy import Cartridge, GameBoy
from dynarec_gameboy.devices import SB, SC, Joypad, Serial


class Requests(list):
    def __call__(self, bit):
        self.append(bit)


def test_internal_clock_transfer_completes_after_8_bits():
    requests = Requests()
    s = Serial(requests)
    s.write(SB, 0x41, 10)
    s.write(SC, 0x81, 10)
    assert s.output == b"A"
    # 8 bits at 8192 Hz: 8 * 4194304 / 8192 = 4096 T-cycles = 1024 M-cycles
    assert s.next_event() == 10 + 1024
    assert s.read(SC, 10 + 1023) == 0xFF and requests == []     # bits 6..1 read 1
    assert s.read(SC, 10 + 1024) == 0x7F and requests == [3]
    assert s.read(SB, 10 + 1024) == 0xFF        # no partner: ones shifted in
    assert s.next_event() is None


def test_external_clock_transfer_never_completes():
    requests = Requests()
    s = Serial(requests)
    s.write(SC, 0x80, 0)
    assert s.read(SC, 1_000_000) == 0xFE and requests == [] and s.output == b""


def boot(code, handlers=b""):
    return GameBoy(Cartridge.parse(make_rom(bytes(code), banks={0: handlers})))


def send(char):
    # LD A,char; LDH (01),A; LD A,81; LDH (02),A; wait: LDH A,(02); BIT 7,A; JR NZ,wait
    return [0x3E, char, 0xE0, 0x01, 0x3E, 0x81, 0xE0, 0x02, 0xF0, 0x02, 0xCB, 0x7F, 0x20, 0xFA]


def test_serial_output_polled_by_generated_code():
    gb = boot(send(ord("H")) + send(ord("i")) + [0x76])
    gb.run(5_000)
    assert gb.serial.output == b"Hi"
    assert gb.machine.regs["run_mode"] == 1            # both transfers completed
    assert gb.machine.memory.read(0xFF0F, 1) & 0x08    # requested (IE = 0: not taken)
    assert gb.machine.cycles >= 2 * 1024


def test_serial_interrupt_is_dispatched():
    # IE = serial, EI, start a transfer, HALT; the handler at 0058 stores SC at C000
    code = [0x3E, 0x08, 0xEA, 0xFF, 0xFF, 0xFB, 0x3E, 0x81, 0xE0, 0x02, 0x76, 0x76]
    handler = bytes(0x58) + bytes([0xF0, 0x02, 0xEA, 0x00, 0xC0, 0xD9])
    gb = boot(code, handler)
    gb.run(2_000)
    assert gb.machine.memory.read(0xC000, 1) == 0x7F   # bit 7 clear when the handler ran
    assert gb.machine.pc == 0x10C                      # back, and halted on the second HALT


def test_joypad_matrix_and_interrupt():
    requests = Requests()
    pad = Joypad(requests)
    assert pad.read() == 0xFF                  # nothing selected
    pad.press("down")
    assert requests == []                      # the d-pad is not selected: no line falls
    pad.write(0x20)                            # select the d-pad (bit 4 = 0)
    assert pad.read() == 0xE7 and requests == [4]
    pad.press("start")                         # buttons not selected
    assert pad.read() == 0xE7 and requests == [4]
    pad.write(0x10)                            # buttons: start is bit 3
    assert pad.read() == 0xD7
    pad.release("start")
    assert pad.read() == 0xDF
    with pytest.raises(KeyError, match="no joypad key 'fire'"):
        pad.press("fire")


def test_if_reads_unused_bits_as_1_and_keeps_5_bits():
    gb = boot([])
    mem = gb.machine.memory
    mem.write(0xFF0F, 1, 0xFF)
    assert mem.read(0xFF0F, 1) == 0xFF
    mem.write(0xFF0F, 1, 0x00)
    assert mem.read(0xFF0F, 1) == 0xE0
