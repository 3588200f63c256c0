"""Customers' photos of a problem: checked, stripped of metadata, and kept in Redis for a while.

A photo is accepted only when its bytes *are* a JPEG, PNG or WebP image (Pillow reads the
header; the name and declared type the browser sent mean nothing), it is at most
``selfservice.photo_max_bytes`` long and at most ``selfservice.photo_max_pixels`` large — the
size is read from the header before anything is decoded, so a small file that would inflate
to gigabytes (a decompression bomb) is refused unread. What is kept is a fresh encoding of the
first frame, turned upright, without EXIF, GPS, comments or colour profiles.

Keys (``P`` the prefix, ``{…}`` the Redis Cluster hash tag, as in
:mod:`projections.redis_keys`)::

    P:photo:{REF}        hash  data, content_type, order_id, sha256 (expires after retention)
    P:{ORDER}:photos     hash  sha256 -> REF: the order's photos (the same photo is kept once;
                               erasing the order finds its photos here)

``REF`` is random (32 hex and the extension), so knowing an order tells nothing of its photos.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import warnings
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from PIL import Image, ImageOps, UnidentifiedImageError

from projections.redis_keys import RedisKeys
from wismo.settings import SelfServiceSettings

#: what Pillow calls each accepted format -> (content type, extension)
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
REF_PATTERN = r"^[a-f0-9]{32}\.(jpg|png|webp)$"
_JPEG_MODES = ("RGB", "L")


class PhotoRefused(Exception):
    """Why a photo is not taken; ``status`` is the HTTP status (413, 415 or 422)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CleanPhoto:
    data: bytes
    content_type: str
    extension: str
    sha256: str


@dataclass(frozen=True, slots=True)
class StoredPhoto:
    data: bytes
    content_type: str
    order_id: str


def clean_photo(raw: bytes, limits: SelfServiceSettings) -> CleanPhoto:
    """The photo re-encoded without metadata; raises :class:`PhotoRefused`. CPU-bound: call it
    from a thread."""
    if len(raw) > limits.photo_max_bytes:
        raise PhotoRefused(413, f"the photo is over {limits.photo_max_bytes} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw), formats=list(FORMATS))
            width, height = image.size
            if width * height > limits.photo_max_pixels:
                raise PhotoRefused(
                    422,
                    f"the photo is {width} by {height} pixels; at most "
                    f"{limits.photo_max_pixels} pixels are taken",
                )
            content_type, extension = FORMATS[image.format or ""]
            image.load()
            data = _reencoded(image)
    except PhotoRefused:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRefused(415, "the photo must be a JPEG, PNG or WebP image") from None
    except (OSError, ValueError, SyntaxError, KeyError, EOFError) as error:
        raise PhotoRefused(422, f"the photo could not be read: {error}") from None
    return CleanPhoto(data, content_type, extension, hashlib.sha256(data).hexdigest())


def _reencoded(image: Image.Image) -> bytes:
    fmt = image.format or "PNG"
    upright = ImageOps.exif_transpose(image)  # EXIF goes: its orientation is applied first
    keep = {k: v for k, v in image.info.items() if k == "transparency"}
    upright.info = keep  # type: ignore[assignment]
    options: dict[str, Any] = {}
    if fmt == "JPEG":
        if upright.mode not in _JPEG_MODES:
            upright = upright.convert("RGB")
        options = {"quality": 90}
    elif fmt == "WEBP":
        options = {"quality": 90}
    out = io.BytesIO()
    upright.save(out, format=fmt, **options)
    return out.getvalue()


class PhotoStore:
    def __init__(self, client: aioredis.Redis, prefix: str, retention_days: float) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl_s = max(1, round(retention_days * 86400))

    def key(self, ref: str) -> str:
        return RedisKeys(self.prefix).photo(ref)

    def order_key(self, order_id: str) -> str:
        return RedisKeys(self.prefix).photos(order_id)

    async def keep(self, order_id: str, photo: CleanPhoto) -> dict[str, Any]:
        """Store ``photo`` for ``order_id`` (once: the same photo again gets its first ref) and
        return the event's ``attachment``."""
        ref = await self.client.hget(self.order_key(order_id), photo.sha256)
        known = ref.decode() if isinstance(ref, bytes) else None
        if known is None or not await self.client.exists(self.key(known)):
            known = f"{secrets.token_hex(16)}.{photo.extension}"
            fields: Any = {
                "data": photo.data,
                "content_type": photo.content_type,
                "order_id": order_id,
                "sha256": photo.sha256,
            }
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.hset(self.key(known), mapping=fields)
                pipe.expire(self.key(known), self.ttl_s)
                await pipe.execute()
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.hset(self.order_key(order_id), photo.sha256, known)
                pipe.expire(self.order_key(order_id), self.ttl_s)
                await pipe.execute()
        return {
            "ref": known,
            "content_type": photo.content_type,
            "size_bytes": len(photo.data),
            "sha256": photo.sha256,
        }

    async def get(self, ref: str) -> StoredPhoto | None:
        found: dict[bytes, bytes] = await self.client.hgetall(self.key(ref))  # type: ignore[assignment]
        if not found or b"data" not in found:
            return None
        return StoredPhoto(
            found[b"data"], found[b"content_type"].decode(), found[b"order_id"].decode()
        )
