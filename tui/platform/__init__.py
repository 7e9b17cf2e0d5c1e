"""tui.platform."""
