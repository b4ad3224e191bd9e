"""The Jupyter kernel that autograding runs each submission in.

It is an ordinary IPython kernel, with these changes that keep the verdict
out of the student's hands (the grade command, ``grading.py``, starts it
through nbgrader and reads what it reports):

1. **Hidden tests run on pristine code.** Before any student code runs, the
   kernel imports what the instructor's cells import (torch, the course's
   helpers...) and snapshots the functions and classes those modules hold,
   the builtins, and the methods of ``torch.Tensor`` and ``nn.Module``. Before each instructor test cell it
   puts back whatever student code replaced (``torch.allclose = ...``, a
   patched ``helpers.checks``, a redefined ``len``, a function's
   ``__code__`` swapped in place), and reports it. The
   names the instructor's cells import (``torch``, ``F``, ``checks``...)
   are bound again to what they imported, if the test cell uses them.
2. **Hidden tests bypass IPython's input machinery.** A test cell is compiled
   and run directly, so input transformers, AST transformers, cell hooks and
   custom exception handlers a student registered never see it.
3. **Limits.** Each file the kernel (or anything it starts) writes is capped
   (``RLIMIT_FSIZE``; the write fails with "File too large" instead of
   killing the process). A cell that keeps running well past the per-cell
   limit, because it swallowed the interrupt, makes the kernel exit; the
   grade command then skips that cell and grades the rest.
4. **Standard error is shown on standard output.** nbgrader scores a graded
   cell 0 for any output on stderr; a correct cell that logs a line must not
   lose its points. Errors still fail the cell (they are error replies).
5. **A report.** One JSON line per event (a cell started, names put back, a
   cell skipped, an ignored interrupt) goes to the file named by
   ``GAN_GRADER_REPORT``.
6. **The judge's questions.** After a test cell passed, the judge
   (``judge.py``) asks that exercise again, on inputs the student could not
   know, and saves the replies; the grade command marks them outside the
   kernel, so the score does not rest on this kernel alone.

What it cannot stop: code written against this kernel itself (there is no
sandbox). That code can make a test cell pass here, but not answer the
judge's questions right without solving the exercise: the README's "What
grading isolates" section says what is and is not covered.

Settings come from the environment, set by the grade command per student:
``GAN_GRADER_HIDDEN`` (the sha1 of each instructor test cell, comma-separated),
``GAN_GRADER_IMPORTS`` (``instructor_imports`` of the source notebook, as JSON),
``GAN_GRADER_SKIP`` (a JSON object: cell key -> reason), ``GAN_GRADER_TIMEOUT``
(seconds per cell), ``GAN_GRADER_FILE_LIMIT`` (bytes per file),
``GAN_GRADER_REPORT`` and ``GAN_GRADER_JUDGE`` (a JSON object: ``seed``,
``folder`` for the replies, and ``cells``, the sha1 of each judged test cell
-> its grade_id).
"""

import builtins
import hashlib
import json
import os
import resource
import signal
import sys
import sysconfig
import threading
import time
import traceback
import types

from ipykernel.ipkernel import IPythonKernel

KERNEL_NAME = "gan-course-grading"
_MISSING = object()


def grace_seconds(timeout):
    """How long a cell may run past the per-cell limit (once interrupted) before the kernel gives up on it."""
    return max(5.0, timeout / 4)


def cell_key(index, code):
    """The key the kernel reports a cell under: its position among executed cells and its source's sha1."""
    return f"{index}:{code_hash(code)}"


def code_hash(code):
    """sha1 of a cell's source, as nbclient sends it."""
    return hashlib.sha1(code.encode()).hexdigest()


