"""Every document a user can meet must resolve inside the repository.

Scans every ``.py`` and ``.md`` file of the repository (virtual environments, caches, build
outputs, version-control directories and this file, whose examples are bad on purpose, excluded)
and fails on

* a path into the team's private notes directory (``shared`` followed by ``/research``), which an
  installed package does not ship;
* a reference to a numbered issue of the development tracker ("issue 7", "issues 3 and 4"),
  which users cannot see: say in words what is meant instead;
* a ``something.md`` path that exists neither relative to the repository root nor relative to
  the citing file's directory;
* a section reference ``x.md §n`` (also ``§n–m``, ``§n-m``, ``§n–§m``) where x.md has no heading
  numbered n (``## 3. …`` is §3, ``### 3.2 …`` is §3.2);
* a bare ``§n`` (one not attached to a document on the same line) that is a heading number of
  none of the documents the file cites with a section (nor, for a note, of the note itself): a
  file that cites no document with a section may not use a bare ``§``.

External references stay possible: papers by name ("Sec. 2.4 of Guha et al."), other
repositories as ``owner/name#N``, URLs.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

import pytest

SELF = Path(__file__).resolve()
ROOT = SELF.parents[1]
SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", "node_modules", "build", "dist",
             "statmech-output", "empirical-output", ".statmech-cache"}

# Spelled in two parts so that this file does not match its own pattern.
PRIVATE_NOTES = re.compile("shared" + r"/research")
ISSUE = re.compile(r"\bissues?\s+#?\d", re.IGNORECASE)
URL = r"[a-z][a-z0-9+.-]*://\S+"
MD_PATH = r"[A-Za-z0-9_][A-Za-z0-9_./-]*\.md(?![A-Za-z0-9_])"
MD_OR_URL = re.compile(f"({URL})|({MD_PATH})", re.IGNORECASE)
SECTION = r"§\s*(\d+(?:\.\d+)*)"
RANGE_END = r"(?:\s*[–-]\s*§?\s*(\d+(?:\.\d+)*))?"
# a document token, optional closing quotes/backticks/parenthesis, optional comma, then §n[–m]
CITED_SECTION = re.compile(r"`{0,2}\)?,?\s*" + SECTION + RANGE_END)
BARE_SECTION = re.compile(SECTION + RANGE_END)
HEADING = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)*)\.?(?:\s|$)")


def _source_files() -> list[Path]:
    out = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")
                   and not d.endswith(".egg-info")]
        for name in files:
            path = Path(folder, name).resolve()
            if path.suffix in (".py", ".md") and path != SELF:
                out.append(path)
    return sorted(out)


FILES = _source_files()


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _resolve(token: str, citing: Path) -> Path | None:
    """The file a ``.md`` token names: relative to the root, else to the citing file's dir."""
    for base in (ROOT, citing.parent):
        candidate = (base / token).resolve()
        if candidate.is_file() and ROOT in candidate.parents:
            return candidate
    return None


@cache
def _sections(doc: Path) -> frozenset[str]:
    """Section numbers of a Markdown file's numbered headings (outside code fences)."""
    return _sections_of_text(doc.read_text(encoding="utf-8"))


def _sections_of_text(text: str) -> frozenset[str]:
    numbers = set()
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        m = None if fenced else HEADING.match(line)
        if m:
            numbers.add(m.group(1))
    return frozenset(numbers)


def _problems(path: Path, text: str | None = None) -> list[str]:
    """Every unresolved reference of ``path`` (its content, or ``text`` as if it were there)."""
    if text is None:
        text = path.read_text(encoding="utf-8")
    rel = _rel(path)
    problems = []
    cited_docs: set[Path] = set()
    covered: list[tuple[int, int, int]] = []  # (line, start, end) of cited section references
    lines = text.splitlines()
    for lineno, line in enumerate(lines, start=1):
        where = f"{rel}:{lineno}"
        if PRIVATE_NOTES.search(line):
            problems.append(f"{where}: path into the private notes directory: {line.strip()}")
        if ISSUE.search(line):
            problems.append(f"{where}: reference to a numbered tracker issue: {line.strip()}")
        for m in MD_OR_URL.finditer(line):
            token = m.group(2)
            if token is None:  # a URL
                continue
            doc = _resolve(token, path)
            if doc is None:
                problems.append(f"{where}: {token} does not exist in the repository")
                continue
            sec = CITED_SECTION.match(line, m.end())
            if sec is None:
                continue
            cited_docs.add(doc)
            covered.append((lineno, m.start(), sec.end()))
            for number in filter(None, sec.groups()):
                if number not in _sections(doc):
                    problems.append(f"{where}: {token} has no section {number} "
                                    f"(headings: {sorted(_sections(doc))})")
    # bare § references: they must exist in a document the file cites (or, for a note, itself)
    known: set[str] = set()
    for doc in cited_docs:
        known |= _sections(doc)
    if path.suffix == ".md":
        known |= _sections_of_text(text)
    for lineno, line in enumerate(lines, start=1):
        for m in BARE_SECTION.finditer(line):
            if any(i == lineno and a <= m.start() < b for i, a, b in covered):
                continue  # part of a cited reference, checked above
            for number in filter(None, m.groups()):
                if number not in known:
                    problems.append(f"{rel}:{lineno}: bare §{number} resolves in no document "
                                    f"this file cites: {line.strip()}")
    return problems


@pytest.mark.parametrize("path", FILES, ids=_rel)
def test_references_resolve_in_the_repository(path):
    problems = _problems(path)
    assert not problems, "\n".join(problems)


def test_scan_covers_the_sources_and_the_notes():
    names = {_rel(p) for p in FILES}
    assert "README.md" in names and "docs/README.md" in names
    assert "statmech/theory/rhs.py" in names and "results/validate_pruning/README.md" in names
    assert "tests/test_doc_references.py" not in names  # its examples are bad on purpose
    assert not any(n.startswith(".venv/") for n in names)


def test_notes_have_numbered_sections():
    for name in ("ode_theory", "pruning_theory", "dpp_edge_theory", "seed_paper",
                 "companion_papers"):
        assert {"1", "2"} <= _sections(ROOT / "docs" / f"{name}.md"), name


def test_the_checker_catches_bad_references():
    probe = ROOT / "docs" / "_probe.md"  # never written: the text is checked as if it were there
    bad = ("# Probe\n\nSee `ode_theory.md` §9.9, `nowhere.md`, issue 7 and "
           "shared" "/research/x.md.\n\n## 1. Body\n\nBare §7.7 here.\n")
    found = "\n".join(_problems(probe, bad))
    assert "no section 9.9" in found
    assert "nowhere.md does not exist" in found
    assert "numbered tracker issue" in found
    assert "private notes" in found
    assert "bare §7.7" in found
    good = ("# Probe\n\n## 1. Body\n\nSee `ode_theory.md` §1.2–1.4, [notes](README.md), "
            "``pruning_theory.md`` §2–§3, docs/seed_paper.md §4 and §1 here; "
            "https://example.org/a.md and DPPy's tracker (guilgautier/DPPy#61).\n")
    assert _problems(probe, good) == []
    assert _problems(ROOT / "statmech" / "_probe.py", "x = 1  # docs/ode_theory.md §4.1\n") == []
