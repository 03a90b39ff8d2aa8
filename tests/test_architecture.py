"""The layout's rules, kept by code rather than by review (README, "Layout").

- domain/ is pure: no I/O module is imported and no file is opened there;
- imports point inwards: domain <- workflows <- adapters, entry, config.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "chalicelib"
IO_MODULES = (
    "boto3", "botocore", "sqlite3", "socket", "urllib", "http", "requests", "slack_sdk",
    "huaweicloudsdk", "glob", "gzip", "zipfile", "tomllib", "os", "shutil", "subprocess",
    "pathlib", "tempfile", "chalice",  # io.StringIO is memory; io.open is caught as open()
)  # fmt: skip
# Calls that reach the file system or the clock, by the name they are called with.
IO_CALLS = frozenset(
    {"open", "read_text", "read_bytes", "write_text", "write_bytes", "now", "utcnow", "today"}
)
# What each layer may import from the others (its own layer always).
ALLOWED = {
    "domain": set(),
    "workflows": {"domain"},
    "adapters": {"domain", "workflows"},
    "config": {"domain", "workflows", "adapters"},
    "entry": {"domain", "workflows", "adapters", "config"},
}


def modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


def imported_names(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def io_imports(tree: ast.AST) -> list[str]:
    return [
        name
        for name in imported_names(tree)
        if any(name == m or name.startswith((f"{m}.", f"{m}_")) for m in IO_MODULES)
        or name.startswith("huaweicloudsdk")
    ]


def io_calls(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in IO_CALLS:
                found.append(f"{name}() at line {node.lineno}")
    return found


@pytest.mark.parametrize("path", modules("domain"), ids=lambda p: p.name)
def test_the_domain_does_no_io(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert io_imports(tree) == [], f"{path.name} imports an I/O module"
    assert io_calls(tree) == [], f"{path.name} opens files or reads the clock"


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_imports_point_inwards(layer: str) -> None:
    wrong = []
    for path in modules(layer):
        for name in imported_names(ast.parse(path.read_text(encoding="utf-8"))):
            parts = name.split(".")
            inner = parts[1] if parts[0] == "chalicelib" and len(parts) > 1 else layer
            if inner != layer and inner not in ALLOWED[layer]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert wrong == []


def test_every_module_lives_in_a_layer() -> None:
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert loose == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("import sqlite3", ["sqlite3"]),
        ("from urllib.request import urlopen", ["urllib.request"]),
        ("import huaweicloudsdkosm.v2 as osm", ["huaweicloudsdkosm.v2"]),
        ("from slack_sdk import WebClient", ["slack_sdk"]),
        ("import http.client", ["http.client"]),
        ("from pathlib import Path", ["pathlib"]),
        ("import numpy as np\nfrom zoneinfo import ZoneInfo", []),
        ("import httpx_like_name_that_is_not_http", []),
    ],
)
def test_the_rule_sees_io_imports(source: str, found: list[str]) -> None:
    assert io_imports(ast.parse(source)) == found


def test_the_rule_sees_file_and_clock_calls() -> None:
    tree = ast.parse("data = open('x').read()\nstamp = dt.datetime.now()\nok = max(1, 2)\n")
    assert sorted(io_calls(tree)) == ["now() at line 2", "open() at line 1"]


def test_the_api_and_the_event_workflow_import_without_numpy() -> None:
    """A cold /events request should not pay for NumPy; only planning and uploads load it."""
    import subprocess
    import sys

    probe = (
        "import sys, app, chalicelib.workflows.events, chalicelib.workflows.requests; "
        "print(sorted(m for m in ('numpy', 'holidays', 'boto3') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60,
        cwd=PACKAGE.parent,
    )  # fmt: skip
    assert result.stdout.strip() == "[]"
