"""OptionsPanel: exactly the values the service accepts, as observable traits."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import traitlets

from ..images import DEFAULT_MAX_SIDE
from ..request import ASPECT_RATIOS, DURATIONS, MODE_HELP, MODEL_NAMES, MODES
from ._publish import Published, detach
from ._style import esc, stylesheet
from .a11y import accessibility, named

_ASPECT_LABELS = {"16:9": "16:9", "9:16": "9:16", "1:1": "1:1"}
_ASPECT_TIPS = {"16:9": "Landscape", "9:16": "Portrait (phones, stories)", "1:1": "Square"}
_LABEL = widgets.Layout(width="100px", min_width="100px")
_WRAP = widgets.Layout(flex_flow="row wrap", align_items="center")
_FIELD = widgets.Layout(width="auto", flex="1 1 220px", max_width="420px", min_width="0")


class OptionsPanel(Published, widgets.VBox):
    """Model, mode, duration, aspect ratio, watermark, and (under "Advanced") callback URL and your own
    task id. ``negative_prompt`` is a trait here too; the bundle links it to the PromptBox field.

    Parameters
    ----------
    **kwargs
        Initial values of the traits, and ipywidgets box arguments (``layout``…).
    """

    model_name = traitlets.Enum(MODEL_NAMES, MODEL_NAMES[0], help="The Kling model.")
    mode = traitlets.Enum(MODES, "std", help="std: faster and cheaper; pro: higher quality, costs more.")
    duration = traitlets.Enum(DURATIONS, 5, help="Video length in seconds: 5 or 10.")
    aspect_ratio = traitlets.Enum(ASPECT_RATIOS, "16:9", help="Width:height of the video.")
    watermark = traitlets.Bool(False, help="Ask the service for a watermarked video.")
    negative_prompt = traitlets.Unicode("", help="What to avoid; shown in the PromptBox.")
    callback_url = traitlets.Unicode("", help="The service POSTs the task here on every status change.")
    external_task_id = traitlets.Unicode("", help="Your own task id (unique per account); empty: one is made.")
    send_originals = traitlets.Bool(
        False, help=f"Send pictures at full size instead of at most {DEFAULT_MAX_SIDE} px on their longest side."
    )
    mode_swept = traitlets.Bool(
        False,
        help="True while a click sends both modes (the bundle's sweep): the Mode toggle shows neither as "
        "chosen. Choosing one sets it back to False.",
    )
    duration_swept = traitlets.Bool(
        False, help="True while a click sends both durations: the Duration toggle shows neither as chosen."
    )

    @detach
    def __init__(self, **kwargs: Any) -> None:
        traits = {k: kwargs.pop(k) for k in list(kwargs) if self.has_trait(k) and k in _OWN}
        self.model_dropdown = named(
            widgets.Dropdown(options=MODEL_NAMES, layout=widgets.Layout(width="160px")), "Model"
        )
        self.mode_buttons = named(
            widgets.ToggleButtons(
                options=[("Standard", "std"), ("Pro", "pro")],
                tooltips=[MODE_HELP["std"], MODE_HELP["pro"]],
                style={"button_width": "90px"},
            ),
            "Mode",
        )
        self._mode_help = widgets.HTML()
        self.duration_buttons = named(
            widgets.ToggleButtons(options=[(f"{d} s", d) for d in DURATIONS], style={"button_width": "64px"}),
            "Duration",
        )
        self.aspect_buttons = named(
            widgets.ToggleButtons(
                options=[(_ASPECT_LABELS[a], a) for a in ASPECT_RATIOS],
                tooltips=[_ASPECT_TIPS[a] for a in ASPECT_RATIOS],
                style={"button_width": "64px"},
            ),
            "Aspect ratio",
        )
        self.watermark_box = widgets.Checkbox(description="Add a watermark", indent=False)
        self.originals_box = widgets.Checkbox(
            description=f"Send pictures at full size (by default at most {DEFAULT_MAX_SIDE} px: faster, same video)",
            indent=False,
            layout=widgets.Layout(width="auto"),
        )
        self.callback_text = named(
            widgets.Text(placeholder="https://example.com/kling-callback (optional)", layout=_FIELD), "Callback URL"
        )
        self.external_id_text = named(
            widgets.Text(placeholder="my-task-0001 (optional)", layout=_FIELD),
            "Your task id",
        )
        advanced = widgets.VBox(
            [
                _row("Callback URL", self.callback_text),
                _row("Your task id", self.external_id_text),
                _row("Pictures", self.originals_box),
                widgets.HTML(
                    '<div class="kw-hint">The service POSTs every status change to the callback URL. '
                    "Your task id must be unique in your account; every submission gets a fresh one "
                    "when this is empty.</div>"
                ),
            ]
        )
        self.advanced = widgets.Accordion(children=[advanced], titles=("Advanced",), selected_index=None)
        super().__init__(
            [
                stylesheet(),
                accessibility(),
                _row("Model", self.model_dropdown),
                _row("Mode", widgets.HBox([self.mode_buttons, self._mode_help], layout=_WRAP)),
                _row("Duration", self.duration_buttons),
                _row("Aspect ratio", self.aspect_buttons),
                _row("", self.watermark_box),
                self.advanced,
            ],
            **kwargs,
        )
        for trait, control in (
            ("model_name", self.model_dropdown),
            ("aspect_ratio", self.aspect_buttons),
            ("watermark", self.watermark_box),
            ("callback_url", self.callback_text),
            ("external_task_id", self.external_id_text),
            ("send_originals", self.originals_box),
        ):
            traitlets.link((self, trait), (control, "value"))
        # Mode and duration are shown by hand, not linked: while a sweep sends both, neither is shown chosen.
        for trait, control in (("mode", self.mode_buttons), ("duration", self.duration_buttons)):
            self.observe(self._show_choices, names=[trait, f"{trait}_swept"])
            control.observe(lambda change, t=trait: self._chosen(t, change["new"]), names="value")
        self.add_class("kw-options")
        self.add_class("kw-part")
        self.observe(self._show_mode_help, names=["mode", "mode_swept"])
        for name, value in traits.items():
            setattr(self, name, value)
        self._show_choices()
        self._show_mode_help()

    def static_html(self) -> str:
        """The settings in one line, for a saved notebook or an exported page.

        Returns
        -------
        str
            HTML that needs no widget script.
        """
        words = [self.model_name, self.mode, f"{self.duration} s", self.aspect_ratio]
        words += ["watermark"] if self.watermark else []
        return f'<div class="kling-widgets-static" style="color:#666">{esc(" · ".join(words))}</div>'

    def __repr__(self) -> str:
        return (
            f"OptionsPanel(model_name={self.model_name!r}, mode={self.mode!r}, duration={self.duration!r}, "
            f"aspect_ratio={self.aspect_ratio!r})"
        )

    def _show_choices(self, _: object = None) -> None:
        for trait, control in (("mode", self.mode_buttons), ("duration", self.duration_buttons)):
            swept = getattr(self, f"{trait}_swept")
            control.value = None if swept else getattr(self, trait)

    def _chosen(self, trait: str, value: object) -> None:
        """A toggle was pressed: that value is chosen (and a sweep over this setting ends)."""
        if value is None:
            return
        with self.hold_trait_notifications():
            setattr(self, trait, value)
            setattr(self, f"{trait}_swept", False)

    def _show_mode_help(self, _: object = None) -> None:
        words = "Both: one video in Standard, one in Pro." if self.mode_swept else MODE_HELP[self.mode]
        self._mode_help.value = f'<span class="kw-hint" style="margin-left:8px">{esc(words)}</span>'


_OWN = {
    "model_name",
    "mode",
    "duration",
    "aspect_ratio",
    "watermark",
    "negative_prompt",
    "callback_url",
    "external_task_id",
    "send_originals",
}


def _row(label: str, control: widgets.Widget) -> widgets.HBox:
    return widgets.HBox(
        [
            widgets.HTML(f'<div class="kw-label">{esc(label)}</div>', layout=_LABEL),
            control,
        ],
        layout=widgets.Layout(margin="2px 0", align_items="flex-start", width="100%"),
    )
