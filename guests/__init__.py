"""Built-in guest frontends (installed as ``dynarec.guests``)."""
