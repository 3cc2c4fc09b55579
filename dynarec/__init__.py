"""dynarec: dynamic recompilation for emulators and language VMs."""
