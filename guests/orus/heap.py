"""The JIT's runtime values: boxing, and arrays in native memory generated code indexes.

Boxed values (what an ``any`` register holds in generated code, ``jit``) are ``(tag,
payload)`` pairs of a 32-bit tag (``TAG_*``) and a 64-bit payload:

==========  =========================================================================
tag         payload
==========  =========================================================================
BOOL        0 or 1
I32, U32    the 32-bit pattern, zero-extended
I64, U64    the 64-bit pattern
F64         the IEEE bits
ARR         the heap address of the array's header (below)
OBJ         a handle: index into ``Runtime.objects`` (strings, iterators)
VOID        function results only: ``RETURN_VOID``
==========  =========================================================================

Arrays live in ``Heap``: guest memory (a ``dynarec.memory.AddressSpace``) that generated
code reads and writes through the page table. An array is a 24-byte header -- ``length``,
``capacity`` (u64 each) and ``data`` (the heap address of ``capacity`` 16-byte elements,
each a boxed pair: tag in the first 8 bytes, payload in the next 8) -- so ``ARRAY_GET_R``/
``ARRAY_SET_R``/``ARRAY_LEN_R``/``ARRAY_PUSH_R`` are a few loads and stores; a push into a
full array calls ``Heap.grow`` (capacity doubles). Nothing is ever freed (a known gap).

The heap is one contiguous bump-allocated range of host memory: an anonymous mapping
reserved at once for the whole 4 GiB guest range (``MAP_NORESERVE``: no memory is committed
until touched, and the kernel zeroes pages on first touch, so nothing is cleared up front;
``MADV_HUGEPAGE`` asks for transparent huge pages, so a large array costs few page faults and
TLB misses), mapped into the address space piece by piece as allocation reaches it. The
array allocated last -- the one a loop of pushes grows -- grows in place, without a copy.

Ops the JIT leaves to the interpreter's handlers see arrays as ``values.Array`` lists:
``Runtime.unbox`` gives a *snapshot* (one per array per helper call, so identity holds
within it), which ``Runtime.finish`` writes back for the ops that mutate arrays; an
``ArrayIterator`` over a snapshot is given a live ``HeapView`` of the array instead, so
iteration sees later stores, as in the VM. In mixed mode (the interpreter runs cold code)
each interpreter ``Array`` keeps one heap array for the run: ``Runtime.export`` copies its
contents there when generated code is entered, ``Runtime.import_`` copies them back when it
returns.
"""

from __future__ import annotations

import ctypes
import mmap
import struct

from dynarec.memory import AddressSpace, Mapping

from .values import I64 as I64Value, U32, U64, Array, ArrayIterator

TAG_VOID, TAG_BOOL, TAG_I32, TAG_I64, TAG_U32, TAG_U64, TAG_F64, TAG_OBJ, TAG_ARR = range(9)

LENGTH, CAPACITY, DATA = 0, 8, 16       #: header field offsets
HEADER_BYTES = 24
ELEMENT_SHIFT = 4
ELEMENT_BYTES = 1 << ELEMENT_SHIFT       #: 16: a (tag, payload) pair

ADDR_BITS = 32
PAGE_BITS = 16
HEAP_ADDRESS_MASK = (1 << ADDR_BITS) - 8     #: every header and element address fits it
HEAP_BASE = 1 << PAGE_BITS              # address 0 stays unmapped
HEAP_BYTES = (1 << ADDR_BITS) - HEAP_BASE
FIRST_CHUNK = 1 << 20                   #: the first piece mapped; each next one doubles it
MUTATES_ARRAYS = frozenset({"ARRAY_SET_R", "ARRAY_PUSH_R", "ARRAY_POP_R"})

_MASK64 = (1 << 64) - 1
MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000)
"""mmap(2)'s flag (Python has the name from 3.12; 0x4000 on Linux, bits/mman-linux.h)."""


