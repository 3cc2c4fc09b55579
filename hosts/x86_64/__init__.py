"""x86-64 host backend."""
