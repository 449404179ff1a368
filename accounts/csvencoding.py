"""Turning an uploaded CSV's bytes into text, strictly, in the encoding the person chose.

Nothing here guesses: a file that does not decode in the chosen encoding is refused
with the line numbers that do not, so a stray Windows-1252 line in a UTF-8 file never
turns every name into mojibake ("JosÃ©") and overwrites correct names on import.
"""

import codecs

from django.db import models

# Line numbers quoted in an error message; the rest are counted.
LINES_NAMED = 5


class CsvEncoding(models.TextChoices):
    UTF_8 = "utf-8", "UTF-8 (default)"
    WINDOWS_1252 = "windows-1252", "Windows-1252 (older Excel on Windows, Western Europe)"
    UTF_8_WITH_WINDOWS_1252 = (
        "utf-8+windows-1252",
        "UTF-8, with Windows-1252 on the lines that are not UTF-8",
    )


class CsvDecodeError(ValueError):
    """The bytes are not text in the chosen encoding; the message says where and what to do."""


def csv_text_decode(data: bytes, *, encoding: str = CsvEncoding.UTF_8) -> str:
    """Decode a CSV file's bytes, or raise CsvDecodeError naming the lines that do not decode.

    A byte order mark is the file's own declaration and wins: a UTF-16 file is read as
    UTF-16 whatever was chosen, and a UTF-8 mark is dropped. Without a UTF-16 mark the
    file is decoded line by line in the chosen encoding.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise CsvDecodeError(
                "The file starts with a UTF-16 byte order mark but is not valid UTF-16. "
                "Save it again as CSV UTF-8."
            ) from None
    data = data.removeprefix(codecs.BOM_UTF8)
    if encoding == CsvEncoding.UTF_8:
        return _decode_utf_8(data)
    if encoding == CsvEncoding.WINDOWS_1252:
        return _decode_windows_1252(data)
    if encoding == CsvEncoding.UTF_8_WITH_WINDOWS_1252:
        return _decode_mixed(data)
    raise CsvDecodeError(f"Unknown encoding {encoding!r}.")


def _decode_utf_8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    bad = [number for number, line in _lines(data) if not _is_utf_8(line)]
    raise CsvDecodeError(
        f"The file is not valid UTF-8 on {_line_list(bad)}. Save it as CSV UTF-8, or choose "
        "its encoding (for example Windows-1252) and upload it again."
    )


def _decode_windows_1252(data: bytes) -> str:
    # Every UTF-8 multi-byte sequence is also valid Windows-1252, so decoding a UTF-8
    # line as Windows-1252 never fails: it garbles. Refuse such lines instead.
    utf_8 = [n for n, line in _lines(data) if not line.isascii() and _is_utf_8(line)]
    if utf_8:
        raise CsvDecodeError(
            f"{_line_list(utf_8).capitalize()} {'is' if len(utf_8) == 1 else 'are'} UTF-8, "
            "not Windows-1252: read as Windows-1252 they would be garbled. Choose UTF-8, "
            "or UTF-8 with Windows-1252 lines if the file mixes both."
        )
    return _strict_windows_1252(data)


def _decode_mixed(data: bytes) -> str:
    lines = []
    for number, line in _lines(data):
        if _is_utf_8(line):
            lines.append(line.decode("utf-8"))
        else:
            lines.append(_strict_windows_1252(line, first_line=number))
    return "\n".join(lines)


def _strict_windows_1252(data: bytes, *, first_line: int = 1) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        pass
    # Five bytes (0x81, 0x8D, 0x8F, 0x90, 0x9D) have no character in Windows-1252.
    bad = [
        first_line + index
        for index, line in enumerate(data.split(b"\n"))
        if not _decodes(line, "cp1252")
    ]
    raise CsvDecodeError(
        f"The file is not valid Windows-1252 on {_line_list(bad)}: it may not be text. "
        "Check that it is the CSV export."
    )


def _lines(data: bytes):
    # UTF-8 and Windows-1252 both encode a newline as the single byte 0x0A and never use
    # that byte inside another character, so these numbers are the file's own lines.
    return enumerate(data.split(b"\n"), start=1)


def _is_utf_8(line: bytes) -> bool:
    return _decodes(line, "utf-8")


def _decodes(line: bytes, encoding: str) -> bool:
    try:
        line.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _line_list(numbers: list[int]) -> str:
    named = ", ".join(str(n) for n in numbers[:LINES_NAMED])
    if len(numbers) == 1:
        return f"line {named}"
    if len(numbers) <= LINES_NAMED:
        return f"lines {named}"
    return f"lines {named} and {len(numbers) - LINES_NAMED} more"
