"""The host monitor that runs on every compute host."""
