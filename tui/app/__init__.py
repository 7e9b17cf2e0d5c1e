"""tui.app."""
