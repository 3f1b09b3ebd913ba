"""Expected user errors of a command line: one line on stderr, in terms of its flags, exit 2.

A command line maps the errors its users can cause to one line on stderr and exit code 2, and
never shows them a traceback:

* :class:`~statmech._validation.InvalidParameterError` naming a parameter the command takes as
  a flag is said in terms of that flag: ``--on-divergence must be one of 'raise', 'mask'; got
  'foo'`` (the parameter → flag map is built from the parser's actions, ``dest`` → option
  string, plus per-command ``aliases`` for parameters whose library name differs from the
  flag's ``dest``); any other ``ValueError`` (including an ``InvalidParameterError`` about a
  sweep file's contents) is shown as its message;
* a missing, unreadable or unwritable path (``FileNotFoundError``, ``PermissionError``,
  ``IsADirectoryError``, ``NotADirectoryError``, ``FileExistsError``) as ``<reason>: '<path>'``;
* argument-syntax errors (argparse) as one line too (:class:`OneLineArgumentParser`).

Anything else is unexpected (a bug) and keeps its traceback. :func:`check_flags` and
:func:`check_output_dir` check parsed flags before any work, with the same constraints
(:mod:`statmech._validation`). Used by ``statmech`` and reusable by other command lines
(``empirical``)::

    parser = build_parser()          # an OneLineArgumentParser
    args = parser.parse_args(argv)
    return run_reporting(lambda: run(args), parser, prog="empirical compare",
                         aliases={"n_masks": "masks"})
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from .._validation import InstanceOf, InvalidParameterError, check

__all__ = ["EXIT_USER_ERROR", "DefaultsHelpFormatter", "OneLineArgumentParser", "check_flags",
           "check_output_dir", "flag_names", "format_default", "report_user_error",
           "run_reporting", "run_script", "subparser", "user_error_line"]

#: Exit code of a user error (argparse's).
EXIT_USER_ERROR = 2

#: OSErrors that are the user's (a path that is missing, a file, a folder, not writable).
PATH_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError,
               FileExistsError)


def format_default(value: object) -> str:
    """A default as a user would type it: a list as its items separated by spaces, a path or
    a string as is."""
    if isinstance(value, list | tuple):
        return " ".join(format_default(v) for v in value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, said once: ``(default: X)`` is appended
    unless the help already says its default (it contains ``(default``, the way to write a
    default that is not a plain value, e.g. ``(default: K)``). Nothing is appended for an
    option without a value (a switch), a positional, or a default of None (then the help says
    what happens, or the option is simply unset)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if ("(default" in text or action.default is None or action.default is argparse.SUPPRESS
                or action.nargs == 0 or not action.option_strings):
            return text
        return f"{text} (default: {format_default(action.default).replace('%', '%%')})"


class OneLineArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (no usage block), exit code 2,
    and whose help shows every option's default once (:class:`DefaultsHelpFormatter`, unless
    another ``formatter_class`` is given).

    Its sub-parsers (``add_subparsers``) are of the same class."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        text = " ".join(str(message).split())
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {text} (see '{self.prog} --help')\n")


def flag_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """``dest`` → how a user writes it, for every action of ``parser``: its longest option
    string (``on_divergence`` → ``--on-divergence``), or a positional's metavar (or dest)."""
    out: dict[str, str] = {}
    for action in parser._actions:  # noqa: SLF001 - argparse has no public accessor
        if action.dest in (argparse.SUPPRESS, None) or isinstance(
                action, argparse._SubParsersAction | argparse._HelpAction  # noqa: SLF001
                | argparse._VersionAction):  # noqa: SLF001
            continue
        if action.option_strings:
            out.setdefault(action.dest, max(action.option_strings, key=len))
        else:
            meta = action.metavar if isinstance(action.metavar, str) else None
            out.setdefault(action.dest, meta or action.dest)
    return out


def subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The sub-command parser ``command`` of ``parser`` (``parser`` itself if it has none)."""
    for action in parser._actions:  # noqa: SLF001
        subs = action.choices if isinstance(action, argparse._SubParsersAction) else None  # noqa: SLF001
        if subs and command in subs:
            return subs[command]
    return parser


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def user_error_line(err: BaseException, parser: argparse.ArgumentParser, *,
                    aliases: Mapping[str, str] | None = None,
                    verbatim_prefixes: Sequence[str] = ("sweep",)) -> str | None:
    """The one-line message (without the ``prog: error:`` prefix) for an expected user error,
    or None when ``err`` is unexpected (the caller re-raises it).

    Parameters
    ----------
    err : exception
    parser : argparse.ArgumentParser
        The (sub-)command's parser: its actions give the parameter → flag map.
    aliases : mapping, optional
        Library parameter → ``dest`` where they differ (``{"n_masks": "masks"}``).
    verbatim_prefixes : sequence of str
        An :class:`InvalidParameterError` whose ``func`` starts with one of these is shown as
        its message, never as a flag (it is about an input file's contents, e.g. a sweep's).
    """
    if isinstance(err, InvalidParameterError):
        flags = flag_names(parser)
        dest = (aliases or {}).get(err.param, err.param) if err.param else None
        file_content = err.func is not None and str(err.func).startswith(
            tuple(verbatim_prefixes))
        if dest in flags and not file_content:
            flag = flags[dest]
            if err.allowed is not None and err.value is not None:
                text = _one_line(str(err))
                detail = text.split(" instead.", 1)[1].strip() if " instead." in text else ""
                return _one_line(f"{flag} must be {err.allowed}; got {err.value}"
                                 + (f" ({detail})" if detail else ""))
            return _one_line(f"{flag}: {err}")
        return _one_line(str(err))
    if isinstance(err, PATH_ERRORS):
        reason = err.strerror or type(err).__name__
        return _one_line(f"{reason}: {str(err.filename)!r}" if err.filename else str(err))
    if isinstance(err, ValueError):
        return _one_line(str(err))
    return None


def report_user_error(err: BaseException, parser: argparse.ArgumentParser, *, prog: str,
                      aliases: Mapping[str, str] | None = None,
                      stream: TextIO | None = None) -> int:
    """Print the one line for an expected user error and return :data:`EXIT_USER_ERROR`;
    re-raise ``err`` when it is unexpected."""
    line = user_error_line(err, parser, aliases=aliases)
    if line is None:
        raise err
    print(f"{prog}: error: {line}", file=stream if stream is not None else sys.stderr)
    return EXIT_USER_ERROR


def run_reporting(run: Callable[[], int | None], parser: argparse.ArgumentParser, *,
                  prog: str, aliases: Mapping[str, str] | None = None,
                  stream: TextIO | None = None) -> int | None:
    """``run()``; an expected user error becomes one line on ``stream`` (default stderr) and
    exit code :data:`EXIT_USER_ERROR`; anything else propagates with its traceback.

    Progress bars run inside :func:`statmech._progress.plain_progress_lines`: when stderr is
    not a terminal (a CI log, ``| tee``, ``nohup``) long runs write a plain progress line at
    most every :data:`statmech._progress.PLAIN_EVERY` seconds.
    """
    from .._progress import plain_progress_lines

    try:
        with plain_progress_lines():
            return run()
    except (ValueError, *PATH_ERRORS) as err:
        return report_user_error(err, parser, prog=prog, aliases=aliases, stream=stream)


def run_script(parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], int | None],
               argv: list[str] | None = None, *,
               aliases: Callable[[argparse.Namespace], Mapping[str, str]] | None = None) -> int:
    """A script's ``main``: parse ``argv`` (``--help``: 0; a usage error, already printed as
    one line: 2), then ``run(args)`` through :func:`run_reporting` (``aliases(args)`` maps
    parameter names to flags); any other OSError (a corrupt data file, a full disk) is one
    line on stderr too, exit :data:`EXIT_USER_ERROR`."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error already printed as one line (2)
        return int(exc.code or 0)
    alias = aliases(args) if aliases is not None else None
    try:
        return run_reporting(lambda: run(args), parser, prog=parser.prog, aliases=alias) or 0
    except OSError as exc:
        print(f"{parser.prog}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USER_ERROR


def check_flags(args: argparse.Namespace, constraints: Mapping[str, Sequence],
                func: str) -> None:
    """Check parsed flags (``dest`` → constraint list) before any work; each item of a
    list-valued flag (``nargs``) is checked on its own. Raises InvalidParameterError naming
    the ``dest`` (which :func:`user_error_line` turns into the flag)."""
    for dest, cons in constraints.items():
        value = getattr(args, dest)
        for item in value if isinstance(value, list) else [value]:
            check(item, dest, func, cons)


def check_output_path(path: object, name: str, func: str, *, directory: bool = False) -> Path:
    """Refuse, before any work, an output path that cannot be written: its nearest existing
    ancestor must be a writable directory, and the path itself (if it exists) a file (or a
    directory when ``directory``). Returns it as a Path; creates nothing; raises
    InvalidParameterError naming ``name``."""
    check(path, name, func, [InstanceOf((str, os.PathLike), "a path (str or os.PathLike)")])
    allowed = f"a writable {'directory' if directory else 'file'} path"
    if not os.fspath(path).strip():  # type: ignore[arg-type]
        raise InvalidParameterError.build(func, name, allowed, path, "(an empty path)")
    p = Path(path)  # type: ignore[arg-type]
    if p.exists():
        if directory != p.is_dir():
            raise InvalidParameterError.build(
                func, name, allowed, str(p),
                f"It exists and is {'a directory' if p.is_dir() else 'not a directory'}.")
        target = p if directory else p.parent
    else:
        target = p.parent
        while not target.exists() and target != target.parent:
            target = target.parent
    if not target.is_dir():
        raise InvalidParameterError.build(func, name, allowed, str(p),
                                          f"{str(target)!r} is not a directory.")
    if not os.access(target, os.W_OK | os.X_OK):
        raise InvalidParameterError.build(func, name, allowed, str(p),
                                          f"{str(target)!r} is not writable.")
    return p


def check_output_dir(path: str | os.PathLike, name: str, func: str) -> Path:
    """:func:`check_output_path` for a directory."""
    return check_output_path(path, name, func, directory=True)
