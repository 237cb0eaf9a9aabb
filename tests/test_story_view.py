"""StoryboardView with no browser: what it shows (as traits and synced state) and what its controls do to
the storyboard, against the simulator over real HTTP. The playing in step is the browser test's job
(tests/test_story_browser.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kling_widgets import KlingClient, MultiImageToVideo, Storyboard, StoryboardView, TaskHistory
from kling_widgets.film import probe
from kling_widgets.simulator import Simulator

from .conftest import all_state, character, sent_to_browser, wait_for


def test_the_view_shows_the_estimate_before_sending_and_generates_on_the_button(
    story_sim: Simulator, story_client: KlingClient, history: TaskHistory
) -> None:
    story = Storyboard(story_client, [character(0), character(1)], history=history)
    view = StoryboardView(story)
    assert view.generate_button.disabled and "Add a shot first" in view._why.value
    story.add_shot("the two meet at the campfire", takes=2)
    story.add_shot("they walk into the forest", duration=10, continue_from_previous=True)
    assert view.estimate == 4.0 and "about 4 units estimated" in view.summary  # 2 × 1 + 2, nothing sent
    assert "3 takes" in view.summary and "nothing sent yet" in view.summary
    assert not view.generate_button.disabled and "Sends 3 takes · about 4 units" in view._why.value
    assert story_sim.creates == 0
    cast = view._cast.value
    assert cast.count("<img") == 2 and "data:image/jpeg;base64," in cast
    strip = view._strip.value
    assert strip.index("Shot 1") < strip.index("Shot 2") and "continues the previous shot" in strip
    assert [len(c.sources) for c in view.comparisons] == [2, 1]
    assert [s["note"] for s in view.comparisons[0].sources] == ["Not sent yet", "Not sent yet"]
    assert view.export_button.disabled and "still none for shots 1, 2" in view._export_message.value

    view.generate_button.click()
    assert view.generate_button.disabled
    story.wait(timeout=60)
    wait_for(lambda: "2 of 2 shots done" in view.summary)
    assert story_sim.creates == 3
    first, second = view.comparisons
    tasks = story.shots[0].takes
    # the simulator's videos (the kernel's loopback) go through the kernel: no dead link in the page
    assert [s.get("key") for s in first.get_state()["sources"]] == [t.id for t in tasks if t is not None]
    assert "127.0.0.1" not in all_state(first)
    assert first.pickable and first.picked == 0  # the default pick: the first take that succeeded
    assert second.sources[0]["key"] == story.shots[1].takes[0].id  # type: ignore[union-attr]
    assert "continues from the last frame of shot 1, take 1" in view._panels[1][0].value
    assert view.film.sources[0]["key"] == tasks[0].id  # type: ignore[union-attr]
    assert not view.export_button.disabled
    assert "sim-key" not in all_state(view)
    bundle = view._repr_mimebundle_()  # a saved notebook read without widget JavaScript still shows the takes
    assert bundle is not None and "application/vnd.jupyter.widget-view+json" in bundle
    static = bundle["text/html"]
    assert static.count("<video src=") == 2 and "Shot 2" in static and "data:image/jpeg;base64," in static
    view.close()


def test_a_pick_in_the_view_goes_through_the_storyboard(
    story_sim: Simulator, story_client: KlingClient, history: TaskHistory, tmp_path: Path
) -> None:
    story = Storyboard(story_client, [character(0)], history=history)
    story.add_shot("a fox in snow", takes=2)
    story.add_shot("the fox sleeps")
    view = StoryboardView(story)
    view.comparisons[0].picked = 1  # not sent yet: refused in words, the pick stays as it was
    assert view.comparisons[0].picked == -1 and "cannot be picked" in view._why.value
    assert story.shots[0].picked_index is None

    story.generate().wait(timeout=60)
    view.comparisons[0].picked = 1  # what the page's "Pick this take" button sets
    assert story.shots[0].picked_index == 1 and story.shots[0].picked == story.shots[0].takes[1]
    assert any(r.get("kind") == "pick" and r.get("take") == 1 for r in history.story_records(story.id))
    assert "take 2 picked" in view._strip.value
    film = [source["key"] for source in view.film.sources]
    assert film == [story.shots[0].takes[1].id, story.shots[1].takes[0].id]  # type: ignore[union-attr]
    assert view.estimate == 3.0
    creates = story_sim.creates
    view.retake_buttons[0].click()  # "One more take": sent at once, the estimate follows
    assert len(view.comparisons[0].sources) == 3 and view.estimate == 4.0 and "4 takes" in view.summary
    story.wait(timeout=60)
    assert story_sim.creates == creates + 1 and story.shots[0].picked_index == 1
    wait_for(lambda: "key" in view.comparisons[0].sources[2])
    before = view.film.play_count
    view.play_film()
    assert view.film.play_count == before + 1

    view.export_path.value = str(tmp_path / "film.mp4")
    thread = view.export()
    assert thread is not None
    thread.join(60)
    assert view.export_status == f"Film saved to {(tmp_path / 'film.mp4').resolve()}"
    assert view.export_progress.value == 1 and view.export_progress.bar_style == "success"
    assert abs(probe(tmp_path / "film.mp4").seconds - 10) < 0.5
    # The film reaches the person: offered in the page, its bytes sent through the kernel when asked.
    player = view.exported_player
    assert player is not None and player.via_kernel and player.src == "" and player.filename == "film.mp4"
    assert view._exported.layout.display is None and player in view._exported.children
    [(content, buffers)] = sent_to_browser(player)
    assert content["kind"] == "video" and buffers[0] == (tmp_path / "film.mp4").read_bytes()
    assert "video/mp4;base64" not in all_state(view)  # not in widget state: the saved notebook stays small
    again = view.export()  # the file exists: said in words, the path kept
    assert again is not None
    again.join(30)
    assert view.export_status.startswith("Export failed") and "already exists" in view.export_status
    assert view.export_replace.description in view.export_status and "overwrite=True" not in view.export_status
    assert view.export_path.value == str(tmp_path / "film.mp4") and "kw-error" in view._export_message.value
    view.export_replace.value = True  # the page's own answer: the error no longer fits the form
    assert view.export_status == "" and "already exists" not in view._export_message.value
    replaced = view.export()
    assert replaced is not None
    replaced.join(60)
    assert view.export_status.startswith("Film saved") and view.exported_player is not player
    assert player.comm is None  # the old film's player was closed, the new one offered in its place
    view.close()
    creates = story_sim.creates
    again = StoryboardView(Storyboard.reopen(story_client, history, story.id))  # after a restart
    assert again.comparisons[0].picked == 1 and again.generate_button.disabled and "take 2 picked" in again._strip.value
    assert story_sim.creates == creates
    again.close()


def test_the_bundle_turns_its_form_into_a_storyboard(story_sim: Simulator, story_client: KlingClient) -> None:
    app = MultiImageToVideo(story_client)
    app.image_picker.add(character(0))
    app.image_picker.add(character(1))
    app.prompt_box.value = "the two meet"
    app.prompt_box.negative_prompt = "blur"
    app.options.mode, app.options.aspect_ratio, app.options.duration = "pro", "9:16", 10
    story = app.to_storyboard()
    assert story.cast == app.image_picker.images and (story.mode, story.aspect_ratio) == ("pro", "9:16")
    assert story.history is app.history or app.history is None
    [shot] = story.shots
    assert (shot.prompt, shot.negative_prompt, shot.duration) == ("the two meet", "blur", 10)
    assert story_sim.creates == 0
    app.close()


def test_through_the_kernel_the_page_asks_for_each_video_and_gets_its_bytes_once_asked(
    story_sim: Simulator, story_client: KlingClient, history: TaskHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = Storyboard(story_client, [character(0)], history=history)
    story.add_shot("a fox in snow", takes=2)
    story.generate().wait(timeout=60)
    view = StoryboardView(story, through_kernel=True)  # for a browser that reaches only the Jupyter server
    comparison = view.comparisons[0]
    tasks = story.shots[0].takes
    assert [s.get("key") for s in comparison.sources] == [t.id for t in tasks if t is not None]
    assert "url" not in comparison.sources[0] and "/sim/" not in all_state(view)  # no loopback link in the page
    sent: list[tuple[dict[str, object], list[bytes]]] = []
    monkeypatch.setattr(comparison, "send", lambda content, buffers=None: sent.append((content, buffers or [])))
    comparison._handle_custom_msg({"kind": "want", "key": comparison.sources[1]["key"]}, [])  # what the page sends
    comparison._handle_custom_msg({"kind": "want", "key": "unknown"}, [])
    wait_for(lambda: len(sent) == 2)
    by_key = {content["key"]: (content, buffers) for content, buffers in sent}
    content, buffers = by_key[comparison.sources[1]["key"]]
    assert content["mime"] == "video/mp4" and buffers[0][4:8] == b"ftyp"
    assert buffers[0] == story.local_video(tasks[1]).read_bytes()  # type: ignore[arg-type]
    assert "No longer available" in str(by_key["unknown"][0]["error"])
    view.close()
