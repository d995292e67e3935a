"""Serving variants: check the URL, find or generate the variant, say where its bytes are.

``Transformer`` is built once per process (``create_transformer(settings, …)``) and holds what
generation shares: the engine, a capacity limiter bounding the transforms running at once in
worker threads (the event loop never decodes or encodes), and the generations in flight here.

Generate once: a request for a variant not yet stored joins the generation already running in
this process if there is one; otherwise it inserts the variant's claim row (``repository``),
and the insert that wins, in whichever process, generates. The others poll the row until it
is ready. A claim whose holder died expires with its lease and is taken over. This function
manages its own short transactions (the claim must be visible to other processes before the
work starts), unlike request-scoped services.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import anyio
import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from uploadkit_server.clock import utcnow
from uploadkit_server.core.transforms import repository
from uploadkit_server.core.transforms.engine import (
    Rendered,
    SourceTooLarge,
    TransformEngine,
    TransformTimedOut,
    UnsupportedImage,
)
from uploadkit_server.core.transforms.errors import (
    TransformSourceTooLarge,
    TransformTimeout,
    UnsupportedTransformType,
)
from uploadkit_server.core.transforms.recipe import (
    EXTENSIONS,
    InvalidRecipe,
    OutputFormat,
    Recipe,
    negotiate_format,
    parse_recipe,
)
from uploadkit_server.core.transforms.repository import READY, SourceFile, VariantRow
from uploadkit_server.core.transforms.service import lease_for
from uploadkit_server.core.transforms.signing import (
    Delivery,
    SignatureRefused,
    UrlExpired,
    VariantSigner,
)
from uploadkit_server.errors import Forbidden, NotFound
from uploadkit_server.security import random_token, sign
from uploadkit_server.settings import Settings
from uploadkit_server.storage.base import ObjectNotFound, StorageBackend

#: Seconds between looks at a claim another process holds.
POLL_INTERVAL = 0.05
#: Times a request tries again after the generation it waited for failed or vanished.
MAX_ROUNDS = 3
#: Seconds a found variant is remembered in this process, and how many are.
RECENT_SECONDS = 10.0
RECENT_ENTRIES = 10_000
#: Prefix of variant objects in storage; upload keys start with a project id, never with this.
VARIANT_PREFIX = "_transforms"


@dataclass(frozen=True, slots=True)
class StoredVariant:
    pk: int
    object_key: str
    content_type: str
    size: int
    etag: str
    last_modified: datetime
    #: The URL asked for ``f_auto``: the answer depends on ``Accept``.
    negotiated: bool


def _ready(row: VariantRow, negotiated: bool) -> StoredVariant | None:
    """The stored variant a row describes, or ``None`` while it is still being generated."""
    if row.status != READY or row.ready_at is None:
        return None
    return StoredVariant(
        pk=row.pk,
        object_key=row.object_key,
        content_type=row.content_type,
        size=row.size,
        etag=row.etag,
        last_modified=row.ready_at,
        negotiated=negotiated,
    )


def variant_key(secret: str, source: SourceFile, recipe: str) -> str:
    """Where a variant's bytes go: derived from the file and the concrete recipe, unguessable
    without the server's secret (the built-in CDN serves any key it is given)."""
    digest = sign(secret, "variant", source.id, recipe)[:24].replace("-", "a").replace("_", "b")
    ext = EXTENSIONS[parse_recipe(recipe).format]
    return f"{VARIANT_PREFIX}/{source.id}/{digest}.{ext}"


