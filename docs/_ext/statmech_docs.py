"""Two directives that let the documentation describe the code from the code itself.

``.. facade-table:: statmech`` (or ``empirical``)
    A table of every name in the package's ``__all__``: a link to the one place where the object
    is documented (the module that defines it) and the first line of its docstring. Re-exported
    names are thereby listed on the facade page without being documented twice.

``.. package-modules:: statmech.theory``
    The package's docstring, then one section per public submodule (found on disk, so a new
    module appears without editing the page) with everything that module defines.

``.. argparse-help:: statmech.cli.app:build_parser``
    The ``--help`` text of a command line and of each of its sub-commands, as literal blocks,
    taken from the argument parser that the command itself uses (so the page cannot drift).

It also hooks ``autodoc-process-docstring`` (before napoleon) to read the docstrings' plain-text
mathematics as text: ``|w|`` is an absolute value, not a reStructuredText substitution, and
``*batch`` in a shape is a star, not the start of an emphasis (see :func:`escape_math_text`).
"""

from __future__ import annotations

import argparse
import inspect
import os
import pkgutil
import re
import sys
from importlib import import_module
from types import ModuleType

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

HELP_WIDTH = 90


def _summary(text: str) -> str:
    """The first paragraph of a docstring, on one line, escaped for a table cell."""
    return _escape_prose(text.strip().split("\n\n", 1)[0].replace("\n", " ").strip())


def _data_doc(module: str, name: str) -> str | None:
    """The ``#:`` comment documenting ``module.name``, if there is one."""
    from sphinx.pycode import ModuleAnalyzer

    try:
        docs = ModuleAnalyzer.for_module(module).find_attr_docs()
    except Exception:  # no source to analyse
        return None
    lines = docs.get(("", name))
    return "\n".join(lines) if lines else None


def _entry(package: ModuleType, name: str) -> tuple[str, str]:
    """(reStructuredText of the name, summary) of one row of the facade table."""
    obj = getattr(package, name)
    label = f"{package.__name__}.{name}"
    if isinstance(obj, ModuleType):
        return f":py:mod:`{label} <{obj.__name__}>`", _summary(inspect.getdoc(obj) or "")
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if module is None or qualname is None or not (callable(obj) or inspect.isclass(obj)):
        # data: documented (by a ``#:`` comment) in one of the modules that hold it
        holders = sorted(m for m, mod in list(sys.modules.items())
                         if m.startswith(package.__name__ + ".") and mod is not None
                         and vars(mod).get(name) is obj and "._" not in m)
        for module in holders:
            doc = _data_doc(module, name)
            if doc is not None:
                return f":py:data:`{label} <{module}.{name}>`", _summary(doc)
        # undocumented: no entry to link to; show the value instead
        shown = repr(obj) if not isinstance(obj, dict) else "keys " + ", ".join(map(repr, obj))
        if len(shown) > 90:
            shown = (f"a {type(obj).__name__} of {len(obj)} entries" if hasattr(obj, "__len__")
                     else f"a {type(obj).__name__}")
        return f"``{label}``", f"``{shown}``"
    if any(part.startswith("_") for part in module.split(".")):
        module = package.__name__  # defined in a private module: documented on the facade
    role = "py:func"
    if inspect.isclass(obj):
        role = "py:exc" if issubclass(obj, BaseException) else "py:class"
    return f":{role}:`{label} <{module}.{qualname}>`", _summary(inspect.getdoc(obj) or "")


#: inline literals and interpreted text (``x``, :role:`x`, `x`): left as they are
_LITERAL = re.compile(r"``.+?``|(?::[\w:+-]+:)?`[^`]+`_{0,2}")
#: a star that opens an emphasis, when no star closes one later on the line
_STAR = re.compile(r"(?<![\\\w*])\*(?=[^\s*])")
_STAR_END = re.compile(r"(?<=[^\s*\\])\*(?![\w*])")


def _escape_prose(text: str) -> str:
    text = text.replace("|", "\\|")
    out, pos = [], 0
    for m in _STAR.finditer(text):
        if _STAR_END.search(text, m.end()) is None:
            out.append(text[pos:m.start()] + "\\*")
            pos = m.end()
    return "".join(out) + text[pos:]


