"""Sweeps: the product of a few axes (prompts, modes, durations…) applied to one request.

A sweep only makes requests: it sends nothing and prices nothing (``pricing.estimate_units`` says what
they would cost, a ``Batch`` sends them). The module is ``sweeps``, not ``sweep``: a submodule named like
the public function would shadow ``kling_widgets.sweep`` once imported.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import Problem, ValidationError

if TYPE_CHECKING:
    from .request import VideoRequest

#: The fields a sweep may vary: every other field of a request stays as in ``base``.
SWEEP_AXES = ("prompt", "negative_prompt", "mode", "duration", "aspect_ratio", "images", "model_name", "watermark")


def sweep(base: VideoRequest, **axes: Sequence[Any]) -> list[VideoRequest]:
    """Every combination of the axes applied to ``base``, in a stable order (the axes in the order given,
    the last one varying fastest): ``sweep(req, prompt=[a, b], mode=["std", "pro"])`` gives a/std, a/pro,
    b/std, b/pro. Axes: prompt, negative_prompt, mode, duration, aspect_ratio, images (a list of image
    lists), model_name, watermark. Each result is its own intention (its own external id, made when it is
    sent); pictures shared with ``base`` are prepared once.

    Parameters
    ----------
    base : VideoRequest
        The request the axes vary.
    **axes
        Field name → the values it takes.

    Returns
    -------
    list of VideoRequest
        One per combination, in the order above.

    Raises
    ------
    ValidationError
        An axis is not one a sweep can vary, or has no values.
    """
    problems = [
        Problem(name, f"is not an axis a sweep can vary (one of {', '.join(SWEEP_AXES)})", SWEEP_AXES, name)
        for name in axes
        if name not in SWEEP_AXES
    ]
    problems += [
        Problem(name, "give at least one value", None, values)
        for name, values in axes.items()
        if isinstance(values, (str, bytes)) or not list(values)
    ]
    if problems:
        raise ValidationError(problems)
    base.prepare_all()  # the shared pictures, once (a refusal is kept too, and reported by each request)
    names = list(axes)
    return [
        base.replaced(external_task_id=None, **dict(zip(names, combination, strict=True)))
        for combination in itertools.product(*(list(axes[name]) for name in names))
    ]
