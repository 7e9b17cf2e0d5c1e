"""Where this client keeps its local state (docs/design.md "Configuration").

The functions live in tui/iotda/localstate.py, which the platform may import too; this
module keeps the session layer's and the app's imports working.
"""

from __future__ import annotations

from tui.iotda.localstate import (
    APP_DIR_NAME,
    ensure_private_dir,
    open_private,
    state_dir,
    touch_private,
)

__all__ = ["APP_DIR_NAME", "ensure_private_dir", "open_private", "state_dir", "touch_private"]
