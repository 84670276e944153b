"""The picture check: two snapshots of the main stream, judged without any model
(REFERENCE.md §1, "Image checks"):

- a black or covered lens: low mean and low spread of luminance;
- a blurred one: low variance of the Laplacian (the 4-neighbour kernel, as OpenCV's default);
  the threshold depends on the scene the bay's camera looks at, so it is the profile's;
- a frozen stream: the two frames are identical.

Pillow decodes (and refuses what is not a JPEG), numpy does the arithmetic.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from rig.errors import ParseError
from rig.qa.measure import Check, at_least, failed

# A 4 MP camera's snapshot is 2560x1440; 12 MP units exist. Anything larger is not a snapshot.
MAX_PIXELS = 16_000_000
THUMBNAIL_PX = (240, 135)


@dataclass(frozen=True)
class PictureLimits:
    min_mean: float = 20.0  # 0-255 luminance: a covered lens reads about 0-10
    min_spread: float = 8.0  # standard deviation: a black frame with noise is about 1-3
    blur_threshold: float = 100.0  # variance of the Laplacian; the profile's
    min_difference: float = 0.01  # mean absolute difference of the two frames: 0 is frozen


def luminance(jpeg: bytes, what: str = "snapshot") -> np.ndarray:
    """The frame's luminance (0-255, float32); ParseError if it is not a sane JPEG."""
    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            if image.format != "JPEG":
                raise ParseError(f"{what} is {image.format or 'not an image'}, not a JPEG")
            width, height = image.size
            if width * height > MAX_PIXELS or width < 16 or height < 16:
                raise ParseError(f"{what} is {width}x{height}: not a camera snapshot")
            return np.asarray(image.convert("L"), dtype=np.float32)
    except ParseError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ParseError(f"{what} is not a readable JPEG: {exc}") from None


def laplacian_variance(luma: np.ndarray) -> float:
    centre = luma[1:-1, 1:-1]
    laplacian = luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:] - 4.0 * centre
    return float(laplacian.var())


def frame_difference(first: np.ndarray, second: np.ndarray) -> float:
    if first.shape != second.shape:
        return 255.0  # the stream changed resolution between frames: certainly not frozen
    return float(np.abs(first - second).mean())


def thumbnail(jpeg: bytes) -> bytes:
    """A small JPEG for the certificate (a few kB)."""
    with Image.open(io.BytesIO(jpeg)) as image:
        small = image.convert("RGB")
        small.thumbnail(THUMBNAIL_PX)
        out = io.BytesIO()
        small.save(out, format="JPEG", quality=70)
        return out.getvalue()


def check_picture(first: bytes, second: bytes, limits: PictureLimits) -> tuple[Check, bytes | None]:
    """The check's measurements, and the thumbnail of the first frame (None if unreadable)."""
    try:
        luma_1 = luminance(first, "first snapshot")
        luma_2 = luminance(second, "second snapshot")
    except ParseError as exc:
        return failed("picture", str(exc)), None
    height, width = luma_1.shape
    check = Check(
        "picture",
        (
            at_least("luminance_mean", float(luma_1.mean()), limits.min_mean),
            at_least("luminance_spread", float(luma_1.std()), limits.min_spread),
            at_least("laplacian_variance", laplacian_variance(luma_1), limits.blur_threshold),
            at_least("frame_difference", frame_difference(luma_1, luma_2), limits.min_difference),
        ),
        extra={"resolution": f"{width}x{height}", "snapshot_bytes": [len(first), len(second)]},
    )
    return check, thumbnail(first)
