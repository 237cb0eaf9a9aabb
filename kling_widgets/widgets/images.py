"""ImagePicker: up to four reference images from uploads, paths or URLs, each checked and fixed by
``prepare_image`` before it is accepted, shown as a small thumbnail card with what was done to it."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import traitlets

from ..errors import Problem, ValidationError
from ..images import DEFAULT_MAX_SIDE, MAX_RATIO, Fit, PreparedImage, is_url, prepare_image, prepare_many
from ..request import MAX_IMAGES
from ._publish import Published, detach
from ._style import esc, human_size, message_html, stylesheet
from .a11y import accessibility, named
from .drop import drop_zone

ACCEPT = ".jpg,.jpeg,.png,.heic,.heif,.avif,.webp,.gif,.bmp,.tif,.tiff,.jp2,.mpo,image/*"
FORMATS = "JPEG, PNG, HEIC, WebP, AVIF, GIF, BMP, TIFF, JPEG 2000"  # what ACCEPT lets through, in words
THUMB = 128


class ImagePicker(Published, widgets.VBox):
    """Pick 1-4 reference images; ``images`` holds the accepted ones, in the order they are sent.

    Parameters
    ----------
    fit : {"pad", "crop"}, optional
        Pad or crop every picture whose shape the service refuses.
    max_side : int, optional
        The longest side pictures are sent at (None: full size).
    **kwargs
        Passed on to the ipywidgets box (``layout``, for instance).
    """

    images: traitlets.List[Any] = traitlets.List(
        help="Accepted images in send order: PreparedImage objects, or URL strings."
    )
    message = traitlets.Unicode("", help="Why the last image was refused (empty when all is well).")
    fixable = traitlets.List(
        traitlets.Unicode(),
        help="Refused pictures whose only fault is their shape: fix('pad') or fix('crop') (the picker's "
        "Pad to fit and Crop to fit buttons) brings them in.",
    )
    busy = traitlets.Bool(False, help="True while uploaded files are being prepared off the kernel's thread.")
    max_side = traitlets.Int(
        DEFAULT_MAX_SIDE,
        allow_none=True,
        help="Longest side sent, in pixels (larger pictures are downscaled); None sends them at full size. "
        "Changing it prepares the pictures already picked again, from their originals.",
    )

    @detach
    def __init__(self, *, fit: Fit | None = None, max_side: int | None = DEFAULT_MAX_SIDE, **kwargs: Any) -> None:
        self.fit = fit
        self._lock = threading.RLock()
        # What each picked picture was made from (bytes, path, PIL image) and the fit it took, kept in the
        # kernel only — never in widget state — so that a change of max_side starts again from the original.
        self._sources: dict[int, tuple[Any, Fit | None]] = {}
        self._refused: list[tuple[str, Any]] = []  # (name, source) of the fixable ones, kernel only
        self.upload = widgets.FileUpload(
            accept=ACCEPT,
            multiple=True,
            description="Upload pictures",
            icon="upload",
            tooltip=(
                f"Any photo ({FORMATS}), up to {MAX_IMAGES} pictures. Each is checked and, when needed, turned "
                "upright, converted and made smaller here. Files over 10 MB need the server's message limit "
                "raised (make demo does); otherwise paste the file's path."
            ),
            layout=widgets.Layout(width="170px"),
        )
        # ipywidgets labels the button "<description> (<files in its value>)"; the value is emptied on purpose
        # (pictures never sit in widget state), so that count would read "(0)" beside four picked pictures.
        # The stylesheet hides it and draws the label itself (--kw-name, also the button's accessible name).
        self.upload.add_class("kw-upload")
        self.source = named(
            widgets.Text(
                # Short enough for the field in a 470 px pane (the longer words were cut); the tooltip says all.
                placeholder="…or a path or image URL",
                tooltip="Paste a file path (on the kernel's machine) or an https:// image URL, then press Enter or Add",
                continuous_update=False,  # the value arrives on Enter (or when the field loses focus)
                layout=widgets.Layout(flex="1 1 200px", width="auto", min_width="0"),
            ),
            "Picture file path or image URL",
        )
        self.add_button = widgets.Button(
            description="Add",
            tooltip=f"Add the picture at this path or URL (relative paths start from {Path.cwd()})",
            layout=widgets.Layout(width="70px"),
        )
        self.pad_button = widgets.Button(
            description="Pad to fit", icon="expand", tooltip="Add plain bars so the picture's shape is accepted"
        )
        self.crop_button = widgets.Button(
            description="Crop to fit", icon="crop", tooltip="Trim the long side so the picture's shape is accepted"
        )
        self.dismiss_button = named(
            widgets.Button(icon="times", layout=widgets.Layout(width="34px")), "Leave these pictures out"
        )
        self.dismiss_button.add_class("kw-icon")
        self.pad_button.on_click(lambda _: self.fix("pad"))
        self.crop_button.on_click(lambda _: self.fix("crop"))
        self.dismiss_button.on_click(lambda _: self.dismiss())
        self._fix_words = widgets.HTML()
        self._fix_row = widgets.HBox(
            [self._fix_words, self.pad_button, self.crop_button, self.dismiss_button],
            layout=widgets.Layout(display="none", flex_flow="row wrap"),
        )
        self._fix_row.add_class("kw-fix")
        self.drop = drop_zone(self._receive)
        self._status = widgets.HTML()
        self._status.add_class("kw-live")  # what became of a picture is read out as it changes
        self._cards = widgets.Box(  # each card as tall as its own notes, not as the tallest one
            layout=widgets.Layout(display="flex", flex_flow="row wrap", align_items="flex-start", margin="6px 0 0 0")
        )
        super().__init__(
            [
                stylesheet(),
                accessibility(),
                widgets.HBox(
                    [self.upload, self.source, self.add_button],
                    layout=widgets.Layout(width="100%", flex_flow="row wrap", align_items="center"),
                ),
                self.drop,
                self._status,
                self._fix_row,
                self._cards,
            ],
            **kwargs,
        )
        self.upload.observe(self._on_upload, names="value")
        self.add_button.on_click(lambda _: self._add_typed(clicked=True))
        self.source.observe(lambda _: self._add_typed(), names="value")
        self.add_class("kw-part")
        self.observe(self._render, names=["images", "message", "busy", "fixable"])
        self.observe(self._forget_sources, names="images")
        self.set_trait("max_side", max_side)
        self.observe(self._on_max_side, names="max_side")
        self._render()

    def __repr__(self) -> str:
        return f"ImagePicker(images={len(self.images)})"

    # -- public ------------------------------------------------------------------------------------
    def add(self, source: Any, *, fit: Fit | None = None) -> PreparedImage | str | None:
        """Add one image (path, URL, bytes, PIL image, FileUpload file). Returns what was accepted, or
        None when it was refused; the reason is then in ``message`` and shown under the picker. ``fit``
        (else the picker's own) pads or crops a picture whose shape the service refuses.

        Parameters
        ----------
        source : Any
            The picture.
        fit : {"pad", "crop"}, optional
            As above.

        Returns
        -------
        PreparedImage, str or None
            What was accepted (a URL stays a string), or None.
        """
        fit = fit or self.fit
        if self._full(source):
            return None
        item: PreparedImage | str | ValidationError
        if isinstance(source, str) and is_url(source):
            item = source.strip()
        else:
            try:
                item = prepare_image(source, fit=fit, max_side=self.max_side)
            except ValidationError as error:
                item = error
        return self._accept(source, item, fit)

    def _full(self, source: Any) -> bool:
        """True (and said why) when there is no room for ``source``."""
        with self._lock:
            if len(self.images) < MAX_IMAGES:
                return False
        self.message = f"{_name_of(source)} not added: at most {MAX_IMAGES} images. Remove one first."
        return True

    def _accept(
        self, source: Any, item: PreparedImage | str | ValidationError, fit: Fit | None = None
    ) -> PreparedImage | str | None:
        """Add a prepared picture (or say why not), while there is room. A picture refused for its shape
        alone, with no fit asked, is kept aside for Pad to fit / Crop to fit."""
        fit = fit or self.fit
        if isinstance(item, ValidationError):
            name = _name_of(source)
            shape_only = fit is None and all(p.limit == MAX_RATIO for p in item.problems if p.field == "image")
            if shape_only and any(p.limit == MAX_RATIO for p in item.problems):
                with self._lock:
                    self._refused = [*self._refused, (name, source)]
                    self.fixable = [n for n, _ in self._refused]
            self.message = "Not added: " + "; ".join(_words(p, name) for p in item.problems)
            return None
        with self._lock:
            if self._full(source):
                return None
            if isinstance(item, PreparedImage):
                self._sources[id(item)] = (source, fit)
            self.images = [*self.images, item]
        self.message = ""
        return item

    def remove(self, index: int) -> None:
        """Remove the image at ``index`` (0-based).

        Parameters
        ----------
        index : int
            Which picture.
        """
        with self._lock:
            images = list(self.images)
            del images[index]
            self.images = images

    def move(self, index: int, offset: int) -> None:
        """Move the image at ``index`` by ``offset`` places (the order is the order sent).

        Parameters
        ----------
        index : int
            Which picture.
        offset : int
            Places to move: negative is earlier.
        """
        with self._lock:
            images = list(self.images)
            target = max(0, min(len(images) - 1, index + offset))
            images.insert(target, images.pop(index))
            self.images = images

    def clear(self) -> None:
        """Remove every picture and the message under them."""
        self.images = []
        self.dismiss()

    def fix(self, fit: Fit) -> list[PreparedImage | str]:
        """Bring in the pictures refused for their shape only, padded (``"pad"``: plain bars) or cropped
        (``"crop"``: the long side trimmed): what the picker's Pad to fit and Crop to fit buttons do.

        Parameters
        ----------
        fit : {"pad", "crop"}
            How to bring them inside the service's ratios.

        Returns
        -------
        list of PreparedImage or str
            What was added.
        """
        with self._lock:
            refused, self._refused = self._refused, []
            self.fixable = []
        self.message = ""
        added, reasons = [], []
        for _, source in refused:
            item = self.add(source, fit=fit)
            if item is None:
                reasons.append(self.message)
            else:
                added.append(item)
        self.message = "\n".join(reasons)
        return added

    def dismiss(self) -> None:
        """Forget the refused pictures and what was said of them."""
        with self._lock:
            self._refused = []
            self.fixable = []
        self.message = ""

    # -- events ------------------------------------------------------------------------------------
    def _forget_sources(self, _: object = None) -> None:
        with self._lock:
            kept = {id(item) for item in self.images}
            self._sources = {key: value for key, value in self._sources.items() if key in kept}

    def _on_max_side(self, _: object = None) -> None:
        self.busy = True
        threading.Thread(target=self._prepare_again, daemon=True).start()

    def _prepare_again(self) -> None:
        """Prepare every picked picture again from its original, at the new ``max_side``."""
        try:
            with self._lock:
                picked = [(item, self._sources.get(id(item))) for item in self.images]
            again = [(item, origin) for item, origin in picked if isinstance(item, PreparedImage) and origin]
            redone: dict[int, PreparedImage] = {}
            for fit in {origin[1] for _, origin in again}:  # side by side, one batch per fit asked
                group = [(item, origin[0]) for item, origin in again if origin[1] == fit]
                outcomes = prepare_many([source for _, source in group], fit=fit, max_side=self.max_side)
                redone.update(
                    (id(item), outcome)  # a refusal now: it was accepted once; keep it as it was
                    for (item, _), outcome in zip(group, outcomes, strict=True)
                    if isinstance(outcome, PreparedImage)
                )
            with self._lock:
                images = []
                for item in self.images:
                    fresh = redone.get(id(item))
                    if fresh is not None:
                        self._sources[id(fresh)] = self._sources[id(item)]
                    images.append(fresh or item)
                self.images = images
        finally:
            self.busy = False

    def _add_typed(self, clicked: bool = False) -> None:
        text = self.source.value.strip()
        if not text:
            if clicked:
                self.message = f"Type a file path or an https:// URL first (relative paths start from {Path.cwd()})."
            return
        if self.add(text) is not None:
            self.source.value = ""

    def _on_upload(self, change: dict[str, Any]) -> None:
        files = [dict(f, content=bytes(f["content"])) for f in change["new"] or ()]
        if not files:
            return
        self.upload.value = ()  # drop the full bytes from widget state at once: only thumbnails stay
        self.busy = True
        threading.Thread(target=self._add_all, args=(files,), daemon=True).start()

    def _receive(self, files: list[dict[str, Any]]) -> None:
        """Pictures dropped or pasted in the browser: prepared off the kernel's thread, like uploads."""
        self.busy = True
        threading.Thread(target=self._add_all, args=(files,), daemon=True).start()

    def _add_all(self, files: Iterable[dict[str, Any]]) -> None:
        """Files uploaded, dropped or pasted together: prepared side by side (as many as there is room
        for), then added in their order."""
        refused: list[str] = []
        try:
            files = list(files)
            with self._lock:
                room = max(0, MAX_IMAGES - len(self.images))
            outcomes = prepare_many(files[:room], fit=self.fit, max_side=self.max_side)
            for index, file in enumerate(files):
                if index >= len(outcomes) or self._accept(file, outcomes[index]) is None:
                    self._full(file)  # no room was left for it (else the refusal was said)
                    refused.append(self.message)
        finally:
            self.busy = False
            self.message = "\n".join(refused)

    # -- drawing -----------------------------------------------------------------------------------
    def static_html(self) -> str:
        """The pictures as small thumbnails (and why any was refused), for a saved notebook or an
        exported page where no widget script runs.

        Returns
        -------
        str
            HTML that needs no widget script.
        """
        pictures = "".join(_static_picture(item) for item in self.images) or "no pictures yet"
        refused = "".join(message_html(line) for line in self.message.split("\n"))
        return (
            f'<div class="kling-widgets-static"><div style="display:flex;gap:6px;margin:6px 0;color:#666">'
            f"{pictures}</div>{refused}</div>"
        )

    @detach
    def _render(self, _: object = None) -> None:
        count = len(self.images)
        size = f"sent at most {self.max_side} px" if self.max_side else "sent at full size"
        hint = (
            f'<span class="kw-hint">{count} of {MAX_IMAGES} images · any photo ({FORMATS}), each side ≥ 300 px, '
            f"shape between 1:2.5 and 2.5:1 · {size}</span>"
        )
        busy = '<span class="kw-hint"> · preparing upload…</span>' if self.busy else ""
        refusals = "".join(message_html(line) for line in self.message.split("\n"))  # one per line
        self._status.value = f'<div class="kw-lines">{hint}{busy}</div>' + refusals
        fixable = self.fixable
        self._fix_row.layout.display = "flex" if fixable else "none"
        if fixable:
            names = ", ".join(fixable)
            self._fix_words.value = f'<span class="kw-hint">{esc(_shorten(names, 60))}: bring in anyway?</span>'
        self._cards.children = tuple(self._card(i, item) for i, item in enumerate(self.images))

    def _card(self, index: int, item: PreparedImage | str) -> widgets.Widget:
        if isinstance(item, str):
            picture: widgets.Widget = widgets.HTML(
                f'<div style="width:{THUMB}px;height:{THUMB}px;display:flex;align-items:center;'
                f"justify-content:center;border-radius:4px;font-size:11px;padding:4px;box-sizing:border-box;"
                f'word-break:break-all;overflow:hidden" class="kw-tile">🔗 {esc(item[:90])}</div>'
            )
            caption = f"<b>{index + 1}</b> · URL (sent as is)"
            notes = ""
        else:
            picture = widgets.HTML(_preview_html(item), layout=widgets.Layout(width=f"{THUMB}px", height=f"{THUMB}px"))
            caption = (
                f"<b>{index + 1}</b> · {item.width}×{item.height}<br>{human_size(item.size)} · "
                f'<span title="{esc(item.source)}">{esc(_shorten(item.source, 16))}</span>'
            )
            notes = "".join(f'<div class="kw-hint">• {esc(c)}</div>' for c in item.changes)
        left = _small_button("◀", f"Move image {index + 1} earlier", disabled=index == 0)
        right = _small_button("▶", f"Move image {index + 1} later", disabled=index == len(self.images) - 1)
        remove = _small_button("✕", f"Remove image {index + 1}")
        left.on_click(lambda _: self.move(index, -1))
        right.on_click(lambda _: self.move(index, 1))
        remove.on_click(lambda _: self.remove(index))
        card = widgets.VBox(
            [
                picture,
                widgets.HTML(
                    f'<div style="font-size:11px;line-height:1.35">{caption}</div>{notes}',
                    layout=widgets.Layout(width=f"{THUMB}px"),
                ),
                widgets.HBox([left, right, remove]),
            ],
            layout=widgets.Layout(width=f"{THUMB + 14}px"),
        )
        card.add_class("kw-card")
        return card


PREVIEW = 640  # px: the larger preview a click on a thumbnail opens


def _preview_html(item: PreparedImage) -> str:
    """The thumbnail; a click opens a larger preview over the page, another click closes it (no script:
    a hidden checkbox and two labels)."""
    import base64
    import uuid

    key = f"kwp-{uuid.uuid4().hex[:10]}"
    thumb = base64.b64encode(item.thumbnail(THUMB * 2)).decode()
    large = base64.b64encode(item.thumbnail(PREVIEW)).decode()
    name = esc(item.source)
    return (
        f'<input type="checkbox" id="{key}" class="kw-preview-toggle" hidden>'
        f'<label for="{key}" class="kw-press" role="button" aria-label="Larger view of {name}" '
        f'title="{name}: click (or Enter) for a larger view"><img class="kw-thumb" alt="{name}" '
        f'src="data:image/jpeg;base64,{thumb}"></label>'
        f'<label for="{key}" class="kw-lightbox" title="Click (or Enter) to close"><img alt="{name}" '
        f'src="data:image/jpeg;base64,{large}"></label>'
    )


def _small_button(label: str, tooltip: str, *, disabled: bool = False) -> widgets.Button:
    """An icon button, named for screen readers by what it does (the tooltip), not by its glyph."""
    button = widgets.Button(
        description=label,
        tooltip=tooltip,
        disabled=disabled,
        layout=widgets.Layout(width="34px", height="24px", padding="0"),
    )
    button.add_class("kw-icon")
    return named(button, tooltip)


def _words(problem: Problem, name: str) -> str:
    """A refusal in the words of someone using the form: the shape problem points at the picker's buttons,
    not at a Python argument."""
    if problem.limit == MAX_RATIO and isinstance(problem.value, tuple):
        width, height = problem.value
        side = "wide" if width > height else "tall"
        return (
            f"{name}: too {side} ({width}×{height}); the service takes shapes between 1:{MAX_RATIO} and "
            f"{MAX_RATIO}:1. “Pad to fit” adds bars, “Crop to fit” trims it"
        )
    return problem.message


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _name_of(source: Any) -> str:
    if isinstance(source, dict) and source.get("name"):
        return str(source["name"])
    if isinstance(source, str):
        return _shorten(source.rsplit("/", 1)[-1] or source, 40)
    if isinstance(source, PreparedImage):
        return source.source
    return "image"


def _static_picture(item: PreparedImage | str) -> str:
    """A picture in a static page: a small thumbnail, or the link it was given as."""
    if isinstance(item, str):
        return f'<span style="font-size:11px;color:#666">🔗 {esc(_shorten(item, 60))}</span>'
    encoded = base64.b64encode(item.thumbnail(96)).decode("ascii")
    return (
        f'<img src="data:image/jpeg;base64,{encoded}" alt="{esc(item.source)}" title="{esc(item.source)}" '
        'style="width:72px;height:72px;object-fit:contain;background:var(--kw-tile,#eef1f5);border-radius:4px">'
    )
