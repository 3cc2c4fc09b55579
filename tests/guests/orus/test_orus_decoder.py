"""The opcode table and the decoder: every row decodes what ``encode`` writes, byte layouts
agree with the format letters of ../shared/orus/README.md section 2, the fixtures decode as
its section 7 says, and the disassembler prints the table's mnemonics."""

import importlib.resources

import pytest

from orus_testlib import assemble, shared_dir

from dynarec.guests.orus import decoder, disasm, loader
from dynarec.guests.orus.decoder import BY_MNEMONIC, TABLE, decode, encode
from dynarec.guests.orus.errors import OrusLoadError

HALT = BY_MNEMONIC["HALT"].number

# One sample value per format letter: registers high enough that a window of ``n`` fits,
# a constant index below the pool size of the test chunk, jumps a few bytes each way.
SAMPLE = {"r": 200, "g": 7, "n": 3, "k": 1, "I": -123456, "L": 513, "x": 300,
          "j": 3, "f": 3, "s": 3}
PAD = 8     # HALT bytes before and after the instruction under test


def _chunk(code: bytes, constants=2) -> loader.Chunk:
    return loader.Chunk(code, (0,) * len(code),
                        tuple(loader.Constant("i32", i) for i in range(constants)), "test chunk")


def _operands(row):
    values = []
    for letter in row.format:
        if letter == "_":
            continue
        if letter in "bS":
            values.append(row.fixed_size + 2)            # lands 2 bytes before the opcode
        elif letter == "*":
            values.append(((1, 5), (0, 2), (1, 9)))
        else:
            values.append(SAMPLE[letter])
    if row.format.endswith("*"):
        values[-2] = len(values[-1])
    return tuple(values)


def test_table_has_every_opcode_of_the_vm():
    # README section 2 / opcodes.tsv header: 235 opcodes (OP_LOAD_CONST = 0 .. OP_HALT = 234),
    # 16 marked as without a handler in the goto dispatcher, and JUMP_IF_R, which no
    # dispatcher handles
    assert [row.number for row in TABLE] == list(range(235))
    assert TABLE[0].name == "OP_LOAD_CONST" and TABLE[234].name == "OP_HALT"
    assert sum(row.format == "-" for row in TABLE) == 16
    assert sorted(row.mnemonic for row in TABLE if not row.has_handler and row.format != "-") \
        == ["JUMP_IF_R"]
    assert len(BY_MNEMONIC) == 235


@pytest.mark.parametrize("mnemonic, number, fmt, length", [
    # rows quoted from README section 4 and the operand layouts of section 2
    ("LOAD_CONST", 0, "rk", 4), ("MOVE", 3, "rr", 3), ("ADD_I32_R", 6, "rrr", 4),
    ("I32_TO_F64_R", 71, "rr_", 4), ("TO_STRING_R", 101, "rr_", 4),
    ("MAKE_ARRAY_R", 104, "rrn", 4), ("ENUM_PAYLOAD_R", 107, "rrnn", 5),
    ("TRY_BEGIN", 116, "rf", 4), ("JUMP", 118, "j", 3), ("JUMP_IF_NOT_R", 120, "rj", 4),
    ("JUMP_IF_NOT_I32_TYPED", 121, "rrj", 5), ("CALL_R", 125, "rrnr", 5),
    ("RETURN_VOID", 130, "", 1), ("PRINT_MULTI_R", 154, "rnn", 4), ("JUMP_SHORT", 157, "s", 2),
    ("LOOP_SHORT", 160, "S", 2), ("BRANCH_TYPED", 161, "Lrj", 6),
    ("LOAD_I32_CONST", 207, "rk", 4), ("ADD_I32_IMM", 216, "rrI", 7),
    ("INC_CMP_JMP", 222, "rrj", 5), ("NEG_I32_R", 229, "rr", 3), ("HALT", 234, "", 1),
])
def test_rows_match_the_documented_layouts(mnemonic, number, fmt, length):
    row = BY_MNEMONIC[mnemonic]
    assert (row.number, row.format, row.length, row.fixed_size) == (number, fmt, length, length)


def test_closure_has_a_variable_tail():
    assert BY_MNEMONIC["CLOSURE_R"].format == "rrn*" and BY_MNEMONIC["CLOSURE_R"].length is None