class Transformer:
    def __init__(
        self,
        *,
        settings: Settings,
        secret_key: str,
        engine: TransformEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        storage: StorageBackend,
    ) -> None:
        self.settings = settings
        self.signer = VariantSigner(secret_key)
        self._secret = secret_key
        self._engine = engine
        self._sessionmaker = sessionmaker
        self._storage = storage
        self._limiter = anyio.CapacityLimiter(settings.transform_concurrency)
        self._inflight: dict[tuple[int, str], asyncio.Task[StoredVariant | None]] = {}
        self._recent: dict[tuple[str, str, str], tuple[float, StoredVariant]] = {}
        #: Variants this process generated (and stored) since it started.
        self.generated = 0

    # -- the URL -----------------------------------------------------------------------------

    def check_url(
        self, delivery: Delivery, sig: str, recipe: str, key: str, exp: str | None
    ) -> Recipe:
        try:
            self.signer.verify(delivery, sig, recipe, key, exp, now=time.time())
        except UrlExpired as error:
            raise Forbidden(
                "The transform URL has expired", suggestion="Request a new URL"
            ) from error
        except SignatureRefused as error:
            raise Forbidden(f"Invalid transform URL: {error}") from error
        try:
            return parse_recipe(recipe)
        except InvalidRecipe as error:  # only with a valid signature: our own bug
            raise Forbidden(f"Invalid transform URL: {error}") from error

    # -- finding or making the variant -------------------------------------------------------

    async def variant(
        self, recipe: Recipe, key: str, *, accept: str | None, fresh: bool = False
    ) -> StoredVariant:
        """The stored variant for this request, generated first if need be.

        Answers found recently are remembered for ``RECENT_SECONDS``: a repeated GET skips the
        database. That is safe because deleting an original removes the variant's object in
        the same request, so a remembered answer whose object is gone fails its storage read,
        and the endpoint then calls ``forget`` and asks again (and gets a ``404``). Answers
        that read no bytes (``HEAD``, ``304``) must ask with ``fresh=True``.
        """
        negotiated = recipe.format is OutputFormat.AUTO
        slot = (key, recipe.canonical(), (accept or "") if negotiated else "")
        now = time.monotonic()
        remembered = self._recent.get(slot)
        if not fresh and remembered is not None and remembered[0] > now:
            return remembered[1]
        stored = await self._find_or_make(recipe, key, accept=accept)
        if len(self._recent) >= RECENT_ENTRIES:
            self._recent.clear()  # crude but bounded; refilled by the next requests
        self._recent[slot] = (now + RECENT_SECONDS, stored)
        return stored

    async def _find_or_make(self, recipe: Recipe, key: str, *, accept: str | None) -> StoredVariant:
        negotiated = recipe.format is OutputFormat.AUTO
        # One query for the common case (a stored variant): the file and its candidates.
        if negotiated:
            candidates = {
                recipe.with_format(negotiate_format(accept, source_type=kind)).canonical()
                for kind in ("image/jpeg", "image/png")
            }
        else:
            candidates = {recipe.canonical()}
        async with self._sessionmaker() as session:
            source, found = await repository.find_source_with_variants(
                session, key=key, recipes=sorted(candidates)
            )
        if source is None:
            raise NotFound("File not found")
        if negotiated:
            recipe = recipe.with_format(negotiate_format(accept, source_type=source.content_type))
        text = recipe.canonical()
        row = found.get(text)
        for round_ in range(MAX_ROUNDS):
            if round_:
                async with self._sessionmaker() as session:
                    row = await repository.find_variant(session, file_pk=source.pk, recipe=text)
            if row is not None and (ready := _ready(row, negotiated)) is not None:
                return ready
            slot = (source.pk, text)
            task = self._inflight.get(slot)
            if task is None:
                task = asyncio.create_task(self._claim_and_generate(source, recipe, negotiated))
                self._inflight[slot] = task
                task.add_done_callback(partial(self._done, slot))
            # Shielded: a client that hangs up does not stop a generation others wait for.
            stored = await asyncio.shield(task)
            if stored is not None:
                return stored
        raise TransformTimeout("The variant could not be generated in time; try again")

    def _done(self, slot: tuple[int, str], _task: object) -> None:
        self._inflight.pop(slot, None)

    async def forget(self, variant: StoredVariant) -> None:
        """Drop a variant whose object has gone missing, so the next request makes it again."""
        self._recent = {
            slot: entry for slot, entry in self._recent.items() if entry[1].pk != variant.pk
        }
        async with self._sessionmaker() as session, session.begin():
            await repository.drop_variant(session, pk=variant.pk)

    async def _claim_and_generate(
        self, source: SourceFile, recipe: Recipe, negotiated: bool
    ) -> StoredVariant | None:
        """Generate if this process wins the claim; otherwise wait for the holder. ``None``
        when the holder failed or the wait ran out: the caller tries again."""
        text = recipe.canonical()
        token = random_token(12)
        object_key = variant_key(self._secret, source, text)
        now = utcnow()
        async with self._sessionmaker() as session, session.begin():
            pk = await repository.claim_variant(
                session,
                file_pk=source.pk,
                recipe=text,
                object_key=object_key,
                token=token,
                lease_until=lease_for(self.settings, now),
            )
            if pk is None:
                row = await repository.find_variant(session, file_pk=source.pk, recipe=text)
                if row is not None and row.lease_until is not None and row.lease_until < now:
                    taken = await repository.take_over_claim(
                        session,
                        pk=row.pk,
                        token=token,
                        lease_until=lease_for(self.settings, now),
                        now=now,
                    )
                    pk = row.pk if taken else None
        if pk is None:
            return await self._wait_for_holder(source, text, negotiated)
        try:
            rendered = await self._render(source, recipe)
            info = await self._storage.put_object(
                object_key, rendered.data, content_type=rendered.content_type
            )
        except BaseException:
            with anyio.CancelScope(shield=True):
                async with self._sessionmaker() as session, session.begin():
                    await repository.drop_claim(session, pk=pk, token=token)
            raise
        ready_at = utcnow()
        async with self._sessionmaker() as session, session.begin():
            published = await repository.mark_ready(
                session,
                pk=pk,
                token=token,
                content_type=rendered.content_type,
                size=info.size,
                etag=info.etag,
                width=rendered.width,
                height=rendered.height,
                now=ready_at,
            )
        if not published:  # the original was deleted meanwhile (or the claim taken over)
            async with self._sessionmaker() as session:
                row = await repository.find_variant(session, file_pk=source.pk, recipe=text)
            if row is None:
                await self._storage.delete(object_key)
                raise NotFound("File not found")
            return None
        self.generated += 1
        return StoredVariant(
            pk=pk,
            object_key=object_key,
            content_type=rendered.content_type,
            size=info.size,
            etag=info.etag,
            last_modified=ready_at,
            negotiated=negotiated,
        )

    async def _wait_for_holder(
        self, source: SourceFile, text: str, negotiated: bool
    ) -> StoredVariant | None:
        give_up = time.monotonic() + self.settings.transform_timeout + 30
        while time.monotonic() < give_up:
            async with self._sessionmaker() as session:
                row = await repository.find_variant(session, file_pk=source.pk, recipe=text)
            if row is None:
                return None  # the holder failed: try to claim it ourselves
            if (ready := _ready(row, negotiated)) is not None:
                return ready
            if row.lease_until is not None and row.lease_until < utcnow():
                return None  # the holder died: take it over
            await asyncio.sleep(POLL_INTERVAL)
        return None

    # -- the work ----------------------------------------------------------------------------

    async def _read_source(self, source: SourceFile) -> bytes:
        limit = self.settings.transform_max_source_bytes
        if source.file_size > limit:
            raise TransformSourceTooLarge(
                f"The file is {source.file_size} bytes; the limit is {limit} bytes"
            )
        chunks: list[bytes] = []
        received = 0
        try:
            async for chunk in self._storage.read(source.key):
                received += len(chunk)
                if received > limit:
                    raise TransformSourceTooLarge(f"The file is over the {limit} byte limit")
                chunks.append(chunk)
        except ObjectNotFound:
            raise NotFound("File not found") from None
        return b"".join(chunks)

    async def _render(self, source: SourceFile, recipe: Recipe) -> Rendered:
        data = await self._read_source(source)
        settings = self.settings

        def work() -> Rendered:
            # The time limit starts when a worker picks the job up, not while it queues.
            deadline = time.monotonic() + settings.transform_timeout
            return self._engine.render(
                data, recipe, max_pixels=settings.transform_max_pixels, deadline=deadline
            )

        try:
            return await anyio.to_thread.run_sync(work, limiter=self._limiter)
        except SourceTooLarge as error:
            raise TransformSourceTooLarge(
                f"The image is {error.width}x{error.height} pixels; this server transforms "
                f"images of at most {error.max_pixels} pixels"
            ) from error
        except UnsupportedImage as error:
            raise UnsupportedTransformType(str(error)) from error
        except TransformTimedOut as error:
            raise TransformTimeout(
                f"The transform took longer than {settings.transform_timeout} seconds"
            ) from error


def create_transformer(
    settings: Settings,
    *,
    secret_key: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: StorageBackend,
    engine: TransformEngine | None = None,
) -> Transformer:
    if engine is None:
        from uploadkit_server.core.transforms.vips_engine import VipsEngine

        engine = VipsEngine()
    return Transformer(
        settings=settings,
        secret_key=secret_key,
        engine=engine,
        sessionmaker=sessionmaker,
        storage=storage,
    )


__all__ = ["StoredVariant", "Transformer", "create_transformer", "variant_key"]
