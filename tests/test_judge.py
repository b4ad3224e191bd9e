"""The judge (``gan_grader.judge``) on its own: it knows every graded exercise, reads replies
as data only, never lets a bad reply through, and leaves the student's kernel as it found it.

Whether it marks each mistake wrong and each correct variant right is tested with the grading
cases, in ``test_exercise_agreement.py``; ``test_grading_isolation.py`` grades a submission that rigs
the grading kernel itself.
"""

import io

import pytest
import torch

from grading_cases import SOURCES, load
from gan_grader import grading, judge
from gan_grader.exercises import EXERCISES, Unjudged


def test_every_graded_test_cell_of_the_course_has_an_exercise_and_its_grade_id_is_unique():
    test_ids = [c["metadata"]["nbgrader"]["grade_id"] for path in SOURCES.values() for c in load(path)["cells"]
                if c.get("metadata", {}).get("nbgrader", {}).get("grade")
                and not c["metadata"]["nbgrader"].get("solution")]
    assert len(test_ids) == len(set(test_ids))
    assert sorted(test_ids) == sorted(EXERCISES)


def test_each_session_judges_all_its_test_cells_and_not_a_rewritten_one(tmp_path):
    for path in SOURCES.values():
        source = load(path)
        judged = grading.judged_cells(source, path)
        tests = [c for c in source["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade")
                 and not c["metadata"]["nbgrader"].get("solution")]
        assert sorted(judged.values()) == sorted(c["metadata"]["nbgrader"]["grade_id"] for c in tests)
    source = load(SOURCES["01_data"])
    cell = next(c for c in source["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                == "test_class_counts")
    cell["source"] = "assert True\n"  # an instructor's own test: left to nbgrader
    assert "test_class_counts" not in grading.judged_cells(source, SOURCES["01_data"]).values()
    assert grading.judged_cells(source, tmp_path / "no-such.ipynb") == {}


def reply_bytes(value):
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


class Smuggled:
    """An object that is not plain data: unpickling it would run code."""

    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.mark.parametrize("reply, words", [
    (None, "no answer reached the judge"),
    (b"not a torch file", "could not be read as data"),
    (reply_bytes(Smuggled()), "could not be read as data"),
    (reply_bytes([1, 2]), "could not be read as data"),
    (reply_bytes({"error": "ZeroDivisionError: boom"}), "failed on the judge's inputs: ZeroDivisionError"),
    (reply_bytes({}), "is not what class_counts should give (KeyError"),
    (reply_bytes({"ten": "a string", "twelve": None}), "int64 tensor"),
    (reply_bytes({"ten": torch.zeros(10, dtype=torch.int64), "twelve": torch.zeros(12, dtype=torch.int64)}),
     "class_counts(labels, 10) gave"),
])
def test_a_bad_reply_is_marked_wrong_with_a_sentence_never_an_exception(reply, words, capsys):
    why = judge.mark("test_class_counts", reply, 5)
    assert why is not None and words in why, why
    assert "this must never run" not in capsys.readouterr().out


STUDENT_CODE = """
import torch

def class_counts(labels, num_classes=10):
    print("a student's print")
    return torch.bincount(labels, minlength=num_classes)

def sample_noise(batch_size, latent_dim, device):
    return torch.zeros(batch_size, latent_dim, device=device)  # wrong, but not this exercise's business

def discriminator_step(G, D, opt_d, real, latent_dim):
    fake = G(sample_noise(real.shape[0], latent_dim, real.device)).detach()
    d_real, d_fake = D(real), D(fake)
    loss = discriminator_loss(d_real, d_fake)  # not defined: the judge gives the right one while it asks
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()
    return loss.detach(), d_real.detach().mean(), d_fake.detach().mean()
"""


def test_asking_leaves_the_kernel_as_it_was_and_prints_nothing(tmp_path, capsys):
    namespace = {}
    exec(STUDENT_CODE, namespace)  # as a kernel holds a notebook's names
    before = dict(namespace)
    torch.manual_seed(0)
    state = torch.get_rng_state()
    for grade_id in ("test_class_counts", "test_discriminator_step"):
        judge.ask(grade_id, namespace, 11, tmp_path)
        assert judge.mark(grade_id, judge.read_replies(tmp_path)[grade_id], 11) is None
    assert torch.equal(torch.get_rng_state(), state)
    assert namespace == before  # the right answers given while asking are gone again
    assert capsys.readouterr().out == ""


def test_a_missing_answer_is_a_reply_and_overrule_zeroes_only_what_the_judge_marks_wrong(tmp_path, monkeypatch):
    judge.ask("test_mean_image", {}, 3, tmp_path)
    replies = judge.read_replies(tmp_path)
    assert "mean_image is not defined" in judge.mark("test_mean_image", replies["test_mean_image"], 3)
    scores = {"test_mean_image": 2.0, "test_class_counts": 0.0, "test_to_zero_one": 2.0}
    notes = judge.overrule(scores, replies, 3, ["test_mean_image", "test_class_counts"])
    assert scores == {"test_mean_image": 0.0, "test_class_counts": 0.0, "test_to_zero_one": 2.0}
    assert len(notes) == 1 and notes[0].startswith("test_mean_image passed in the notebook but failed")

    def no_data(reply, seed):
        raise Unjudged("no data here")

    monkeypatch.setitem(EXERCISES, "test_mean_image", EXERCISES["test_mean_image"].__class__(
        "mean_image", EXERCISES["test_mean_image"].ask, no_data))
    judge.ask("test_mean_image", {"mean_image": lambda images: images.float().mean(0) / 255}, 3, tmp_path)
    scores = {"test_mean_image": 2.0}
    notes = judge.overrule(scores, judge.read_replies(tmp_path), 3, ["test_mean_image"])
    assert scores == {"test_mean_image": 2.0} and "not checked outside the kernel: no data here" in notes[0]


def test_every_exercise_has_one_visible_check_and_one_command_finds_all_its_checks(capsys):
    import importlib

    from gan_grader.__main__ import main
    from helpers.checks import CHECKS

    for session in ("data", "mlp_gan", "dcgan", "evaluate", "conditional", "stable"):
        importlib.import_module(f"helpers.checks.{session}")
    assert sorted(CHECKS) == sorted((exercise.session, exercise.name) for exercise in EXERCISES.values())
    assert main(["exercise", "pack"]) == 0
    out = capsys.readouterr().out
    for where in ("instructor/gan_grader/exercises/evaluate.py:", "ask_pack", "mark_pack",
                  "helpers/checks/evaluate.py:", "check_pack", "helpers.collapse.pack"):
        assert where in out, out
    assert main(["exercise", "no_such"]) == 2
    assert "no exercise is called 'no_such'; the exercises are ConditionalDiscriminator" in capsys.readouterr().err