class Pristine:
    """The functions and classes the hidden tests rely on, as they were before any student code ran.

    ``modules``: modules whose callables, classes and submodules are kept
    (every entry for ``builtins``); ``classes``: classes whose whole
    ``__dict__`` is kept, and the code and defaults of every Python function
    among them; ``registries``: ``{dotted name: dict}``, dicts whose entries
    are kept (the lock on the course's answers reads ``helpers.taught.ANSWERS``).
    ``restore()`` puts back what was replaced, changed or
    deleted (and removes what was added to a kept class or registry) and
    returns the dotted names it fixed.
    """

    def __init__(self, modules, classes, registries=None):
        self._modules = [(m, {k: v for k, v in vars(m).items() if m is builtins or _worth_keeping(v)})
                         for m in modules]
        self._classes = [(c, dict(vars(c))) for c in classes]
        self._registries = [(name, registry, dict(registry)) for name, registry in (registries or {}).items()]
        # A Python function can be changed without being replaced: ``f.__code__ = ...`` keeps the
        # same object, so the code and defaults of every function kept above are kept too.
        kept = [(f"{m.__name__}.{k}", v) for m, saved in self._modules for k, v in saved.items()]
        kept += [(f"{c.__module__}.{c.__qualname__}.{k}", v) for c, saved in self._classes for k, v in saved.items()]
        self._functions = {id(f): (name, f, _function_state(f)) for name, value in kept for f in _functions_in(value)}

    def restore(self):
        fixed = []
        for name, function, state in self._functions.values():
            if any(now is not then for now, then in zip(_function_state(function), state)):
                function.__code__, function.__defaults__, function.__kwdefaults__ = state
                fixed.append(f"{name} (changed in place)")
        for module, saved in self._modules:
            current = vars(module)
            for key, value in saved.items():
                now = current.get(key, _MISSING)
                if now is value:
                    continue
                if _library_wrapper_of(now, value):
                    saved[key] = now  # torch wraps some of its own functions when a part of it loads
                    continue
                current[key] = value
                fixed.append(f"{module.__name__}.{key}")
        for name, registry, saved in self._registries:
            if registry != saved or any(registry[key] is not value for key, value in saved.items()):
                registry.clear()
                registry.update(saved)
                fixed.append(name)
        for cls, saved in self._classes:
            name = f"{cls.__module__}.{cls.__qualname__}"
            for key in [k for k in vars(cls) if k not in saved and k not in _PYTHON_CACHES]:
                delattr(cls, key)
                fixed.append(f"{name}.{key}")
            for key, value in saved.items():
                if vars(cls).get(key, _MISSING) is not value:
                    setattr(cls, key, value)
                    fixed.append(f"{name}.{key}")
        return fixed


def instructor_imports(cells):
    """``{name: [module, attribute or None]}`` for the top-level imports in ``cells`` (source strings).

    ``import torch.nn.functional as F`` gives ``F: ["torch.nn.functional", None]``;
    ``from torch import nn`` gives ``nn: ["torch", "nn"]``. Cells that do not
    parse (IPython magics) are skipped.
    """
    import ast

    names = {}
    for source in cells:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        names[alias.asname] = [alias.name, None]
                    else:
                        top = alias.name.split(".")[0]
                        names[top] = [top, None]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    if alias.name != "*":
                        names[alias.asname or alias.name] = [node.module, alias.name]
    return names


def _resolve(imports):
    """Import what ``instructor_imports`` named; return ``{name: object}`` (names that fail are left out)."""
    import importlib

    resolved = {}
    for name, (module, attribute) in imports.items():
        try:
            value = importlib.import_module(module)
            if attribute is not None:
                try:
                    value = getattr(value, attribute)
                except AttributeError:
                    value = importlib.import_module(f"{module}.{attribute}")
        except Exception:  # noqa: BLE001 - a missing optional module: the test cell will say so itself
            continue
        resolved[name] = value
    return resolved


def _names_used(code):
    """Every global name a compiled cell (and the functions and classes in it) reads."""
    names, stack = set(), [code]
    while stack:
        current = stack.pop()
        names.update(current.co_names)
        stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return names


def _library_wrapper_of(new, old):
    """True when ``new`` wraps ``old`` (``functools.wraps``) and its code is an installed library's.

    Loading ``torch._dynamo`` replaces ``torch.manual_seed`` with such a
    wrapper; a function defined in a notebook never passes.
    """
    code = getattr(new, "__code__", None)
    return (getattr(new, "__wrapped__", None) is old and code is not None
            and any(code.co_filename.startswith(p) for p in _LIBRARY_PATHS))


