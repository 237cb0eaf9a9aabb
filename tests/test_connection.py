"""Where a client is connected and what the free account check found, as the quickstart prints it and the
bundle's banner says it: "every task is billed" only once a service that is not the simulator accepted
the key — never for a refused key, nor for an address that merely sits on this machine."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import nbformat
import pytest
import requests

from kling_widgets import KlingClient, MultiImageToVideo
from kling_widgets.connection import check_key, connection_words
from kling_widgets.simulator import Simulator

from .conftest import NOTEBOOKS, execute, outputs, serving, wait_for, web_page_server


@contextlib.contextmanager
def self_hosted_gateway(sim: Simulator) -> Iterator[str]:
    """A gateway of one's own on this machine: it relays the API to the simulator, but is not the built-in
    simulator and does not say it is (its /sim/ paths are not relayed), so it proves nothing is billed."""

    class Relay(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/sim/"):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "accept")}
            answer = requests.get(sim.url + self.path, headers=headers, timeout=10)
            self.send_response(answer.status_code)
            self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Relay) as address:
        yield address


def test_the_built_in_simulator_is_said_and_nothing_is_billed(sim: Simulator) -> None:
    words = connection_words(KlingClient(sim.api_key, base_url=sim.url))
    assert f"the built-in simulator at {sim.url}: nothing is billed" in words and "Key accepted" in words
    refused = connection_words(KlingClient("sk-wrong", base_url=sim.url))
    assert "refused (Invalid token)" in refused and "every task" not in refused and "sk-wrong" not in refused


OWN_KEY = "sk-self-hosted-0123"  # the key of one's own gateway (the simulator's key is never sent elsewhere)


@pytest.fixture
def upstream() -> Iterator[Simulator]:
    """What a self-hosted gateway relays to, with a key of its own."""
    with Simulator(api_key=OWN_KEY) as server:
        yield server


def test_a_gateway_on_this_machine_bills_once_it_accepts_the_key_and_a_refusal_is_said(upstream: Simulator) -> None:
    with self_hosted_gateway(upstream) as address:
        assert check_key(KlingClient("sim-key", base_url=address)).outcome == "unchecked"  # not sent there
        client = KlingClient(OWN_KEY, base_url=address)
        assert not client.is_simulator()
        words = connection_words(client)
        assert f"Connected to {address} (gateway, on this machine)." in words
        assert "Key accepted" in words and "Every task created here is billed." in words
        assert "simulator" not in words
        refused = connection_words(KlingClient("sk-revoked", base_url=address))
        assert "on this machine" in refused and "The key was refused (Invalid token)" in refused
        assert "billed" not in refused and "sk-revoked" not in refused


def test_a_service_that_answers_no_account_request_is_not_said_to_bill_every_task() -> None:
    with web_page_server() as address:
        client = KlingClient("sk-any", base_url=address)
        assert check_key(client).outcome == "unchecked"
        words = connection_words(client)
        assert "could not be checked" in words and "If the service accepts it" in words
        assert "Every task created here is billed" not in words


def banner(app: MultiImageToVideo) -> str:
    return str(app._account_banner.html.value)


def test_the_banner_says_billed_only_once_the_key_is_accepted(upstream: Simulator) -> None:
    with self_hosted_gateway(upstream) as address:
        refused = MultiImageToVideo(KlingClient("sk-revoked", base_url=address))
        wait_for(lambda: refused.account_kind == "refused", timeout=20)
        assert "on this machine" in banner(refused) and "billed" not in banner(refused).split("kw-account")[0]
        refused.close()
        accepted = MultiImageToVideo(KlingClient(OWN_KEY, base_url=address))
        wait_for(lambda: accepted.account_status is not None, timeout=20)
        wait_for(lambda: "every task is billed" in banner(accepted), timeout=5)
        accepted.close()


def quickstart_setup(folder: Path) -> nbformat.NotebookNode:
    """The quickstart's cells up to its first code cell: where it connects and what it found."""
    shutil.copy(NOTEBOOKS / "quickstart.ipynb", folder / "quickstart.ipynb")
    notebook = nbformat.read(folder / "quickstart.ipynb", as_version=4)
    notebook.cells = notebook.cells[:2]
    return notebook


@pytest.mark.parametrize("key", [OWN_KEY, "sk-revoked"])
def test_the_quickstart_says_where_it_is_connected_and_what_the_check_found(
    key: str, upstream: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with self_hosted_gateway(upstream) as address:
        monkeypatch.setenv("KLING_API_KEY", key)
        monkeypatch.setenv("KLING_BASE_URL", address)
        text = outputs(execute(quickstart_setup(tmp_path), tmp_path))
    assert f"Connected to {address} (gateway, on this machine)." in text and key not in text
    if key == OWN_KEY:
        assert "Key accepted" in text and "Every task created here is billed." in text
    else:
        assert "The key was refused (Invalid token)" in text and "billed" not in text
    assert json.dumps(text).count("Connected to") == 1
