"""helpers.runtime: device choice, seeding, fast mode."""

import random

import numpy as np
import pytest
import torch

import helpers


def test_get_device_returns_a_usable_device():
    device = helpers.get_device()
    assert isinstance(device, torch.device)
    torch.zeros(1, device=device)
    if torch.cuda.is_available():
        assert device.type == "cuda"


def test_seed_everything_makes_cpu_runs_repeat_bit_for_bit():
    def run():
        helpers.seed_everything(123)
        net = torch.nn.Linear(8, 3)
        x = torch.randn(5, 8)
        return random.random(), np.random.rand(), net(x).detach()

    a, b = run(), run()
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


def test_seed_everything_rejects_bad_seeds():
    with pytest.raises(ValueError, match="non-negative int"):
        helpers.seed_everything(-1)
    with pytest.raises(ValueError, match="non-negative int"):
        helpers.seed_everything(1.5)


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_fast_mode_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("GAN_COURSE_FAST", value)
    assert helpers.fast_mode() is expected


def test_fast_mode_is_off_by_default(monkeypatch):
    monkeypatch.delenv("GAN_COURSE_FAST", raising=False)
    assert helpers.fast_mode() is False


@pytest.mark.gpu
def test_cuda_is_preferred_and_works():
    assert helpers.get_device().type == "cuda"
    x = torch.randn(64, 64, device="cuda")
    assert torch.allclose((x @ x.T).cpu(), x.cpu() @ x.cpu().T, atol=1e-3)
