"""cliff column formatters: lists one item a line in a table and a real
list in ``-f json``/``yaml``; counts as "5: agent 3, kernel 2"."""
import textwrap

from cliff import columns

# A table cell's width for one list item; longer items wrap, indented.
LINE_WIDTH = 44


class LinesColumn(columns.FormattableColumn):
    """A list of texts (reasons, what a server is protected against): one
    a line, wrapped, keeps the table narrow (the demo's status fits 160
    columns); machine formats get the list as it is."""

    def human_readable(self):
        return "\n".join(
            textwrap.fill(item, LINE_WIDTH, subsequent_indent="  ",
                          break_on_hyphens=False)
            for item in self._value or ())

    def machine_readable(self):
        return list(self._value or ())


class CountsColumn(columns.FormattableColumn):
    """{kind: count}: the total, then each kind that is not zero."""

    def human_readable(self):
        if self._value is None:
            return ""
        parts = ["%s %d" % (kind, count) for kind, count in
                 sorted(self._value.items()) if count]
        total = sum(self._value.values())
        return "%d%s" % (total, ": " + ", ".join(parts) if parts else "")

    def machine_readable(self):
        return None if self._value is None else dict(self._value)
