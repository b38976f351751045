"""Errors raised by the `voice` package.

VoiceError
├── AudioFormatError   audio that cannot be decoded as described (bad encoding, rate, size)
└── ModelError         a Whisper model that cannot be found or loaded
"""


class VoiceError(Exception):
    """Root of every error raised by `voice`."""


class AudioFormatError(VoiceError):
    """The audio does not match its declared format."""


class ModelError(VoiceError):
    """A speech model is missing or cannot be loaded."""
