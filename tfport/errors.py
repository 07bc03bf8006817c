"""Errors meant for people: each carries the exit code and a message that says what to do."""

from __future__ import annotations

EXIT_OK = 0
EXIT_PARITY_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_CONVERSION_FAILED = 3
EXIT_UNCHECKED = 4


class TfportError(Exception):
    """An error the CLI prints as one message, without a traceback."""

    exit_code = EXIT_BAD_INPUT


class BadInputError(TfportError):
    """A path, model, golden set or option the user gave cannot be used."""


class RuntimeMissingError(TfportError):
    """A runtime or converter package a target needs is not installed."""


class ConversionError(TfportError):
    """The converter could not produce an artifact."""

    exit_code = EXIT_CONVERSION_FAILED


class RuntimeFailure(TfportError):
    """The runtime could not run the artifact (it crashed, or refused a kernel): the artifact has
    no verdict. Same exit code as a failed conversion: either way there is no artifact that works."""

    exit_code = EXIT_CONVERSION_FAILED


class CannotCheckHere(TfportError):
    """The artifact was made, but no runtime installed here can run it (a TFLite file with Select
    TF ops where no interpreter links Flex): it is kept, and gets no verdict — never a pass."""

    exit_code = EXIT_UNCHECKED
