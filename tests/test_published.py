"""What a saved notebook or an exported page shows of each widget where no widget script runs: its
text/html fallback, with every video the reader could not load by its link carried in the page."""

from __future__ import annotations

from pathlib import Path

from kling_widgets import (
    Batch,
    BatchView,
    HistoryGallery,
    ImagePicker,
    KlingClient,
    OptionsPanel,
    PromptBox,
    TaskHistory,
)
from kling_widgets.playback import simulator_video_file, video_bytes
from kling_widgets.simulator import Simulator

from .conftest import fox, wait_for


def html_of(widget: object) -> str:
    bundle = widget._repr_mimebundle_()  # type: ignore[attr-defined]
    assert "application/vnd.jupyter.widget-view+json" in bundle  # a live front end still gets the widget
    return str(bundle["text/html"])


def test_a_sweeps_cards_carry_their_videos(client: KlingClient, photo: bytes) -> None:
    batch = Batch(client, [fox(photo, prompt="a fox <b>runs</b>"), fox(photo, prompt="a hare", mode="pro")])
    view = BatchView(batch.start(), title="Two animals")
    batch.wait(30)
    wait_for(lambda: all(v.player is not None for v in view.views) and len(view.views) == 2)
    html = html_of(view)
    assert html.count("data:video/mp4;base64,") == 2 and "Two animals" in html and "2 done" in html
    assert "a fox &lt;b&gt;runs&lt;/b&gt;" in html and "<b>runs</b>" not in html


def test_the_history_page_carries_kept_videos_and_says_which_are_gone(photo: bytes) -> None:
    history = TaskHistory()
    with Simulator(processing_seconds=0.2) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, history=history)
        kept = client.generate(fox(photo, prompt="kept"), poll_interval=0.05)
        gone = client.generate(fox(photo, prompt="gone"), poll_interval=0.05)
        assert kept.video_url and gone.video_url
        video_bytes(kept.video_url)  # shown once: the simulator kept it
    html = html_of(HistoryGallery(history))
    assert html.count("data:video/mp4;base64,") == 1 and "no longer available" in html
    kept_file, gone_file = simulator_video_file(kept.video_url), simulator_video_file(gone.video_url)
    assert kept_file is not None and kept_file.exists()  # the one shown was kept by the simulator...
    assert gone_file is not None and not gone_file.exists()  # ...the other is a simulator link, its file gone


def test_the_parts_show_what_they_hold(photo: bytes, tmp_path: Path) -> None:
    picker = ImagePicker()
    picker.add(photo)
    assert html_of(picker).count("<img") == 1
    prompt = PromptBox("A fox & a <lighthouse>", negative_prompt="blur")
    assert "A fox &amp; a &lt;lighthouse&gt;" in html_of(prompt) and "Avoid: blur" in html_of(prompt)
    options = OptionsPanel(mode="pro", aspect_ratio="9:16")
    assert "pro · 5 s · 9:16" in html_of(options)
