"""torch's CPU threads on a busy machine: lowered to the cores others leave free, never raised."""

from __future__ import annotations

import os

import pytest
import torch

from studio.runtime.loading import fit_cpu_threads


@pytest.fixture
def two_threads(monkeypatch):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})  # a 2-core machine
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("load, threads", [(8.0, 1), (2.2, 1), (1.0, 2), (0.1, 2)])
def test_threads_follow_the_cores_left_free(two_threads, monkeypatch, load, threads):
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert fit_cpu_threads() == threads
    assert torch.get_num_threads() == threads


def test_an_explicit_choice_is_kept(two_threads, monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (8.0, 8.0, 8.0))
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert fit_cpu_threads() == 2 and torch.get_num_threads() == 2
