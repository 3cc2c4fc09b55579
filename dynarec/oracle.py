"""The Oracle protocol, and the generic adapter that makes Unicorn an oracle.

An *oracle* executes guest code independently of the JIT so that the two can be compared
(DESIGN.md section 7): load the same memory and state, run a given number of guest
instructions, read back the state and the stores made. Every guest has one -- Unicorn where
Unicorn knows the ISA (a guest subclasses ``UnicornOracle`` with its register map and
exception numbering), otherwise the guest's reference interpreter.

Shapes: state is a mapping from state-slot references (``"pc"``, ``"gpr[3]"``; see
``dynarec.ir.nodes.StateLayout``) to raw integer bit patterns, as ``Machine.regs`` gives them.
An oracle knows a subset of the guest's slots (``Oracle.refs``); comparisons use that
subset. Stores are ``Store(address, size, value)`` records in execution order; addresses are
those of the ``AddressSpace`` the memory came from.

Device (MMIO) reads happen once, on the JIT side; an oracle answers its own from a replay
queue (``DeviceReplay``, the oracle's ``devices``), so that time and side effects cannot make
the two runs differ. Device writes have no effect in an oracle (its store log records them).
``InterpreterOracle`` makes any guest's reference interpreter (``Guest.step``) an oracle.
"""

from __future__ import annotations

import collections
import ctypes
import struct
from dataclasses import dataclass, field
from typing import Mapping, Optional, Protocol, Sequence, runtime_checkable

from .errors import DynarecError
from .memory import AddressSpace
from .runtime import FAULT


@dataclass(frozen=True)
class Store:
    """One store an oracle made: ``address`` (address-space address), ``size`` in bytes and
    the ``value`` stored (the numeric value of the access, byte order resolved). Iterates as
    ``(address, size, value)``."""

    address: int
    size: int
    value: int

    def __iter__(self):
        return iter((self.address, self.size, self.value))


@dataclass(frozen=True)
class OracleException:
    """A guest exception that stopped a run: ``cause`` in the guest's numbering (``FAULT`` for
    a memory fault; ``None`` when the oracle cannot say), ``pc``/``delay`` of the faulting
    instruction as the guest reports it (``None`` when the oracle cannot say), and
    ``detail``: the oracle's own description."""

    cause: Optional[int]
    pc: Optional[int]
    delay: int = 0
    detail: str = ""


@dataclass
class OracleRun:
    """What ``Oracle.run`` did: ``retired`` guest instructions completed, the ``stores`` made,
    and the ``exception`` that stopped it early (``None`` if it ran the whole count). After
    an exception the oracle's pc is the faulting instruction's: nothing of it has run."""

    retired: int
    stores: list = field(default_factory=list)
    exception: Optional[OracleException] = None


class OracleError(DynarecError):
    """The oracle could not do what was asked (e.g. a register it does not model)."""


