"""The package's layout, read from the imports themselves: a folder per capability over a shared core,
each importing only its own folder and the folders below it, with no circle anywhere."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Each folder may import its own modules and those of the folders of a lower rank, never a higher or equal one.
RANK = {
    "core": 0,
    "play": 1,
    "curves": 1,
    "evaluate": 2,
    "compare": 3,
    "leaderboard": 3,
    "train": 3,
    "tune": 4,
    "yourturn": 4,
    "jobs": 5,
    "tabs": 6,
}


def agent_imports(path: Path) -> set[str]:
    """The ``agents.*`` modules a file imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("agents"):
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names if (ROOT / "agents").exists()}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("agents")}
    return {name for name in found if module_file(name) is not None}


def module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.exists()), None)


def modules() -> dict[str, Path]:
    return {
        ".".join(path.relative_to(ROOT).with_suffix("").parts): path
        for path in sorted((ROOT / "agents").rglob("*.py"))
        if path.name != "__init__.py"
    }


def test_every_module_sits_in_a_capability_folder():
    loose = [name for name in modules() if name.count(".") != 2]
    assert loose == [], f"modules outside a capability folder: {loose}"
    assert {name.split(".")[1] for name in modules()} == set(RANK)


def test_no_module_imports_a_folder_above_or_beside_its_own():
    wrong = []
    for name, path in modules().items():
        folder = name.split(".")[1]
        for imported in agent_imports(path):
            other = imported.split(".")[1] if imported.count(".") >= 1 else folder
            if other != folder and RANK[other] >= RANK[folder]:
                wrong.append(f"{name} imports {imported}")
    assert wrong == []


def test_no_circle_of_imports():
    graph = {name: {i for i in agent_imports(path) if i in modules()} for name, path in modules().items()}
    done, on_path = set(), []

    def visit(name: str) -> None:
        if name in on_path:
            raise AssertionError(" -> ".join([*on_path[on_path.index(name) :], name]))
        if name in done:
            return
        on_path.append(name)
        for imported in graph[name]:
            visit(imported)
        on_path.pop()
        done.add(name)

    for name in graph:
        visit(name)


def test_the_app_only_assembles_the_tabs():
    source = (ROOT / "app.py").read_text()
    functions = [node.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)]
    assert len(source.splitlines()) <= 200 and functions == ["load_page"]