def escape_math_text(lines: list[str]) -> list[str]:
    """The docstring lines with the pipes and lone stars of prose escaped for reStructuredText.

    Literal blocks (after ``::``), doctest blocks, table rows and inline literals are untouched.
    """
    out = []
    literal_indent: int | None = None  # indentation of the line that opened a literal block
    doctest = False
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if literal_indent is not None and stripped and indent <= literal_indent:
            literal_indent = None
        if not stripped:
            doctest = False
        elif stripped.startswith(">>>"):
            doctest = True
        table_row = stripped.startswith(("| ", "+-", "+="))  # grid tables and line blocks
        if literal_indent is not None or doctest or table_row or not stripped:
            out.append(line)
        else:
            pieces, pos = [], 0
            for m in _LITERAL.finditer(line):
                pieces += [_escape_prose(line[pos:m.start()]), m.group(0)]
                pos = m.end()
            out.append("".join(pieces) + _escape_prose(line[pos:]))
        if stripped.endswith("::") and literal_indent is None and not doctest:
            literal_indent = indent
    return out


def _process_docstring(app, what, name, obj, options, lines: list[str]) -> None:
    lines[:] = escape_math_text(lines)
    if what in ("attribute", "data", "property"):
        # napoleon reads the text before the first colon of such a docstring as its type
        # ("int: the count"); ours are prose ("Tolerance of C = [[Q, R], [Rᵀ, T]]: the ..."). A
        # leading colon gives it an empty type, and the whole text stays the description.
        first = next((i for i, line in enumerate(lines) if line.strip()), None)
        if first is not None:
            lines[first] = ": " + lines[first]


class FacadeTable(SphinxDirective):
    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        package = import_module(self.arguments[0])
        rows = [".. list-table::", "   :header-rows: 1", "   :widths: 30 70", "",
                "   * - name", "     - what it is"]
        for name in sorted(package.__all__, key=str.lower):
            entry, summary = _entry(package, name)
            rows += [f"   * - {entry}", f"     - {summary}"]
        body = nodes.container()
        self.state.nested_parse(StringList(rows, source=self.get_source_info()[0]),
                                self.content_offset, body)
        return body.children


class PackageModules(SphinxDirective):
    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        package = import_module(name)
        lines = [f".. automodule:: {name}", "   :no-members:", ""]
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            if info.name.startswith("_"):
                continue  # private modules and __main__
            full = f"{name}.{info.name}"
            lines += [f"``{full}``", "-" * (len(full) + 4), "", f".. automodule:: {full}", ""]
        body = nodes.container()
        nested_parse_with_titles(self.state, StringList(lines, source=self.get_source_info()[0]),
                                 body)
        return body.children


def _subparsers(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    out = []
    for action in parser._actions:  # argparse has no public accessor for sub-commands
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.append((name, sub))
    return out


class ArgparseHelp(SphinxDirective):
    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        module_name, func_name = self.arguments[0].split(":")
        previous = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = str(HELP_WIDTH)  # argparse wraps to the terminal width
        try:
            parser = getattr(import_module(module_name), func_name)()
            blocks = []
            todo = [(parser.prog, parser)]
            while todo:
                prog, p = todo.pop(0)
                blocks.append((prog, p.format_help()))
                todo[0:0] = [(sub.prog, sub) for _, sub in _subparsers(p)]
        finally:
            if previous is None:
                del os.environ["COLUMNS"]
            else:
                os.environ["COLUMNS"] = previous
        out: list[nodes.Node] = []
        for prog, text in blocks:
            section_id = nodes.make_id(f"help-{prog}")
            title = nodes.rubric("", "", nodes.literal(text=f"{prog} --help"), ids=[section_id])
            block = nodes.literal_block(text, text)
            block["language"] = "text"
            out += [title, block]
        return out


def setup(app):
    app.connect("autodoc-process-docstring", _process_docstring, priority=400)  # before napoleon
    app.add_directive("facade-table", FacadeTable)
    app.add_directive("package-modules", PackageModules)
    app.add_directive("argparse-help", ArgparseHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
