"""The ``uploadkit`` client commands against the real server: upload (progress, JSON, resume),
``files ls|get|rm``, readable errors and exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.support.sdk import MIB, Live, download, interrupt, write
from uploadkit_server.cli.main import app

pytestmark = pytest.mark.slow

runner = CliRunner()


@pytest.fixture
def env(live: Live, state_dir: Path) -> dict[str, str]:
    return {
        "UPLOADKIT_API_KEY": live.key,
        "UPLOADKIT_URL": live.url,
        "UPLOADKIT_STATE_DIR": str(state_dir),
    }


def run(env: dict[str, str], *args: str) -> Result:
    return runner.invoke(app, list(args), env=env)


def test_upload_files_with_json_output(env: dict[str, str], tmp_path: Path) -> None:
    small = write(tmp_path / "small.txt", 2000)
    large = write(tmp_path / "large.bin", 11 * MIB)
    result = run(
        env,
        "upload",
        str(tmp_path / "small.txt"),
        str(tmp_path / "large.bin"),
        "--route",
        "files",
        "--metadata",
        '{"via": "cli"}',
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    files = json.loads(result.stdout)
    assert [f["fileName"] for f in files] == ["small.txt", "large.bin"]
    assert all(f["metadata"] == {"via": "cli"} for f in files)
    assert download(files[0]["url"]) == small
    assert download(files[1]["url"]) == large
    assert "uploaded large.bin: 11.0 MiB in" in result.stderr  # size, time and throughput
    assert "/s)" in result.stderr


def test_upload_prints_urls_for_pipes(env: dict[str, str], tmp_path: Path) -> None:
    data = write(tmp_path / "a.bin", 100)
    result = run(env, "upload", str(tmp_path / "a.bin"), "-r", "files")
    assert result.exit_code == 0, result.stderr
    url = result.stdout.strip()
    assert url.startswith("http") and download(url) == data


def test_a_failing_file_is_reported_and_the_others_still_upload(
    env: dict[str, str], tmp_path: Path
) -> None:
    write(tmp_path / "big.bin", 5000)
    write(tmp_path / "ok.bin", 10)
    result = run(
        env, "upload", str(tmp_path / "big.bin"), str(tmp_path / "ok.bin"), "-r", "tiny", "--json"
    )
    assert result.exit_code == 1
    assert "FILE_TOO_LARGE" in result.stderr
    assert str(tmp_path / "big.bin") in result.stderr
    assert [f["fileName"] for f in json.loads(result.stdout)] == ["ok.bin"]


def test_upload_resumes_an_interrupted_upload(
    env: dict[str, str], live: Live, state_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "resumable.bin"
    data = write(path, 16 * MIB)
    error, _ = interrupt(live, state_dir, path, {2: 99}, concurrency=1)
    result = run(env, "upload", str(path), "-r", "files", "--json")
    assert result.exit_code == 0, result.stderr
    [file] = json.loads(result.stdout)
    assert file["id"] == error.resume_token.file_id
    assert download(file["url"]) == data


def test_bad_metadata_is_a_usage_error(env: dict[str, str], tmp_path: Path) -> None:
    write(tmp_path / "a.bin", 10)
    result = run(env, "upload", str(tmp_path / "a.bin"), "-r", "files", "--metadata", "[1]")
    assert result.exit_code == 2
    assert "JSON object" in result.stderr


def test_missing_configuration_exits_2_with_the_variable_to_set(tmp_path: Path) -> None:
    write(tmp_path / "a.bin", 10)
    result = runner.invoke(
        app, ["upload", str(tmp_path / "a.bin"), "-r", "files"], env={"UPLOADKIT_API_KEY": ""}
    )
    assert result.exit_code == 2
    assert "UPLOADKIT_API_KEY" in result.stderr


def test_unreachable_server_shows_the_suggestion(env: dict[str, str]) -> None:
    result = run({**env, "UPLOADKIT_URL": "http://127.0.0.1:9"}, "files", "ls")
    assert result.exit_code == 1
    assert "CONNECTION_FAILED" in result.stderr
    assert "hint: Check UPLOADKIT_URL" in result.stderr


def test_files_ls_get_rm(env: dict[str, str], tmp_path: Path) -> None:
    keys = []
    for n in range(3):
        write(tmp_path / f"ls{n}.png", 10 + n)
        result = run(env, "upload", str(tmp_path / f"ls{n}.png"), "-r", "images", "--json")
        assert result.exit_code == 0, result.stderr
        keys.append(json.loads(result.stdout)[0]["key"])

    listed = run(env, "files", "ls", "--route", "images", "--all", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert [f["key"] for f in json.loads(listed.stdout)] == keys[::-1]  # newest first
    limited = run(env, "files", "ls", "--route", "images", "--limit", "2", "--json")
    assert [f["key"] for f in json.loads(limited.stdout)] == keys[:0:-1]
    table = run(env, "files", "ls", "--route", "images")
    assert table.exit_code == 0 and "Key" in table.stdout and "image/png" in table.stdout

    got = run(env, "files", "get", keys[0], "--json")
    assert got.exit_code == 0, got.stderr
    assert json.loads(got.stdout)["key"] == keys[0]
    shown = run(env, "files", "get", keys[0])
    assert "fileName" in shown.stdout and "ls0.png" in shown.stdout

    removed = run(env, "files", "rm", keys[0], "no/such/key.png", "--json")
    assert removed.exit_code == 1
    assert json.loads(removed.stdout) == [
        {"key": keys[0], "deleted": True},
        {"key": "no/such/key.png", "deleted": False, "error": {"code": "NOT_FOUND"}},
    ]
    assert "NOT_FOUND" in removed.stderr
    gone = run(env, "files", "get", keys[0])
    assert gone.exit_code == 1 and "NOT_FOUND" in gone.stderr


def test_the_installed_script_reports_errors_with_exit_codes(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "uploadkit_server", "files", "get", "nothing/here.txt"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "NOT_FOUND" in done.stderr
    assert done.stdout == ""


def test_ctrl_c_exits_130_and_the_same_command_resumes(
    env: dict[str, str], state_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "big.bin"
    data = write(path, 64 * MIB)
    command = [sys.executable, "-m", "uploadkit_server", "upload", str(path), "-r", "files"]
    full_env = {**os.environ, **env}
    process = subprocess.Popen(
        [*command, "--concurrency", "1"],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not list(state_dir.glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.005)  # the upload is started and remembered: now press Ctrl-C
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "Run the same command again to resume" in stderr
    [state] = state_dir.glob("*.json")
    file_id = json.loads(state.read_text())["file_id"]

    again = subprocess.run(
        [*command, "--json"], env=full_env, capture_output=True, text=True, timeout=60, check=False
    )
    assert again.returncode == 0, again.stderr
    [file] = json.loads(again.stdout)
    assert file["id"] == file_id
    assert download(file["url"]) == data


def test_files_ls_never_cuts_a_key(env: dict[str, str], tmp_path: Path) -> None:
    """A key longer than the 80 columns of a non-terminal is printed whole, on one line."""
    name = "a-rather-long-file-name-" + "x" * 70 + ".png"
    write(tmp_path / name, 12)
    uploaded = run(env, "upload", str(tmp_path / name), "-r", "images", "--json")
    assert uploaded.exit_code == 0, uploaded.stderr
    key = json.loads(uploaded.stdout)[0]["key"]
    assert len(key) > 100
    table = run(env, "files", "ls", "--route", "images", "--limit", "1")
    assert table.exit_code == 0, table.stderr
    assert any(line.split()[:1] == [key] for line in table.stdout.splitlines()), table.stdout
