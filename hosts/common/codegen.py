"""The lowering skeleton every host shares: one ``CodeGen`` compiles one region, and a host's
subclass supplies its instructions through small hooks.

What lives here, once: the frame layout (selection and register allocation from ``fold`` and
``regalloc``, outgoing arguments, spill slots), operand lookup (``loc``, ``imm``, ``fused``,
``is_view``), the parallel move of block arguments, call arguments and results, block
layout and fall-through (``jump``, ``branch``, ``branch2``), the exit protocol of the
``exit`` op (``leave``, ``direct_exit``: ``dynarec.host`` has the protocol), calls of function
regions, ``ret`` and the block walk of ``generate``.

What a host supplies: class attributes -- ``ISA`` (for messages), ``ASM`` (its
``emit.Asm``), ``REGISTER_FILE``, ``INT_RESULT_REGS``/``FLOAT_RESULT_REGS``, ``INVERSE_CC``
(condition -> negation), ``ROUNDING`` (the IR's rounding names -> the host's rounding-mode
field), ``PARK``/``FPARK`` (the scratch registers that break parallel-move cycles), ``TEMP``
(a scratch general register), ``LINK_REGS`` (site, route and pc registers of a LINK exit) and
``EXIT_PC`` (the register of a computed exit's pc); the methods of the "hooks" section below
(moves, jumps and calls, exits, the function frame) and ``_classify``/``_frame_size`` (the
calling convention, frame alignment); and the op rules (``lower.RULES``) with what they need
(operand forms, helper calls, the memory fast/slow paths).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from dynarec import context as C
from dynarec.errors import CompileError
from dynarec.ir.opcodes import EXIT_KINDS, OPS
from dynarec.ir.types import Type

from .regalloc import allocate, successors
from .regs import M64

TERMINATORS = frozenset(name for name, row in OPS.items() if row.is_terminator)

#: Ops whose result depends on the host's rounding mode or that read its float flags.
FP_MODE_OPS = frozenset({"fadd", "fsub", "fmul", "fdiv", "fsqrt", "fcvt_from_sint",
                         "fcvt_from_uint", "fpromote", "fdemote", "fcvt_to_sint",
                         "fcvt_to_uint"})


@dataclass(frozen=True)
class Rule:
    """How one op lowers: ``emit(cg, inst)`` writes its code; the rest says which operand
    forms ``emit`` accepts, so ``fold.select`` can fold operands into it.

    ``imm``: operand positions that may be an ``Imm`` (``"all"``: every operand).
    ``wide``: any 64-bit constant is fine there (``emit`` materialises what the ISA cannot
    encode); otherwise only constants the host's ``RegisterFile.fits`` accepts are folded.
    ``low``: positions whose operand is read only in its type's low bits (a view may stand
    there). ``cc``: operand 0 may be a fused ``icmp``.
    """

    emit: Callable
    imm: tuple | str = ()
    wide: bool = False
    low: tuple = ()
    cc: bool = False


@dataclass
class ExitTails:
    """Host addresses of the exit code a code cache's regions share (a host's dispatcher or
    stubs module says how each is reached): ``exit_tails[(reason, info)]`` leave with that
    reason and info; ``info_tails[reason]`` take the info in a register; ``link_tails[info]``
    leave with LINK, ``miss_tails[info]`` with MISS; ``lookups`` look a pc up in the jump
    cache; ``error`` leaves with ERROR."""

    exit_tails: dict = field(default_factory=dict)
    info_tails: dict = field(default_factory=dict)
    link_tails: dict = field(default_factory=dict)
    miss_tails: dict = field(default_factory=dict)
    lookups: dict = field(default_factory=dict)
    error: int = 0


class SlotTable:
    """The guest-state slots of one ``StateLayout`` (``state``) in the form a host's rules
    use (``_form``), each reference resolved once; a host keeps one across compiles."""

    def __init__(self, state):
        self.state = state
        self._slots: dict = {}

    def _form(self, slot_type: Type, offset: int):
        """What ``slot`` returns for a slot of ``slot_type`` at context ``offset`` (host
        hook; the plain offset by default)."""
        return offset

    def slot(self, ref: str, t: Type):
        """Slot reference ``ref`` accessed as type ``t``, in the host's form; ``CompileError``
        if there is no such slot or it has another type."""
        hit = self._slots.get(ref)
        if hit is None:
            try:
                slot_type = self.state.type(ref)
                offset = C.GUEST_STATE_OFFSET + self.state.offset(ref)
            except KeyError as e:
                raise CompileError(str(e.args[0])) from None
            hit = self._slots[ref] = (slot_type, self._form(slot_type, offset))
        if hit[0] is not t:
            raise CompileError(f"state slot {ref} is {hit[0]}, the op uses {t}")
        return hit[1]


class CodeGen:
    """Compiles one region (module docstring): ``CodeGen(region, env, prefix, rules, slots,
    spill_all).generate()`` returns the host's ``Asm``. ``prefix``: label prefix unique
    within the text; ``rules``: op name -> ``Rule``; ``slots``: the ``SlotTable`` of
    ``env.state``; ``spill_all``: give no value a register. Raises ``CompileError`` for an
    unknown rounding mode. A subclass sets its own attributes before calling this."""

    ISA = "abstract"
    ASM: type
    REGISTER_FILE = None
    INT_RESULT_REGS: tuple = ()
    FLOAT_RESULT_REGS: tuple = ()
    INVERSE_CC: dict = {}
    ROUNDING: dict = {}
    PARK = FPARK = TEMP = EXIT_PC = ""
    LINK_REGS: tuple = ()

    def __init__(self, region, env, prefix: str, rules: dict, slots: SlotTable,
                 spill_all: bool = False):
        self.region = region
        self.env = env
        self.rules = rules
        self.slots = slots
        self.asm = self.ASM(prefix)
        self.is_function = region.kind == "function"
        self.cur_pc = region.pc
        self.cur_delay = 0
        self.nan = {Type.F32: region.attrs["nan32"] & 0xFFFFFFFF,
                    Type.F64: region.attrs["nan64"] & M64}
        if region.attrs["rounding"] not in self.ROUNDING:
            raise CompileError(f"region {region.name}: unknown rounding "
                               f"{region.attrs['rounding']!r} (one of "
                               f"{', '.join(self.ROUNDING)})")
        self.rounding = self.ROUNDING[region.attrs["rounding"]]
        self._layout_frame(spill_all)

    # --- hooks: the host's instructions (a subclass implements every one) --------------------

    def mov_imm(self, reg: str, value: int) -> None:
        """General register ``reg`` = ``value`` (any 64-bit pattern)."""
        raise NotImplementedError

    def load(self, v, reg: str) -> str:
        """Copy ``v`` (an integer, normalised, or a float's raw bits) into general register
        ``reg``; returns ``reg``."""
        raise NotImplementedError

    def zext(self, reg: str, t: Type) -> None:
        """Clear the bits of general register ``reg`` above integer type ``t``'s width."""
        raise NotImplementedError

    def move(self, dst, src) -> None:
        """Copy 8 raw bytes between two locations, or a constant into one."""
        raise NotImplementedError

    def store_ctx(self, offset: int, value: int, tmp: str) -> None:
        """The context word at ``offset`` = constant ``value`` (may clobber ``tmp``)."""
        raise NotImplementedError

    def set_fp_mode(self) -> None:
        """Load the region's float mode if it has rounding-sensitive ops (``uses_fp``)."""
        raise NotImplementedError

    def _jmp(self, label: str) -> None:
        """Unconditional jump to ``label``."""
        raise NotImplementedError

    def _jcc(self, cc: str, label: str) -> None:
        """Jump to ``label`` if host condition ``cc`` holds."""
        raise NotImplementedError

    def _jmp_shared(self, address: int) -> None:
        """Jump to the shared code (exit tails) at host ``address``."""
        raise NotImplementedError

    def _jump_site(self, site: str, target: str) -> None:
        """Place label ``site`` at a jump to label ``target`` that ``Host.patch_jump`` can
        rewrite in place."""
        raise NotImplementedError

    def _address_of(self, reg: str, label: str) -> None:
        """General register ``reg`` = the host address of ``label``."""
        raise NotImplementedError

    def _call_label(self, label: str) -> None:
        """Call the code at ``label`` (a recursive ``call_fn``)."""
        raise NotImplementedError

    def call_abs(self, address: int) -> None:
        """Call the code at host ``address``."""
        raise NotImplementedError

    def _link_tail(self, info: int) -> int:
        """Host address of the LINK exit tail of exit kind index ``info``."""
        raise NotImplementedError

    def _lookup_tail(self, info: int) -> int:
        """Host address of the shared jump-cache lookup of exit kind index ``info`` (the
        route of an exit site)."""
        raise NotImplementedError

    def _jump_cache_exit(self, info: int) -> None:
        """Look the pc in ``EXIT_PC`` up in the jump cache and jump to its region, or leave
        with MISS."""
        raise NotImplementedError

    def exit(self, reason: int, pc=None, pc_value=None, info: int = 0,
             delay: bool = False) -> None:
        """Leave to the dispatcher with ``reason`` and ``info``, next pc the constant ``pc``
        or the value ``pc_value`` (``delay``: store the current delay-slot flag too)."""
        raise NotImplementedError

    def rsb_push(self, ret_pc: int) -> None:
        """Push (``ret_pc``, a return site of this region for it) on the return-stack
        buffer (``dynarec.context``)."""
        raise NotImplementedError

    def rsb_pop(self) -> None:
        """Pop the return-stack buffer and jump to its host address if its pc is the one in
        ``EXIT_PC``; otherwise fall through."""
        raise NotImplementedError

    def _enter_function(self) -> int:
        """A function region's entry: save what the region must preserve, make the frame;
        returns the bytes between the frame's top and the caller's stack arguments."""
        raise NotImplementedError

    def _enter_block(self) -> None:
        """A block region's entry: make its frame (``regs.py`` of the host: Frames)."""
        raise NotImplementedError

    def _leave_function(self) -> None:
        """A function region's return: undo ``_enter_function`` and return."""
        raise NotImplementedError

    # --- frame -----------------------------------------------------------------------------

    def _layout_frame(self, spill_all: bool) -> None:
        """Frame from the stack pointer up: outgoing stack arguments (``out_bytes``) | call
        temporaries (``_call_temps`` words) | spill slots; ``frame`` is its size as the host
        rounds it (``_frame_size``). Notes whether the region has rounding-sensitive float
        ops (``uses_fp``)."""
        out, temps = 0, 0
        self.uses_fp = False
        for block in self.region.blocks:
            for inst in block.insts:
                op = inst.op
                if op in FP_MODE_OPS:
                    self.uses_fp = True
                elif op == "call" or op == "call_fn":
                    _, stack = self._arg_locs(inst)
                    out = max(out, stack)
                    temps = max(temps, self._call_temps(inst))
        self.out_bytes = out
        spill_base = out + 8 * temps
        self.alloc = allocate(self.region, self.REGISTER_FILE, spill_base, spill_all,
                              self.rules)
        self.sel = self.alloc.selection
        self._loc = self.alloc.loc
        self.frame = self._frame_size(spill_base + self.alloc.spill_bytes)

    def _arg_locs(self, inst) -> tuple:
        """``(locs, stack_bytes)`` of the arguments of a ``call``/``call_fn``."""
        return self._classify([a.type for a in inst.args])

    def _call_temps(self, inst) -> int:
        """8-byte frame words a ``call``/``call_fn`` needs for temporaries (host hook)."""
        return 0

    def _classify(self, types, stack_offset: int = 0) -> tuple:
        """``(locs, stack_bytes)``: the calling convention's locations of arguments of
        ``types``, stack slots from ``stack_offset`` (host hook)."""
        raise NotImplementedError

    def _frame_size(self, size: int) -> int:
        """The frame size for ``size`` bytes of contents, aligned as the host needs (host
        hook; may raise ``CompileError``)."""
        raise NotImplementedError

    # --- operands --------------------------------------------------------------------------

    def loc(self, v):
        """The location of value ``v``: ``Reg``, ``Mem`` or ``Imm`` (a view: its root's)."""
        return self._loc[v]

    def imm(self, v):
        """The bit pattern of ``v`` if it is a folded constant, else ``None``."""
        loc = self._loc.get(v)
        return loc.value if type(loc) is self.REGISTER_FILE.imm else None

    def fused(self, v):
        """The ``icmp`` Inst whose compare the user of ``v`` emits itself, or ``None``."""
        return self.sel.fused.get(v)

    def is_view(self, v) -> bool:
        """True if ``v`` is a view (only its low ``type.bits`` bits are meaningful)."""
        return v in self.sel.alias

    # --- moves -----------------------------------------------------------------------------

    def parallel_move(self, moves: list) -> None:
        """Perform ``[(dst, src), ...]`` as if all at once (every ``dst`` distinct; a ``src``
        may be an ``Imm``). Moves whose destination no pending move still reads go first; a
        cycle is broken by parking one destination's old value in ``PARK`` (``FPARK`` for
        float registers); constants go last, as they read nothing."""
        imm, reg = self.REGISTER_FILE.imm, self.REGISTER_FILE.reg
        pending = [(d, s) for d, s in moves if d != s and type(s) is not imm]
        while pending:
            sources = {s for _, s in pending}
            ready = next((m for m in pending if m[0] not in sources), None)
            if ready is not None:
                self.move(*ready)
                pending.remove(ready)
                continue
            dst = pending[0][0]
            park = reg(self.FPARK if type(dst) is reg and dst.is_float else self.PARK)
            self.move(park, dst)
            pending = [(d, park if s == dst else s) for d, s in pending]
        for d, s in moves:
            if type(s) is imm:
                self.move(d, s)

    # --- control flow ----------------------------------------------------------------------

    def block_label(self, block) -> str:
        """The label of ``block`` in this region."""
        return self.labels[id(block)]

    def edge_moves(self, target) -> list:
        """The ``(dst, src)`` moves that pass BlockCall ``target``'s arguments to its block's
        parameters (those already in place left out)."""
        loc = self._loc
        return [(loc[p], loc[a]) for p, a in zip(target.block.params, target.args)
                if loc[p] != loc[a]]

    def jump(self, target) -> None:
        """Go to ``target`` (a BlockCall): move its arguments into its parameters, then jump
        (or fall through when the block comes next)."""
        self.parallel_move(self.edge_moves(target))
        if target.block is not self.next_block:
            self._jmp(self.block_label(target.block))

    def branch(self, cc: str, target) -> None:
        """Conditional jump to ``target`` on host condition ``cc``; the edge's moves, if any,
        go in far code."""
        moves = self.edge_moves(target)
        if not moves:
            self._jcc(cc, self.block_label(target.block))
            return
        edge = self.asm.label("edge")
        self._jcc(cc, edge)
        with self.asm.far():
            self.asm.place(edge)
            self.parallel_move(moves)
            self._jmp(self.block_label(target.block))

    def branch2(self, cc: str, then, other) -> None:
        """Two-way branch on ``cc`` (true: ``then``): falls through into whichever target
        block comes next when its edge needs no moves."""
        if then.block is self.next_block and not self.edge_moves(then):
            self.branch(self.INVERSE_CC[cc], other)
            self.jump(then)
        else:
            self.branch(cc, then)
            self.jump(other)

    # --- exits -----------------------------------------------------------------------------

    def leave(self, inst) -> None:
        """``exit``: with ``env.link`` (outside function regions, whose exits keep their
        caller's stack), a constant target goes through a patchable site (``direct_exit``),
        a computed one through the return-stack buffer (``kind=return``) and the jump cache;
        ``kind=call`` with a ``ret_pc`` pushes the RSB first. ``kind=halt`` and exits without
        ``env.link`` leave with HALT/NEXT. ``dynarec.host`` has the protocol."""
        kind = inst.attrs["kind"]
        info = EXIT_KINDS.index(kind)
        if len(inst.args) > 1 or (not inst.args and inst.attrs["pc"] == -1):
            raise CompileError("exit needs a pc attribute or exactly one pc operand")
        target = inst.args[0] if inst.args else None
        pc = inst.attrs["pc"] if target is None else self.imm(target)
        if kind in C.STOP_KINDS or not self.env.link or self.is_function:
            self.exit(C.exit_reason(kind), pc=pc, pc_value=target, info=info)
            return
        ret_pc = inst.attrs.get("ret_pc", -1)
        if kind == "call" and ret_pc != -1:
            self.rsb_push(ret_pc & M64)
        if pc is not None:
            self.direct_exit(pc & M64, info)
            return
        self.load(target, self.EXIT_PC)
        if kind == "return":
            self.rsb_pop()
        self._jump_cache_exit(info)

    def direct_exit(self, pc: int, info: int, site: str = None) -> None:
        """An exit site for guest ``pc`` (exit kind index ``info``): a patchable jump
        (``_jump_site``) to far code that leaves with LINK (``LINK_REGS``: the site, its
        route, ``pc``), and the route, which looks ``pc`` up in the jump cache. A ``site``
        label given puts the site itself in far code (an RSB push's return site)."""
        a = self.asm
        site_reg, route_reg, pc_reg = self.LINK_REGS
        slow, route = a.label("link"), a.label("route")
        in_far = site is not None
        if not in_far:
            site = a.label("site")
            self._jump_site(site, slow)
        with a.far():
            if in_far:
                self._jump_site(site, slow)
            a.place(slow)
            self._address_of(site_reg, site)
            self._address_of(route_reg, route)
            self.mov_imm(pc_reg, pc)
            self._jmp_shared(self._link_tail(info))
            a.place(route)
            self.mov_imm(pc_reg, pc)
            self._jmp_shared(self._lookup_tail(info))

    def store_position(self, tmp: str = None) -> None:
        """next_pc / exit_delay = the current guest instruction (before calling out);
        clobbers ``tmp`` (default ``TEMP``)."""
        tmp = tmp or self.TEMP
        self.store_ctx(C.NEXT_PC, self.cur_pc, tmp)
        self.store_ctx(C.EXIT_DELAY, self.cur_delay, tmp)

    # --- calls -----------------------------------------------------------------------------

    def _helper(self, inst):
        """The ``CompileEnv`` helper a ``call`` names; ``CompileError`` if there is none."""
        try:
            return self.env.helpers[inst.attrs["helper"]]
        except KeyError:
            raise CompileError(f"region {self.region.name}: call: no helper "
                               f"{inst.attrs['helper']!r} in the CompileEnv") from None

    def _pass_args(self, inst, locs: list) -> None:
        """Move the arguments of ``inst`` into ``locs`` (as one parallel move)."""
        self.parallel_move([(dst, self._loc[a]) for dst, a in zip(locs, inst.args)])

    def _take_results(self, inst) -> None:
        """Move call results from the return registers into their locations (ints
        zero-extended to their type); ``CompileError`` past the result registers."""
        moves, ints, floats = [], list(self.INT_RESULT_REGS), list(self.FLOAT_RESULT_REGS)
        for r in inst.results:
            pool = floats if r.type.is_float else ints
            if not pool:
                limit = len(self.FLOAT_RESULT_REGS if r.type.is_float
                            else self.INT_RESULT_REGS)
                raise CompileError(f"{inst.op}: more than {limit} "
                                   f"{'float' if r.type.is_float else 'integer'} results")
            reg = pool.pop(0)
            if not r.type.is_float:
                self.zext(reg, r.type)
            moves.append((self._loc[r], self.REGISTER_FILE.reg(reg)))
        self.parallel_move(moves)

    def call_function(self, inst) -> None:
        """``call_fn``: native call of a function region (the internal convention of the
        host's ``regs.py``)."""
        name = inst.attrs["fn"]
        locs, _ = self._arg_locs(inst)
        self._pass_args(inst, locs)
        if self.is_function and name == self.region.name:
            self._call_label(self.entry_label)
        elif name in self.env.functions:
            self.call_abs(int(self.env.functions[name]))
        else:
            raise CompileError(f"call_fn: function region {name!r} is not compiled yet "
                               f"(CompileEnv.functions has no entry for it)")
        self._take_results(inst)
        self.set_fp_mode()

    # --- guest memory ----------------------------------------------------------------------

    def _memory(self, op: str):
        """The ``MemoryABI`` of the env; ``CompileError`` naming ``op`` if there is none."""
        if self.env.memory is None:
            raise CompileError(f"{op}: the CompileEnv has no memory (MemoryABI)")
        return self.env.memory

    # --- the region ------------------------------------------------------------------------

    def prologue(self) -> None:
        """A function region: its entry label, the host's frame (``_enter_function``) and
        the parameters moved from the convention's locations; a block region: its frame
        (``_enter_block``). Both then load the region's float mode."""
        if self.is_function:
            self.asm.place(self.entry_label)
            above = self._enter_function()
            self.set_fp_mode()
            arg_locs, _ = self._classify(self.region.params, stack_offset=self.frame + above)
            self.parallel_move([(self._loc[p], src)
                                for p, src in zip(self.region.entry.params, arg_locs)])
        else:
            self._enter_block()
            self.set_fp_mode()

    def ret(self, inst) -> None:
        """``ret``: results into the result registers, undo the frame, return."""
        if not self.is_function:
            raise CompileError(f"ret in block region {self.region.name}")
        ints, floats = list(self.INT_RESULT_REGS), list(self.FLOAT_RESULT_REGS)
        moves = []
        for v in inst.args:
            pool = floats if v.type.is_float else ints
            if not pool:
                raise CompileError(f"ret: too many {'float' if v.type.is_float else 'integer'} "
                                   f"results for the internal convention (at most 2 of each)")
            moves.append((self.REGISTER_FILE.reg(pool.pop(0)), self._loc[v]))
        self.parallel_move(moves)
        self._leave_function()

    def generate(self):
        """Lower every reachable block with the rules; instructions the selection folded
        into their users emit nothing. A block starts at the guest instruction (pc, delay
        flag) its predecessors end in (the first one laid out before it; the region's pc for
        the entry). Returns the ``Asm``; ``CompileError`` names the region, block and
        instruction of anything that cannot be lowered."""
        order = self.alloc.order
        rules, folded = self.rules, self.sel.folded
        self.entry_label = self.asm.label("entry")
        self.labels = {id(b): self.asm.label("b") for b in order}   # IR names may be odd
        preds: dict = {}
        for b in order:
            for s in successors(b):
                preds.setdefault(id(s), []).append(id(b))
        ends = {}                                   # id(block) -> (pc, delay) at its end
        self.prologue()
        for i, block in enumerate(order):
            self.next_block = order[i + 1] if i + 1 < len(order) else None
            self.cur_pc, self.cur_delay = next(
                (ends[p] for p in preds.get(id(block), ()) if p in ends), (self.region.pc, 0))
            self.asm.place(self.block_label(block))
            if not block.insts or block.insts[-1].op not in TERMINATORS:
                raise CompileError(f"region {self.region.name}: block {block.name} does not "
                                   f"end in a terminator")
            for inst in block.insts:
                if id(inst) in folded:
                    continue
                rule = rules.get(inst.op)
                if rule is None:
                    raise CompileError(f"region {self.region.name}: no {self.ISA} lowering "
                                       f"for op {inst.op!r}")
                try:
                    rule.emit(self, inst)
                except CompileError as e:
                    raise CompileError(f"region {self.region.name}, block {block.name}, "
                                       f"{inst!r}: {e}") from e
            ends[id(block)] = (self.cur_pc, self.cur_delay)
        return self.asm
