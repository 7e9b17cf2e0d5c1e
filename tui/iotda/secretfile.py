"""Secrets kept in files: readable by their owner only, or refused.

One rule for every part (agent secret, login password, SK, IAM password, token file):
a regular file, not readable by group or others, whose first line is the secret.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class SecretFileError(ValueError):
    """A secret file that cannot be used; the message is one line for the user."""


def check_private_file(path: str | os.PathLike[str]) -> Path:
    """`path` expanded, if it is a regular file only its owner can read (a file holding
    secrets, e.g. a platform seed); SecretFileError otherwise."""
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except OSError as exc:
        raise SecretFileError(f"cannot read secret file {p}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise SecretFileError(f"secret file {p} is not a regular file")
    if st.st_mode & 0o077:
        raise SecretFileError(
            f"secret file {p} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); "
            f"run: chmod 600 {p}"
        )
    return p


def read_secret_file(path: str | os.PathLike[str]) -> str:
    """The first line of `path`, stripped; SecretFileError for anything looser or broken."""
    p = check_private_file(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretFileError(f"cannot read secret file {p}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SecretFileError(f"secret file {p} is not UTF-8 text") from None
    lines = text.splitlines()
    secret = lines[0].strip() if lines else ""
    if not secret:
        raise SecretFileError(f"secret file {p} is empty")
    return secret
