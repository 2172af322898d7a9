"""Errors of the torch side; all derive from :class:`bitstream.SrbError`."""

from bitstream.errors import SrbError


class AudioError(SrbError, ValueError):
    """Audio that cannot be coded: unreadable, empty, too short, silent, NaN/inf, or a bad sample rate."""


class ModelError(SrbError):
    """A model that cannot be loaded or used: unknown id, missing or corrupt weights, mismatched config."""
