"""The public API documents its arguments: Google-style Args/Returns sections, as mkdocstrings renders them.

Every public function (exported in ``__all__``) of every module of jaxgd, and every public class with a constructor
of its own, has an ``Args:`` section naming each parameter, and a function a ``Returns:`` (or ``Yields:``) section
unless it is annotated ``-> None``. ``MODULES`` is found by walking the package, so a new module is checked too.

griffe, the parser behind the site, reads each Returns section as the site will show it: one item, unnamed (or a
name that is an identifier), unless the function returns a tuple. ``The :class:`X`.`` reads as a value named ``The``,
and a continuation line not indented further as a second returned value.
"""

import ast
import dataclasses
import functools
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

# Private top-level modules whose names jaxgd exports: filter_jit, tree_norm and the loop's helpers (_core);
# Optimizer, Recipe, Schedule and their decorators (_recipe). The other private ones (_validate, _experiments: the
# experiment scripts) are not API.
PRIVATE_API = ("jaxgd._core", "jaxgd._recipe")


def _modules() -> tuple[str, ...]:
    """jaxgd's top-level modules and packages, public ones and :data:`PRIVATE_API` (a package stands for all its
    submodules, private ones included: ``jaxgd.second_order._minimize`` holds ``minimize``)."""
    import jaxgd

    names = (f"jaxgd.{info.name}" for info in pkgutil.iter_modules(jaxgd.__path__))
    return tuple(sorted(n for n in names if not n.startswith("jaxgd._") or n in PRIVATE_API))


MODULES = _modules()


def _covered(module_name: str) -> bool:
    return any(module_name == m or module_name.startswith(m + ".") for m in MODULES)


def _public_objects():
    """(qualified name, object) for each public function and class defined in a covered module."""
    names = []
    for root in MODULES:
        module = importlib.import_module(root)
        names.append(root)
        if hasattr(module, "__path__"):
            names += [info.name for info in pkgutil.walk_packages(module.__path__, root + ".")]
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
    assert {"jaxgd.sweeps.driver.sweep", "jaxgd.sweeps.space.Space", "jaxgd.bench.tuning.tune"} <= names


def test_modules_cover_the_package():
    """Every module of jaxgd is checked (under a covered package, or itself), but the private helpers."""
    import jaxgd

    walked = {info.name for info in pkgutil.walk_packages(jaxgd.__path__, "jaxgd.")}
    assert {"jaxgd.sweeps", "jaxgd.bench", "jaxgd.nn", "jaxgd.cli", *PRIVATE_API} <= set(MODULES)
    assert {m for m in walked if not _covered(m)} <= {"jaxgd._validate", "jaxgd._experiments"}


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


# --- the Returns sections as griffe (mkdocstrings) parses them -------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
# first words of a sentence, which griffe takes for a returned value's name in "The :class:`X`." or "A (x): ..."
_NOT_NAMES = {"a", "an", "the", "one", "each", "every", "its", "this", "that", "some", "all", "none", "returns"}
_NOT_NAMES |= {"int", "float", "bool", "str", "list", "dict", "tuple", "array"}  # types, not names


def _parser_options() -> tuple[str, dict]:
    """The docstring style and parser options mkdocs.yml gives mkdocstrings' python handler."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("", lambda loader, suffix, node: None)  # !!python/name: tags and the like
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader)
    plugin = next(p["mkdocstrings"] for p in config["plugins"] if isinstance(p, dict) and "mkdocstrings" in p)
    options = plugin["handlers"]["python"].get("options", {})
    return options.get("docstring_style", "google"), dict(options.get("docstring_options") or {})


def _items_allowed(annotation, yields: bool) -> int | None:
    """How many items the section may list: a fixed tuple's length, None for a variadic tuple, else 1."""
    try:
        node = ast.parse(str(annotation), mode="eval").body
    except SyntaxError:
        return 1

    def name(n):
        return ast.unparse(n.value).rsplit(".", 1)[-1] if isinstance(n, ast.Subscript) else ""

    if yields and name(node) in ("Iterator", "Iterable", "Generator"):
        node = node.slice.elts[0] if isinstance(node.slice, ast.Tuple) else node.slice
    if name(node).lower() != "tuple":
        return 1
    elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    return None if any(isinstance(e, ast.Constant) and e.value is Ellipsis for e in elements) else len(elements)


