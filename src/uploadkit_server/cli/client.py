"""Client commands of ``uploadkit``: upload files and manage them from a terminal or a script,
through the Python SDK.

The key comes from ``UPLOADKIT_API_KEY`` (or ``--api-key``), the server from ``UPLOADKIT_URL``
(or ``--url``). Progress and messages go to stderr, results to stdout (``--json`` for scripts).
Exit codes: 0 done, 1 an API or upload error, 2 configuration or usage, 130 interrupted (an
interrupted multipart upload resumes when the same command runs again).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from uploadkit_client import ConfigurationError, UploadKit, UploadKitError
from uploadkit_client import Progress as UploadProgress

files_app = typer.Typer(no_args_is_help=True, help="List, show and delete uploaded files.")

err = Console(stderr=True)
out = Console(highlight=False, soft_wrap=True)

ApiKey = Annotated[
    str | None,
    typer.Option("--api-key", envvar="UPLOADKIT_API_KEY", show_envvar=True, help="API key."),
]
ServerUrl = Annotated[
    str | None,
    typer.Option("--url", envvar="UPLOADKIT_URL", show_envvar=True, help="Server URL."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]


def register(app: typer.Typer) -> None:
    """Add ``upload`` and ``files`` to the ``uploadkit`` app."""
    app.command("upload")(upload)
    app.add_typer(files_app, name="files")


def print_error(error: UploadKitError, *, subject: str | None = None) -> None:
    where = f"{escape(subject)}: " if subject else ""
    err.print(f"[red]{where}{escape(error.code)}[/red] {escape(error.message)}")
    if error.suggestion:
        err.print(f"  [yellow]hint:[/yellow] {escape(error.suggestion)}")


@contextmanager
def connect(api_key: str | None, url: str | None, **options: Any) -> Iterator[UploadKit]:
    """A client, turning SDK errors into a readable message and a non-zero exit."""
    try:
        client = UploadKit(api_key, url, **options)
    except ConfigurationError as error:
        print_error(error)
        raise typer.Exit(2) from None
    try:
        with client:
            yield client
    except UploadKitError as error:
        print_error(error)
        raise typer.Exit(1) from None


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def parse_metadata(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError as error:
        raise typer.BadParameter(f"not valid JSON: {error}", param_hint="--metadata") from None
    if not isinstance(parsed, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--metadata")
    return parsed


def upload(
    files: Annotated[
        list[Path],
        typer.Argument(exists=True, dir_okay=False, readable=True, help="Files to upload."),
    ],
    route: Annotated[str, typer.Option("--route", "-r", help="File route slug.")],
    metadata: Annotated[
        str | None, typer.Option(help="JSON object stored with each file, e.g. '{\"a\": 1}'.")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue an interrupted upload of the same file.")
    ] = True,
    concurrency: Annotated[int, typer.Option(min=1, max=32, help="Parts in flight.")] = 4,
    checksum: Annotated[
        bool, typer.Option(help="Send SHA-256 checksums the server and storage enforce.")
    ] = True,
    as_json: AsJson = False,
    api_key: ApiKey = None,
    url: ServerUrl = None,
) -> None:
    """Upload files through a file route, with a progress bar per file; resumable."""
    meta = parse_metadata(metadata)
    uploaded: list[dict[str, Any]] = []
    failures = 0
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with (
        connect(api_key, url, concurrency=concurrency, checksums=checksum) as client,
        Progress(*columns, console=err) as bars,
    ):
        for path in files:
            size = path.stat().st_size
            task = bars.add_task(escape(path.name), total=size)

            def show(progress: UploadProgress, task: Any = task) -> None:
                bars.update(task, completed=progress.bytes_sent)

            started = time.monotonic()
            try:
                file = client.upload(
                    path, route=route, metadata=meta, on_progress=show, resume=resume
                )
            except UploadKitError as error:
                failures += 1
                print_error(error, subject=str(path))
                continue
            except KeyboardInterrupt:
                bars.stop()
                err.print("[yellow]Interrupted.[/yellow] Run the same command again to resume.")
                raise typer.Exit(130) from None
            elapsed = max(time.monotonic() - started, 1e-6)
            bars.update(task, completed=size)
            err.print(
                f"[green]uploaded[/green] {escape(path.name)}: {human_size(size)} in "
                f"{elapsed:.1f} s ({human_size(size / elapsed)}/s) -> {escape(file['url'])}"
            )
            uploaded.append(file)
    if as_json:
        typer.echo(json.dumps(uploaded, indent=2))
    else:
        for file in uploaded:
            typer.echo(file["url"])
    if failures:
        raise typer.Exit(1)


#: Wide enough for any row: the table is measured against it to find the width it needs.
UNBOUNDED_WIDTH = 100_000


@files_app.command("ls")
def list_files(
    status: Annotated[str | None, typer.Option(help="UPLOADING, UPLOADED or FAILED.")] = None,
    route: Annotated[str | None, typer.Option("--route", "-r", help="Route slug.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many files to show.")] = 20,
    show_all: Annotated[bool, typer.Option("--all", help="Every file (follows cursors).")] = False,
    as_json: AsJson = False,
    api_key: ApiKey = None,
    url: ServerUrl = None,
) -> None:
    """List files, newest first."""
    with connect(api_key, url) as client:
        listing = client.files.list(status=status, route_slug=route, page_size=min(limit, 100))
        items = list(listing if show_all else islice(listing, limit))
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    table = Table("Key", "Size", "Type", "Status", "Created", box=None)
    # Keys are copied from here into other commands: never cut or wrapped. The table is as wide
    # as its widest row needs, however narrow the terminal (which then wraps the line).
    table.columns[0].overflow = "ignore"
    table.columns[0].no_wrap = True
    for item in items:
        table.add_row(
            escape(item["key"]),
            human_size(item["fileSize"]),
            escape(item["contentType"]),
            item["status"],
            item["createdAt"],
        )
    needed = out.measure(table, options=out.options.update_width(UNBOUNDED_WIDTH)).maximum
    width = out.width
    out.width = max(width, needed)  # print() caps its width at the console's
    try:
        out.print(table)
    finally:
        out.width = width


@files_app.command("get")
def get_file(
    key: Annotated[str, typer.Argument(help="The file's key.")],
    as_json: AsJson = False,
    api_key: ApiKey = None,
    url: ServerUrl = None,
) -> None:
    """Show one file."""
    with connect(api_key, url) as client:
        file = client.files.get(key)
    if as_json:
        typer.echo(json.dumps(file, indent=2))
        return
    for name, value in file.items():
        shown = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        out.print(f"[bold]{name:>12}[/bold]  {escape(shown)}")


@files_app.command("download")
def download_file(
    key: Annotated[str, typer.Argument(help="The file's key.")],
    destination: Annotated[
        Path, typer.Argument(help="Where to write it (a directory keeps the file's name).")
    ] = Path("."),
    verify: Annotated[bool, typer.Option(help="Check the bytes against the file's sha256.")] = True,
    api_key: ApiKey = None,
    url: ServerUrl = None,
) -> None:
    """Download one file, checking its SHA-256 on the way; nothing is left on a mismatch."""
    with connect(api_key, url) as client:
        file = client.download(key, destination, verify=verify)
    checked = " (sha256 verified)" if verify and file.get("sha256") else ""
    err.print(f"[green]downloaded[/green] {escape(key)}{checked}")


@files_app.command("rm")
def remove_files(
    keys: Annotated[list[str], typer.Argument(help="Keys of the files to delete.")],
    as_json: AsJson = False,
    api_key: ApiKey = None,
    url: ServerUrl = None,
) -> None:
    """Delete files (their objects are removed at once)."""
    results: list[dict[str, Any]] = []
    with connect(api_key, url) as client:
        for key in keys:
            try:
                client.files.delete(key)
            except UploadKitError as error:
                print_error(error, subject=key)
                results.append({"key": key, "deleted": False, "error": {"code": error.code}})
                continue
            results.append({"key": key, "deleted": True})
            if not as_json:
                err.print(f"[green]deleted[/green] {escape(key)}")
    if as_json:
        typer.echo(json.dumps(results, indent=2))
    if not all(result["deleted"] for result in results):
        raise typer.Exit(1)
