"""The one exception type: it carries the sentence the user sees and the exit code."""

from __future__ import annotations

# Exit codes shared by every command.
EXIT_OK = 0
EXIT_CHECK_FAILED = 1  # the model or the device failed a check
EXIT_BAD_INPUT = 2  # bad usage or input


class TinyflashError(Exception):
    """A failure the user can act on. `message` is one sentence naming the file, tensor or op
    and what to do; `exit_code` is EXIT_BAD_INPUT or EXIT_CHECK_FAILED."""

    def __init__(self, message: str, exit_code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
