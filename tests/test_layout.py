"""The package's layout (docs/layout.md): doors at the top, one room per stage, imports only down the
stage order and never into a door, and the page naming every module."""

import ast
import re
from pathlib import Path

from pipeline.common.paths import ROOT

PACKAGE = ROOT / "pipeline"
ORDER = ["common", "runfiles", "collection", "indexing", "candidates", "rerank", "evaluation", "training",
         "experiments"]
DOORS = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def _imports(path: Path) -> list[str]:
    """Every pipeline module ``path`` imports, at any depth (lazy imports in functions too)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "pipeline":
            out += [f"pipeline.{a.name}" for a in node.names] if node.module == "pipeline" else [node.module]
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.split(".")[0] == "pipeline"]
    return out


def test_the_top_holds_only_doors_and_every_stage_is_a_room():
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(ORDER)
    assert DOORS == ["build_models", "compare", "diff", "distill", "evaluate", "experiment", "fuse", "index",
                     "run", "submit", "train"]
    for door in DOORS:
        tree = ast.parse((PACKAGE / f"{door}.py").read_text())
        assert {"main", "main_cli"} <= {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, door


def test_rooms_import_only_earlier_rooms_and_never_a_door():
    wrong = []
    for path in sorted(PACKAGE.glob("*/**/*.py")):
        stage = path.relative_to(PACKAGE).parts[0]
        for target in _imports(path):
            parts = target.split(".")
            if len(parts) > 1 and parts[1] in DOORS:
                wrong.append(f"{path.relative_to(ROOT)} imports the command {target}")
            elif len(parts) > 1 and parts[1] in ORDER and ORDER.index(parts[1]) > ORDER.index(stage):
                wrong.append(f"{path.relative_to(ROOT)} ({stage}) imports {target}, a later stage")
    assert wrong == []


def test_the_layout_page_names_every_module_once():
    page = (ROOT / "docs" / "layout.md").read_text()
    tree = page.split("```")[1]
    named, folder = [], ""
    for line in tree.splitlines()[2:]:
        m = re.match(r"( +)(\S+)", line)
        if m is None:
            continue
        depth, name = len(m[1]) // 2, m[2]
        if depth == 1 and name.endswith("/"):
            folder = name
        named.append(name if depth == 1 else folder + name)  # a folder inside a room is listed, not opened
    modules = [p.relative_to(PACKAGE).as_posix() for p in sorted(PACKAGE.rglob("*.py"))
               if p.name != "__init__.py" or p.parent == PACKAGE]
    modules = [m for m in modules if not m.startswith("training/losses/")] + ["training/losses/"]
    folders = [f"{stage}/" for stage in ORDER]
    assert sorted(named) == sorted(modules + folders)
