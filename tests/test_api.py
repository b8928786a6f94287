from __future__ import annotations

import subprocess
import sys

import galvae


def test_every_public_name_resolves():
    import importlib
    import importlib.metadata
    import types

    for name in galvae.__all__:
        value = getattr(galvae, name)
        if name in galvae._LAZY:  # the object its module defines, not a stand-in
            assert value is getattr(importlib.import_module(galvae._LAZY[name]), name), name
            assert getattr(value, "__module__", galvae._LAZY[name]).startswith("galvae"), name
        elif name in galvae._SUBPACKAGES:
            assert isinstance(value, types.ModuleType) and value.__name__ == f"galvae.{name}", name
        elif isinstance(value, type):  # configs and errors, imported eagerly
            assert value.__module__ in ("galvae.config", "galvae.errors"), name
    assert galvae.BANDS == ("g", "r", "z")
    assert galvae.__version__ == importlib.metadata.version("galvae")


def test_one_meaning_per_name():
    import importlib
    import types

    import galvae.evaluate as ev

    # the evaluation functions and their modules are told apart
    for name in ("ssim", "sweep", "classify"):
        module = importlib.import_module(f"galvae.evaluate.{name}")
        assert getattr(ev, name) is module and isinstance(module, types.ModuleType)
        assert getattr(galvae, name) is getattr(module, name) and callable(getattr(galvae, name))
    # galvae.simulate is the subpackage, whether or not one of its modules was imported first
    importlib.import_module("galvae.simulate.surveys")
    assert galvae.simulate is importlib.import_module("galvae.simulate")
    assert galvae.simulate.simulate.__module__ == "galvae.simulate.core"


def test_no_package_attribute_shadows_its_module():
    # every submodule of every galvae package is reachable as the package's attribute of its name: no function
    # or class exported by a package (e.g. explore's serve) hides a module of the same name
    import importlib
    import pkgutil
    import types

    packages = ["galvae"]
    seen = 0
    while packages:
        pkg = importlib.import_module(packages.pop())
        for info in pkgutil.iter_modules(pkg.__path__):
            if info.name == "__main__":  # running it is the CLI
                continue
            full = f"{pkg.__name__}.{info.name}"
            module = importlib.import_module(full)
            attr = getattr(pkg, info.name)
            assert isinstance(attr, types.ModuleType) and attr is module, (full, attr)
            seen += 1
            if info.ispkg:
                packages.append(full)
    assert seen > 60  # the walk reached the subpackages' modules


def test_unknown_attribute_raises():
    try:
        galvae.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_does_not_load_torch():
    code = "import sys, galvae, galvae.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_no_private_name_is_imported_from_another_package():
    # issue 17 pt 3: a subpackage uses another's public names only; galvae's own private modules (_io,
    # _validate, ...) are shared helpers and exempt
    import ast
    from pathlib import Path

    root = Path(galvae.__file__).parent
    crossing = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or node.level < 2 or not node.module:
                continue  # absolute, or a sibling module of the same package
            if node.module.split(".")[0].startswith("_"):
                continue
            private = [a.name for a in node.names if a.name.startswith("_")]
            if private:
                crossing.append(f"{path.relative_to(root)}: from {'.' * node.level}{node.module} import {private}")
    assert not crossing, crossing
