"""One dispatch point: outside the backends (fastdnn/backend/, and fastdnn/cuda.py, which loads
the CUDA one), no module reaches a native module through `.native`, nor imports `fastdnn._cuda`;
kernels are picked by `fastdnn._dispatch.kernels` alone. Read from the source with `ast`."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "fastdnn"
BACKENDS = {PACKAGE / "cuda.py"}


def _outside_backends():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in BACKENDS or (PACKAGE / "backend") in path.parents:
            continue
        yield path


def test_no_module_outside_the_backends_uses_native():
    found = []
    for path in _outside_backends():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "native":
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and any(a.name == "_cuda" for a in node.names):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} imports _cuda")
    assert not found, found


def test_the_scan_sees_a_use():
    tree = ast.parse("k.native.binary(0, a, b)")
    assert any(isinstance(n, ast.Attribute) and n.attr == "native" for n in ast.walk(tree))
