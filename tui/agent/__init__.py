"""tui.agent."""
