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
"""

from __future__ import annotations

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
    data)``: bytes in guest byte order.
    """

    refs: Sequence[str]

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
    the cause, and the pc register is set to the faulting instruction's.
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
        self.write_regs({ref: regs.get(ref, 0) for ref in self.refs})

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
        return {ref: self.uc.reg_read(reg) for ref, reg in self.registers.items()}

    def write_regs(self, values: Mapping[str, int]) -> None:
        for ref, value in values.items():
            if ref not in self.registers:
                raise OracleError(f"the Unicorn oracle does not model {ref!r}")
            self.uc.reg_write(self.registers[ref], value)

    def read_memory(self, address: int, size: int) -> bytes:
        return bytes(self.uc.mem_read(self.to_unicorn_address(address), size))

    def write_memory(self, address: int, data: bytes) -> None:
        self.uc.mem_write(self.to_unicorn_address(address), bytes(data))
        self.uc.ctl_flush_tb()         # Unicorn would run stale translations of changed code


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


__all__ = ["Oracle", "OracleError", "OracleException", "OracleRun", "Store", "UnicornOracle"]
