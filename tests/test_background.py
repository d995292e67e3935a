"""``BackgroundWork``: what a server and a worker run, and an orderly stop."""

from __future__ import annotations

import pytest

from uploadkit_server.background import BackgroundWork
from uploadkit_server.jobs.schedule import background_jobs, process_local_jobs
from uploadkit_server.runtime import Runtime


class RecordingService:
    def __init__(self, name: str, log: list[str], *, fail_to_stop: bool = False) -> None:
        self.name, self.log, self.fail_to_stop = name, log, fail_to_stop

    def start(self) -> None:
        self.log.append(f"start {self.name}")

    async def stop(self) -> None:
        self.log.append(f"stop {self.name}")
        if self.fail_to_stop:
            raise RuntimeError(f"{self.name} failed to stop")


def test_a_server_runs_what_its_settings_say(runtime: Runtime) -> None:
    # The test settings: shared jobs off (RUN_BACKGROUND_JOBS=false), dispatcher on.
    background = BackgroundWork.for_server(runtime)
    assert background.dispatcher is not None
    assert background.dispatcher.wakeup is runtime.delivery_wakeup
    assert background.job_count == len(process_local_jobs())
    assert background.services[-1] is background.dispatcher  # started last, stopped first


def test_a_worker_runs_the_dispatcher_and_the_shared_jobs(runtime: Runtime) -> None:
    background = BackgroundWork.for_worker(runtime)
    assert background.dispatcher is not None
    assert background.job_count == len(background_jobs())


async def test_everything_is_stopped_in_reverse_even_if_one_stop_fails(runtime: Runtime) -> None:
    log: list[str] = []
    background = BackgroundWork(
        runtime, dispatch_webhooks=False, shared_jobs=False, process_local=False
    )
    background.services = [
        RecordingService("jobs", log),
        RecordingService("flushes", log, fail_to_stop=True),
        RecordingService("dispatcher", log),
    ]
    with pytest.raises(RuntimeError, match="flushes failed to stop"):
        async with background:
            pass
    assert log == [
        "start jobs",
        "start flushes",
        "start dispatcher",
        "stop dispatcher",
        "stop flushes",
        "stop jobs",
    ]
    await background.stop()  # stopped already: nothing happens twice
    assert len(log) == 6


async def test_the_real_parts_start_and_stop(runtime: Runtime) -> None:
    background = BackgroundWork.for_worker(runtime)
    async with background:
        pass
    with pytest.raises(RuntimeError, match="already running"):
        background.start()
        background.start()
    await background.stop()
