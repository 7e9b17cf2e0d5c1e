"""tui.app: the Textual dashboard.

Build it with `tui.app.factory.make_app(client=..., session_factory=..., clock=...,
config=..., token_store=...)`; configuration lives in `tui.app.config`, theme files are
read by `tui.app.themes`. This package never imports `tui.platform` or `tui.agent`.
"""
