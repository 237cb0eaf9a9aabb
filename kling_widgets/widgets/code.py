"""The bundle's *Show code*: runnable code that makes the form's request with the client alone.

The code runs in two places: pasted into the notebook that showed it, and alone (a fresh kernel, a
script). In the notebook it must leave the notebook's own names alone — the quickstart already has a
``sim``, a ``client``, a ``request``, a ``task`` and a ``path`` — and must not start a second simulator
beside the one the notebook runs; alone it must build everything it needs. So each name it binds is
chosen against the names the code will run among (``client`` there already: ``client_2``), and a simulator
comes from ``Simulator.shared()``: the one this process serves, else a new one. The key never appears.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..images import PreparedImage

if TYPE_CHECKING:
    from ..client import KlingClient
    from ..simulator import Simulator
    from .app import MultiImageToVideo

UPLOADS_FOLDER = "kling-pictures"
_MISSING = object()


def notebook_namespace() -> Mapping[str, Any]:
    """The names of the notebook the bundle runs in (IPython's user namespace), or none outside IPython.

    Returns
    -------
    Mapping
        Name to value, as the notebook's next cell sees them.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency; a stripped install still works
        return {}
    shell = get_ipython()
    return dict(getattr(shell, "user_ns", None) or {})


class _Names:
    """Picks the names the code binds: each one the namespace leaves free, or binds to the very object
    the code would bind it to (rebinding it changes nothing); otherwise ``name_2``, ``name_3``…"""

    def __init__(self, namespace: Mapping[str, Any]) -> None:
        self.namespace = namespace
        self.taken: set[str] = set()
        self.imported: dict[str, str] = {}  # an imported object's own name -> the name it is bound to

    def __call__(self, name: str, value: Any = _MISSING) -> str:
        candidate, number = name, 1
        while candidate in self.taken or not self._free(candidate, value):
            number += 1
            candidate = f"{name}_{number}"
        self.taken.add(candidate)
        return candidate

    def _free(self, name: str, value: Any) -> bool:
        held = self.namespace.get(name, _MISSING)
        return held is _MISSING or (value is not _MISSING and held is value)

    def imports(self, module: str, objects: dict[str, Any]) -> str:
        """``from module import A, B as B_2`` — aliased where the notebook's ``B`` is something else."""
        parts = []
        for name, value in objects.items():
            bound = self.imported[name] = self(name, value)
            parts.append(name if bound == name else f"{name} as {bound}")
        return f"from {module} import {', '.join(parts)}"


def saved_upload(image: PreparedImage) -> str:
    """An uploaded picture (its bytes live in the form only) saved as sent, once, under
    ``kling-pictures/`` in the kernel's working folder, so that code naming it runs where it was shown.

    Parameters
    ----------
    image : PreparedImage
        The picture as the form prepared it.

    Returns
    -------
    str
        Its relative path. The name is the upload's own with a digest of its bytes: two pictures never
        share one.
    """
    stem = re.sub(r"[^\w.-]+", "-", Path(image.source).stem).strip("-.") or "picture"
    suffix = ".png" if image.mime == "image/png" else ".jpg"
    path = Path(UPLOADS_FOLDER) / f"{stem[:40]}-{image.sha256[:8]}{suffix}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image.data)
    return path.as_posix()


def _notebook_simulator(client: KlingClient) -> tuple[Simulator | None, bool]:
    """The simulator of this process the client talks to, and whether ``Simulator.shared()`` alone finds
    it (it is the newest of its provider) or needs its address."""
    from ..simulator import Simulator

    running = Simulator.running(client.provider)
    mine = [sim for sim in running if sim.url == client.base_url]
    if not mine:
        return None, True
    return mine[-1], mine[-1] is running[-1]


def bundle_code(app: MultiImageToVideo, namespace: Mapping[str, Any] | None = None) -> str:
    """The code for ``app.to_code()``.

    Parameters
    ----------
    app : MultiImageToVideo
        The bundle whose form (pictures, prompt, options, variations) the code sends.
    namespace : Mapping or None
        The names the code will run among; None: the notebook's (see :func:`notebook_namespace`).

    Returns
    -------
    str
        Python source that creates the same request(s) and waits for the video(s).
    """
    import kling_widgets

    from ..client import PROVIDERS

    names = _Names(notebook_namespace() if namespace is None else namespace)
    client = app.client
    requests = app.requests
    swept = len(requests) > 1
    wanted = ["KlingClient", "VideoRequest"] + (["Batch", "sweep"] if swept else [])
    lines = [names.imports("kling_widgets", {name: getattr(kling_widgets, name) for name in wanted})]
    body: list[str] = []
    if client is not None and client.is_simulator():  # as the demo did: no key exists to read
        from ..simulator import Simulator

        simulator, alone = _notebook_simulator(client)
        lines.append(names.imports("kling_widgets.simulator", {"Simulator": Simulator}))
        sim, made = names("sim", simulator if simulator is not None else _MISSING), names("client")
        arguments = [repr(client.provider)] if client.provider != "gateway" else []
        if simulator is not None and not alone:  # several run here: name the notebook's own
            arguments.append(f"url={simulator.url!r}")
        arguments.append("processing_seconds=3")
        body.append("# The simulator this notebook already runs (a new one where none runs): nothing is billed.")
        body.append(f"{sim} = {names.imported['Simulator']}.shared({', '.join(arguments)})")
        if client.provider == "kling":
            body.append(
                f"{made} = {names.imported['KlingClient']}(provider='kling', access_key={sim}.access_key, "
                f"secret_key={sim}.secret_key, base_url={sim}.url)"
            )
        else:
            body.append(f"{made} = {names.imported['KlingClient']}({sim}.api_key, base_url={sim}.url)")
    else:
        made = names("client")
        arguments = []
        if client is not None and client.provider != "gateway":
            arguments.append(f"provider={client.provider!r}")
        if client is not None and client.base_url != PROVIDERS[client.provider]["base_url"]:
            arguments.append(f"base_url={client.base_url!r}")
        where = "KLING_ACCESS_KEY and KLING_SECRET_KEY" if client and client.provider == "kling" else "KLING_API_KEY"
        body.append(f"{made} = {names.imported['KlingClient']}({', '.join(arguments)})  # the key comes from {where}")
    body += _request_lines(app, names, made, requests)
    return "\n".join([*lines, "", *body]) + "\n"


def _request_lines(app: MultiImageToVideo, names: _Names, client: str, requests: list[Any]) -> list[str]:
    """The request (or sweep) and what waits for it, with the names ``names`` hands out."""
    pictures = []
    for item in app.image_picker.images:
        if isinstance(item, str):
            pictures.append(f"        {item!r},")
        elif item.origin:
            pictures.append(f"        {item.origin!r},")
        else:
            pictures.append(f"        {saved_upload(item)!r},  # uploaded in the form, saved as sent")
    picture_list = "[\n" + "\n".join(pictures) + "\n    ]" if pictures else "[]"
    base = app._build()
    prompt = base.prompt if len({r.prompt for r in requests}) == 1 else requests[0].prompt
    keywords = [f"    {picture_list},", f"    {prompt!r},"]
    if base.negative_prompt:
        keywords.append(f"    negative_prompt={base.negative_prompt!r},")
    for name, default in (("model_name", "kling-v1-6"), ("mode", "std"), ("duration", 5), ("aspect_ratio", "16:9")):
        value = getattr(base, name)
        if value != default:
            keywords.append(f"    {name}={value!r},")
    if base.watermark is not None:  # the form always says (False too): the same body, watermark_info included
        keywords.append(f"    watermark={base.watermark!r},")
    if base.callback_url:
        keywords.append(f"    callback_url={base.callback_url!r},")
    if base.max_side is None:
        keywords.append("    max_side=None,  # pictures at full size")
    request = names("request")
    lines = [f"{request} = {names.imported['VideoRequest']}(\n" + "\n".join(keywords) + "\n)"]
    if len(requests) > 1:
        axes = []
        if len({r.prompt for r in requests}) > 1:
            axes.append(f"prompt={list(dict.fromkeys(r.prompt for r in requests))!r}")
        if app.both_modes:
            axes.append("mode=['std', 'pro']")
        if app.both_durations:
            axes.append("duration=[5, 10]")
        several, tasks, task = names("requests"), names("tasks"), names("task")
        lines.append(f"{several} = {names.imported['sweep']}({request}, {', '.join(axes)})")
        lines.append(
            f"{tasks} = {names.imported['Batch']}({client}, {several}).start().wait()  "
            "# under your account's concurrency limit"
        )
        lines.append(f"for {task} in {tasks}:")
        lines.append(f"    print({task}.status.value, {task}.video_url or {task}.error)")
    else:
        task, path = names("task"), names("path")
        lines.append(f"{task} = {client}.generate({request})  # create, then wait for the video")
        lines.append(f"print({task}.video_url)")
        lines.append(f'{path} = {client}.download({task}, ".")  # the service deletes videos after 30 days')
    return lines
