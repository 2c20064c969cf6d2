"""Typed errors. Pages catch only PortalError subclasses; their messages are shown to the user."""


class PortalError(Exception):
    """Base class of every error a page may show to a user."""


class InvalidInputError(PortalError, ValueError):
    """The user's input cannot be used: the message says what was wrong and how to fix it."""


class ModelUnavailableError(PortalError, RuntimeError):
    """A model cannot be loaded: the message names the file and the command that rebuilds it."""


class NotFoundError(InvalidInputError):
    """The input names something that does not exist (a style, a book title, a detector): the message lists the
    choices. The HTTP API answers 404."""


class InputTooLargeError(InvalidInputError):
    """The input is over a size cap (bytes, pixels, rows, characters): the message gives the cap. The HTTP API
    answers 413."""
