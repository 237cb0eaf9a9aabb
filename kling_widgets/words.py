"""The few words and HTML pieces a task shows a person: what it cost, and its video.

Plain functions with no state, used both by ``Task``'s own HTML (a saved notebook read without widget
JavaScript) and by the widgets, so a charge reads the same on every card.
"""

from __future__ import annotations


def units_words(units: float) -> str:
    """'1 unit', '3.5 units'."""
    return f"{units:g} unit" + ("" if units == 1 else "s")


def charge_words(units: float | None, *, simulated: bool) -> str:
    """What a card says of what a task cost: '1 unit charged' as the service reports it; for the built-in
    simulator, whose units are a stand-in, that nothing was billed.

    Parameters
    ----------
    units : float or None
        What the service reported (``Task.units``).
    simulated : bool
        True for a task of the built-in simulator (proven by the client, never guessed).

    Returns
    -------
    str
        The words, empty while nothing is reported.
    """
    if not units:
        return ""
    return "simulated: nothing billed" if simulated else f"{units_words(units)} charged"


def video_html(src: str) -> str:
    """A plain ``<video>`` for HTML readers without widget JavaScript (saved and exported notebooks)."""
    return (
        f'<video src="{escape_html(src)}" controls preload="metadata" '
        'style="max-width:min(560px, 100%);max-height:480px;display:block;margin-top:6px"></video>'
    )


_HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})


def escape_html(text: object) -> str:
    """HTML-escape (what ``html.escape`` does, without importing its 2,000 named entities)."""
    return str(text).translate(_HTML_ESCAPES)
