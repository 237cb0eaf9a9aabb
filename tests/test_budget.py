"""What a click or a batch may cost: a budget nothing exceeds (Batch and the bundle), a large click that
asks first, and the account checked when the bundle opens. Real HTTP against the simulator, real widgets."""

from __future__ import annotations

import time
from typing import Any

import pytest

from kling_widgets import Batch, KlingClient, KlingError, MultiImageToVideo, TaskHistory, sweep
from kling_widgets.errors import BudgetExceededError
from kling_widgets.simulator import Simulator

from .conftest import all_state, fill, fox, wait_for, web_page_server


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


# -- the bundle --------------------------------------------------------------------------------------------
def _bundle(sim: Simulator, **kwargs: Any) -> MultiImageToVideo:
    client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
    return MultiImageToVideo(client, poll_interval=0.05, **kwargs)


def _banner(app: MultiImageToVideo) -> str:
    return str(app._account_banner.html.value)


def test_a_refused_key_is_said_before_any_click_and_generate_stays_off(photo: bytes) -> None:
    with Simulator() as sim:
        app = MultiImageToVideo(KlingClient("not-the-key", base_url=sim.url), poll_interval=0.05)
        fill(app, photo)
        wait_for(lambda: app.account_kind == "refused")
        assert "refused this key" in app.account and "refused this key" in _banner(app)
        assert app.submit_button.disabled and "refused this key" in app.reason and app.reason_kind == "error"
        assert [p.field for p in app.problems] == ["account"]
        assert app.submit() is None and "refused this key" in app.status
        assert "not-the-key" not in all_state(app)
        assert sim.creates == 0 and not [r for r in sim.requests if r.method == "POST"]
        app.close()


def test_the_account_is_checked_off_the_kernel_thread_when_the_bundle_opens(photo: bytes) -> None:
    with Simulator(credit=3.0, price_per_unit=0.5, processing_seconds=0.3) as sim:
        sim.inject(method="GET", path="/v1/models", status=None, delay=3.0)  # a slow service
        app = _bundle(sim)
        assert app.account_kind == "checking" and "Checking" in _banner(app)  # the cell did not wait for it
        wait_for(lambda: app.account_kind == "ok")
        assert "3.00 left on this key" in app.account and "as the gateway reports it" in app.account
        assert "3.00 left" in _banner(app)
        fill(app, photo)
        future = app.submit()
        assert future is not None and future.result(timeout=10) is not None  # 1 unit at 0.5
        wait_for(lambda: "2.50 left" in app.account, timeout=20)  # asked again after the task ended
        assert sim.creates == 1
        app.close()


def test_the_simulators_own_account_reads_calmly() -> None:
    """No key set (the demo, the app): the banner speaks of the simulator, not of a gateway that hides credit."""
    with Simulator() as sim:
        app = _bundle(sim)
        wait_for(lambda: app.account_kind == "ok")
        assert app.account == "The simulator's own key · no credit to run out of"
        assert "gateway" not in _banner(app) and "nothing is billed" in _banner(app)
        app.close()


def test_kling_direct_shows_videos_left_and_refreshes_after_tasks_end(photo: bytes) -> None:
    with Simulator("kling", units=12, processing_seconds=0.3) as sim:
        client = KlingClient(
            provider="kling", access_key=sim.access_key, secret_key=sim.secret_key, base_url=sim.url, poll_interval=0.05
        )
        app = MultiImageToVideo(client, poll_interval=0.05)
        wait_for(lambda: app.account_kind == "ok")
        assert app.account.startswith("≈ 12 std 5 s videos left") and "≈ 12 std 5 s videos left" in _banner(app)
        fill(app, photo)
        app.options.mode = "pro"  # 3.5 units
        future = app.submit()
        assert future is not None and future.result(timeout=10) is not None
        wait_for(lambda: app.account.startswith("≈ 8 std 5 s videos left"), timeout=20)
        app.close()


def test_the_simulators_key_is_never_sent_to_another_server() -> None:
    seen: list[str] = []
    with web_page_server(seen=seen) as address:
        app = MultiImageToVideo(KlingClient(Simulator().api_key, base_url=address))
        assert app.account == "" and app.account_kind == ""
        assert seen == ["/sim/about"]  # the key-free probe only: no account check with the simulator's key
        app.close()


def test_a_key_the_service_cannot_check_is_not_said_to_be_checked() -> None:
    with web_page_server() as address:  # a gateway that answers every free route with its web page
        app = MultiImageToVideo(KlingClient("sk-someone", base_url=address))
        wait_for(lambda: app.account_kind == "ok")
        assert "Key checked" not in app.account and "does not say" in app.account
        app.close()


