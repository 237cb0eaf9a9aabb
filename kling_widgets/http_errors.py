"""From an HTTP error answer to the right exception: by business code first, then by HTTP status.

Both providers' error bodies are understood: Kling's ``{"code": 1302, "message", "request_id"}``, the
gateway's ``{"error": {"message", "type", "code"}}`` and its ``{"code": "task_failed", "message"}``.
"""

from __future__ import annotations

import re
import time
from typing import Any

from ._redact import redact
from .errors import (
    AccountError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    GatewayError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    ServerError,
)

_BY_CODE: list[tuple[range, type[APIError]]] = [
    (range(1000, 1005), AuthenticationError),
    (range(1100, 1103), AccountError),
    (range(1103, 1104), PermissionDeniedError),
    (range(1200, 1204), BadRequestError),
    (range(1300, 1302), ContentPolicyError),
    (range(1302, 1304), RateLimitError),
    (range(1304, 1305), PermissionDeniedError),
    (range(5000, 5003), ServerError),
]
_BY_NAME: dict[str, type[APIError]] = {
    "invalid_api_key": AuthenticationError,
    "unauthorized": AuthenticationError,
    "task_not_exist": NotFoundError,
    "task_failed": BadRequestError,
    "insufficient_quota": AccountError,
    "insufficient_user_quota": AccountError,  # the gateway: out of credit (HTTP 403)
    "model_not_found": GatewayError,  # the gateway has no channel for the model (HTTP 503)
    "rate_limit_exceeded": RateLimitError,
}
_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: RequestTooLargeError,
    422: BadRequestError,
    429: RateLimitError,
}
_REQUEST_FIELDS = (
    "image_list",
    "prompt",
    "negative_prompt",
    "model_name",
    "mode",
    "duration",
    "aspect_ratio",
    "watermark_info",
    "callback_url",
    "external_task_id",
    "task_id",
)
_MEANING: dict[type[APIError], str] = {
    AccountError: "the account cannot create tasks (unpaid, suspended or out of credit)",
    GatewayError: "the gateway refused the request itself, before relaying it to Kling (nothing was created)",
    RequestTooLargeError: "the request body is over the service's size cap (nothing was created)",
    ContentPolicyError: "the input was refused by the service's content safety policy",
    PermissionDeniedError: "this key may not use this API, model or IP address",
}


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    import email.utils

    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time())


def error_from_body(status: int, body: Any, *, retry_after: float | None = None, text: str = "") -> APIError:
    """The exception for one error answer; the service's own message is kept (with secrets redacted)."""
    code: int | str | None = None
    message = ""
    request_id = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            code = error.get("code") or error.get("type")
            message = str(error.get("message") or "")
        else:
            code = body.get("code")
            message = str(body.get("message") or body.get("msg") or "")
            data = body.get("data")
            if not message and isinstance(data, dict):
                message = str(data.get("message") or data.get("fail_reason") or "")
        request_id = body.get("request_id") if isinstance(body.get("request_id"), str) else None
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    cls: type[APIError] | None = None
    if isinstance(code, int):
        cls = next((c for r, c in _BY_CODE if code in r), None)
    elif isinstance(code, str):
        cls = _BY_NAME.get(code)
    if cls is None and status == 413:
        cls = RequestTooLargeError
    if cls is None and isinstance(body, dict) and _gateway_own(body) and status >= 500:
        cls = GatewayError  # the gateway's own refusal: it never reached Kling
    if cls is None:
        cls = ServerError if status >= 500 else _BY_STATUS.get(status, APIError)
    if cls is BadRequestError and status == 404:
        cls = NotFoundError  # 1203 "resource not found" arrives as HTTP 404
    message = redact(message or text[:300] or f"HTTP {status}")
    if code == "insufficient_user_quota":
        message = f"out of credit on the gateway: top up the account ({message})"
    meaning = _MEANING.get(cls)
    if meaning and meaning not in message and code != "insufficient_user_quota":
        message = f"{meaning}: {message}"
    field = next((f for f in _REQUEST_FIELDS if re.search(rf"\b{f}\b", message)), None)
    return cls(message, status_code=status, code=code, request_id=request_id, retry_after=retry_after, field=field)


def _gateway_own(body: dict[str, Any]) -> bool:
    """True for an error the gateway's software made itself (``type: new_api_error``), not Kling's."""
    error = body.get("error")
    return isinstance(error, dict) and error.get("type") == "new_api_error"
