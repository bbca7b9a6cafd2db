"""Evidence files (photos, videos): validated, hashed, thumbnailed.

Every file comes from a phone, a USB stick or a messenger and is treated as
hostile: size limits, Pillow's decompression-bomb guard, a full decode of the
image before anything is stored. The original bytes are never modified; the
SHA-256 of exactly those bytes is what packages and reports cite.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from observer.errors import EvidenceError

MAX_PHOTO_BYTES = 60 * 1024 * 1024
MAX_VIDEO_BYTES = 1024 * 1024 * 1024
MAX_PIXELS = 80_000_000  # a 200 MP phone photo is refused; 50 MP passes
THUMB_SIZE = (320, 320)
PHOTO_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "HEIF": "image/heif",
    "TIFF": "image/tiff",
}
VIDEO_TYPES = {
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".3gp": "video/3gpp",
    ".m4v": "video/mp4",
    ".avi": "video/x-msvideo",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
}
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".heic"}

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 36867
_DATETIME = 306


@dataclass(frozen=True)
class EvidenceFile:
    kind: str  # photo | video
    sha256: str
    size: int
    media_type: str
    suffix: str
    width: int | None
    height: int | None
    exif_time: str | None
    thumbnail: bytes | None


def sha256_file(path: Path, chunk: int = 1024 * 1024) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def inspect_evidence(path: str | Path) -> EvidenceFile:
    """Validate one photo or video; raise EvidenceError with the reason."""
    p = Path(path)
    name = p.name
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise EvidenceError("error.evidence.unreadable", file=name, problem=exc.strerror or str(exc)) from None
    if not p.is_file():
        raise EvidenceError("error.evidence.not_file", file=name)
    if size == 0:
        raise EvidenceError("error.evidence.empty", file=name)
    suffix = p.suffix.lower()
    if suffix in VIDEO_TYPES:
        return _inspect_video(p, size, suffix)
    return _inspect_photo(p, size, suffix)


def _inspect_video(p: Path, size: int, suffix: str) -> EvidenceFile:
    if size > MAX_VIDEO_BYTES:
        raise EvidenceError("error.evidence.too_big", file=p.name, limit_mb=MAX_VIDEO_BYTES // 2**20)
    with p.open("rb") as fh:
        head = fh.read(16)
    looks_like_video = (
        head[4:8] == b"ftyp"  # mp4, mov, 3gp, m4v
        or head[:4] == b"RIFF"  # avi
        or head[:4] == b"\x1a\x45\xdf\xa3"  # mkv, webm
    )
    if not looks_like_video:
        raise EvidenceError("error.evidence.not_video", file=p.name)
    return EvidenceFile("video", sha256_file(p), size, VIDEO_TYPES[suffix], suffix, None, None, None, None)


def _inspect_photo(p: Path, size: int, suffix: str) -> EvidenceFile:
    if size > MAX_PHOTO_BYTES:
        raise EvidenceError("error.evidence.too_big", file=p.name, limit_mb=MAX_PHOTO_BYTES // 2**20)
    data = p.read_bytes()
    try:
        with warnings.catch_warnings():
            # Pillow warns between 1x and 2x its own limit (~89 MP): our own, lower limit
            # below decides, with a message that names the size. Beyond 2x Pillow refuses
            # outright (a bomb). Its global limit is left alone: other threads may decode too.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
        with probe:
            fmt = probe.format or ""
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise EvidenceError("error.evidence.too_many_pixels", file=p.name, mp=round(width * height / 1e6))
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()  # a truncated file fails here, not later in a report
            exif_time = _exif_time(img)
            thumb = ImageOps.exif_transpose(img)
            thumb.thumbnail(THUMB_SIZE)
            if thumb.mode not in ("RGB", "L"):
                thumb = thumb.convert("RGB")
            out = io.BytesIO()
            thumb.save(out, "JPEG", quality=80)
    except EvidenceError:
        raise
    except Image.DecompressionBombError:
        raise EvidenceError("error.evidence.bomb", file=p.name) from None
    except UnidentifiedImageError:
        raise EvidenceError("error.evidence.not_image", file=p.name) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise EvidenceError("error.evidence.damaged", file=p.name, problem=str(exc)[:120]) from None
    if fmt not in PHOTO_FORMATS:
        raise EvidenceError("error.evidence.not_image", file=p.name)
    digest = hashlib.sha256(data).hexdigest()
    ext = suffix if suffix in PHOTO_SUFFIXES else "." + fmt.lower().replace("jpeg", "jpg")
    return EvidenceFile("photo", digest, size, PHOTO_FORMATS[fmt], ext, width, height, exif_time, out.getvalue())


def _exif_time(img: Image.Image) -> str | None:
    try:
        exif = img.getexif()
        value = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    except Exception:  # broken EXIF must not refuse an otherwise good photo
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    value = value.strip("\x00 ")[:32]
    # "2021:01:10 14:05:33" -> "2021-01-10 14:05:33"
    if len(value) >= 10 and value[4] == ":" and value[7] == ":":
        value = value[:4] + "-" + value[5:7] + "-" + value[8:]
    return value or None


def exif_datetime(text: str | None) -> datetime | None:
    """The camera's time of a photo (``EvidenceFile.exif_time``) as an aware datetime, or None.

    EXIF DateTimeOriginal has no time zone: the camera's clock is taken to be in
    this computer's zone (the observer's phone and laptop are at the same station).
    A time the camera wrote garbled (``0000-00-00 00:00:00``, cut short) gives None.
    """
    if not text:
        return None
    try:
        naive = datetime.strptime(text.strip()[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    if naive.year < 2000:  # cameras with a dead clock battery start at 1970 or 2000-01-01
        return None
    try:
        return naive.astimezone()
    except (OverflowError, OSError):
        return None
