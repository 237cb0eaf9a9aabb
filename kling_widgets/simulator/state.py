"""The simulator's tasks and their clock, and the service's own validation of a create body.

Status follows time alone: ``submitted`` for the first 15 % of ``processing_seconds``, then
``processing``, then ``succeed`` (or ``failed``). A task may stay invisible to queries for
``visibility_delay`` seconds after its create was accepted, as a real service's lookups can lag.
"""

from __future__ import annotations

import base64
import binascii
import io
import itertools
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

MAX_IMAGE_BYTES = 10_000_000
ENUMS = {
    "model_name": ("kling-v1-6",),
    "mode": ("std", "pro"),
    "duration": ("5", "10"),
    "aspect_ratio": ("16:9", "9:16", "1:1"),
}
RUNNING = ("submitted", "processing")


@dataclass
class SimTask:
    task_id: str
    external_task_id: str | None
    body: dict[str, Any]
    created: float
    fail_reason: str | None = None
    video: bytes | None = None
    reported_status: str | None = None
    no_video_link: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class TaskStore:
    """Every task the simulator accepted, found by task id or external id."""

    def __init__(self, processing_seconds: float, visibility_delay: float = 0.0) -> None:
        self.processing_seconds = processing_seconds
        self.visibility_delay = visibility_delay
        self.tasks: dict[str, SimTask] = {}
        self.lock = threading.RLock()
        self._ids = itertools.count(860260753860210752 + random.randrange(10**9))
        self.fail_next: list[str] = []
        self.no_video_next = 0

    def find(self, key: str, *, visible_only: bool = True) -> SimTask | None:
        with self.lock:
            task = self.tasks.get(key)
            if task is None:
                task = next((t for t in self.tasks.values() if t.external_task_id == key), None)
        if task is not None and visible_only and time.time() - task.created < self.visibility_delay:
            return None  # accepted, but not yet visible to lookups
        return task

    def status(self, task: SimTask) -> tuple[str, int]:
        """(Kling status, progress 0-100) from the time since creation."""
        elapsed = time.time() - task.created
        total = max(self.processing_seconds, 0.001)
        if elapsed >= total:
            return ("failed" if task.fail_reason else "succeed"), 100
        if elapsed < total * 0.15:
            return "submitted", 0
        return "processing", min(99, int(elapsed / total * 100))

    def running(self) -> int:
        with self.lock:
            return sum(1 for t in self.tasks.values() if self.status(t)[0] in RUNNING)

    def create(self, body: dict[str, Any]) -> SimTask:
        with self.lock:
            task_id = str(next(self._ids))
            prompt = str(body.get("prompt", ""))
            reason = self.fail_next.pop(0) if self.fail_next else None
            if "[fail]" in prompt:
                reason = reason or "Kling could not generate this video (the prompt asked for a failure)"
            task = SimTask(task_id, body.get("external_task_id"), body, time.time(), fail_reason=reason)
            if self.no_video_next:
                self.no_video_next -= 1
                task.no_video_link = True
            self.tasks[task_id] = task
            return task

    def newest_first(self) -> list[SimTask]:
        with self.lock:
            return sorted(self.tasks.values(), key=lambda t: t.created, reverse=True)

    def external_id_exists(self, external_task_id: str) -> bool:
        with self.lock:
            return any(t.external_task_id == external_task_id for t in self.tasks.values())


def refusal(body: Any, store: TaskStore) -> str | None:
    """The service's refusal message for a create body, or None when it is acceptable."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    images = body.get("image_list")
    if not isinstance(images, list) or not 1 <= len(images) <= 4:
        return "image_list must hold 1 to 4 items"
    for index, item in enumerate(images):
        problem = image_problem(item)
        if problem:
            return f"image_list[{index}].image: {problem}"
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return "prompt is required"
    for name in ("prompt", "negative_prompt"):
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 2500):
            return f"{name} must be a string of at most 2500 characters"
    for name, allowed in ENUMS.items():
        if name in body and body[name] not in allowed:
            return f"{name} must be one of {', '.join(allowed)} (strings)"
    watermark = body.get("watermark_info")
    if watermark is not None and not (isinstance(watermark, dict) and isinstance(watermark.get("enabled"), bool)):
        return 'watermark_info must be {"enabled": true|false}'
    for name in ("callback_url", "external_task_id"):
        if name in body and not isinstance(body[name], str):
            return f"{name} must be a string"
    ext = body.get("external_task_id")
    if ext and store.external_id_exists(ext):
        return f"external_task_id {ext} already exists"
    return None


def decode_image(value: str) -> Any:
    """A PIL image from a base64 item, or None for a URL or an undecodable one."""
    if value.startswith(("http://", "https://")):
        return None
    from PIL import Image

    try:
        return Image.open(io.BytesIO(base64.b64decode(value)))
    except (ValueError, OSError, binascii.Error):
        return None


def image_problem(item: Any) -> str | None:
    if not isinstance(item, dict) or not isinstance(item.get("image"), str) or not item["image"]:
        return 'each item must be {"image": "<url or base64>"}'
    value: str = item["image"]
    if re.match(r"https?://", value):
        return None
    if value.startswith("data:"):
        return "base64 must not carry a data:image/...;base64, prefix"
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return "neither an http(s) URL nor valid base64"
    if len(raw) > MAX_IMAGE_BYTES:
        return "image is larger than 10 MB"
    if not (raw.startswith(b"\xff\xd8\xff") or raw.startswith(b"\x89PNG\r\n\x1a\n")):
        return "only jpg/jpeg/png are supported"
    from PIL import Image

    try:
        with Image.open(io.BytesIO(raw)) as image:
            width, height = image.size
    except (OSError, ValueError):
        return "image cannot be decoded"
    if min(width, height) < 300:
        return f"each side must be at least 300px (got {width}x{height})"
    if 2 * max(width, height) > 5 * min(width, height):  # long/short ≤ 2.5, in whole numbers: 2048×819 is out
        return f"aspect ratio must be between 1:2.5 and 2.5:1 (got {width}x{height})"
    return None
