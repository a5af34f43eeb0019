"""Column tuples of every instanceha command, kept in one place, and the
one way rows are built from them: by column name (as python-octaviaclient
does), so one fact has one column name in every command."""
from osc_lib import utils

from osc_instanceha.v1 import formatters

ENABLE_COLUMNS = ("ID", "Name", "HA_Enabled", "Guest Agent Property",
                  "Agent Channel", "Result")
DISABLE_COLUMNS = ("ID", "Name", "HA_Enabled", "Result")

MONITOR_SHOW_COLUMNS = ("Section", "Option", "Value", "Source")

STATUS_COLUMNS = ("ID", "Name", "Host", "HA_Enabled", "Verdict",
                  "Protects Against", "Reasons")
STATUS_LONG_COLUMNS = ("ID", "Name", "Status", "Host", "HA_Enabled",
                       "Agent Channel", "Agent Source", "Segment",
                       "On Maintenance", "Monitor", "Paused Until",
                       "Last Notification", "Notification Status",
                       "Verdict", "Protects Against", "Reasons")

MONITOR_LIST_COLUMNS = ("Host", "Nova", "Segment", "HA Servers", "Monitor",
                        "Version", "Mode", "Paused Until", "Libvirt",
                        "Guests", "Pending", "Overdue", "Last Scrape",
                        "Attention")

FORMATTERS = {
    "Protects Against": formatters.LinesColumn,
    "Reasons": formatters.LinesColumn,
    "Attention": formatters.LinesColumn,
    "Guests": formatters.CountsColumn,
}


def row(values, columns):
    """A row of ``columns`` from ``values``, a dict keyed by the column
    name in lower case with underscores ("Protects Against" ->
    protects_against)."""
    return utils.get_dict_properties(values, columns, formatters=FORMATTERS)

PAUSE_COLUMNS = ("ID", "Name", "Paused Until", "Result")
