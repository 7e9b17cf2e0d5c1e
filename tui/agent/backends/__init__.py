"""Shell backends of the device agent: where a tunnel's login and shell come from."""

from tui.agent.backends.base import LoginFailed, ShellBackend, ShellSession

__all__ = ["LoginFailed", "ShellBackend", "ShellSession"]