class Heap:
    """Bump-allocated guest memory for arrays (module doc). ``memory`` is the address space
    generated code uses; the reserved host memory is mapped into it in pieces as needed
    (page-aligned, so every access takes the fast path). Raises ``MemoryError`` when the
    4 GiB address space is full, ``OSError`` if the host cannot reserve it."""

    def __init__(self):
        self.memory = AddressSpace(ADDR_BITS, PAGE_BITS)
        self._reserved = mmap.mmap(-1, HEAP_BYTES, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
                                   | MAP_NORESERVE)
        if hasattr(mmap, "MADV_HUGEPAGE"):
            self._reserved.madvise(mmap.MADV_HUGEPAGE)
        self._buffer = (ctypes.c_char * HEAP_BYTES).from_buffer(self._reserved)
        self._host_base = ctypes.addressof(self._buffer)
        self._next = self._end = HEAP_BASE
        self._pieces = 0

    def alloc(self, nbytes: int) -> int:
        """Heap address of ``nbytes`` fresh zeroed bytes (8-aligned), right after the last
        allocation."""
        nbytes = (nbytes + 7) & -8
        if self._next + nbytes > self._end:
            size = max(FIRST_CHUNK, self._end - HEAP_BASE, self._next + nbytes - self._end)
            size = (size + (1 << PAGE_BITS) - 1) >> PAGE_BITS << PAGE_BITS
            if self._end + size > 1 << ADDR_BITS:
                raise MemoryError("the Orus array heap is full (4 GiB)")
            self.memory.add(Mapping(f"heap{self._pieces}", self._end, size, self._buffer,
                                    offset=self._end - HEAP_BASE))
            self._pieces += 1
            self._end += size
        address = self._next
        self._next += nbytes
        return address

    def host(self, address: int) -> int:
        """Host address of heap ``address`` (``ValueError`` outside the heap)."""
        if not HEAP_BASE <= address < self._next:
            raise ValueError(f"heap address {address:#x} is not allocated")
        return self._host_base + address - HEAP_BASE

    def word(self, address: int) -> int:
        return ctypes.c_uint64.from_address(self.host(address)).value

    def set_word(self, address: int, value: int) -> None:
        ctypes.c_uint64.from_address(self.host(address)).value = value & _MASK64

    def new_array(self, capacity: int) -> int:
        """Header address of an empty array with room for ``capacity`` elements."""
        header = self.alloc(HEADER_BYTES)
        self.set_word(header + CAPACITY, capacity)
        self.set_word(header + DATA, self.alloc(max(capacity, 1) * ELEMENT_BYTES))
        return header

    def length(self, header: int) -> int:
        return self.word(header + LENGTH)

    def element(self, header: int, index: int) -> tuple:
        """``(tag, payload)`` of element ``index`` (not bounds-checked)."""
        host = self.host(self.word(header + DATA) + index * ELEMENT_BYTES)
        return struct.unpack("<QQ", ctypes.string_at(host, ELEMENT_BYTES))

    def elements(self, header: int) -> list:
        """Every element's ``(tag, payload)``."""
        n = self.length(header)
        data = ctypes.string_at(self.host(self.word(header + DATA)), n * ELEMENT_BYTES)
        return [struct.unpack_from("<QQ", data, i * ELEMENT_BYTES) for i in range(n)]

    def store(self, header: int, pairs: list) -> None:
        """Make the array hold exactly ``pairs`` (growing it as needed)."""
        while self.word(header + CAPACITY) < len(pairs):
            self.grow(header)
        data = b"".join(struct.pack("<QQ", tag, payload & _MASK64) for tag, payload in pairs)
        ctypes.memmove(self.host(self.word(header + DATA)), data, len(data))
        self.set_word(header + LENGTH, len(pairs))

    def grow(self, header: int) -> None:
        """Double the array's capacity (at least 8): in place when its elements are the
        last allocation, else by moving them to a new one."""
        old = self.word(header + CAPACITY)
        capacity = max(8, 2 * old)
        data = self.word(header + DATA)
        allocated = max(old, 1) * ELEMENT_BYTES         # new_array allocates one at least
        if data + allocated == self._next:
            self.alloc(capacity * ELEMENT_BYTES - allocated)
        else:
            moved = self.alloc(capacity * ELEMENT_BYTES)
            used = self.length(header) * ELEMENT_BYTES
            if used:
                ctypes.memmove(self.host(moved), self.host(data), used)
            self.set_word(header + DATA, moved)
        self.set_word(header + CAPACITY, capacity)


class HeapView:
    """A live, read-only list view of a heap array (``len``, ``[i]``, iteration): what an
    ``ArrayIterator`` created from generated code iterates over."""

    def __init__(self, runtime: "Runtime", header: int):
        self.runtime, self.header = runtime, header

    def __len__(self) -> int:
        return self.runtime.heap.length(self.header)

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self.runtime.unbox(*self.runtime.heap.element(self.header, index))


