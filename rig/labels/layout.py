"""The label, drawn at the printer's own dots so nothing is scaled on the way.

Sizes are Brother QL 62 mm media at 300 dpi: the die-cut 62x29 mm label (696x271 printable
dots, brother_ql's "62x29") and the continuous 62 mm roll cut to 34 mm ("62"). The QR code is
drawn at a whole number of dots per module (sharp edges a phone reads from a metre away); the
text is shrunk until each line fits. The PDF page is the whole label (its unprintable margin
included), so a CUPS label printer prints it at 100 %.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache

import segno
from PIL import Image, ImageDraw, ImageFont

from rig.labels.content import LabelData, LabelError
from rig.labels.names import DEFAULT_SIZE

DPI = 300

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class LabelSize:
    name: str  # brother_ql's label identifier
    printable: tuple[int, int]  # dots the head prints (width across the tape, length)
    page: tuple[int, int]  # the whole label in dots (the PDF page)
    die_cut: bool

    @property
    def mm(self) -> tuple[float, float]:
        return tuple(round(d * 25.4 / DPI, 1) for d in self.page)  # type: ignore[return-value]


SIZES: dict[str, LabelSize] = {
    "62x29": LabelSize("62x29", (696, 271), (732, 341), die_cut=True),
    "62": LabelSize("62", (696, 400), (732, 400), die_cut=False),
}


def label_size(name: str) -> LabelSize:
    try:
        return SIZES[name]
    except KeyError:
        raise LabelError(f"label size {name!r}: one of {', '.join(SIZES)}") from None


@cache
def _font(size: int, bold: bool) -> Font:
    # DejaVu where the system has it (Debian's fonts-dejavu-core); else Pillow's own font.
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(name, size)
    except OSError:
        return ImageFont.load_default(size=size)


def _fitting(draw: ImageDraw.ImageDraw, text: str, width: int, size: int, bold: bool) -> Font:
    while size > 10:
        font = _font(size, bold)
        if draw.textlength(text, font=font) <= width:
            return font
        size -= 1
    return _font(size, bold)


def qr_image(text: str, max_dots: int) -> Image.Image:
    """The QR code of `text`, as large as a whole number of dots per module allows."""
    qr = segno.make(text, error="m")
    modules = qr.symbol_size(scale=1, border=2)[0]
    scale = max_dots // modules
    if scale < 2:
        raise LabelError(f"the QR code of {text!r} does not fit the label: shorten it")
    out = io.BytesIO()
    qr.save(out, kind="png", scale=scale, border=2)
    out.seek(0)
    return Image.open(out).convert("L")


def render_label(data: LabelData, size: str = DEFAULT_SIZE) -> Image.Image:
    """The label at the printer's printable dots: black on white, one bit per dot."""
    spec = label_size(size)
    width, height = spec.printable
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    margin = 8
    qr = qr_image(data.qr, min(height - 2 * margin, width // 2))
    image.paste(qr, (margin, (height - qr.height) // 2))
    left = margin + qr.width + 12
    text_w = width - left - margin
    lines: list[tuple[str, int, bool]] = [
        (data.model, 34, True),
        (f"S/N {data.serial}", 24, False),
        (f"MAC {data.mac}", 24, False),
        ("FACTORY RESET VERIFIED" if data.outcome == "reset_verified" else data.outcome, 26, True),
        (f"{data.date} · station {data.station}", 22, False),
        (f"job {data.job_id}", 20, False),
    ]
    fonts = [_fitting(draw, text, text_w, px, bold) for text, px, bold in lines]
    heights = [int(font.getbbox("Ag")[3]) + 6 for font in fonts]
    y = max(margin, (height - sum(heights)) // 2)
    for (text, _, _), font, line_h in zip(lines, fonts, heights, strict=True):
        draw.text((left, y), text, fill=0, font=font)
        y += line_h
    return image.point(lambda v: 255 if v >= 128 else 0).convert("1")


def label_png(data: LabelData, size: str = DEFAULT_SIZE) -> bytes:
    out = io.BytesIO()
    render_label(data, size).save(out, "PNG", dpi=(DPI, DPI))
    return out.getvalue()


def label_pdf(data: LabelData, size: str = DEFAULT_SIZE) -> bytes:
    """One page the size of the whole label, the printable area centred on it."""
    spec = label_size(size)
    page = Image.new("1", spec.page, 1)
    label = render_label(data, size)
    page.paste(label, ((spec.page[0] - label.width) // 2, (spec.page[1] - label.height) // 2))
    out = io.BytesIO()
    page.save(out, "PDF", resolution=float(DPI))
    return out.getvalue()