def _returns_problems(function, style: str, options: dict) -> list[str]:
    """What is wrong with the function's Returns/Yields sections as griffe reads them."""
    import griffe

    problems = []
    for section in function.docstring.parse(griffe.Parser(style), warnings=False, **options):
        if section.kind not in (griffe.DocstringSectionKind.returns, griffe.DocstringSectionKind.yields):
            continue
        items, head = section.value, section.kind.value.title()
        for item in items:
            if item.name and (not re.fullmatch(r"[a-z_][a-z0-9_]*", item.name) or item.name in _NOT_NAMES):
                problems.append(f"{head} reads {item.name!r} as the returned value's name")
            if re.match(r"[a-z]+:`", item.description) or ":" in str(item.annotation or ""):
                problems.append(f"{head} splits a role: {item.description[:40]!r}")
        allowed = _items_allowed(function.returns, yields=section.kind.value == "yields")
        if allowed is not None and len(items) > allowed:
            problems.append(f"{head} lists {len(items)} values (a continuation line not indented further?)")
    return problems


@functools.cache
def _griffe_functions() -> tuple:
    """(path, griffe function) for each public function and public class's method in the covered modules."""
    griffe = pytest.importorskip("griffe", reason="needs the [test] extra (mkdocstrings-python)")
    package = griffe.load("jaxgd", search_paths=[str(ROOT)], try_relative_path=False, resolve_aliases=False)
    found = []

    def walk(obj):
        for member in obj.members.values():
            if member.is_alias or (member.name.startswith("_") and not member.is_module):
                continue
            if member.is_module or member.is_class:
                walk(member)
            elif member.is_function and member.docstring:
                found.append((member.path, member))

    for name in MODULES:
        walk(package[name.removeprefix("jaxgd.")])
    return tuple(found)


@pytest.mark.parametrize("module", MODULES)
def test_griffe_reads_each_returns_section_as_the_value_returned(module):
    style, options = _parser_options()
    mine = [(p, f) for p, f in _griffe_functions() if p.startswith(module + ".")]
    assert mine or module == "jaxgd.cli"
    bad = {p: problems for p, f in mine if (problems := _returns_problems(f, style, options))}
    assert not bad, "\n".join(f"{p}: {'; '.join(x)}" for p, x in sorted(bad.items()))


def test_the_returns_check_catches_what_griffe_misreads():
    griffe = pytest.importorskip("griffe", reason="needs the [test] extra (mkdocstrings-python)")
    code = '''
def named_the() -> int:
    """One line.

    Returns:
        The :class:`Problem`.
    """
def role_first() -> int:
    """One line.

    Returns:
        :class:`Problem`, built.
    """
def two_lines() -> int:
    """One line.

    Returns:
        The problem, over
        two lines.
    """
def good() -> int:
    """One line.

    Returns:
        The problem (:class:`Problem`): over
            two lines.
    """
def pair() -> tuple[int, int]:
    """One line.

    Returns:
        loss: the loss.
        grad: its gradient.
    """
def three_of_a_pair() -> tuple[int, int]:
    """One line.

    Returns:
        loss: the loss.
        grad: its gradient.
        hess: too many.
    """
def batches() -> Iterator[tuple[int, int]]:
    """One line.

    Yields:
        x: inputs.
        y: labels.
    """
'''
    style, options = _parser_options()
    with griffe.temporary_visited_module(code) as module:
        found = {name: _returns_problems(f, style, options) for name, f in module.functions.items()}
    assert not found["good"] and not found["pair"] and not found["batches"]
    assert "'The' as the returned value's name" in found["named_the"][0]
    assert found["role_first"] and found["two_lines"] and found["three_of_a_pair"]
