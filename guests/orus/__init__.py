"""Orus bytecode guest: programs of the Orus register VM (jordyorel/orus-lang at commit
b99090f, MIT License) as its compiler dumps them (``../shared/orus/README.md``).

::

    from dynarec.guests.orus import interpreter, loader
    program = loader.load("fib25.json")              # Program: main chunk + functions
    interpreter.Interpreter(program).run()           # prints what the real VM prints

Modules: ``decoder`` (THE opcode table, read from ``opcodes.tsv``: numbers, names, operand
formats; ``decode``/``encode``), ``loader`` (the dump format, checked whole at load),
``disasm`` (listings), ``values`` (registers, typed values, strings, arrays, print
formatting), ``interpreter`` (the reference interpreter: the JIT's oracle and the
``--interpreter`` mode), ``errors`` (``OrusLoadError``, ``OrusRuntimeError``), ``cli``
(``dynarec-orus FILE.json --interpreter``). Behaviour, the register model and the table of
deviations from the real VM: ``docs/guests/orus.md``.
"""
