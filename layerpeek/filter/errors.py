"""The one error type a filter can raise, with the column it is about.

Display filters are typed by hand on a command line, so a mistake must say
*where* it is: every :class:`FilterError` carries the expression and the
0-based column of the offending text, and :meth:`FilterError.pointer` draws
the caret line the CLI prints under the expression.
"""

from __future__ import annotations

from layerpeek.errors import LayerpeekError


class FilterError(LayerpeekError):
    """A display or capture filter that cannot be used, and why."""

    def __init__(self, message: str, expression: str = "", column: int = 0, width: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression
        self.column = max(0, min(column, len(expression)))  #: 0-based offset into ``expression``
        self.width = max(1, width)  #: how many characters the caret line underlines

    def pointer(self) -> str:
        """The expression and a caret line under the offending text.

        Tabs in the expression are kept in the caret line's padding so the
        caret stays aligned on a terminal.
        """
        if not self.expression:
            return ""
        pad = "".join("\t" if ch == "\t" else " " for ch in self.expression[: self.column])
        span = min(self.width, max(1, len(self.expression) - self.column))
        return f"{self.expression}\n{pad}{'^' * span}"

    def __str__(self) -> str:
        if not self.expression:
            return self.message
        return f"{self.message} (column {self.column + 1})"


class FilterSyntaxError(FilterError):
    """The text is not a well-formed filter, names an unknown field, or has a bad value."""
