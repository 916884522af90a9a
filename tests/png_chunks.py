"""Reads a PNG's size and text entries, chunk by chunk, for tests of plots."""

import struct
import zlib

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def size_and_texts(png: bytes) -> tuple[tuple[int, int], dict[str, str]]:
  """(width, height) and the tEXt/iTXt entries of a PNG.

  Raises:
    ValueError: if `png` is not a PNG or a chunk's CRC is wrong.
  """
  if not png.startswith(_SIGNATURE):
    raise ValueError("not a PNG")
  position, size, texts = len(_SIGNATURE), None, {}
  while position < len(png):
    length, kind = struct.unpack(">I4s", png[position:position + 8])
    data = png[position + 8:position + 8 + length]
    (crc,) = struct.unpack(">I", png[position + 8 + length:
                                     position + 12 + length])
    if zlib.crc32(kind + data) != crc:
      raise ValueError(f"bad CRC in {kind!r}")
    if kind == b"IHDR":
      size = struct.unpack(">II", data[:8])
    elif kind == b"tEXt":
      key, value = data.split(b"\0", 1)
      texts[key.decode("latin-1")] = value.decode("latin-1")
    elif kind == b"iTXt":
      key, rest = data.split(b"\0", 1)
      # Compression flag and method, then language and translated keyword.
      compressed, rest = rest[0], rest[2:]
      _, _, value = rest.split(b"\0", 2)
      texts[key.decode("latin-1")] = (zlib.decompress(value) if compressed
                                      else value).decode("utf-8")
    position += 12 + length
  return size, texts


def title(png: bytes) -> str:
  """The PNG's "Title" text; KeyError if it has none."""
  return size_and_texts(png)[1]["Title"]
