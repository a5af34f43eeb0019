"""Column tuples of every instanceha command, kept in one place."""

ENABLE_COLUMNS = ("ID", "Name", "HA_Enabled", "Guest Agent Property",
                  "Agent Channel", "Result")
DISABLE_COLUMNS = ("ID", "Name", "HA_Enabled", "Result")

MONITOR_SHOW_COLUMNS = ("Section", "Option", "Value", "Source")

STATUS_COLUMNS = ("ID", "Name", "Host", "HA Enabled", "Guest Agent",
                  "Verdict")
STATUS_LONG_COLUMNS = ("ID", "Name", "Status", "Host", "HA Enabled",
                       "Guest Agent", "Agent Source", "Segment",
                       "On Maintenance", "Last Notification",
                       "Notification Status", "Verdict")

PAUSE_COLUMNS = ("ID", "Name", "Paused Until", "Result")
