"""The bundle's variations: the checkboxes that make one click a sweep, and the words that say what a sweep makes."""

from __future__ import annotations

import ipywidgets as widgets
import traitlets

from ..request import VideoRequest

# The bundle's traits each checkbox sets, and what it reads.
VARIATIONS = (
    ("both_modes", "Both modes: a video in Standard and one in Pro"),
    ("both_durations", "Both durations: 5 s and 10 s"),
    ("prompt_per_line", "One video per line of the prompt"),
)


def variations_row(owner: traitlets.HasTraits) -> widgets.HBox:
    """Three checkboxes that make one click a sweep, linked both ways to ``owner``'s traits.

    Parameters
    ----------
    owner : traitlets.HasTraits
        Has the Bool traits ``both_modes``, ``both_durations`` and ``prompt_per_line`` (the bundle).

    Returns
    -------
    ipywidgets.HBox
        The labelled row.
    """
    boxes = []
    for trait, label in VARIATIONS:
        box = widgets.Checkbox(
            description=label, indent=False, layout=widgets.Layout(width="auto", margin="0 14px 0 0")
        )
        traitlets.link((owner, trait), (box, "value"))
        boxes.append(box)
    title = widgets.HTML(
        '<div class="kw-label">Variations</div>', layout=widgets.Layout(width="100px", min_width="100px")
    )
    choices = widgets.HBox(boxes, layout=widgets.Layout(flex_flow="row wrap", flex="1 1 0", min_width="0"))
    return widgets.HBox([title, choices], layout=widgets.Layout(margin="2px 0", align_items="flex-start"))


def sweep_words(requests: list[VideoRequest], *, counted: bool = True) -> str:
    """What a sweep makes, in the form's words: '4 videos: Standard and Pro × 5 s and 10 s' (or, for the
    title of its card, which counts the tasks itself, 'Sweep: Standard and Pro × 5 s and 10 s').

    Parameters
    ----------
    requests : list of VideoRequest
        The sweep's requests.
    counted : bool
        Begin with how many videos (else with 'Sweep').

    Returns
    -------
    str
        The words.
    """
    axes = []
    if len({r.prompt for r in requests}) > 1:
        axes.append(f"{len({r.prompt for r in requests})} prompt lines")
    if len({r.mode for r in requests}) > 1:
        axes.append("Standard and Pro")
    if len({r.duration for r in requests}) > 1:
        axes.append("5 s and 10 s")
    return (f"{len(requests)} videos" if counted else "Sweep") + (f": {' × '.join(axes)}" if axes else "")
