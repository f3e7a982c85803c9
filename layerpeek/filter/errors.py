"""The filter errors: :class:`FilterError` (defined with the public error family in
:mod:`layerpeek.errors`, so that capture code raises the same class without
importing the filter package) and its subclass for text that is not a filter.
"""

from __future__ import annotations

from layerpeek.errors import FilterError

__all__ = ["FilterError", "FilterSyntaxError"]


class FilterSyntaxError(FilterError):
    """The text is not a well-formed filter, names an unknown field, or has a bad value."""
