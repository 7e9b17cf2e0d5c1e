"""Option types and option groups shared by the `iotunnel` sub-commands.

argparse turns an ArgumentTypeError into one usage line naming the option, exit 2.
"""

from __future__ import annotations

import argparse


def port(text: str) -> int:
    """A TCP port, 0 for any free one."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError("must be a port number from 0 to 65535")
    return int(text)


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text!r}")
    return int(text)


def flap(text: str) -> tuple[str, float]:
    """DEVICE:SECONDS, the seconds above 0 (a device id may itself hold no colon)."""
    device_id, _, seconds = text.rpartition(":")
    try:
        period = float(seconds)
    except ValueError:
        period = 0.0
    if not device_id or not period > 0:  # `not >` also refuses NaN
        raise argparse.ArgumentTypeError(f"wants DEVICE:SECONDS, not {text!r}")
    return device_id, period


def add_tls_options(parser: argparse.ArgumentParser) -> None:
    """--ca or --insecure, for the commands that connect to a platform over TLS.

    `--insecure` defaults to None so that an unset flag can fall back to a config file.
    """
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--ca", help="CA bundle to check the platform's certificates against")
    tls.add_argument(
        "--insecure", action="store_true", default=None, help="do not check TLS certificates"
    )


class RefusedSecretFlag(argparse.Action):
    """A flag that would put a secret on the command line, where `ps` shows it to every
    user: refused with a pointer to the file option, without echoing the value."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        self.instead = str(kwargs.pop("instead"))
        super().__init__(option_strings, dest, nargs=1, help=argparse.SUPPRESS)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        parser.error(f"{option_string} is not accepted (`ps` would show it): use {self.instead}")


def refuse_secret_flag(parser: argparse.ArgumentParser, flag: str, instead: str) -> None:
    parser.add_argument(flag, action=RefusedSecretFlag, instead=instead)