class DeviceReplay:
    """The devices of an oracle: loads from MMIO are answered from a queue of the reads the
    JIT made, stores to MMIO only remember their bytes.

    ``DeviceReplay(byteorder)`` (``"big"``/``"little"``: the guest's, to keep written values
    as bytes). ``queue(reads)`` appends ``(address, size, value)`` records (an
    ``AddressSpace.read_log``); ``read(address, size)`` answers the next one, and notes a
    problem when the queue is empty or its head is another access (the run then made a
    device read the JIT did not). ``write(address, size, value)`` keeps the bytes, which
    ``peek`` returns (what an oracle's ``read_memory`` shows of MMIO: reading a device would
    consume a replayed read). ``problems()`` returns and forgets the mismatches so far and the
    reads still queued (reads the JIT made and the oracle did not).
    """

    def __init__(self, byteorder: str = "little"):
        self.byteorder = byteorder
        self._pending: collections.deque = collections.deque()
        self._problems: list = []
        self._written: dict = {}

    def queue(self, reads: Sequence) -> None:
        self._pending.extend(tuple(r) for r in reads)

    def read(self, address: int, size: int) -> int:
        if not self._pending:
            self._problems.append(f"device read of {size} byte(s) at {address:#x} that the "
                                  f"JIT did not make")
            return 0
        want_address, want_size, value = self._pending.popleft()
        if (want_address, want_size) != (address, size):
            self._problems.append(f"device read of {size} byte(s) at {address:#x} where the "
                                  f"JIT read {want_size} byte(s) at {want_address:#x}")
        return value

    def write(self, address: int, size: int, value: int) -> None:
        data = (value & ((1 << (8 * size)) - 1)).to_bytes(size, self.byteorder)
        for i, byte in enumerate(data):
            self._written[address + i] = byte

    def peek(self, address: int, size: int) -> bytes:
        """The bytes last written at ``address`` (0 where nothing was)."""
        return bytes(self._written.get(address + i, 0) for i in range(size))

    def problems(self) -> list:
        found = self._problems + [f"device read of {size} byte(s) at {address:#x} that the "
                                  f"JIT made and the oracle did not"
                                  for address, size, _ in self._pending]
        self._problems = []
        self._pending.clear()
        return found


@runtime_checkable
class Oracle(Protocol):
    """What every oracle provides.

    ``refs``: the state references it models. ``load(memory, regs)``: copy the host memory of
    every RAM/ROM mapping of an ``AddressSpace`` and the given register values (other
    registers become 0). ``run(count)``: execute ``count`` guest instructions from the loaded
    ``pc`` (an oracle may run one more when ``count`` would stop between an instruction and
    one it cannot be separated from, such as a delay slot; ``retired`` says what ran).
    ``read_regs()``/``write_regs(values)``: state by reference (``OracleError`` for a
    reference it does not model). ``read_memory(address, size)``/``write_memory(address,
    data)``: bytes in guest byte order. ``devices``: the ``DeviceReplay`` that answers its
    device reads (``load`` maps every MMIO mapping of the address space to it).
    """

    refs: Sequence[str]
    devices: DeviceReplay

    def load(self, memory: AddressSpace, regs: Mapping[str, int]) -> None: ...

    def run(self, count: int) -> OracleRun: ...

    def read_regs(self) -> dict: ...

    def write_regs(self, values: Mapping[str, int]) -> None: ...

    def read_memory(self, address: int, size: int) -> bytes: ...

    def write_memory(self, address: int, data: bytes) -> None: ...


_UNMAPPED_ERRORS = ("UC_ERR_READ_UNMAPPED", "UC_ERR_WRITE_UNMAPPED", "UC_ERR_FETCH_UNMAPPED")