@pytest.mark.parametrize("row", [r for r in TABLE if r.has_handler], ids=lambda r: r.mnemonic)
def test_every_row_decodes_what_encode_writes(row):
    operands = _operands(row)
    body = encode(row.mnemonic, *operands)
    code = bytes([HALT]) * PAD + body + bytes([HALT]) * PAD
    insn = decode(_chunk(code), PAD)
    assert insn.row is row and insn.mnemonic == row.mnemonic
    assert insn.operands == operands
    assert (insn.offset, insn.length, insn.next) == (PAD, len(body), PAD + len(body))
    assert body[0] == row.number
    assert len(body) == row.fixed_size + 2 * len(operands[-1] if row.format.endswith("*") else ())
    letter = row.jump_letter
    if letter is None:
        assert insn.target is None
    elif letter in decoder.BACKWARD_JUMPS:
        assert insn.target == PAD - 2
    else:
        assert insn.target == PAD + len(body) + 3


@pytest.mark.parametrize("row", [r for r in TABLE if not r.has_handler],
                         ids=lambda r: r.mnemonic)
def test_rows_without_handler_are_rejected(row):
    with pytest.raises(OrusLoadError, match=rf"offset 0x0000: {row.name} \({row.number}\) has "
                                            r"no handler"):
        decode(_chunk(bytes([row.number, 0, 0, 0, 0])), 0)
    with pytest.raises(ValueError):
        encode(row.mnemonic)


def test_real_bytes_decode_by_the_format_letters():
    # The first instructions of fib() in bench/fib30.json, decoded by hand from README
    # section 2: k is u16 big-endian, j a signed offset from the next instruction.
    code = bytes.fromhex("cfc00000" "bbc1bfc0" "78c10002" "81bf" "cfc10001")
    chunk = _chunk(code)
    insns = [decode(chunk, offset) for offset in (0, 4, 8, 12, 14)]
    assert [(i.mnemonic, i.operands) for i in insns] == [
        ("LOAD_I32_CONST", (192, 0)), ("LT_I32_TYPED", (193, 191, 192)),
        ("JUMP_IF_NOT_R", (193, 2)), ("RETURN_R", (191,)), ("LOAD_I32_CONST", (193, 1))]
    assert insns[2].target == 14


def test_signed_and_little_endian_operands():
    # INC_CMP_JMP R64, R0, -107 as bench/intloop_i64.json has it at offset 148: back to 46
    code = bytes([HALT]) * 148 + bytes.fromhex("de4000ff95")
    loop = decode(_chunk(code), 148)
    assert (loop.operands, loop.target) == ((64, 0, -107), 46)
    # ADD_I32_IMM's imm32 is little-endian and signed
    assert decode(_chunk(bytes.fromhex("d8c0c1ffffffff")), 0).operands == (192, 193, -1)
    assert decode(_chunk(bytes.fromhex("d8c0c101000000")), 0).operands == (192, 193, 1)
    assert decode(_chunk(bytes.fromhex("d8c0c1feffff7f")), 0).operands == (192, 193, 2**31 - 2)


def test_jump_targets():
    chunk = _chunk(bytes.fromhex("9e01" "ea" "ea" "a003"))       # JUMP_BACK_SHORT 1, LOOP_SHORT 3
    assert decode(chunk, 0).mnemonic == "JUMP_BACK_SHORT"
    assert decode(chunk, 4).target == 6 - 3
    chunk = _chunk(bytes.fromhex("ea" "76fffc" "ea"))          # JUMP -4 from offset 1
    assert decode(chunk, 1).target == 4 - 4


