"""When the farm stops retrying a job whose workers died (pure: no Ray needed)."""

from __future__ import annotations

from studio.farm.farm import MAX_ATTEMPTS, give_up


def test_workers_killed_at_random_points_keep_the_job_going():
    assert give_up([("generate", 3, 4.0), ("generate", 14, 9.0), ("export", 1, 12.0)]) == ""
    assert give_up([("model", 0, 1.0), ("generate", 7, 5.0), ("generate", 2, 3.0), ("generate", 19, 9.0)]) == ""
    # a model load is one long step 0: kills at random moments of it are not "the same point"
    assert give_up([("model", 0, 1.5), ("model", 0, 9.0), ("model", 0, 4.0)]) == ""


def test_a_job_that_dies_at_the_same_point_three_times_is_its_own_fault():
    verdict = give_up([("generate", 11, 30.0), ("generate", 12, 31.0), ("generate", 11, 29.5)])
    assert "3 times" in verdict and "node 'generate', step 11" in verdict and "out of memory" in verdict
    assert "before it reported any progress" in give_up([("", 0, 0.5)] * 3)
    assert "node 'model', step 0" in give_up([("model", 0, 12.0), ("model", 0, 12.5), ("model", 0, 11.8)])


def test_any_job_is_given_up_after_the_cap():
    deaths = [("generate", 5 * i, 3.0 * i) for i in range(MAX_ATTEMPTS)]
    assert give_up(deaths[:-1]) == "" and give_up(deaths) == f"its worker died {MAX_ATTEMPTS} times"
