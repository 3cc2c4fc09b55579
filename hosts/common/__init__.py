"""Host-independent parts of the backends: ``fold`` (which values their users absorb),
``regalloc`` (linear-scan allocation over SSA live ranges, parametrised by a host's
``RegisterFile``), ``regs`` (register and immediate location types, argument assignment),
``emit`` (assembly text), ``codegen`` (the ``CodeGen`` skeleton a host subclasses) and
``backend`` (``KeystoneHost``: assembling and placing a region's code)."""
