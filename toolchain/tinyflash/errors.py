"""The one exception type: it carries the sentence the user sees and the exit code.

A library sentence that names one of its caller's settings (a keyword argument such as `force`
or `tflm_path`) marks it with `option("force")` instead of spelling a command-line flag: the CLI
words the mark as its flag (`--force`, cli.OPTION_FLAGS, through `TinyflashError.worded`), a
Python caller reads the keyword name in backquotes (`message`). So flag names live in cli.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

# Exit codes shared by every command.
EXIT_OK = 0
EXIT_CHECK_FAILED = 1  # the model or the device failed a check
EXIT_BAD_INPUT = 2  # bad usage or input

#: Marks an option name inside a sentence (ASCII unit separators: never part of a path or name
#: a user types, so marks and interpolated text cannot be confused).
_MARK = "\x1f"
_OPTION = re.compile(_MARK + r"([a-z][a-z0-9_]*)" + _MARK)


def option(name: str) -> str:
    """How a library sentence names its caller's setting `name` (a keyword argument)."""
    return f"{_MARK}{name}{_MARK}"


class TinyflashError(Exception):
    """A failure the user can act on. `message` is one sentence naming the file, tensor or op
    and what to do; `exit_code` is EXIT_BAD_INPUT or EXIT_CHECK_FAILED. `template` is the
    sentence with its option() marks, for wording by the caller (`worded`) or for embedding in
    another TinyflashError's sentence."""

    def __init__(self, message: str, exit_code: int = EXIT_BAD_INPUT) -> None:
        self.template = message
        self.exit_code = exit_code
        super().__init__(self.message)

    @property
    def options(self) -> tuple[str, ...]:
        """The option names the sentence mentions, in order."""
        return tuple(_OPTION.findall(self.template))

    def worded(self, words: Mapping[str, str] | Callable[[str], str | None]) -> str:
        """The sentence with each option named by `words` (a mapping or a function; an option it
        does not know is named as in `message`)."""
        lookup = words.get if isinstance(words, Mapping) else words

        def name(match: re.Match[str]) -> str:
            found = lookup(match.group(1))
            return found if found else f"`{match.group(1)}`"

        return _OPTION.sub(name, self.template)

    @property
    def message(self) -> str:
        """The sentence for a Python caller: options named by their keyword, in backquotes."""
        return self.worded({})
