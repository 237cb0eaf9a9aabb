"""The account, asked for free: the simulator's routes as API.md documents them, and
``KlingClient.account_status()`` over real HTTP against it (gateway with and without the billing routes,
Kling direct's resource packs, refused keys, an account that cannot create)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from kling_widgets import AccountStatus, AuthenticationError, KlingClient
from kling_widgets.simulator import Simulator
from kling_widgets.simulator.samples import sample_jpeg

from .conftest import Sleeps, fox, web_page_server

PHOTO = sample_jpeg(0, (400, 300))


def _get(sim: Simulator, path: str, key: str | None = "sim-key", **params: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.get(sim.url + path, headers=headers, params=params, timeout=5)


def _kling(sim: Simulator, sleeps: Callable[[float], None]) -> KlingClient:
    return KlingClient(
        provider="kling", access_key=sim.access_key, secret_key=sim.secret_key, base_url=sim.url, sleep=sleeps
    )


# -- the simulator, as API.md says the services answer ---------------------------------------------------
def test_simulator_gateway_account_routes() -> None:
    with Simulator(credit=2.0, price_per_unit=0.25, processing_seconds=0.2) as sim:
        models = _get(sim, "/v1/models").json()
        assert [m["id"] for m in models["data"]] == ["kling-v1-6"]
        assert {"object", "created", "owned_by", "supported_endpoint_types"} <= set(models["data"][0])
        for key, words in ((None, "No token provided"), ("wrong", "Invalid token")):
            refused = _get(sim, "/v1/models", key)
            assert refused.status_code == 401 and refused.json()["error"]["message"] == words
        assert _get(sim, "/v1/dashboard/billing/subscription").json()["hard_limit_usd"] == 2.0
        assert _get(sim, "/v1/dashboard/billing/usage").json() == {"object": "list", "total_usage": 0.0}
        client = KlingClient(sim.api_key, base_url=sim.url)
        client.create_task(fox(PHOTO, prompt="one", mode="pro"))  # 3.5 units at 0.25 = 0.875 charged
        assert _get(sim, "/v1/dashboard/billing/usage").json()["total_usage"] == pytest.approx(87.5)  # cents
        assert sim.balance == pytest.approx(1.125)


def test_simulator_gateway_refuses_what_the_credit_cannot_pay() -> None:
    with Simulator(credit=1.0, price_per_unit=0.25, processing_seconds=0.2) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url)
        client.create_task(fox(PHOTO, prompt="one", mode="pro"))
        answer = requests.post(
            sim.url + "/kling/v1/videos/multi-image2video",
            json=fox(PHOTO, prompt="two", mode="pro").to_payload(),
            headers={"Authorization": "Bearer sim-key"},
            timeout=10,
        )
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "insufficient_user_quota"
        assert sim.creates == 1


@pytest.mark.parametrize(("billing", "status"), [("html", 200), ("404", 404), ("405", 405)])
def test_simulator_gateway_without_billing_routes(billing: str, status: int) -> None:
    with Simulator(billing=billing) as sim:
        for path in ("/v1/dashboard/billing/subscription", "/v1/dashboard/billing/usage"):
            answer = _get(sim, path)
            assert answer.status_code == status
            assert "json" not in answer.headers["Content-Type"]
        assert _get(sim, "/v1/models").status_code == 200  # documented: always there


def test_simulator_kling_costs() -> None:
    with Simulator("kling", units=10, processing_seconds=0.2) as sim:
        client = KlingClient(provider="kling", access_key=sim.access_key, secret_key=sim.secret_key, base_url=sim.url)
        token = client._auth.token()
        now = int(time.time() * 1000)
        answer = _get(sim, "/account/costs", token, start_time=now - 86_400_000, end_time=now)
        (pack,) = answer.json()["data"]["resource_pack_subscribe_infos"]
        assert pack["total_quantity"] == 10 and pack["remaining_quantity"] == 10 and pack["status"] == "online"
        assert {"resource_pack_name", "resource_pack_type", "effective_time", "invalid_time"} <= set(pack)
        again = _get(sim, "/account/costs", token, start_time=0, end_time=now)
        assert again.status_code == 429 and again.json()["code"] == 1302  # QPS <= 1
        time.sleep(1.0)
        assert _get(sim, "/account/costs", token).json()["code"] == 1201  # the window is required
        for bad, code in (("", 1001), ("not-a-jwt", 1002)):
            refused = _get(sim, "/account/costs", bad or None, start_time=0, end_time=now)
            assert refused.status_code == 401 and refused.json()["code"] == code
        client.create_task(fox(PHOTO, mode="pro", duration=10))  # 7 units
        assert sim.balance == 3
        refused = requests.post(
            sim.url + "/v1/videos/multi-image2video",
            json=fox(PHOTO, prompt="again", mode="pro").to_payload(),
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert refused.status_code == 429 and refused.json()["code"] == 1102
        assert sim.creates == 1


@pytest.mark.parametrize("code", [1101, 1102])
def test_simulator_kling_account_refusals(code: int) -> None:
    with Simulator("kling", account_code=code) as sim:
        token = KlingClient(
            provider="kling", access_key=sim.access_key, secret_key=sim.secret_key, base_url=sim.url
        )._auth.token()
        answer = _get(sim, "/account/costs", token, start_time=0, end_time=int(time.time() * 1000))
        assert answer.status_code == 429 and answer.json()["code"] == code


# -- the client ----------------------------------------------------------------------------------------
def test_account_status_gateway_with_billing() -> None:
    with Simulator(credit=5.0, price_per_unit=0.5, processing_seconds=0.2) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url)
        client.create_task(fox(PHOTO, duration=10))  # 2 units at 0.5 = 1.0
        before = len(sim.requests)
        status = client.account_status()
        assert isinstance(status, AccountStatus)
        assert status.models == ("kling-v1-6",)
        assert status.balance == pytest.approx(4.0) and status.granted == 5.0 and status.used == pytest.approx(1.0)
        assert status.unit is not None and "as the gateway reports it" in status.unit
        assert not status.unlimited and status.packs == ()
        asked = sim.requests[before:]
        assert [r.method for r in asked] == ["GET"] * 3 and sim.creates == 1  # free: nothing created
        assert "4.00 left" in str(status)


def test_account_status_unlimited_gateway_key(client: KlingClient) -> None:
    status = client.account_status()
    assert status.unlimited and status.balance is None and status.granted == 100_000_000


@pytest.mark.parametrize("billing", ["html", "404", "405"])
def test_account_status_without_billing_routes_is_no_error(billing: str) -> None:
    with Simulator(billing=billing) as sim:
        status = KlingClient(sim.api_key, base_url=sim.url).account_status()
        assert status.models == ("kling-v1-6",) and status.balance is None and not status.unlimited
        assert "does not say" in str(status)


def test_account_status_redirected_billing_is_no_error() -> None:
    with Simulator(billing="html", front_end_url="https://console.example") as sim:
        status = KlingClient(sim.api_key, base_url=sim.url).account_status()
        assert status.models == ("kling-v1-6",) and status.balance is None


def test_account_status_refused_key_raises(sim: Simulator) -> None:
    with pytest.raises(AuthenticationError) as caught:
        KlingClient("not-the-key", base_url=sim.url).account_status()
    assert caught.value.status_code == 401 and "not-the-key" not in str(caught.value)
    assert sim.creates == 0


def test_account_status_kling_direct() -> None:
    with Simulator("kling", units=50, processing_seconds=0.2) as sim:
        client = _kling(sim, time.sleep)  # type: ignore[arg-type]
        status = client.account_status()
        assert status.balance == 50 and status.unit == "units" and status.models is None
        (pack,) = status.packs
        assert pack.total == 50 and pack.remaining == 50 and pack.status == "online" and pack.expires_at
        client.create_task(fox(PHOTO, mode="pro"))  # 3.5 units
        assert client.account_status().balance == 46.5  # the second ask waits its turn (QPS <= 1)
        costs = [r for r in sim.requests if r.path == "/account/costs"]
        assert len(costs) == 2 and costs[1].time - costs[0].time >= 0.9  # no 1302 to retry


@pytest.mark.parametrize(("code", "balance"), [(1101, None), (1102, 0.0)])
def test_account_status_kling_account_cannot_create(code: int, balance: float | None, sleeps: Sleeps) -> None:
    with Simulator("kling", account_code=code) as sim:
        status = _kling(sim, sleeps).account_status()
        assert status.problem and status.balance == balance
        assert "cannot create" in str(status)


def test_account_status_kling_refused_key(sleeps: Sleeps) -> None:
    with Simulator("kling") as sim:
        client = KlingClient(
            provider="kling", access_key=sim.access_key, secret_key="another-secret-0123456789-abcdef", base_url=sim.url
        )
        with pytest.raises(AuthenticationError):
            client.account_status()


def test_account_status_parses_other_builds() -> None:
    """An older build gives ``hard_limit_usd`` as what is left (no usage route); a model list without
    ``success``/``object`` still lists its models."""
    status = AccountStatus.from_gateway({"data": [{"id": "kling-v1-6"}, {"id": "kling-v2"}]}, {"hard_limit_usd": 3.5})
    assert status.models == ("kling-v1-6", "kling-v2") and status.balance == 3.5 and status.used is None
    assert AccountStatus.from_gateway(None).balance is None


def test_a_key_refused_with_a_web_page_is_still_a_refused_key() -> None:
    """A proxy in front of the gateway answers a refused key with its own page (401, HTML)."""
    with web_page_server(401) as address, pytest.raises(AuthenticationError):
        KlingClient("sk-revoked", base_url=address).account_status()
