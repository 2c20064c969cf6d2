"""Typed errors. Pages catch only PortalError subclasses; their messages are shown to the user."""


class PortalError(Exception):
    """Base class of every error a page may show to a user."""


class InvalidInputError(PortalError, ValueError):
    """The user's input cannot be used: the message says what was wrong and how to fix it."""


class ModelUnavailableError(PortalError, RuntimeError):
    """A model cannot be loaded: the message names the file and the command that rebuilds it."""
