"""The exception tree.

Every error the package raises on purpose is a :class:`KlingError`. Service errors are :class:`APIError`
subclasses chosen by HTTP status *and* Kling's business code (several codes share HTTP 429, and they call
for different actions). No exception text ever carries a credential: the client redacts service
messages before they reach these constructors.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .task import Task


class KlingError(Exception):
    """Base class of every error kling-widgets raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: which field, what the rule is, and what was given.

    The items of :attr:`ValidationError.problems`, so a form can put each message beside its field.

    Parameters
    ----------
    field : str
        The request's field at fault (``"prompt"``, ``"images[2]"``…), or ``"request"`` for the whole.
    message : str
        What is wrong, in words a person can act on.
    limit : Any, optional
        The rule's bound (a maximum length, the allowed values…), when there is one.
    value : Any, optional
        What was given, when showing it helps.
    """

    field: str
    message: str
    limit: Any = None
    value: Any = None

    def __str__(self) -> str:
        if self.message.startswith(("is ", "must ")):  # "prompt is required: …", not "prompt: is required"
            return f"{self.field} {self.message}"
        return f"{self.field}: {self.message}"


class ValidationError(KlingError, ValueError):
    """The request cannot be sent as it is. ``problems`` lists every problem found, not just the first.

    Parameters
    ----------
    problems : iterable of Problem, Problem or str
        Every problem found; a string is one problem with ``field``.
    field : str
        The field a string ``problems`` is about.
    """

    def __init__(self, problems: Iterable[Problem] | Problem | str, *, field: str = "request") -> None:
        if isinstance(problems, str):
            self.problems: list[Problem] = [Problem(field, problems)]
            super().__init__(problems)
            return
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or "invalid request")


class PayloadError(KlingError, ValueError):
    """A response body that matches none of the documented task shapes."""


class APIError(KlingError):
    """The service answered with an error.

    ``code`` is the business code (an int for Kling, a string such as ``invalid_api_key`` for the
    gateway), ``message`` the service's own words. Its subclasses take the same parameters; the client
    makes them, a user catches them.

    Parameters
    ----------
    message : str
        The service's own words (credentials already redacted).
    status_code : int, optional
        The HTTP status, when there was an answer.
    code : int or str, optional
        The business code: Kling's number, or the gateway's word.
    request_id : str, optional
        The service's id of the request, to quote to its support.
    retry_after : float, optional
        Seconds the service asked to wait before trying again.
    field : str, optional
        The request field the service named as wrong, when it named one.
    """

    retryable = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give a subclass that keeps this constructor its parameters in its own docstring, so ``help()``
        and the API reference document them where a user reads (one text, not ten copies)."""
        super().__init_subclass__(**kwargs)
        if cls.__init__ is APIError.__init__ and cls.__doc__ and "Parameters" not in cls.__doc__:
            own = inspect.cleandoc(cls.__doc__)
            params = inspect.cleandoc(APIError.__doc__ or "").partition("Parameters")
            cls.__doc__ = f"{own}\n\nParameters{params[2]}" if params[1] else own

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: int | str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        field: str | None = None,
    ) -> None:
        """Keep the service's answer, and say it in one line with the details that help support."""
        self.message = message
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after
        self.field = field
        details = [
            f"HTTP {status_code}" if status_code else None,
            f"code {code}" if code is not None else None,
        ]
        if request_id:
            details.append(f"request {request_id}")
        extra = ", ".join(d for d in details if d)
        super().__init__(f"{message} ({extra})" if extra else message)


class AuthenticationError(APIError):
    """Missing, wrong or expired credentials (HTTP 401, codes 1000-1004, ``invalid_api_key``)."""


class PermissionDeniedError(APIError):
    """The account may not use this API, model or IP address (1103, 1304)."""


class AccountError(APIError):
    """Account problem, unpaid bill or resource pack exhausted (1100-1102). Never retried."""


class BadRequestError(APIError, ValidationError):
    """The service refused the parameters (1200-1203, gateway ``task_failed``). It is also a
    :class:`ValidationError`, whose one problem names the field when the service's message does.

    Parameters
    ----------
    message : str
        The service's own words.
    **details
        ``status_code``, ``code``, ``request_id``, ``retry_after``, ``field``, as for :class:`APIError`.
    """

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.problems = [Problem(self.field or "request", message)]


class NotFoundError(APIError):
    """No such task (HTTP 404, gateway ``task_not_exist``)."""


class ContentPolicyError(APIError):
    """The input was refused by the service's content safety policy (1300, 1301)."""


class RateLimitError(APIError):
    """Too many requests (1302) or too many running tasks (1303). ``retry_after`` in seconds when known."""

    retryable = True


