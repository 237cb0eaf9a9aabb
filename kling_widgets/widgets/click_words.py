"""What the bundle says when a click sends or creates nothing: the form's problems, a request's fate."""

from __future__ import annotations

from ..batch_item import BatchItem
from ..errors import APIError, CreateOutcomeUnknownError, KlingError, Problem, ValidationError


def still_to_do(problem: Problem) -> bool:
    """Whether ``problem`` is of a form not yet filled in (no pictures, no prompt), not of something
    entered wrong: an untouched form is a hint, not an error.

    Parameters
    ----------
    problem : Problem
        One of the form's problems.

    Returns
    -------
    bool
        True for what is simply still to do.
    """
    return (problem.field == "images" and not problem.value) or (
        problem.field == "prompt" and problem.message.startswith("is required")
    )


def plain(problem: Problem) -> str:
    """One problem of the form in the form's own words: what to do, without a field name the form does
    not show.

    Parameters
    ----------
    problem : Problem
        What stops the click (the form's, or a refused request's).

    Returns
    -------
    str
        The words.
    """
    if still_to_do(problem) and problem.field == "prompt":
        return "write a prompt describing the video you want"  # what to do, in the form's words
    return problem.message if problem.field in ("images", "client", "account", "budget_units") else str(problem)


def not_created_words(item: BatchItem) -> tuple[str, str]:
    """What to say of a request that created no task, by what stopped it.

    Parameters
    ----------
    item : BatchItem
        The queue's item, final without a task.

    Returns
    -------
    tuple of (str, str)
        The words and their kind (``warning`` for an unknown outcome, else ``error``).
    """
    error = item.exception
    if isinstance(error, CreateOutcomeUnknownError):
        return str(error), "warning"
    if isinstance(error, APIError):  # before ValidationError: a service-side 1201 is both, and it was sent
        return f"The service refused the request: {error}", "error"
    if isinstance(error, ValidationError):
        return "Not sent: " + "; ".join(plain(p) for p in error.problems), "error"
    if isinstance(error, KlingError):
        return f"Could not send the request: {error}", "error"
    return f"Not created: {item.error or item.state}", "error"
