"""``UploadKit.upload`` against a real server: single and multipart round trips, part retries,
resume after a failed part, cancellation that aborts on the server."""

from __future__ import annotations

import _thread
import io
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.sdk import MIB, FaultyTransport, Live, client_for, download, interrupt, write
from uploadkit_client import (
    Progress,
    ResumeToken,
    UploadCancelled,
    UploadKit,
    UploadNotFound,
)


def test_small_upload_of_a_path_round_trips(sdk: UploadKit, tmp_path: Path) -> None:
    data = write(tmp_path / "photo.png", 300_000)
    seen: list[Progress] = []

    file = sdk.upload(
        tmp_path / "photo.png", route="files", metadata={"a": 1}, on_progress=seen.append
    )

    assert file["status"] == "UPLOADED"
    assert file["fileName"] == "photo.png"
    assert file["contentType"] == "image/png"
    assert file["fileSize"] == len(data)
    assert file["metadata"] == {"a": 1}
    assert download(file["url"]) == data
    assert seen[-1].bytes_sent == seen[-1].total_bytes == len(data)
    assert [p.bytes_sent for p in seen] == sorted(p.bytes_sent for p in seen)


def test_bytes_and_file_objects_upload(sdk: UploadKit) -> None:
    data = os.urandom(1000)
    from_bytes = sdk.upload(data, route="files", file_name="notes.txt")
    assert from_bytes["contentType"] == "text/plain"
    assert download(from_bytes["url"]) == data

    stream = io.BytesIO(b"header" + data)
    stream.seek(6)  # a stream is read from where it stands
    from_stream = sdk.upload(
        stream, route="files", file_name="blob", content_type="application/x-thing"
    )
    assert from_stream["contentType"] == "application/x-thing"
    assert download(from_stream["url"]) == data


def test_file_over_ten_mib_goes_multipart_and_round_trips(
    live: Live, state_dir: Path, tmp_path: Path
) -> None:
    data = write(tmp_path / "movie.mp4", 10 * MIB + 1)  # just over the threshold: 5 + 5 + 1 byte
    transport = FaultyTransport()
    with client_for(live, state_dir, transport) as client:
        file = client.upload(tmp_path / "movie.mp4", route="files", metadata={"k": "v"})
    assert file["status"] == "UPLOADED"
    assert file["metadata"] == {"k": "v"}
    assert transport.puts == {1: 1, 2: 1, 3: 1}
    assert download(file["url"]) == data
    assert not list(state_dir.glob("*.json")), "a finished upload leaves no resume state"


def test_ten_mib_exactly_is_a_single_put(live: Live, state_dir: Path) -> None:
    transport = FaultyTransport()
    with client_for(live, state_dir, transport) as client:
        file = client.upload(os.urandom(10 * MIB), route="files")
    assert transport.puts == {None: 1}
    assert file["fileSize"] == 10 * MIB


def test_failing_parts_are_retried_with_backoff(
    live: Live, state_dir: Path, tmp_path: Path
) -> None:
    data = write(tmp_path / "big.bin", 16 * MIB)
    transport = FaultyTransport({2: 2, 4: 3}, error="503")
    with client_for(live, state_dir, transport, max_retries=3) as client:
        file = client.upload(tmp_path / "big.bin", route="files")
    assert transport.puts == {1: 1, 2: 3, 3: 1, 4: 4}
    assert download(file["url"]) == data


def test_an_expired_part_url_is_signed_again(live: Live, state_dir: Path, tmp_path: Path) -> None:
    data = write(tmp_path / "slow.bin", 11 * MIB)
    transport = FaultyTransport({2: 1}, error="403")  # as storage answers an expired URL
    with client_for(live, state_dir, transport) as client:
        file = client.upload(tmp_path / "slow.bin", route="files")
    assert transport.puts == {1: 1, 2: 2, 3: 1}
    assert transport.calls["/api/v1/upload/multipart/sign-parts"] == 1
    assert download(file["url"]) == data


def test_single_put_is_retried_on_network_errors(live: Live, state_dir: Path) -> None:
    transport = FaultyTransport({None: 2})
    data = os.urandom(5000)
    with client_for(live, state_dir, transport) as client:
        file = client.upload(data, route="files")
    assert transport.puts[None] == 3
    assert download(file["url"]) == data


def test_resume_after_a_part_failure_sends_only_the_missing_parts(
    live: Live, state_dir: Path, tmp_path: Path, sdk: UploadKit
) -> None:
    data = write(tmp_path / "resume.bin", 21 * MIB)  # 5 parts
    # One part at a time, so that parts 1 and 2 are stored when part 3 gives up.
    error, broken = interrupt(
        live, state_dir, tmp_path / "resume.bin", {3: 99}, max_retries=2, concurrency=1
    )
    assert broken.puts == {1: 1, 2: 1, 3: 3}  # part 3: one try and two retries, then stop
    token = error.resume_token
    stored = sdk.request(
        "GET",
        "/upload/multipart/parts",
        params={"fileId": token.file_id, "uploadId": token.upload_id},
    )
    assert [p["partNumber"] for p in stored["parts"]] == [1, 2]
    assert list(state_dir.glob("*.json")), "the interrupted upload is remembered"

    healthy = FaultyTransport()
    seen: list[Progress] = []
    with client_for(live, state_dir, healthy) as client:
        file = client.upload(tmp_path / "resume.bin", route="files", on_progress=seen.append)
    assert healthy.puts == {3: 1, 4: 1, 5: 1}
    assert file["id"] == token.file_id
    assert seen[0].bytes_sent == 10 * MIB  # the stored parts count as sent from the start
    assert download(file["url"]) == data
    assert not list(state_dir.glob("*.json"))


