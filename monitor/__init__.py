"""The host monitor that runs on every compute host (see the monitor issues)."""
