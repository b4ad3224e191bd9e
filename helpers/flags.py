"""Command-line flags checked at the door: argparse types that refuse a bad value in words.

Every command line of the course (``python -m helpers.train``,
``python -m helpers.evaluate``, ``python -m gan_grader grade`` and the
scripts in ``benchmarks/``) declares its flags with these types, so argparse
itself refuses a bad value: exit code 2, and one line that names the flag, what
it expected and the value that came in, e.g.
``error: argument --lr: expected a number above 0, got 'nan'``.

- ``whole(minimum)``                 an int of at least ``minimum``;
- ``number(above=, at_least=, below=, at_most=)``  a finite float in a range;
- ``ExactlyN``                       an argparse action for a fixed count of values, naming what came in;
- ``writable_dir``                   a folder that exists or can be made, and can be written to;
- ``device``                         a device this machine has (``runtime.resolve_device``).
"""

import argparse
import os
from pathlib import Path

from .guards import number_problem, whole_problem
from .runtime import resolve_device


def whole(minimum=1):
    """An argparse type: a whole number of at least ``minimum`` (``guards.whole_problem``)."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = text  # not a whole number: the problem below names it as given
        problem = whole_problem(value, minimum)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.__name__ = f"whole number >= {minimum}"
    return parse


positive_int = whole(1)


def number(**bounds):
    """An argparse type: a finite number within ``bounds`` (``above``, ``at_least``, ``below``, ``at_most``;
    ``guards.number_problem``). NaN and infinity are refused."""

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = text
        problem = number_problem(value, **bounds)
        if problem:
            raise argparse.ArgumentTypeError(problem.replace(f"got {value!r}", f"got {text!r}"))
        return value

    parse.__name__ = "number"
    return parse


class ExactlyN(argparse.Action):
    """``nargs="+"`` that then insists on ``count`` values, naming the ones given (argparse's own
    ``nargs=2`` says only "expected 2 arguments"). Use as ``action=ExactlyN, count=2``."""

    def __init__(self, option_strings, dest, count=2, **kwargs):
        kwargs.setdefault("nargs", "+")
        super().__init__(option_strings, dest, **kwargs)
        self.count = count

    def __call__(self, parser, namespace, values, option_string=None):
        if len(values) != self.count:
            raise argparse.ArgumentError(self, f"expected {self.count} values, got {len(values)}: "
                                               f"{' '.join(map(str, values))}")
        setattr(namespace, self.dest, values)


def writable_dir(text):
    """An argparse type: a folder that exists or can be created, and can be written to."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"expected a folder to write into, but {path} is a file")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot write to the folder {path}: {error.strerror or error}") from None
    return path


def writable_file(text):
    """An argparse type: a file to write (a report), checked before any work: not a folder, in a folder that
    exists and can be written to."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"expected a file to write, but {path} is a folder")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {path}: its folder {folder} does not exist"
                                         + (" (it is a file)" if folder.exists() else ""))
    if not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {path}: the folder {folder} is not writable")
    return path


def device(text):
    """An argparse type: the name of a device this machine has (``cpu``, ``cuda``, ``cuda:1``, ``mps``); returned as given."""
    try:
        resolve_device(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text
