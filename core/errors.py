"""Errors that carry a user-facing message; front doors turn them into one line or a 4xx."""

from __future__ import annotations


class XmoError(Exception):
    """Base of every error xmo reports to a user (CLI line, HTTP JSON body)."""

    code = "error"
    http_status = 400


class InvalidInput(XmoError):
    """The caller gave a value xmo cannot use."""

    code = "invalid_input"
    http_status = 400


class NotFound(XmoError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    code = "not_found"
    http_status = 404


class Conflict(XmoError):
    """The request clashes with what already exists."""

    code = "conflict"
    http_status = 409


class Unauthorized(XmoError):
    """No credentials, or credentials that match nothing."""

    code = "unauthorized"
    http_status = 401


class Forbidden(XmoError):
    """Valid credentials that do not allow this action."""

    code = "forbidden"
    http_status = 403


class TooLarge(XmoError):
    """A body or batch over its size limit."""

    code = "too_large"
    http_status = 413


class NotReady(XmoError):
    """A prerequisite (data, model) is missing; the message says which command makes it."""

    code = "not_ready"
    http_status = 409
