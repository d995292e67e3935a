from uploadkit_server.cli.main import app

app()
