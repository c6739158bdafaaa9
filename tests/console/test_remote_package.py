"""The host helper's package and the one file it is joined into for the hosts."""

from __future__ import annotations

import ast
import hashlib
import subprocess
import sys

import pytest

from app.console import remote, ssh
from tests.console.conftest import REPO

PACKAGE = REPO / "app" / "console" / "remote"


def _tree(name: str) -> ast.Module:
    return ast.parse((PACKAGE / f"{name}.py").read_text(), feature_version=(3, 8))


def test_the_joined_file_is_byte_stable_and_named_by_its_hash() -> None:
    data, sha = ssh.helper_source()
    assert data == remote.joined() and sha == hashlib.sha256(data).hexdigest()[:16]
    code = "import hashlib, sys; from app.console import remote; print(hashlib.sha256(remote.joined()).hexdigest())"
    for cwd in (REPO, PACKAGE):  # a fresh interpreter, from another folder too
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=cwd,
            env={"PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.strip() == hashlib.sha256(data).hexdigest()


def test_the_joined_file_is_one_python_38_module_without_its_package() -> None:
    data = remote.joined()
    tree = ast.parse(data, feature_version=(3, 8))
    nested = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]
    assert nested == []
    assert ast.get_docstring(tree, clean=False) == ast.get_docstring(_tree("frames"), clean=False)
    assert data.rstrip().endswith(b'if __name__ == "__main__":\n    main()')
    defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("op_")]
    assert sorted(defined) == sorted(
        ["op_info", "op_preflight", "op_scan", "op_read", "op_backup", "op_launch", "op_runs", "op_events"]
        + ["op_kill", "op_rates"]
    )


def test_each_module_is_stdlib_only_and_imports_only_the_modules_before_it() -> None:
    assert sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__") == sorted(remote.MODULES)
    owner: dict[str, str] = {}
    for i, name in enumerate(remote.MODULES):
        tree = _tree(name)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node in tree.body, f"{name}: a package import below the top level"
                assert node.level == 1 and node.module in remote.MODULES[:i], f"{name} imports .{node.module}"
            elif isinstance(node, ast.ImportFrom):
                assert node.module and node.module.split(".")[0] in sys.stdlib_module_names, (name, node.module)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] in sys.stdlib_module_names, (name, alias.name)
        for node in tree.body:  # one namespace once joined: no name defined twice
            targets = [node] if isinstance(node, ast.FunctionDef | ast.ClassDef) else []
            names = [t.name for t in targets]
            if isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            for defined in names:
                assert defined not in owner, f"{defined} is defined in {owner.get(defined)} and {name}"
                owner[defined] = name


def test_a_package_import_below_the_top_level_is_refused() -> None:
    text = "def f():\n    from .frames import CHUNK\n    return CHUNK\n"
    with pytest.raises(ValueError, match="bad.py"):
        remote._unimported("bad", text)
    assert remote._unimported("ok", "from .frames import (\n    CHUNK,\n    _send,\n)\nX = 1\n") == "X = 1\n"
