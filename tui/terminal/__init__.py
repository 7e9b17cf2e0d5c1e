"""tui.terminal."""
