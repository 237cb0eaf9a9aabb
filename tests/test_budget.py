"""What a click or a batch may cost: a budget nothing exceeds (Batch and the bundle), a large click that
asks first, and the account checked when the bundle opens. Real HTTP against the simulator, real widgets."""

from __future__ import annotations

import pytest

from kling_widgets import Batch, KlingClient, KlingError, TaskHistory, sweep
from kling_widgets.errors import BudgetExceededError
from kling_widgets.simulator import Simulator

from .conftest import fox


def test_a_batch_over_its_budget_sends_nothing(photo: bytes, history: TaskHistory) -> None:
    with Simulator(processing_seconds=0.3) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
        requests = sweep(fox(photo), mode=["std", "pro"], duration=[5, 10])  # 1 + 2 + 3.5 + 7 = 13.5 units
        batch = Batch(client, requests, history=history, budget_units=10)
        with pytest.raises(KlingError) as caught:
            batch.start()
        assert isinstance(caught.value, BudgetExceededError)
        assert "13.5 units" in str(caught.value) and "budget of 10 units" in str(caught.value)
        with pytest.raises(BudgetExceededError):
            batch.wait(timeout=5)
        assert sim.creates == 0 and not [r for r in sim.requests if r.method == "POST"]
        assert history.entries() == []  # nothing queued on record either


def test_a_batch_within_its_budget_runs_and_more_past_it_is_refused(photo: bytes) -> None:
    with Simulator(processing_seconds=0.3) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
        batch = Batch(client, sweep(fox(photo), duration=[5, 10]), budget_units=4).start()  # 3 units
        with pytest.raises(BudgetExceededError) as caught:
            batch.add([fox(photo, prompt="more", duration=10)])  # 3 + 2 > 4
        assert "2 units on top of 3 units" in str(caught.value)
        assert len(batch) == 2
        batch.add([fox(photo, prompt="one more")])  # 3 + 1 = 4: at the budget, not over it
        assert len(batch.wait(timeout=30)) == 3 and sim.creates == 3


def test_budget_must_be_a_number_of_units(photo: bytes, client: KlingClient) -> None:
    with pytest.raises(KlingError, match="budget_units"):
        Batch(client, [fox(photo)], budget_units=-1)
