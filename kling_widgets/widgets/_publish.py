"""What a published page shows of our widgets: their static picture, never a blank box.

A tutorial executed for publishing (``jupyter nbconvert --execute``, nbclient, any docs build) stores the
state of every widget model whose comm was opened under a cell, and nbconvert's HTML exporter then picks
``application/vnd.jupyter.widget-view+json`` over the ``text/html`` fallback our widgets put beside it
whenever the model is in that state (``WidgetsDataTypeFilter``). The page then needs the widget script
from a CDN: read offline, or with the CDN unreachable, the form is blank — and the state of a few hundred
models (pictures in HTML widgets, layouts, styles) weighs hundreds of KB that show nothing.

So our widgets open their comms *detached* from the cell (with an empty parent header): live front ends
(JupyterLab, Notebook 7, Voila) route comm messages by comm id and render them as always, while nbclient,
which keeps only the messages of the cell it runs, stores none of their state. The exporter then shows
the ``text/html`` fallback, and the page carries only what it shows. The fallback of a widget whose
content changes after it was shown (the bundle: tasks arrive later) is refreshed in the saved output by
``update_display_data`` at the end of each cell, in a run with no front end only: a live page has no use
for it, and an update there would redraw the widget (a kernel of JupyterLab or Notebook 7 is named by its
server's session; any other stops refreshing once a front end is seen rendering the widget).
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

from ._front import front_end_class

F = TypeVar("F", bound=Callable[..., Any])


def _kernel() -> Any:
    try:
        from ipykernel.kernelbase import Kernel
    except ImportError:  # plain Python: widgets have no comm to detach
        return None
    return Kernel.instance() if Kernel.initialized() else None


@contextlib.contextmanager
def detached() -> Iterator[None]:
    """Widgets created (and messages sent) inside carry no cell's parent header: front ends show them,
    an executing nbclient does not store their state. Nothing may be printed or displayed inside.

    ipykernel has no public way to send a message outside the running cell, so this sets its private
    record of the cell's parent header for the moment (``_shell_parent`` in ipykernel 7, ``_parents`` in 6);
    with any other kernel, or a later ipykernel without either, it does nothing and widgets behave as usual.
    """
    kernel = _kernel()
    parent = getattr(kernel, "_shell_parent", None)
    if isinstance(parent, ContextVar):  # ipykernel 7: the parent is a context variable
        token = parent.set({})
        try:
            yield
        finally:
            parent.reset(token)
    elif kernel is not None and isinstance(getattr(kernel, "_parents", None), dict):  # ipykernel 6
        before = kernel._parents.get("shell", {})
        kernel._parents["shell"] = {}
        try:
            yield
        finally:
            kernel._parents["shell"] = before
    else:
        yield


def detach(method: F) -> F:
    """Run ``method`` :func:`detached` (for constructors and whatever builds widgets later)."""

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        with detached():
            return method(*args, **kwargs)

    return run  # type: ignore[return-value]


class StaticFallback:
    """Keeps the saved ``text/html`` of a widget's outputs current while no front end renders it.

    ``show()`` displays the widget (with a display id); ``refresh()`` re-sends its bundle when the
    static HTML changed, unless a front end has been seen (``presence`` rendered). At the end of every
    cell it calls ``catch_up()`` (bring what is shown up to date) and refreshes, so the state saved by a
    headless run is the one at its last cell."""

    def __init__(
        self,
        bundle: Callable[[], dict[str, Any]],
        static: Callable[[], str],
        catch_up: Callable[[], None] | None = None,
    ) -> None:
        self._bundle = bundle
        self._static = static
        self._catch_up = catch_up
        self._handles: list[Any] = []
        self._sent = ""
        self._seen = False
        self._lock = threading.Lock()
        with detached():
            self.presence = front_end_class("Presence", "presence.js")()  # invisible: says it was rendered
        self.presence.on_msg(self._on_message)
        self._hooked = False

    @property
    def seen(self) -> bool:
        """True once a front end rendered the widget, or when the kernel was started for one (a Jupyter
        server's session names it in ``JPY_SESSION_NAME``: JupyterLab, Notebook 7): the saved fallback is
        then not refreshed, since an update there would redraw the live widget. A run by nbclient
        (``nbconvert --execute``, Voila's execution, a docs build) has neither."""
        return self._seen or bool(os.environ.get("JPY_SESSION_NAME"))

    def show(self) -> None:
        from IPython.display import display

        bundle = self._bundle()
        with self._lock:
            self._sent = str(bundle.get("text/html", ""))
            handle = display(bundle, raw=True, display_id=True)  # type: ignore[no-untyped-call]
            if handle is not None:
                self._handles.append(handle)
        self._hook()

    def refresh(self) -> None:
        """Re-send the widget's bundle where its static HTML changed and no front end renders it. Only
        from the kernel's main thread: a message sent from another thread carries no running cell's
        header, and a headless runner drops it (the end of the cell refreshes instead)."""
        if self.seen or not self._handles or threading.current_thread() is not threading.main_thread():
            return
        static = self._static()
        with self._lock:
            if static == self._sent:
                return
            self._sent = static
            bundle = {**self._bundle(), "text/html": static}
            for handle in self._handles:
                handle.update(bundle, raw=True)

    def _on_message(self, _: Any, content: Any, buffers: list[Any]) -> None:
        if isinstance(content, dict) and content.get("kind") == "seen":
            self._seen = True

    def _hook(self) -> None:
        """Refresh at the end of every cell (a headless run's last chance), without keeping the
        widget alive through IPython's event list."""
        if self._hooked:
            return
        try:
            from IPython import get_ipython
        except ImportError:
            return
        shell = get_ipython()
        if shell is None:
            return
        self._hooked = True
        me = weakref.ref(self)

        def after_cell(*_: Any) -> None:
            fallback = me()
            if fallback is None:
                shell.events.unregister("post_run_cell", after_cell)
            elif not fallback.seen:
                if fallback._catch_up is not None:
                    fallback._catch_up()
                fallback.refresh()

        shell.events.register("post_run_cell", after_cell)


class Published:
    """A widget that reads well where no widget script runs (mix in before the ipywidgets base class):
    its display data carries ``static_html()`` as ``text/html``, and once displayed at the end of a cell
    it keeps that fallback current in a headless run (``catch_up()`` first brings what it shows up to
    date: a task that finished since the last poll)."""

    _fallback_: StaticFallback | None = None

    def static_html(self) -> str:
        """What a saved notebook or an exported page shows of the widget."""
        raise NotImplementedError

    def catch_up(self) -> None:
        """Bring what is shown up to date before the saved picture is refreshed (nothing by default)."""

    def refresh_static(self) -> None:
        """Refresh the saved picture now, where it is shown and no front end renders it."""
        if self._fallback_ is not None:
            self._fallback_.refresh()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle: dict[str, Any] | None = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        if bundle is not None:
            bundle["text/html"] = self.static_html()
        return bundle

    def _ipython_display_(self) -> None:
        """Shown with a display id, so that what arrives after this cell ran is saved by a headless run."""
        if self._fallback_ is None:
            fallback = StaticFallback(lambda: self._repr_mimebundle_() or {}, self.static_html, self.catch_up)
            box: Any = self
            with detached():  # the presence tells when a front end renders it
                box.children = (*tuple(box.children), fallback.presence)
            self._fallback_ = fallback
        self._fallback_.show()
