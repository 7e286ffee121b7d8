"""The public API documents its arguments: Google-style Args/Returns sections, as mkdocstrings renders them.

Every public function (exported in ``__all__``) of the modules below, and every public class with a constructor
of its own, has an ``Args:`` section naming each parameter, and a function a ``Returns:`` (or ``Yields:``) section
unless it is annotated ``-> None``. Extend ``MODULES`` as more of the package is covered.
"""

import dataclasses
import importlib
import inspect
import pkgutil
import re

import pytest

MODULES = (
    "jaxgd.transforms",
    "jaxgd.optimizers",
    "jaxgd.schedules",
    "jaxgd.problems",
    "jaxgd.analysis",
    "jaxgd.curvature",
    "jaxgd.runner",
    "jaxgd.files",
    "jaxgd.plot",
    "jaxgd.convex",
    "jaxgd.nn",
    "jaxgd.stochastic",
    "jaxgd.second_order",
    "jaxgd.linesearch",
    "jaxgd.cli",
    "jaxgd._core",  # filter_jit, tree_norm and the loop's helpers (jaxgd.__all__ takes some from here)
    "jaxgd._recipe",  # Optimizer, Recipe, Schedule and their decorators
)  # a package stands for its submodules too


def _covered(module_name: str) -> bool:
    return any(module_name == m or module_name.startswith(m + ".") for m in MODULES)


def _public_objects():
    """(qualified name, object) for each public function and class defined in a covered module."""
    names = []
    for root in MODULES:
        module = importlib.import_module(root)
        names.append(root)
        if hasattr(module, "__path__"):
            names += [f"{root}.{info.name}" for info in pkgutil.iter_modules(module.__path__)]
    found = {}
    for name in names:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", ()):
            obj = getattr(module, attr)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)) or not _covered(obj.__module__):
                continue
            found.setdefault(id(obj), (f"{obj.__module__}.{obj.__qualname__}", obj))
    return sorted(found.values(), key=lambda x: x[0])


def _section(doc: str, *headers: str) -> list[str] | None:
    """The lines of the first section with one of these headers, or None."""
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        if line.strip() in headers and not line.startswith(" "):
            body = []
            for nxt in lines[i + 1 :]:
                if nxt and not nxt.startswith(" "):
                    break
                body.append(nxt)
            return body
    return None


def _documented_names(body: list[str]) -> set[str]:
    indent = min((len(x) - len(x.lstrip()) for x in body if x.strip()), default=0)
    names = set()
    for line in body:
        m = re.match(r"(\*{0,2}\w+)\s*(\([^)]*\))?:", line[indent:])
        if m and len(line) - len(line.lstrip()) == indent:
            names.add(m.group(1).lstrip("*"))
    return names


def _parameters(obj) -> list[str]:
    sig = inspect.signature(obj)
    return [n for n in sig.parameters if n not in ("self", "cls") and not n.startswith("_")]


def _constructor(cls):
    """The class's own constructor (its __init__, or a dataclass's fields), else None (NamedTuples are records)."""
    if dataclasses.is_dataclass(cls) or "__init__" in cls.__dict__:
        return cls
    return None


def _problems(obj) -> list[str]:
    doc = inspect.getdoc(obj) or ""
    if inspect.isclass(obj):
        if _constructor(obj) is None:
            return [] if doc else ["no docstring"]
        params = _parameters(obj)
        init_doc = inspect.getdoc(obj.__dict__["__init__"]) if "__init__" in obj.__dict__ else None
        doc = doc + "\n" + (init_doc or "")
        returns_needed = False
    else:
        params = _parameters(obj)
        ret = inspect.signature(obj).return_annotation
        returns_needed = ret not in (None, "None", type(None))
    problems = []
    if params:
        body = _section(doc, "Args:", "Arguments:", "Attributes:") if inspect.isclass(obj) else _section(doc, "Args:")
        if body is None:
            problems.append("no Args: section")
        else:
            missing = [p for p in params if p not in _documented_names(body)]
            if missing:
                problems.append(f"Args: does not name {missing}")
    if returns_needed and _section(doc, "Returns:", "Yields:") is None:
        problems.append("no Returns: section")
    return problems


OBJECTS = _public_objects()


def test_the_walk_finds_the_api():
    names = {name for name, _ in OBJECTS}
    assert len(names) > 200
    assert {"jaxgd.optimizers.adamw", "jaxgd.schedules.exponential_decay", "jaxgd.problems.Problem"} <= names
    # names jaxgd exports from private modules are walked too
    assert {"jaxgd._core.filter_jit", "jaxgd._core.tree_norm", "jaxgd._recipe.Optimizer"} <= names
    assert {"jaxgd.second_order._minimize.minimize", "jaxgd.second_order._aliases.lbfgs"} <= names


@pytest.mark.parametrize("module", MODULES)
def test_public_functions_document_their_arguments_and_returns(module):
    mine = [(name, obj) for name, obj in OBJECTS if obj.__module__ == module or obj.__module__.startswith(module + ".")]
    bad = {name: p for name, obj in mine if (p := _problems(obj))}
    assert not bad, "\n".join(f"{n}: {', '.join(p)}" for n, p in sorted(bad.items()))


def test_the_parser_reads_google_sections():
    def documented(a, b=1, *rest, c, **kw):
        """One line.

        Args:
            a: first.
            b (int): second, over
                two lines with a colon: here.
            *rest: more.
            c: keyword.
            **kw: the rest.

        Returns:
            Nothing much.
        """

    def undocumented(a, b):
        """Only a summary."""
        return a

    assert _problems(documented) == []
    assert _problems(undocumented) == ["no Args: section", "no Returns: section"]
    doc = inspect.getdoc(documented)
    assert _documented_names(_section(doc, "Args:")) == {"a", "b", "rest", "c", "kw"}