def test_the_bundle_keeps_within_its_budget_and_shows_what_it_sent(photo: bytes) -> None:
    with Simulator(processing_seconds=0.3) as sim:
        app = _bundle(sim, budget_units=3)
        fill(app, photo)
        assert "sent so far: 0 of your budget of 3 units" in app.reason
        future = app.submit()
        assert future is not None and future.result(timeout=10) is not None
        wait_for(lambda: not app.submitting)
        assert app.units_sent == 1 and "sent so far: 1 of your budget of 3 units" in app.reason
        app.both_durations = True  # 1 + 2 more: over 3
        assert app.submit_button.disabled and [p.field for p in app.problems] == ["budget_units"]
        assert "over the budget" in app.reason and "3 units" in app.reason
        assert app.submit() is None and "Not sent: over the budget" in app.status
        assert sim.creates == 1
        app.both_durations = False
        app.options.duration = 10  # 1 + 2 = 3: at the budget
        future = app.submit()
        assert future is not None and future.result(timeout=10) is not None
        wait_for(lambda: app.units_sent == 3)
        assert sim.creates == 2
        app.close()


def test_a_large_click_asks_first_and_a_second_click_sends_them_all(photo: bytes) -> None:
    with Simulator(processing_seconds=0.3) as sim:
        app = _bundle(sim)  # asks above 10 units by default
        fill(app, photo, "a fox\na hare\nan owl")
        app.prompt_per_line = app.both_modes = app.both_durations = True  # 12 tasks, 40.5 units
        app.submit_button.click()
        assert sim.creates == 0 and not [r for r in sim.requests if r.method == "POST"]
        for said in (app.status, app.reason):
            assert "12 tasks" in said and "40.5 units" in said and "again" in said
        assert app.reason == "Click Generate again to send all 12 tasks (about 40.5 units)"
        assert app.status_kind == "warning" and not app.submit_button.disabled
        app.submit_button.click()  # the confirmation: not taken for the second half of a double click
        wait_for(lambda: sim.creates == 12, timeout=60)
        assert app.status.startswith("12 videos: 3 prompt lines × Standard and Pro × 5 s and 10 s queued")
        app.close()


def test_a_double_click_in_the_page_on_a_large_sweep_only_asks(photo: bytes) -> None:
    with Simulator(processing_seconds=0.3) as sim:
        app = _bundle(sim)
        fill(app, photo, "a fox\na hare\nan owl")
        app.prompt_per_line = app.both_modes = app.both_durations = True  # 12 tasks, 40.5 units
        page_click = {"event": "click"}
        app.submit_button._handle_button_msg(None, page_click, [])  # both halves, as a busy kernel gets them
        app.submit_button._handle_button_msg(None, page_click, [])
        assert sim.creates == 0 and app.status.startswith("Confirm")
        time.sleep(1.1)  # a person reads the question, then clicks again
        app.submit_button._handle_button_msg(None, page_click, [])
        wait_for(lambda: sim.creates == 12, timeout=60)
        app.close()


def test_a_changed_form_asks_again_and_small_clicks_never_ask(photo: bytes) -> None:
    with Simulator(processing_seconds=0.3) as sim:
        app = _bundle(sim, confirm_above_units=2)
        fill(app, photo)
        app.both_durations = True  # 3 units
        assert app.submit() is None and app.status.startswith("Confirm")
        app.prompt_box.value = "a hare runs through snow"  # a new question: the pending answer is dropped
        assert app.status == "" and "again" not in app.reason and app.reason.startswith("Ready")
        assert app.submit() is None and sim.creates == 0
        future = app.submit()
        assert future is not None and future.result(timeout=10) is not None
        app.close()
        never = _bundle(sim, confirm_above_units=None)
        fill(never, photo)
        never.both_durations = never.both_modes = True
        future = never.submit()
        assert future is not None and future.result(timeout=10) is not None
        never.close()


def test_a_key_revoked_while_the_bundle_is_open_turns_generate_off(photo: bytes) -> None:
    with Simulator(processing_seconds=0.3) as sim:
        app = _bundle(sim)
        fill(app, photo)
        wait_for(lambda: app.account_kind == "ok")
        sim.api_key = "rotated-key"  # the key is revoked on the service's side
        future = app.submit()
        assert future is not None and future.result(timeout=10) is None
        wait_for(lambda: app.account_kind == "refused")
        assert app.submit_button.disabled and "refused this key" in app.reason
        assert sim.creates == 0
        app.close()


def test_out_of_credit_at_a_click_shows_what_the_account_says(photo: bytes) -> None:
    with Simulator(credit=1.5, price_per_unit=1.0, processing_seconds=0.3) as sim:
        app = _bundle(sim)
        fill(app, photo)
        wait_for(lambda: "1.50 left" in app.account)
        future = app.submit()
        assert future is not None and future.result(timeout=10) is not None  # 1.00 charged
        wait_for(lambda: not app.submitting)
        app.prompt_box.value = "a hare runs through snow"
        future = app.submit()  # 0.50 left: refused, 403 insufficient_user_quota
        assert future is not None and future.result(timeout=10) is None
        assert "out of credit" in app.status
        wait_for(lambda: "0.50 left" in app.account)
        assert sim.creates == 1
        app.close()
