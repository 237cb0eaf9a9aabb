"""The service's rules for a picture (format, bytes, sides, shape) and the exact sizes that keep to them.

Plain arithmetic on whole numbers, no image library: the pipeline, the picker and the models ask here
whether a size is taken and what size a fit or a downscale gives.
"""

from __future__ import annotations

from typing import Literal

MAX_BYTES = 10_000_000  # "10 MB": the decimal reading, the safe one whichever the service means
MIN_SIDE = 300
MAX_RATIO = 2.5  # the limit as people read it; compared as the fraction 5/2 in whole numbers (within_shape)
ACCEPTED_FORMATS = ("JPEG", "PNG")
# The upload size used unless you ask for originals. Kling renders at most 1080p (1920×1080): a reference
# picture 2048 px on its longest side covers every pixel of that frame, crops included, and four of
# them stay near 1 MB each — a 24 MP phone photo (6000×4000) carries nothing more the model can use.
DEFAULT_MAX_SIDE = 2048

Fit = Literal["pad", "crop"]


def megabytes(size: int) -> str:
    """A byte count as people read the limit: decimal megabytes, one decimal.

    Parameters
    ----------
    size : int
        Bytes.

    Returns
    -------
    str
        For example ``"6.5 MB"``.
    """
    return f"{size / 1_000_000:.1f} MB"


def within_shape(width: int, height: int) -> bool:
    """True when the service takes this shape: between 1:2.5 and 2.5:1, compared exactly.

    The rule is long / short ≤ 5/2, so it is tested as ``2 * long <= 5 * short`` in whole numbers: no
    float and no tolerance (2048×819 is 2.5006:1, which reads as "2.50:1" and which the service refuses).

    Parameters
    ----------
    width, height : int
        The picture's size in pixels, as sent.

    Returns
    -------
    bool
        Whether the aspect ratio is inside 1:2.5–2.5:1.
    """
    return 2 * max(width, height) <= 5 * min(width, height)


def within_rules(width: int, height: int) -> bool:
    """True when the service takes a picture of this size: the shape rule and each side ≥ ``MIN_SIDE``.

    Parameters
    ----------
    width, height : int
        The picture's size in pixels, as sent.

    Returns
    -------
    bool
        Whether both size rules of the service hold.
    """
    return min(width, height) >= MIN_SIDE and within_shape(width, height)


def fitted_size(width: int, height: int, fit: Fit | None) -> tuple[int, int]:
    """The size after padding or cropping a picture into the shape rule (unchanged when it is inside).

    Pad grows the short side to ``ceil(2 * long / 5)``; crop trims the long side to ``floor(5 * short / 2)``:
    the nearest whole sizes on the right side of the limit.

    Parameters
    ----------
    width, height : int
        The upright picture's size in pixels.
    fit : {"pad", "crop"} or None
        How to bring it inside; None leaves it as it is.

    Returns
    -------
    tuple of int
        ``(width, height)`` after the fit.
    """
    if fit is None or within_shape(width, height):
        return width, height
    long_side, short_side = max(width, height), min(width, height)
    if fit == "crop":
        long_side = short_side * 5 // 2
    else:
        short_side = -(-2 * long_side // 5)
    return (long_side, short_side) if width >= height else (short_side, long_side)


def scaled_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """The size of a picture downscaled so its long side is ``long_side``, still within the service's rules.

    The short side is rounded to the nearest pixel, then raised where rounding would push a shape at
    the limit outside it (4000×1600 at 2048 is 2048×819.2: 819 is refused, 820 is sent). The short side
    never goes under ``MIN_SIDE``: ``max_side`` is a wish for smaller uploads, 300 px is the service's
    rule, so a wide picture keeps 300 px on its short side and its long side ends past ``long_side``.
    A picture is never enlarged.

    Parameters
    ----------
    width, height : int
        The current size in pixels.
    long_side : int
        The long side wanted, in pixels.

    Returns
    -------
    tuple of int
        ``(width, height)`` at the new scale (the same size when it is already small enough).
    """
    long_now, short_now = max(width, height), min(width, height)
    if long_now <= long_side:
        return width, height
    inside = within_shape(width, height)
    new_long = long_side
    new_short = (2 * short_now * new_long + long_now) // (2 * long_now)  # rounded, in whole numbers
    if inside:
        new_short = max(new_short, -(-2 * new_long // 5))
    if new_short < MIN_SIDE <= short_now:
        new_short = MIN_SIDE
        new_long = min(long_now, (2 * long_now * MIN_SIDE + short_now) // (2 * short_now))
        if inside:
            new_long = min(new_long, MIN_SIDE * 5 // 2)
    return (new_long, new_short) if width >= height else (new_short, new_long)


def ratio_text(width: int, height: int) -> str:
    """The ratio in words, with enough decimals that one just outside the limit does not read as 2.50.

    Parameters
    ----------
    width, height : int
        The picture's size in pixels (neither zero).

    Returns
    -------
    str
        ``"3.00:1"`` for a wide picture, ``"1:3.00"`` for a tall one.
    """
    ratio = max(width, height) / min(width, height)
    digits = 2
    while digits < 6 and f"{ratio:.{digits}f}" == f"{MAX_RATIO:.{digits}f}" and not within_shape(width, height):
        digits += 1
    return f"{ratio:.{digits}f}:1" if width >= height else f"1:{ratio:.{digits}f}"
