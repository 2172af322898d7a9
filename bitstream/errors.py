"""Exception types of srb.

Every error the library raises on purpose derives from :class:`SrbError`, so a caller can catch one
type. The bitstream package owns the base class because it must stay importable without torch;
the torch side (``codec``) subclasses it.
"""


class SrbError(Exception):
    """Base class of every error srb raises on purpose."""


class SrbFormatError(SrbError, ValueError):
    """Bytes that are not a valid ``.srb`` stream: bad magic, truncated, corrupt, or inconsistent.

    Attributes:
        packet: index of the packet where decoding failed, or ``None`` when the header is at fault.
    """

    def __init__(self, message: str, packet: int | None = None):
        super().__init__(message)
        self.packet = packet


class SrbStreamsError(SrbError, ValueError):
    """A :class:`~bitstream.Streams` value that cannot be written (wrong lengths, symbols out of range)."""


class SrbTablesError(SrbError, ValueError):
    """Probability tables that are malformed or do not match the stream they should code."""


class SrbModelMismatchError(SrbFormatError):
    """A well-formed ``.srb`` file made by another model or other tables than the ones at hand."""