class ServerError(APIError):
    """The service failed, is in maintenance, or timed out (5xx, 5000-5002)."""

    retryable = True


class GatewayError(APIError):
    """The gateway refused the request itself, before relaying anything to Kling (no channel for the
    model, for instance): nothing was created and nothing is billed."""


class RequestTooLargeError(APIError):
    """The request body was over the service's cap (HTTP 413): nothing was created."""


class RedirectError(APIError):
    """The address answered with a redirect (3xx) instead of the API: ``location`` says where it points.
    Nothing was created; the base URL most likely points at a web page rather than the API.

    Parameters
    ----------
    message : str
        What happened, in words.
    location : str, optional
        The redirect's target (its ``Location`` header).
    **details
        ``status_code``, ``code``, ``request_id``, ``retry_after``, ``field``, as for :class:`APIError`.
    """

    def __init__(self, message: str, *, location: str | None = None, **details: Any) -> None:
        self.location = location
        super().__init__(message, **details)


class APIConnectionError(KlingError):
    """The service could not be reached, or the connection broke before an answer arrived.

    Parameters
    ----------
    message : str
        What went wrong with the connection.
    reached : bool
        Whether the request may have arrived whole (see the ``reached`` attribute).
    """

    def __init__(self, message: str, *, reached: bool) -> None:
        #: False when the request provably never arrived whole (connection refused, or broken while the
        #: body was still being sent): the service cannot have acted on it, so a create may be resent.
        self.reached = reached
        super().__init__(message)


class CreateOutcomeUnknownError(KlingError):
    """A create was sent, but no answer says whether the task exists (timeout, 5xx, dropped connection).

    It is not resent, so nobody pays twice. The task may exist: it stays on record under
    ``external_task_id``; look it up later or check the provider's console.

    Parameters
    ----------
    external_task_id : str
        The id the create carried, under which the task (if any) can be found.
    reason : str
        Why the outcome is unknown (the timeout, the status, the broken connection).
    """

    def __init__(self, external_task_id: str, reason: str) -> None:
        self.external_task_id = external_task_id
        self.reason = reason
        super().__init__(
            f"The create for external_task_id {external_task_id!r} was sent but its outcome is unknown "
            f"({reason}). The task may exist and be billed; it was not resent. It is kept on record "
            "under that id."
        )


class TaskFailedError(KlingError):
    """The task ended in failure; ``task`` holds it, ``task.error`` the service's reason.

    Parameters
    ----------
    task : Task
        The failed task, as last seen.
    """

    def __init__(self, task: Task) -> None:
        self.task = task
        super().__init__(f"Task {task.id} failed: {task.error or 'no reason given'}")


class WaitTimeoutError(KlingError, TimeoutError):
    """Watching stopped at the deadline. The task itself may still finish (and be billed).

    Parameters
    ----------
    task : Task
        The task as last seen, to resume watching with ``client.wait(task.id)``.
    waited : float
        Seconds spent watching.
    """

    def __init__(self, task: Task, waited: float) -> None:
        self.task = task
        super().__init__(
            f"Stopped watching task {task.id} after {waited:.0f} s (last status {task.raw_status!r}). "
            f"It may still finish and be billed: resume with client.wait({task.id!r})."
        )


class BatchTimeoutError(KlingError, TimeoutError):
    """``Batch.wait`` reached its timeout; the batch goes on (its tasks stay watched and journaled).

    Parameters
    ----------
    waiting : int
        How many requests of the batch were not final yet.
    waited : float
        Seconds spent waiting.
    """

    def __init__(self, waiting: int, waited: float) -> None:
        self.waiting = waiting
        super().__init__(f"{waiting} request(s) of the batch not final after {waited:.0f} s; the batch goes on.")


class BudgetExceededError(KlingError):
    """What would be sent is estimated over the budget given: nothing was sent.

    Parameters
    ----------
    estimate : float
        The estimated cost of what would be sent, in the service's units.
    budget : float
        The budget it would go over, in the same units.
    spent : float
        Units already sent under the same budget (a batch adding to itself).
    what : str
        What was refused, in words ("the batch", "this click"…).
    """

    def __init__(self, estimate: float, budget: float, *, spent: float = 0.0, what: str = "the batch") -> None:
        self.estimate, self.budget, self.spent = estimate, budget, spent
        already = f" on top of {spent:g} units already sent" if spent else ""
        super().__init__(
            f"Not sent: {what} is estimated at {estimate:g} units{already}, over the budget of {budget:g} units "
            "(nothing was sent; raise budget_units or send less)"
        )
