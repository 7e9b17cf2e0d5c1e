"""tui.session."""
