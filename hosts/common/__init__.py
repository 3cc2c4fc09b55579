"""Host-independent parts of the backends: ``fold`` (which values their users absorb) and
``regalloc`` (linear-scan allocation over SSA live ranges, parametrised by a host's
``RegisterFile``)."""