class Runtime:
    """Boxing of runtime values (``values``) into pairs and back (module doc).
    ``objects``: the OBJ handles' objects, kept for the whole run."""

    def __init__(self):
        self.heap = Heap()
        self.objects: list = []
        self._handles: dict = {}
        self._snapshots: dict = {}          # header -> Array, during one helper call
        self._headers: dict = {}            # id(snapshot) -> header
        self._exported: dict = {}           # header -> the interpreter's Array (mixed mode)
        self._persistent: dict = {}         # id(that Array) -> header

    def handle(self, obj) -> int:
        """The OBJ handle of ``obj`` (a new one the first time)."""
        key = id(obj)
        handle = self._handles.get(key)
        if handle is None:
            handle = self._handles[key] = len(self.objects)
            self.objects.append(obj)
        return handle

    def box(self, value) -> tuple:
        """``(tag, payload)`` of a runtime value; a new ``Array`` is copied to the heap."""
        kind = type(value)
        if kind is bool:
            return TAG_BOOL, int(value)
        if kind is int:
            return TAG_I32, value & 0xFFFF_FFFF
        if kind is I64Value:
            return TAG_I64, value & _MASK64
        if kind is U32:
            return TAG_U32, int(value)
        if kind is U64:
            return TAG_U64, int(value)
        if kind is float:
            return TAG_F64, struct.unpack("<Q", struct.pack("<d", value))[0]
        if kind is Array:
            header = self._headers.get(id(value))
            if header is None:
                header = self.heap.new_array(len(value))
                self._headers[id(value)] = header
                self._snapshots[header] = value
                self.heap.store(header, [self.box(v) for v in value])
            return TAG_ARR, header
        if kind is ArrayIterator and type(value.array) is Array:
            value.array = HeapView(self, self.box(value.array)[1])
        return TAG_OBJ, self.handle(value)

    def unbox(self, tag: int, payload: int):
        """The runtime value of a pair; an array comes back as this call's snapshot."""
        if tag == TAG_BOOL:
            return payload != 0
        if tag == TAG_I32:
            payload &= 0xFFFF_FFFF
            return payload - (1 << 32) if payload >> 31 else payload
        if tag == TAG_I64:
            return I64Value(payload - (1 << 64) if payload >> 63 else payload)
        if tag == TAG_U32:
            return U32(payload & 0xFFFF_FFFF)
        if tag == TAG_U64:
            return U64(payload)
        if tag == TAG_F64:
            return struct.unpack("<d", struct.pack("<Q", payload))[0]
        if tag == TAG_OBJ:
            return self.objects[payload]
        if tag == TAG_ARR:
            snapshot = self._snapshots.get(payload)
            if snapshot is None:
                snapshot = self._snapshots[payload] = Array()
                self._headers[id(snapshot)] = payload
                snapshot.extend(self.unbox(*pair) for pair in self.heap.elements(payload))
            return snapshot
        raise ValueError(f"no Orus value has tag {tag}")

    # --- crossing between the interpreter and generated code (mixed mode) ----------------

    def export(self, value, done: set) -> tuple:
        """``box`` for a value the interpreter hands to generated code: an ``Array`` keeps
        one heap array for the whole run, and its contents (and its elements', once per
        crossing: ``done`` collects the headers written) are copied there; an
        ``ArrayIterator`` is given a live view of its array's heap copy."""
        kind = type(value)
        if kind is Array:
            header = self._persistent.get(id(value))
            if header is None:
                header = self.heap.new_array(len(value))
                self._persistent[id(value)] = header
                self._exported[header] = value
            if header not in done:
                done.add(header)
                self.heap.store(header, [self.export(v, done) for v in value])
            return TAG_ARR, header
        if kind is ArrayIterator and type(value.array) is Array:
            value.array = HeapView(self, self.export(value.array, done)[1])
        return self.box(value)

    def import_(self, tag: int, payload: int, done: set):
        """``unbox`` for a value generated code hands back to the interpreter: a heap
        array comes back as its one ``Array`` for the run, refreshed from the heap (once
        per crossing: ``done`` collects the headers read)."""
        if tag != TAG_ARR:
            return self.unbox(tag, payload)
        array = self._exported.get(payload)
        if array is None:
            array = self._exported[payload] = Array()
            self._persistent[id(array)] = payload
        if payload not in done:
            done.add(payload)
            array[:] = [self.import_(t, p, done) for t, p in self.heap.elements(payload)]
        return array

    def finish(self, write_back: bool) -> None:
        """End one helper call: with ``write_back`` copy every snapshot's contents to its
        heap array; forget the snapshots."""
        if write_back:
            for header, snapshot in list(self._snapshots.items()):
                self.heap.store(header, [self.box(v) for v in snapshot])
        self._snapshots.clear()
        self._headers.clear()
