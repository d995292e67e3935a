"""The ``uploadkit`` command: server side (serve, worker, migrate, admin) and client commands.

Server modules (SQLAlchemy, Alembic) are imported inside the server commands, so the client
commands start quickly.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from uploadkit_server.cli import client as client_commands
from uploadkit_server.errors import UploadKitError
from uploadkit_server.settings import LogFormat, Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="UploadKit server and client.")
admin = typer.Typer(no_args_is_help=True)
app.add_typer(admin, name="admin")

console = Console(stderr=True)


def _load_settings() -> Settings:
    try:
        return Settings()
    except ValueError as error:
        console.print(f"[red]Invalid configuration:[/red] {error}")
        raise typer.Exit(2) from None


def _fail(error: UploadKitError) -> typer.Exit:
    console.print(f"[red]{error.code}:[/red] {error.message}")
    return typer.Exit(1)


@admin.callback()
def _admin_database() -> None:
    """Operator commands: accounts and tiers."""
    # An admin command run against another data directory than the server's would silently
    # make a new, empty database: say which one is used (stderr, so --json output stays clean).
    from sqlalchemy.engine import make_url

    url = make_url(_load_settings().effective_database_url)
    if url.get_backend_name() == "sqlite":
        console.print(f"Database: SQLite at {url.database}", soft_wrap=True)
    else:
        console.print(f"Database: {url.render_as_string(hide_password=True)}", soft_wrap=True)


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(envvar="UPLOADKIT_HOST", help="Interface to listen on.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="UPLOADKIT_PORT", help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
    ssl_certfile: Annotated[
        str | None, typer.Option(help="Serve HTTPS with this certificate.")
    ] = None,
    ssl_keyfile: Annotated[str | None, typer.Option(help="Private key of the certificate.")] = None,
    http: Annotated[str, typer.Option(help="HTTP/1.1 parser: auto, httptools or h11.")] = "auto",
) -> None:
    """Run the server. On an empty embedded data directory, first create a development account."""
    from uploadkit_server.cli import access_log, bootstrap
    from uploadkit_server.cli.http_protocols import bounded_protocol
    from uploadkit_server.cli.server_processes import run_server

    if http not in {"auto", "httptools", "h11"}:
        console.print(f"[red]--http must be auto, httptools or h11, not {http!r}[/red]")
        raise typer.Exit(2)

    settings = _load_settings()
    if "public_url" not in settings.model_fields_set:  # neither in the environment nor .env
        scheme = "https" if ssl_certfile else "http"
        shown_host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
        settings = settings.model_copy(update={"public_url": f"{scheme}://{shown_host}:{port}"})
    if settings.database_url is None:
        dev = asyncio.run(bootstrap.ensure_dev_account(settings))
        if dev is not None:
            console.print(
                "[bold green]Created a development account[/bold green] "
                f"(project {dev['project']['id']}, route 'files'). Keys, shown once and kept in "
                f"{dev['path']}:"
            )
            console.print(f"  live: [bold]{dev['keys']['live']}[/bold]")
            console.print(f"  test: [bold]{dev['keys']['test']}[/bold]")
            console.print(
                f"Dashboard: {settings.public_url}/dashboard, sign in as "
                f"[bold]{bootstrap.DEV_EMAIL}[/bold] with password [bold]{dev['password']}[/bold]"
            )
    else:
        asyncio.run(bootstrap.run_migrations(settings))
    log_config: dict[str, Any] | None = None
    if settings.log_format is LogFormat.JSON:
        from uploadkit_server.observability.logging import json_log_config

        log_config = json_log_config()
    console.print(f"UploadKit listening on {settings.public_url} (data: {settings.data_dir})")
    run_server(
        settings,
        workers=workers,
        host=host,
        port=port,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        proxy_headers=False,  # X-Forwarded-Proto is honoured only from TRUSTED_PROXIES, by us
        http=bounded_protocol(http),  # request heads capped: 431 past 64 KiB or 100 headers
        log_level="info",
        # Presigned URL signatures never reach the log, in either format.
        log_config=log_config if log_config is not None else access_log.log_config(),
        access_log=log_config is None,  # JSON: uploadkit.access logs each request instead
    )


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (also done at every server start)."""
    from uploadkit_server.cli import bootstrap

    settings = _load_settings()
    asyncio.run(bootstrap.run_migrations(settings))
    console.print("Database is up to date.")


@app.command()
def worker() -> None:
    """Run the webhook dispatcher and the periodic jobs without HTTP, until SIGINT or SIGTERM."""
    from uploadkit_server.cli.worker import run_worker

    run_worker(_load_settings())


@admin.command("create-account")
def create_account(
    email: Annotated[str, typer.Option(help="Owner's email, unique.")],
    tier: Annotated[str, typer.Option(help="free, pro, team or enterprise.")] = "free",
    rate_limit: Annotated[
        int | None, typer.Option(min=1, help="Requests/minute (enterprise).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read a dashboard password from stdin.")
    ] = False,
) -> None:
    """Create an account with a first project and a live and a test key."""
    from uploadkit_server.cli import bootstrap

    settings = _load_settings()
    password = _read_password(from_stdin=True) if password_stdin else None
    try:
        data = asyncio.run(
            bootstrap.admin_create_account(
                settings,
                email=email,
                tier=bootstrap.parse_tier(tier),
                rate_limit=rate_limit,
                password=password,
            )
        )
    except UploadKitError as error:
        raise _fail(error) from None
    if as_json:
        typer.echo(json.dumps(data))
        return
    console.print(f"Account {data['account']['id']} ({data['account']['tier']})")
    console.print(f"Project {data['project']['id']} ({data['project']['slug']})")
    console.print(f"Live key: {data['keys']['live']}\nTest key: {data['keys']['test']}")


def _read_password(*, from_stdin: bool) -> str:
    """One line from stdin (a pipe or a file) without its line ending, or a hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@admin.command("set-password")
def set_password(
    email: Annotated[str, typer.Option(help="The account's email.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (else prompt).")
    ] = False,
) -> None:
    """Set an account's dashboard password; its signed-in sessions end."""
    from uploadkit_server.cli import bootstrap

    settings = _load_settings()
    password = _read_password(from_stdin=password_stdin)
    try:
        data = asyncio.run(bootstrap.admin_set_password(settings, email=email, password=password))
    except UploadKitError as error:
        raise _fail(error) from None
    console.print(f"Password set for {data['email']} ({data['id']})")


@admin.command("set-tier")
def set_tier(
    account: Annotated[str, typer.Option(help="Account id (acct_…).")],
    tier: Annotated[str, typer.Option(help="free, pro, team or enterprise.")],
    rate_limit: Annotated[
        int | None, typer.Option(min=1, help="Requests/minute (enterprise).")
    ] = None,
) -> None:
    """Change an account's tier (and its custom rate limit)."""
    from uploadkit_server.cli import bootstrap

    settings = _load_settings()
    try:
        data = asyncio.run(
            bootstrap.admin_set_tier(
                settings, account_id=account, tier=bootstrap.parse_tier(tier), rate_limit=rate_limit
            )
        )
    except UploadKitError as error:
        raise _fail(error) from None
    typer.echo(json.dumps(data))


client_commands.register(app)  # the client side: upload, files ls|get|rm