_LIBRARY_PATHS = tuple({sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")})


def _from_notebook(obj):
    """True for a function, method or object whose class was defined in the notebook itself."""
    function = getattr(obj, "__func__", obj)
    return "__main__" in (getattr(function, "__module__", None), type(obj).__module__)


_PYTHON_CACHES = {"__slotnames__"}  # class attributes Python adds itself (copyreg, when an object is copied)


def _functions_in(value):
    """The Python functions behind a kept value: itself, a method's, or a property's getter and setter."""
    candidates = [value, getattr(value, "__func__", None)]
    if isinstance(value, property):
        candidates += [value.fget, value.fset, value.fdel]
    return [f for f in candidates if isinstance(f, types.FunctionType)]


def _function_state(function):
    """What can change in a function while it stays the same object: its code and its defaults."""
    return function.__code__, function.__defaults__, function.__kwdefaults__


def _worth_keeping(value):
    return callable(value) or isinstance(value, (type, types.ModuleType))


def _protected():
    """What the hidden tests may rely on: (modules, classes, registries) to snapshot, once the instructor's
    imports ran.

    torch, numpy, math and traceback, every course module loaded by then (the
    ones the instructor's cells import, and theirs), the builtins, and the
    classes whose methods a test calls.
    """
    import math

    import numpy
    import torch

    names = ("torch", "torch.nn", "torch.nn.functional", "torch.nn.init", "torch.optim", "torch.testing",
             "torch.utils.data", "numpy", "traceback")
    modules = [builtins, math, *(sys.modules[n] for n in names if n in sys.modules)]
    modules += [m for n, m in sorted(sys.modules.items()) if n.split(".")[0] in ("helpers", "gan_grader")]
    from helpers import taught

    return (modules, [torch.Tensor, torch.nn.Module, torch.nn.Parameter, numpy.ndarray],
            {"helpers.taught.ANSWERS": taught.ANSWERS, "helpers.taught._COPIES": taught._COPIES})


class CellSkipped(Exception):
    """What a skipped cell shows: it ended the kernel on an earlier try (a crash, a limit, an ignored
    interrupt), so it is not run again."""


class GradingKernel(IPythonKernel):
    """An IPython kernel whose instructor test cells run on pristine code, outside IPython's hooks."""

    implementation = KERNEL_NAME

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        _limit_file_size(int(os.environ.get("GAN_GRADER_FILE_LIMIT", 0)))
        self._hidden = set(filter(None, os.environ.get("GAN_GRADER_HIDDEN", "").split(",")))
        self._skip = json.loads(os.environ.get("GAN_GRADER_SKIP", "{}"))
        self._timeout = float(os.environ.get("GAN_GRADER_TIMEOUT", 0))
        self._report_path = os.environ.get("GAN_GRADER_REPORT")
        self._count = 0
        self._running = None  # (key, start time) of the cell being run
        self._format = traceback.format_exception
        # nbgrader gives 0 points to a graded cell with any output on stderr. Correct code that logs (Python's
        # logging writes to stderr) must keep its points, and only an error fails a cell: so everything the
        # notebook writes to sys.stderr is shown on stdout instead (errors reach nbgrader as error replies).
        sys.stderr = self._stdout = sys.stdout
        self._imports = _resolve(json.loads(os.environ.get("GAN_GRADER_IMPORTS", "{}")))
        self._judge = json.loads(os.environ.get("GAN_GRADER_JUDGE", "{}"))
        if self._judge.get("cells"):
            from . import judge  # imported before any student code runs, like the rest

            self._ask = judge.ask
        self._pristine = Pristine(*_protected())
        self._hooks = self._ipython_hooks()
        if self._timeout:
            threading.Thread(target=self._watch, daemon=True).start()

    async def do_execute(self, code, silent, store_history=True, user_expressions=None,
                         allow_stdin=False, **kwargs):
        key = cell_key(self._count, code)
        self._count += 1
        self._report(event="start", cell=key)
        if key in self._skip:
            self._report(event="skipped", cell=key)
            return self._error_reply(CellSkipped(self._skip[key]), show_traceback=False)
        self._running = (key, time.monotonic())
        try:
            if code_hash(code) in self._hidden:
                return self._run_hidden_test(code)
            return await super().do_execute(code, silent, store_history, user_expressions, allow_stdin, **kwargs)
        finally:
            self._running = None

    def _ipython_hooks(self):
        """The hooks notebook code registered on IPython: ``{kind: ids of the objects defined in the notebook}``.

        (Libraries register hooks too, matplotlib's inline backend for one;
        only objects the notebook itself defined count.)
        """
        shell = self.shell
        kinds = {"an input transformer": [*shell.input_transformers_cleanup, *shell.input_transformers_post],
                 "an AST transformer": list(shell.ast_transformers),
                 "a cell event callback": [f for fs in shell.events.callbacks.values() for f in fs]}
        hooks = {kind: [id(o) for o in objects if _from_notebook(o)] for kind, objects in kinds.items()}
        hooks["a custom exception handler"] = [id(shell.custom_exceptions)] if shell.custom_exceptions else []
        return hooks

    def _run_hidden_test(self, code):
        """Run an instructor test cell on the pristine names, straight through ``exec``."""
        fixed = self._pristine.restore()
        sys.stdout = sys.stderr = self._stdout
        if fixed:
            self._report(event="restored", names=fixed)
        hooks = [kind for kind, ids in self._ipython_hooks().items() if ids != self._hooks[kind]]
        if hooks:
            self._report(event="hooks", names=hooks)
        namespace = self.shell.user_ns
        self.shell.execution_count += 1
        try:
            compiled = compile(code, f"<instructor tests {self._count}>", "exec")
            names = _names_used(compiled)
            trusted = {n: self._imports[n] for n in names if n in self._imports}
            # a builtin the student's namespace shadows (``globals``, ``len``) is the builtin again
            trusted.update({n: getattr(builtins, n) for n in names - set(trusted)
                            if n in namespace and hasattr(builtins, n)})
            used = [n for n, value in trusted.items() if namespace.get(n, _MISSING) is not value]
            rebound = sorted(n for n in used if n in namespace)  # not merely a name the cell imports itself
            namespace.update({n: trusted[n] for n in used})
            if rebound:
                self._report(event="rebound", names=rebound)
            exec(compiled, namespace)
            grade_id = self._judge.get("cells", {}).get(code_hash(code))
            if grade_id:
                self._ask(grade_id, namespace, self._judge["seed"], self._judge["folder"])
        except BaseException as error:  # noqa: BLE001 - a failed assertion, an interrupt: the cell failed
            return self._error_reply(error)
        return {"status": "ok", "execution_count": self.shell.execution_count - 1, "payload": [],
                "user_expressions": {}}

    def _error_reply(self, error, show_traceback=True):
        lines = self._format(type(error), error, error.__traceback__) if show_traceback else []
        content = {"ename": type(error).__name__, "evalue": str(error),
                   "traceback": ["".join(lines).rstrip()] if lines else [f"{type(error).__name__}: {error}"]}
        self.session.send(self.iopub_socket, "error", content, self.get_parent(), ident=self._topic("error"))
        return {"status": "error", "execution_count": self.shell.execution_count, "payload": [],
                "user_expressions": {}, **content}

    def _watch(self):
        """Exit the kernel when a cell runs well past the limit (it swallowed the interrupt)."""
        while True:
            time.sleep(1)
            running = self._running
            if running and time.monotonic() - running[1] > self._timeout + grace_seconds(self._timeout):
                self._report(event="ignored-interrupt", cell=running[0])
                os._exit(75)

    def _report(self, **event):
        if not self._report_path:
            return
        with open(self._report_path, "a") as handle:
            handle.write(json.dumps(event) + "\n")


def _limit_file_size(limit):
    """Cap each file this process and its children write at ``limit`` bytes (0: no cap)."""
    if limit > 0:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the cap fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def read_report(path):
    """The events a grading kernel reported, oldest first (a missing or garbled line is skipped)."""
    events = []
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return events
    for line in lines:
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def kernel_argv():
    """The command that starts this kernel (``{connection_file}`` is filled in by Jupyter)."""
    return [sys.executable, "-m", "gan_grader.grading_kernel", "-f", "{connection_file}"]


def write_kernelspec(folder, argv=None, interrupt="signal"):
    """Write this kernel's kernelspec under ``folder/kernels/``; return ``folder`` (for ``JUPYTER_PATH``).

    ``argv``: the command that starts it (default ``kernel_argv()``; ``sandbox.kernel_command`` wraps it).
    ``interrupt``: how the timeout's interrupt reaches it, ``"signal"`` or ``"message"`` (a kernel in a
    sandbox: a signal stops at the sandbox's edge).
    """
    spec = os.path.join(folder, "kernels", KERNEL_NAME)
    os.makedirs(spec, exist_ok=True)
    partial = os.path.join(spec, f".kernel.json.{os.getpid()}")  # written whole: --jobs grades in parallel
    with open(partial, "w") as handle:
        json.dump({"argv": argv or kernel_argv(), "display_name": "GAN course (grading)", "language": "python",
                   "interrupt_mode": interrupt}, handle)
    os.replace(partial, os.path.join(spec, "kernel.json"))
    return folder


if __name__ == "__main__":
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(kernel_class=GradingKernel)