def test_resume_with_an_explicit_token_for_a_stream(live: Live, state_dir: Path) -> None:
    data = os.urandom(11 * MIB)
    error, _ = interrupt(
        live, state_dir, io.BytesIO(data), {2: 99}, concurrency=1, file_name="stream.bin"
    )
    healthy = FaultyTransport()
    with client_for(live, state_dir, healthy) as client:
        file = client.upload(
            io.BytesIO(data),
            route="files",
            file_name="stream.bin",
            resume=error.resume_token,
        )
    assert healthy.puts == {2: 1, 3: 1}
    assert download(file["url"]) == data


def test_a_changed_file_starts_a_new_upload(live: Live, state_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "edited.bin"
    write(path, 11 * MIB)
    error, _ = interrupt(live, state_dir, path, {2: 99})
    data = write(path, 11 * MIB + 5)  # new content, new size and mtime
    with client_for(live, state_dir, FaultyTransport()) as client:
        file = client.upload(path, route="files")
    assert file["id"] != error.resume_token.file_id
    assert download(file["url"]) == data


def test_a_stale_resume_state_is_dropped(
    live: Live, state_dir: Path, tmp_path: Path, sdk: UploadKit
) -> None:
    path = tmp_path / "stale.bin"
    data = write(path, 11 * MIB)
    error, _ = interrupt(live, state_dir, path, {2: 99})
    token = error.resume_token
    sdk.request(
        "POST",
        "/upload/multipart/abort",
        json={"fileId": token.file_id, "uploadId": token.upload_id},
    )
    file = sdk.upload(path, route="files")  # the saved upload is gone: start afresh
    assert file["id"] != token.file_id
    assert download(file["url"]) == data


def cancel_after(event: threading.Event, threshold: int) -> Callable[[Progress], None]:
    def on_progress(progress: Progress) -> None:
        if progress.bytes_sent >= threshold:
            event.set()

    return on_progress


def test_cancel_aborts_the_multipart_upload_and_leaves_no_parts(
    live: Live, sdk: UploadKit, tmp_path: Path, state_dir: Path
) -> None:
    write(tmp_path / "cancel.bin", 31 * MIB)
    cancel = threading.Event()
    with pytest.raises(UploadCancelled) as cancelled:
        sdk.upload(
            tmp_path / "cancel.bin",
            route="files",
            cancel=cancel,
            on_progress=cancel_after(cancel, 6 * MIB),
        )
    error = cancelled.value
    assert error.file_id and error.upload_id
    with pytest.raises(UploadNotFound):
        sdk.request(
            "GET",
            "/upload/multipart/parts",
            params={"fileId": error.file_id, "uploadId": error.upload_id},
        )
    leftovers = [p for p in live.data_dir.rglob("*") if error.upload_id in str(p)]
    assert leftovers == []
    assert not list(state_dir.glob("*.json"))


def test_cancel_during_a_single_put_stops_it(sdk: UploadKit) -> None:
    cancel = threading.Event()
    with pytest.raises(UploadCancelled):
        sdk.upload(
            os.urandom(2 * MIB), route="files", cancel=cancel, on_progress=cancel_after(cancel, 1)
        )


def test_resume_token_for_an_unknown_upload_is_upload_not_found(sdk: UploadKit) -> None:
    with pytest.raises(UploadNotFound):
        sdk.upload(b"x" * 100, route="files", resume=ResumeToken("file_nope", "mpu_nope"))


def test_a_stream_that_cannot_seek_is_read_whole(sdk: UploadKit) -> None:
    class OneWay(io.BytesIO):
        def seekable(self) -> bool:
            return False

    data = os.urandom(3000)
    file = sdk.upload(OneWay(data), route="files", file_name="pipe.bin")
    assert download(file["url"]) == data


def test_ctrl_c_stops_the_workers_and_the_upload_stays_resumable(
    live: Live, state_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "interrupted.bin"
    data = write(path, 21 * MIB)  # 5 parts, sent one at a time below
    pressed = threading.Event()

    def press_ctrl_c(progress: Progress) -> None:
        if progress.bytes_sent > 10 * MIB and not pressed.is_set():  # parts 1, 2 are stored
            pressed.set()
            _thread.interrupt_main()  # what Ctrl-C does: KeyboardInterrupt in the main thread
            time.sleep(1)  # the main thread stops the upload before part 3 sends another chunk

    with client_for(live, state_dir, FaultyTransport(), concurrency=1) as client:
        with pytest.raises(KeyboardInterrupt):
            client.upload(path, route="files", on_progress=press_ctrl_c)
        workers = [t for t in threading.enumerate() if t.name.startswith("uploadkit-part")]
        assert not any(t.is_alive() for t in workers)
        assert list(state_dir.glob("*.json"))
    resumed = FaultyTransport()
    with client_for(live, state_dir, resumed) as client:
        file = client.upload(path, route="files")
    assert resumed.puts == {3: 1, 4: 1, 5: 1}
    assert download(file["url"]) == data
