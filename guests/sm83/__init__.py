"""SM83 guest: the Sharp SM83 CPU core of the Game Boy (DMG).

Modules: ``arch`` (state layout, flags, run modes, interrupt sources, time unit), ``decoder``
(THE decoder table: one row per opcode), ``interpreter`` (the reference interpreter, with
per-M-cycle bus activity), ``deviations`` (where the SingleStepTests suite records something
else than the hardware), ``disasm`` (listings from the table's mnemonics).
"""
