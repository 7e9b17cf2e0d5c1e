"""One rule for every secret file: owner-only, a regular file, first line is the secret."""

from pathlib import Path

import pytest

from tui.iotda.secretfile import SecretFileError, read_secret_file


def _file(tmp_path: Path, content: bytes, mode: int = 0o600) -> Path:
    path = tmp_path / "secret"
    path.write_bytes(content)
    path.chmod(mode)
    return path


def test_first_line_of_an_owner_only_file(tmp_path: Path) -> None:
    assert read_secret_file(_file(tmp_path, b"  s3cret \nsecond line\n")) == "s3cret"


@pytest.mark.parametrize(
    ("content", "mode", "problem"),
    [
        (b"s3cret", 0o644, "readable by others"),
        (b"s3cret", 0o640, "chmod 600"),
        (b"", 0o600, "is empty"),
        (b"\n\n", 0o600, "is empty"),
        (b"\xff\xfe", 0o600, "not UTF-8"),
    ],
)
def test_refused_with_one_clear_line(tmp_path: Path, content: bytes, mode: int, problem: str):
    with pytest.raises(SecretFileError) as caught:
        read_secret_file(_file(tmp_path, content, mode))
    message = str(caught.value)
    assert problem in message and "\n" not in message
    assert "s3cret" not in message


def test_missing_file_and_directory_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretFileError, match="cannot read"):
        read_secret_file(tmp_path / "nope")
    folder = tmp_path / "dir"
    folder.mkdir(mode=0o700)
    with pytest.raises(SecretFileError, match="not a regular file"):
        read_secret_file(folder)
