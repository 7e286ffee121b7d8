"""A griffe extension (see mkdocs.yml) that renders the Sphinx roles of jaxgd's docstrings as cross-references.

mkdocstrings reads docstrings as Markdown, where ``:func:`jaxgd.adam` `` would show as the literal text ":func:"
before a code span. Each role (func, class, mod, meth, attr, data, obj, exc, const, with or without ``py:``)
becomes a link to where the site documents its target, or plain code where the site does not (``jax.grad``, a
helper the site leaves out). The target is resolved in the docstring's scope (``:class:`Problem` `` in
jaxgd.problems is ``jaxgd.problems.Problem``; an imported name is what it was imported from), then mapped to the
path under which a page renders it: an object re-exported on two pages (``jaxgd.Schedule``) has no unique
anchor of its own, and autorefs would warn. ``~target`` shows the last name only and ``title <target>`` the
title, as in Sphinx.

The links are *optional* autorefs (what mkdocstrings itself emits for annotations): one that still finds no
anchor renders as code instead of failing the strict build.
"""

import html
import re
from pathlib import Path

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|obj|exc|const):`(?P<text>[^`]+)`")
EXPLICIT_TITLE = re.compile(r"(?P<title>.+?)\s*<(?P<target>[^<>]+)>$")
DIRECTIVE = re.compile(r"^::: *(?P<path>\S+)\n(?P<options>(?:[ \t]+\S.*\n?)*)", flags=re.M)
MEMBERS_OPTION = re.compile(r"^\s+members:\s*\[(?P<names>[^\]]*)\]", flags=re.M)
_LOOKUP_ERRORS = (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError)


def rendered_paths(collection: griffe.ModulesCollection, docs: Path) -> dict[str, str]:
    """Each path the pages render an object under (its anchor), mapped to the object's canonical path.

    The ``::: path`` directives of the pages and their public members, recursively into classes, as mkdocstrings
    renders them with ``filters: ["!^_"]``: no submodules, imported names only where ``__all__`` exports them, a
    ``members: [...]`` option restricting the root's members. Where this guesses wrong, a link falls back to code.
    """
    found: dict[str, str] = {}

    def walk(obj, path: str, members: list[str] | None, depth: int = 0) -> None:
        try:
            found[path] = obj.canonical_path
            items = list(obj.members.items()) if depth < 4 and (obj.is_module or obj.is_class) else []
        except _LOOKUP_ERRORS:
            return
        for name, member in items:
            try:
                if members is not None:
                    keep = name in members
                else:
                    keep = not name.startswith("_") and (not member.is_imported or member.is_public)
                keep = keep and not member.is_module
            except _LOOKUP_ERRORS:
                keep = False
            if keep:
                walk(member, f"{path}.{name}", None, depth + 1)

    for page in sorted(docs.glob("*.md")):
        for directive in DIRECTIVE.finditer(page.read_text()):
            option = MEMBERS_OPTION.search(directive["options"])
            members = [m.strip() for m in option["names"].split(",") if m.strip()] if option else None
            try:
                root = collection[directive["path"]]
            except _LOOKUP_ERRORS:
                continue
            walk(root, directive["path"], members)
    return found


class SphinxRoles(griffe.Extension):
    """Rewrite the roles of every docstring once the whole package is loaded (so imported names resolve)."""

    def __init__(self, docs: str | None = None) -> None:
        self.docs = Path(docs) if docs else Path(__file__).parent

    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:
        rendered = rendered_paths(pkg.modules_collection, self.docs)
        anchors: dict[str, list[str]] = {}
        for path, canonical in rendered.items():
            anchors.setdefault(canonical, []).append(path)

        def anchor(obj: griffe.Object, name: str) -> str | None:
            """The rendered path of the object ``name`` means in the docstring of ``obj``, or None."""
            head, _, rest = name.lstrip(".").partition(".")
            try:
                path = obj.resolve(head)
            except (griffe.NameResolutionError, *_LOOKUP_ERRORS):
                path = head
            path = f"{path}.{rest}" if rest else path
            if path in rendered:
                return path
            try:
                canonical = obj.modules_collection[path].canonical_path
            except _LOOKUP_ERRORS:
                return None
            return canonical if canonical in rendered else min(anchors.get(canonical, [None]), key=str)

        def replace(obj: griffe.Object, match: re.Match) -> str:
            text = match["text"].strip()
            if explicit := EXPLICIT_TITLE.match(text):
                shown, target = explicit["title"], explicit["target"].lstrip("~")
            else:
                target = text.lstrip("~")
                shown = target.rsplit(".", 1)[-1] if text.startswith("~") else target
            if (path := anchor(obj, target)) is None:
                return f"`{shown}`"
            return f'<autoref identifier="{html.escape(path, quote=True)}" optional>`{shown}`</autoref>'

        seen = set()

        def walk(obj: griffe.Object) -> None:
            if id(obj) in seen:
                return
            seen.add(id(obj))
            if obj.docstring is not None and ":`" in obj.docstring.value:
                obj.docstring.value = ROLE.sub(lambda m: replace(obj, m), obj.docstring.value)
            for member in obj.members.values():
                if not member.is_alias:
                    walk(member)

        walk(pkg)
