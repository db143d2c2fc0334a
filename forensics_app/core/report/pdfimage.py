"""Embed PNG exhibits in the PDF losslessly *without* re-encoding them.

reportlab decodes every image and re-compresses its raw pixels with zlib, which for
full-resolution frames is most of a report's time and makes the file larger than the PNGs.
A PNG's IDAT stream is already a Flate stream with PNG row predictors, which PDF can read
directly (``/FlateDecode`` with ``/DecodeParms << /Predictor 15 >>``), so for 8-bit,
non-interlaced RGB or grey PNGs (what OpenCV writes) the compressed bytes are copied into the
PDF as they are. The pixels a reader shows are therefore exactly the PNG's pixels. Other
PNGs fall back to reportlab's own path.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

from reportlab.lib.utils import _digester
from reportlab.pdfbase import pdfdoc
from reportlab.platypus import Flowable, Image

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG colour type → (PDF colour space, components).
_COLOUR = {0: ("DeviceGray", 1), 2: ("DeviceRGB", 3)}


def png_stream(png: bytes) -> tuple[int, int, str, int, bytes] | None:
    """(width, height, colour space, components, IDAT bytes), or None if not passable."""
    if not png.startswith(_SIGNATURE):
        return None
    pos, idat, header = 8, [], None
    while pos + 8 <= len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        data = png[pos + 8 : pos + 8 + length]
        if len(data) != length:
            return None
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", data)
        elif kind == b"IDAT":
            idat.append(data)
        elif kind == b"PLTE" or kind == b"tRNS":
            return None  # palette or transparency: let reportlab handle it
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None or not idat:
        return None
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or interlace != 0 or colour not in _COLOUR:
        return None
    space, components = _COLOUR[colour]
    return width, height, space, components, b"".join(idat)


class _PngXObject(pdfdoc.PDFImageXObject):
    """An image XObject whose stream is a PNG's IDAT data, with the PNG predictor declared."""

    def __init__(self, name: str, stream: tuple[int, int, str, int, bytes]) -> None:
        self.name = name
        self.width, self.height, self.colorSpace, self._components, self.streamContent = stream
        self.bitsPerComponent = 8
        self.mask = None

    def format(self, document):  # reportlab API
        stream = pdfdoc.PDFStream(content=self.streamContent)
        d = stream.dictionary
        d["Type"] = pdfdoc.PDFName("XObject")
        d["Subtype"] = pdfdoc.PDFName("Image")
        d["Width"] = self.width
        d["Height"] = self.height
        d["BitsPerComponent"] = 8
        d["ColorSpace"] = pdfdoc.PDFName(self.colorSpace)
        d["Filter"] = pdfdoc.PDFName("FlateDecode")  # a single name: DecodeParms is then a dict
        d["DecodeParms"] = pdfdoc.PDFDictionary(
            {
                "Predictor": 15,
                "Colors": self._components,
                "BitsPerComponent": 8,
                "Columns": self.width,
            }
        )
        d["Length"] = len(self.streamContent)
        return stream.format(document)


class PngImage(Flowable):
    """A flowable drawing PNG bytes at a given size, passing the PNG data straight through."""

    def __init__(self, png: bytes, width: float, height: float) -> None:
        super().__init__()
        self.png = png
        self.drawWidth, self.drawHeight = width, height
        self._stream = png_stream(png)
        self._key = "png-sha256:" + hashlib.sha256(png).hexdigest()

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.drawWidth, self.drawHeight

    def draw(self) -> None:
        canvas = self.canv
        if self._stream is None:  # not passable: reportlab decodes and re-compresses it
            Image(io.BytesIO(self.png), self.drawWidth, self.drawHeight).drawOn(canvas, 0, 0)
            return
        # drawImage names a filename-like image by a digest of the string; registering our
        # XObject under that name first makes drawImage place it instead of loading a file.
        name = _digester(f"{self._key}None".encode())
        reg = canvas._doc.getXObjectName(name)
        if canvas._doc.idToObject.get(reg) is None:
            obj = _PngXObject(name, self._stream)
            canvas._setXObjects(obj)
            canvas._doc.Reference(obj, reg)
            canvas._doc.addForm(name, obj)
        canvas.drawImage(self._key, 0, 0, self.drawWidth, self.drawHeight)


def check_roundtrip(png: bytes) -> bool:
    """True if the IDAT stream inflates to the expected filtered-row size (a sanity check)."""
    stream = png_stream(png)
    if stream is None:
        return False
    width, height, _, components, data = stream
    return len(zlib.decompress(data)) == height * (1 + width * components)
