"""The Game Boy example is not an installed package: put ``examples/`` on ``sys.path`` so
the tests import it as ``gameboy``."""

import pathlib
import sys

EXAMPLES = pathlib.Path(__file__).resolve().parents[3] / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))
