"""Built-in host backends (installed as ``dynarec.hosts``)."""
