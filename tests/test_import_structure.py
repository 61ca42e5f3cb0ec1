"""Dependencies point one way: no import cycle among the model, trainer, saving, callback and
monitoring modules (imports inside functions included), saving never imports the models, and
layers never import saving. The imports are read from the source with `ast`, so a test of it
runs anywhere: `python -m pytest tests/test_import_structure.py`."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "fastdnn"
CHECKED = ("fastdnn.models", "fastdnn.trainers", "fastdnn.saving", "fastdnn.callbacks", "fastdnn.monitoring",
           "fastdnn.layers", "fastdnn.penalties")


def _modules():
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("fastdnn",) + path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _imports(modules):
    """{module: set of fastdnn modules it imports anywhere in its source}."""
    edges = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package
                for _ in range(node.level - 1):
                    base = base.rsplit(".", 1)[0]
                base = (f"{base}.{node.module}" if node.module else base) if node.level else node.module or ""
                found = [f"{base}.{alias.name}" for alias in node.names]
                targets.update(t if t in modules else base for t in found)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        resolved = set()
        for target in targets:
            while target and target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in modules and target != name and not name.startswith(target + ".") \
                    and not target.endswith("._C"):
                resolved.add(target)
        edges[name] = resolved
    return edges


def _in(name, prefix):
    return name == prefix or name.startswith(prefix + ".")


def test_no_import_cycle_among_models_trainers_saving_callbacks_and_monitoring():
    edges = _imports(_modules())
    nodes = {n for n in edges if any(_in(n, p) for p in CHECKED)}
    graph = {n: {t for t in edges[n] if t in nodes} for n in nodes}
    state, cycles = {}, []

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)
    assert len(nodes) > 40  # the walk saw the packages it checks


def test_saving_never_imports_models_and_layers_never_import_saving():
    edges = _imports(_modules())
    saving_to_models = sorted((a, b) for a, targets in edges.items() for b in targets
                              if _in(a, "fastdnn.saving") and (_in(b, "fastdnn.models") or _in(b, "fastdnn.trainers")))
    layers_to_saving = sorted((a, b) for a, targets in edges.items() for b in targets
                              if _in(a, "fastdnn.layers") and _in(b, "fastdnn.saving"))
    assert saving_to_models == [] and layers_to_saving == []
    assert "fastdnn.saving.state" in edges and "fastdnn.layers.base" in edges