@pytest.mark.parametrize("code, offset, message", [
    (b"\xeb", 0, r"unknown opcode 0xeb"),
    (b"\xff\x00", 0, r"unknown opcode 0xff"),
    (bytes.fromhex("cfc000"), 0, r"truncated OP_LOAD_I32_CONST: needs 4 bytes, 3 left"),
    (bytes.fromhex("7d00c001"), 0, r"truncated OP_CALL_R"),
    (bytes.fromhex("900000" "02" "0101"), 0, r"truncated OP_CLOSURE_R: 2 upvalue pairs"),
    (bytes.fromhex("760005"), 0, r"OP_JUMP jumps to 0x0008, outside the chunk \(length 3\)"),
    (bytes.fromhex("ea" "a005"), 1, r"OP_LOOP_SHORT jumps to -0x002"),
    (bytes.fromhex("760000"), 0, r"jumps to 0x0003, outside"),
    (bytes.fromhex("cfc00002"), 0, r"constant index 2 out of range \(the pool has 2\)"),
    (bytes.fromhex("68fafa0a"), 0, r"registers R250..R259 run past R255"),
    (bytes.fromhex("ea"), 1, r"offset outside the chunk"),
])
def test_decode_errors_name_the_chunk_and_offset(code, offset, message):
    with pytest.raises(OrusLoadError, match=rf"^test chunk, offset {offset:#06x}: .*{message}"):
        decode(_chunk(code), offset)


def test_encode_rejects_bad_operands():
    with pytest.raises(ValueError, match="no encodable opcode"):
        encode("NO_SUCH_OP")
    with pytest.raises(ValueError, match="takes 2 operands, got 1"):
        encode("MOVE", 1)
    with pytest.raises(ValueError, match="does not fit"):
        encode("MOVE", 256, 0)
    with pytest.raises(ValueError, match="does not fit"):
        encode("JUMP", 40000)


def test_fixtures_decode_as_the_readme_says():
    # ../shared/orus/README.md section 7: 36 dumps, 136 chunks, 6378 instructions, 110
    # distinct opcodes, and the operand formats listed in section 2
    base = shared_dir()
    dumps = sorted(base.glob("programs/*.json")) + sorted(base.glob("bench/*.json"))
    chunks = insns = 0
    mnemonics, formats = set(), set()
    for path in dumps:
        for function, chunk in loader.load(path).chunks():
            chunks += 1
            insns += len(chunk.insns)
            assert sum(i.length for i in chunk.insns) == len(chunk.code)
            mnemonics.update(i.mnemonic for i in chunk.insns)
            formats.update(i.row.format for i in chunk.insns)
    assert (len(dumps), chunks, insns, len(mnemonics)) == (36, 136, 6378, 110)
    assert formats == set("rk r rr rrr rr_ rrn j rj rrj rrnr rnn s S Lrj rrI".split()) | {""}


def test_table_is_the_shared_one():
    packaged = importlib.resources.files("dynarec.guests.orus").joinpath("opcodes.tsv")
    assert packaged.read_bytes() == (shared_dir() / "opcodes.tsv").read_bytes()


def test_disassembly_of_a_small_chunk():
    code = assemble([("LOAD_CONST", 192, 0), "top", ("ADD_I32_IMM", 192, 192, -1),
                     ("JUMP_IF_NOT_R", 193, "top"), ("MAKE_ARRAY_R", 194, 192, 2),
                     ("CLOSURE_R", 195, 0, 1, ((1, 7),)), ("HALT",)])
    chunk = loader.Chunk(code, tuple(range(len(code))),
                         (loader.Constant("string", b'say "hi"'),), "test chunk")
    chunk.decode_all()
    # columns: offset, bytes (14 wide), instruction (36 wide), source line
    assert disasm.disassemble_chunk(chunk) == [
        '0x0000  00c00000        LOAD_CONST R192, k0 (string "say \\"hi\\"")  ; line 0',
        "0x0004  d8c0c0ffffffff  ADD_I32_IMM R192, R192, -1            ; line 4",
        "0x000b  78c1fff5        JUMP_IF_NOT_R R193, -> 0x0004         ; line 11",
        "0x000f  68c2c002        MAKE_ARRAY_R R194, R192, 2            ; line 15",
        "0x0013  90c300010107    CLOSURE_R R195, R0, 1, [local R7]     ; line 19",
        "0x0019  ea              HALT                                  ; line 25",
    ]


def test_every_fixture_disassembles_with_table_mnemonics():
    for path in sorted(shared_dir().glob("*/*.json")):
        program = loader.load(path)
        listing = disasm.disassemble(program)
        body = [line for line in listing if line.startswith("0x")]
        assert len(body) == sum(len(chunk.insns) for _, chunk in program.chunks())
        for line in body:
            assert line.split()[2] in BY_MNEMONIC