class UnicornOracle:
    """A Unicorn CPU as an ``Oracle``.

    ``arch``/``mode``/``cpu_model``: Unicorn constants. ``registers``: state reference ->
    Unicorn register id for every register the oracle models (must include ``pc_ref``).
    ``exception_causes``: Unicorn interrupt number (what ``UC_HOOK_INTR`` reports) -> the
    guest's exception cause. ``page_size``: Unicorn's mapping granularity.

    Memory is mapped at the address-space addresses (for guests whose Unicorn model takes
    other addresses in ``mem_map``, the subclass converts); stores are logged with
    ``UC_HOOK_MEM_WRITE`` (``hook_writes``). ``run(count)`` is a loop of ``step()`` calls, each one
    ``emu_start(count=1)`` (Unicorn's longer counts and hook-requested stops are not exact:
    MIPS measurements in ``dynarec.guests.mips.oracle``). The default ``step`` learns what
    ran from a ``UC_HOOK_CODE`` hook (``trace_code``; about 1000 times Unicorn's unhooked
    speed, DESIGN.md section 10); guests whose Unicorn model needs more override it. Unicorn
    does not deliver exceptions to the guest: the interrupt hook stops the run and reports
    the cause, and the pc register is set to the faulting instruction's. MMIO mappings are
    Unicorn MMIO ranges (``mmio_map``, whole pages) served by ``devices``.
    """

    #: an address no instruction starts at, passed to ``emu_start`` as ``until``
    UNREACHABLE = 1
    #: whether the default ``step`` traces instructions with a ``UC_HOOK_CODE`` hook
    trace_code = True
    #: whether stores are logged with a ``UC_HOOK_MEM_WRITE`` hook (a guest that cannot use
    #: one logs them itself through ``log_store``)
    hook_writes = True

    def __init__(self, arch: int, mode: int, registers: Mapping[str, int], *,
                 pc_ref: str = "pc", cpu_model: Optional[int] = None,
                 exception_causes: Optional[Mapping[int, int]] = None,
                 page_size: int = 0x1000):
        import unicorn
        if pc_ref not in registers:
            raise ValueError(f"the register map needs the pc reference {pc_ref!r}")
        self._unicorn = unicorn
        self._arch, self._mode, self._cpu_model = arch, mode, cpu_model
        self.registers = dict(registers)
        self.refs = tuple(self.registers)
        self.pc_ref = pc_ref
        self.exception_causes = dict(exception_causes or {})
        self.page_size = page_size
        self._trace: list = []
        self._stores: list = []
        self._interrupt: Optional[int] = None
        self._reg_ids = list(self.registers.values())
        self.devices = DeviceReplay()
        self._device_ranges: list = []          # (start, end) address-space addresses
        self.uc = self._new_cpu()

    def _new_cpu(self):
        """A fresh Unicorn instance with the hooks: ``load`` starts from scratch every time,
        since an exception can leave hidden CPU state behind (e.g. MIPS delay-slot flags)."""
        unicorn = self._unicorn
        uc = unicorn.Uc(self._arch, self._mode)
        if self._cpu_model is not None:
            uc.ctl_set_cpu_model(self._cpu_model)
        if self.trace_code:
            uc.hook_add(unicorn.UC_HOOK_CODE, self._on_code)
        if self.hook_writes:
            uc.hook_add(unicorn.UC_HOOK_MEM_WRITE, self._on_write)
        uc.hook_add(unicorn.UC_HOOK_INTR, self._on_interrupt)
        self._batch = _RegisterBatch.create(uc, self._reg_ids)
        return uc

    # --- hooks ------------------------------------------------------------------------------

    def _on_code(self, uc, address, size, user_data):
        self._trace.append(address)

    def _on_write(self, uc, access, address, size, value, user_data):
        self.log_store(address, size, value)

    def log_store(self, address: int, size: int, value: int) -> None:
        """Add a store to the current run's log."""
        self._stores.append(Store(address, size, value & ((1 << (8 * size)) - 1)))

    def _on_interrupt(self, uc, intno, user_data):
        self._interrupt = intno
        uc.emu_stop()

    # --- stepping (guests may override ``step``) ----------------------------------------------

    @property
    def pc(self) -> int:
        return self.uc.reg_read(self.registers[self.pc_ref])

    @pc.setter
    def pc(self, value: int) -> None:
        self.uc.reg_write(self.registers[self.pc_ref], value)

    def start(self, pc: int) -> Optional[tuple]:
        """``emu_start`` at ``pc`` for one instruction. ``None`` if it completed, else
        ``(cause, detail)``: the guest's cause (``FAULT`` for unmapped memory, ``None`` when
        unknown) and Unicorn's description."""
        self._interrupt = None
        error = None
        try:
            self.uc.emu_start(pc, self.UNREACHABLE, count=1)
        except self._unicorn.UcError as exc:
            error = exc
        if self._interrupt is None and error is None:
            return None
        detail = str(error) if error is not None else ""
        if self._interrupt is not None:
            cause = self.exception_causes.get(self._interrupt)
            detail = f"interrupt {self._interrupt}" + (f"; {detail}" if detail else "")
        elif any(name in detail for name in _UNMAPPED_ERRORS):
            cause = FAULT
        else:
            cause = None
        return cause, detail

    def exception(self, stop: tuple, pc: int, delay: int = 0) -> OracleException:
        """The exception ``start`` reported, raised by the instruction at ``pc``; the pc
        register is set there (Unicorn leaves it unusable)."""
        self.pc = pc
        return OracleException(stop[0], pc, delay, stop[1])

    def step(self) -> tuple:
        """Run one instruction: ``(retired, OracleException or None)``. Default: the code
        hook's trace says what ran; the faulting instruction is the last one traced."""
        pc = self.pc
        self._trace = []
        stop = self.start(pc)
        if stop is None:
            return len(self._trace), None
        if not self._trace or "UC_ERR_FETCH" in stop[1]:
            return len(self._trace), self.exception(stop, pc)
        return len(self._trace) - 1, self.exception(stop, self._trace[-1])

    def to_unicorn_address(self, address: int) -> int:
        """The address ``mem_map``/``mem_read`` take for an address-space address."""
        return address

    # --- the protocol -------------------------------------------------------------------------

    def load(self, memory: AddressSpace, regs: Mapping[str, int]) -> None:
        """Start a fresh Unicorn CPU holding the host memory of ``memory``'s mappings (MMIO
        mappings are skipped) and the registers ``regs`` (unknown references are ignored;
        missing ones become 0)."""
        self.uc = self._new_cpu()
        pages = set()
        chunks = []
        for m in memory.ram_mappings():
            start = self.to_unicorn_address(m.base)
            data = bytes(m.buffer[m.offset:m.offset + m.size])
            chunks.append((start, data))
            pages.update(range(start // self.page_size,
                               (start + m.size - 1) // self.page_size + 1))
        for first, count in _runs(sorted(pages)):
            self.uc.mem_map(first * self.page_size, count * self.page_size)
        for start, data in chunks:
            self.uc.mem_write(start, data)
        self.devices = DeviceReplay(memory.byteorder)
        self._map_devices(memory, pages)
        self.write_regs({ref: regs.get(ref, 0) for ref in self.refs})

    def _map_devices(self, memory: AddressSpace, ram_pages: set) -> None:
        """Map the pages of every MMIO mapping of ``memory`` as Unicorn MMIO ranges served
        by ``devices``; ``OracleError`` if such a page holds memory too (Unicorn maps whole
        pages)."""
        size = self.page_size
        delta = {}                 # device page -> address-space minus Unicorn address
        self._device_ranges = []
        for m in memory.mappings:
            if m.buffer is not None:
                continue
            start = self.to_unicorn_address(m.base)
            pages = range(start // size, (start + m.size - 1) // size + 1)
            if ram_pages.intersection(pages):
                raise OracleError(f"MMIO mapping {m.name!r} at {m.base:#x} shares a "
                                  f"{size}-byte page with memory: the Unicorn oracle maps "
                                  f"whole pages")
            delta.update((page, m.base - start) for page in pages)
            self._device_ranges.append((m.base, m.end))
        for first, count in _runs(sorted(delta)):
            self.uc.mmio_map(first * size, count * size,
                             *self._device_callbacks(first * size, delta))

    def _device_callbacks(self, start: int, delta: dict) -> tuple:
        """``mmio_map``'s read and write callbacks (with their user data) for the range at
        Unicorn address ``start``: they call ``devices`` with address-space addresses."""
        size = self.page_size

        def address(offset: int) -> int:
            unicorn_address = start + offset
            return unicorn_address + delta[unicorn_address // size]

        def read(uc, offset, n, user_data):
            return self.devices.read(address(offset), n)

        def write(uc, offset, n, value, user_data):
            self.devices.write(address(offset), n, value)

        return read, None, write, None

    def _is_device(self, address: int) -> bool:
        return any(lo <= address < hi for lo, hi in self._device_ranges)

    def run(self, count: int) -> OracleRun:
        """Run ``count`` (>= 1) instructions from the current pc (one more when the last
        step cannot be split); stop early at an exception."""
        if count < 1:
            raise ValueError(f"run needs a positive instruction count, not {count}")
        self._stores = []
        retired, exception = 0, None
        while retired < count and exception is None:
            done, exception = self.step()
            if done == 0 and exception is None:
                raise OracleError(f"Unicorn ran nothing at pc={self.pc:#x}")
            retired += done
        return OracleRun(retired, self._stores, exception)

    def read_regs(self) -> dict:
        if self._batch is not None:
            return dict(zip(self.refs, self._batch.read()))
        return dict(zip(self.refs, self.uc.reg_read_batch(self._reg_ids)))

    def write_regs(self, values: Mapping[str, int]) -> None:
        for ref, value in values.items():
            if ref not in self.registers:
                raise OracleError(f"the Unicorn oracle does not model {ref!r}")
            self.uc.reg_write(self.registers[ref], value)

    def read_memory(self, address: int, size: int) -> bytes:
        """Bytes at ``address``; MMIO shows what was last written there (``devices.peek``)."""
        for lo, hi in self._device_ranges:
            if lo < address + size and address < hi:
                return b"".join(self.devices.peek(a, 1) if self._is_device(a)
                                else self.read_memory(a, 1)
                                for a in range(address, address + size))
        return bytes(self.uc.mem_read(self.to_unicorn_address(address), size))

    def write_memory(self, address: int, data: bytes) -> None:
        self.uc.mem_write(self.to_unicorn_address(address), bytes(data))
        self.uc.ctl_flush_tb()         # Unicorn would run stale translations of changed code


class InterpreterOracle:
    """A guest's reference interpreter as an ``Oracle``: ``InterpreterOracle(guest)``.

    ``guest.step(target)`` runs one step (an instruction, or one the guest cannot split, such
    as a branch with its delay slot) on ``target``, an object with ``regs`` (mutable mapping
    of every state reference to its raw bits), ``memory`` (``AddressSpace``) and ``guest``
    -- this oracle is one -- and returns a result with ``retired``, ``stores`` (``(address,
    size, value)`` records) and ``exception`` (``None``, or an object with ``cause``, ``pc``
    and ``delay``; the state is then at the faulting instruction). ``refs`` is every
    reference of the guest's state layout. ``load`` copies the host memory of every mapping
    (8 MiB of RAM: a few milliseconds); MMIO mappings go to ``devices``. Raises
    ``OracleError`` for a guest without ``step``.
    """

    def __init__(self, guest):
        if not callable(getattr(guest, "step", None)):
            raise OracleError(f"the {guest.name} guest has no reference interpreter "
                              f"(Guest.step)")
        self.guest = guest
        self.refs = tuple(guest.state.refs())
        self.regs = {ref: 0 for ref in self.refs}
        self.memory = AddressSpace(guest.addr_bits, guest.page_bits, guest.big_endian)
        self.devices = DeviceReplay(self.memory.byteorder)

    def load(self, memory: AddressSpace, regs: Mapping[str, int]) -> None:
        self.memory = AddressSpace(memory.addr_bits, memory.page_bits, memory.big_endian)
        self.devices = DeviceReplay(memory.byteorder)
        for m in memory.mappings:
            if m.buffer is None:
                self.memory.map_mmio(m.base, m.size, self.devices.read, self.devices.write,
                                     m.name)
                continue
            data = bytes(m.buffer[m.offset:m.offset + m.size])
            if m.writable and m.write is None:
                self.memory.map_ram(m.base, m.size, m.name, data)
            else:
                self.memory.map_rom(m.base, data, m.name,
                                    self.devices.write if m.write is not None else None)
        self.regs = {ref: regs.get(ref, 0) for ref in self.refs}

    def run(self, count: int) -> OracleRun:
        """Run whole steps until ``count`` (>= 1) instructions retired or an exception."""
        if count < 1:
            raise ValueError(f"run needs a positive instruction count, not {count}")
        out = OracleRun(0)
        while out.retired < count:
            result = self.guest.step(self)
            out.retired += result.retired
            out.stores += [Store(*s) for s in result.stores]
            e = result.exception
            if e is not None:
                out.exception = OracleException(int(e.cause), e.pc, e.delay, repr(e))
                return out
            if result.retired == 0:
                raise OracleError(f"the reference interpreter ran nothing at "
                                  f"pc={self.regs[self.guest.pc_slot]:#x}")
        return out

    def read_regs(self) -> dict:
        return dict(self.regs)

    def write_regs(self, values: Mapping[str, int]) -> None:
        for ref, value in values.items():
            if ref not in self.regs:
                raise OracleError(f"the {self.guest.name} guest has no state {ref!r}")
            self.regs[ref] = value

    def read_memory(self, address: int, size: int) -> bytes:
        """Bytes at ``address``; MMIO shows what was last written there (``devices.peek``)."""
        devices = [m for m in self.memory.mappings
                   if m.buffer is None and m.base < address + size and address < m.end]
        if not devices:
            return self.memory.read_bytes(address, size)
        return b"".join(self.devices.peek(a, 1) if any(m.base <= a < m.end for m in devices)
                        else self.memory.read_bytes(a, 1) for a in range(address, address + size))

    def write_memory(self, address: int, data: bytes) -> None:
        self.memory.write_bytes(address, bytes(data))


class _RegisterBatch:
    """Reads a fixed list of Unicorn registers with one call of the C API's
    ``uc_reg_read_batch`` into buffers allocated once. Unicorn's Python ``reg_read_batch``
    spends about 1 µs of Python per register (31 µs for the 35 of MIPS, measured), which a
    lockstep run would pay at every region; this takes about 2 µs. Every register gets a
    64-byte slot (room for any Unicorn register) and reads as its low 8 bytes (guest-state
    slots are at most 64 bits wide), little-endian as the hosts are. ``create`` returns
    ``None`` when the binding does not expose the C call (``read_regs`` then uses
    ``reg_read_batch``)."""

    SLOT = 64

    def __init__(self, call, reg_ids: list):
        n = len(reg_ids)
        self._call = call
        self._regs = (ctypes.c_int * n)(*reg_ids)
        self._values = (ctypes.c_ubyte * (self.SLOT * n))()
        base = ctypes.addressof(self._values)
        self._slots = (ctypes.c_void_p * n)(*(base + self.SLOT * i for i in range(n)))
        self._count = ctypes.c_int(n)
        self._format = struct.Struct("<" + f"Q{self.SLOT - 8}x" * n)

    @classmethod
    def create(cls, uc, reg_ids: list) -> Optional["_RegisterBatch"]:
        call = getattr(uc, "_do_reg_read_batch", None)     # Unicorn 2.x Python binding
        return cls(call, reg_ids) if callable(call) and reg_ids else None

    def read(self) -> tuple:
        status = self._call(self._regs, self._slots, self._count)
        if status != 0:
            raise OracleError(f"Unicorn's uc_reg_read_batch failed with error {status}")
        return self._format.unpack_from(self._values)


def _runs(numbers: list):
    """Consecutive runs of sorted ints as ``(first, length)``."""
    run_start = prev = None
    for n in numbers:
        if prev is not None and n == prev + 1:
            prev = n
            continue
        if run_start is not None:
            yield run_start, prev - run_start + 1
        run_start = prev = n
    if run_start is not None:
        yield run_start, prev - run_start + 1


__all__ = ["DeviceReplay", "InterpreterOracle", "Oracle", "OracleError", "OracleException",
           "OracleRun", "Store", "UnicornOracle"]
