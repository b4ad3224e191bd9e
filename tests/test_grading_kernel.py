"""The grading kernel's snapshot (``Pristine``): what student code changes in place is put back too.

The batch tests (``test_grading_isolation.py``) rig hidden tests through nbgrader; these check the
snapshot itself, directly and fast, including what those notebooks cannot reach: a function changed
without being replaced (its ``__code__`` or defaults swapped in place keeps the same object).
"""

import types

import pytest

pytest.importorskip("ipykernel")

from gan_grader.grading_kernel import Pristine, _protected  # noqa: E402


def fake_library():
    """A module with a function, and a class with a method, a property and a static method."""
    module = types.ModuleType("fakelib")
    exec("def scale(x, by=2):\n    return x * by\n"
         "class Box:\n"
         "    def size(self):\n        return 3\n"
         "    @property\n    def area(self):\n        return 9\n"
         "    @staticmethod\n    def unit():\n        return 1\n", vars(module))
    return module


def test_a_function_changed_in_place_is_put_back_and_named():
    lib = fake_library()
    pristine = Pristine([lib], [lib.Box])
    liar = (lambda *args, **kwargs: "rigged").__code__
    lib.scale.__code__ = liar
    lib.scale.__defaults__ = (100,)
    lib.Box.size.__code__ = liar
    lib.Box.area.fget.__code__ = liar
    lib.Box.__dict__["unit"].__func__.__code__ = liar
    fixed = pristine.restore()
    assert lib.scale(5) == 10 and lib.Box().size() == 3 and lib.Box().area == 9 and lib.Box.unit() == 1
    assert {f"fakelib.{name} (changed in place)" for name in ("scale", "Box.size", "Box.area", "Box.unit")} \
        <= set(fixed), fixed
    assert pristine.restore() == [], "once put back, nothing is left to fix"


def test_a_replaced_function_is_still_put_back():
    lib = fake_library()
    pristine = Pristine([lib], [lib.Box])
    original = lib.scale
    lib.scale = lambda x, by=2: "rigged"
    assert pristine.restore() == ["fakelib.scale"] and lib.scale is original


def test_nothing_is_reported_when_nothing_was_touched():
    """No false alarm on the real set the kernel protects (torch, numpy, the course's helpers...)."""
    import helpers.checks  # noqa: F401 - a course module the instructor's cells import
    import torch

    pristine = Pristine(*_protected())
    torch.nn.functional.binary_cross_entropy_with_logits(torch.zeros(2), torch.ones(2))  # ordinary use
    assert pristine.restore() == []


def test_a_registry_emptied_or_changed_is_filled_again_and_named():
    """The lock on the course's answers reads one dict (``helpers.taught.ANSWERS``): clearing it must not open it."""
    registry = {"pack": print, "slerp": len}
    pristine = Pristine([], [], {"lib.REGISTRY": registry})
    registry.clear()
    assert pristine.restore() == ["lib.REGISTRY"] and registry == {"pack": print, "slerp": len}
    registry["pack"] = len
    registry["extra"] = max
    assert pristine.restore() == ["lib.REGISTRY"] and registry == {"pack": print, "slerp": len}
    assert pristine.restore() == []
