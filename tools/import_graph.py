"""Print the import graph of hebm_lib (module -> the hebm_lib modules it imports, at any depth of
the file, function-level imports included), its cycles, and imports that point up the layers.

    python tools/import_graph.py            # the graph, then cycles and upward imports
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "hebm_lib"


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """hebm_lib modules imported anywhere in the file (relative imports resolved)."""
    mod = module_name(path)
    pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("hebm_lib"):
                continue
            for alias in node.names:  # `from . import data` imports a module
                full = f"{target}.{alias.name}"
                out.add(full if _exists(full) else target)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("hebm_lib")}
    out.discard(mod)
    return out


def _exists(mod: str) -> bool:
    p = PACKAGE.parent.joinpath(*mod.split("."))
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    found, seen = [], set()

    def visit(node, stack):
        if node in stack:
            cyc = stack[stack.index(node):]
            key = frozenset(cyc)
            if key not in seen:
                seen.add(key)
                found.append(cyc + [node])
            return
        for nxt in sorted(g.get(node, ())):
            visit(nxt, stack + [node])

    for start in sorted(g):
        visit(start, [])
    return found


# lower number = lower layer; a module may import only from its own layer or below
LAYERS = {"hebm_lib.errors": 0, "hebm_lib.io": 0, "hebm_lib.distributions": 0, "hebm_lib.paths": 0, "hebm_lib.configs": 0,
          "hebm_lib.data": 1, "hebm_lib.models": 2, "hebm_lib.training": 3, "hebm_lib.evaluation": 4,
          "hebm_lib.report": 5, "hebm_lib.runs": 6, "hebm_lib.cli": 7, "hebm_lib.__main__": 8, "hebm_lib": 9}


def layer(mod: str) -> int | None:
    best = None
    for prefix, rank in LAYERS.items():
        if (mod == prefix or mod.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, rank)
    return best[1] if best else None


def upward(g: dict[str, set[str]]) -> list[tuple[str, str]]:
    return [(a, b) for a, deps in g.items() for b in sorted(deps)
            if layer(a) is not None and layer(b) is not None and layer(b) > layer(a)]


def main() -> int:
    g = graph()
    for mod, deps in g.items():
        print(f"{mod:40s} -> {', '.join(sorted(d.replace('hebm_lib.', '') for d in deps)) or '-'}")
    cyc, up = cycles(g), upward(g)
    print(f"\ncycles: {len(cyc)}")
    for c in cyc:
        print("  " + " -> ".join(c))
    print(f"upward imports: {len(up)}")
    for a, b in up:
        print(f"  {a} (layer {layer(a)}) -> {b} (layer {layer(b)})")
    return 1 if cyc or up else 0


if __name__ == "__main__":
    sys.exit(main())
