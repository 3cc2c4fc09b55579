"""Each backend's ``CodeGen`` supplies every hook of the shared skeleton
(``hosts/common/codegen.py``): a hook left out would only fail when a region first needs it."""

import ast
import inspect

import pytest

from dynarec.hosts.aarch64 import codegen as aarch64_codegen
from dynarec.hosts.common import codegen as common
from dynarec.hosts.x86_64 import codegen as x86_64_codegen


def hooks() -> set:
    """The methods of the shared ``CodeGen`` whose body only raises NotImplementedError."""
    tree = ast.parse(inspect.getsource(common.CodeGen))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            body = [s for s in node.body if not (isinstance(s, ast.Expr)
                                                 and isinstance(s.value, ast.Constant))]
            if len(body) == 1 and isinstance(body[0], ast.Raise) and \
                    "NotImplementedError" in ast.unparse(body[0]):
                found.add(node.name)
    return found


def test_the_skeleton_declares_hooks():
    assert len(hooks()) >= 20


@pytest.mark.parametrize("module", [x86_64_codegen, aarch64_codegen], ids=["x86_64", "aarch64"])
def test_every_hook_is_implemented(module):
    missing = sorted(name for name in hooks()
                     if getattr(module.CodeGen, name) is getattr(common.CodeGen, name))
    assert missing == []
