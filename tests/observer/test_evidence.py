"""Photos are validated, thumbnailed and hashed; hostile files are refused with a reason."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from observer.errors import EvidenceError
from observer.evidence import inspect_evidence


def _jpeg(path: Path, size: tuple[int, int] = (1200, 900), exif_time: str | None = None) -> Path:
    img = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    if exif_time:
        exif.get_ifd(0x8769)[36867] = exif_time
    img.save(path, "JPEG", exif=exif.tobytes())
    return path


def test_photo_is_hashed_thumbnailed_and_exif_read(tmp_path: Path) -> None:
    p = _jpeg(tmp_path / "protocol.jpg", exif_time="2021:01:10 20:45:12")
    original = p.read_bytes()
    info = inspect_evidence(p)
    assert info.kind == "photo"
    assert info.sha256 == hashlib.sha256(original).hexdigest()
    assert (info.width, info.height) == (1200, 900)
    assert info.exif_time == "2021-01-10 20:45:12"
    thumb = Image.open(io.BytesIO(info.thumbnail or b""))
    assert max(thumb.size) <= 320
    assert p.read_bytes() == original  # never modified


@pytest.mark.parametrize(
    ("name", "content", "key"),
    [
        ("notes.jpg", b"this is a text file, not a photo" * 10, "error.evidence.not_image"),
        ("empty.jpg", b"", "error.evidence.empty"),
        ("clip.mp4", b"plain text pretending to be a video", "error.evidence.not_video"),
    ],
)
def test_non_images_refused(tmp_path: Path, name: str, content: bytes, key: str) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(EvidenceError) as info:
        inspect_evidence(p)
    assert info.value.key == key
    assert name in info.value.message("ru")


def test_truncated_jpeg_refused(tmp_path: Path) -> None:
    full = _jpeg(tmp_path / "full.jpg").read_bytes()
    p = tmp_path / "cut.jpg"
    p.write_bytes(full[: len(full) // 2])
    with pytest.raises(EvidenceError) as info:
        inspect_evidence(p)
    assert info.value.key == "error.evidence.damaged"


def test_huge_dimensions_refused(tmp_path: Path) -> None:
    # A PNG header claiming 12000 x 10000 pixels (120 MP): refused before decoding.
    p = tmp_path / "big.png"
    Image.new("1", (12000, 10000)).save(p, optimize=True)
    with pytest.raises(EvidenceError) as info:
        inspect_evidence(p)
    assert info.value.key == "error.evidence.too_many_pixels"
    assert "120" in info.value.message("en")  # names the size, so the observer knows to resize


def test_decompression_bomb_refused(tmp_path: Path) -> None:
    p = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(p, optimize=True)  # 400 MP, a few KB on disk
    assert p.stat().st_size < 200_000
    with pytest.raises(EvidenceError) as info:
        inspect_evidence(p)
    assert info.value.key == "error.evidence.bomb"


def test_video_signature_accepted(tmp_path: Path) -> None:
    p = tmp_path / "clip.mp4"
    p.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    info = inspect_evidence(p)
    assert info.kind == "video" and info.media_type == "video/mp4" and info.thumbnail is None
