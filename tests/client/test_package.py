"""The SDK is light: it imports httpx and the standard library, nothing else, and its public
surface is exactly ``__all__``."""

from __future__ import annotations

import json
import subprocess
import sys

import uploadkit_client

PROBE = """
import json, sys
import httpx
before = set(sys.modules)
import uploadkit_client
added = {name.split(".")[0] for name in set(sys.modules) - before}
print(json.dumps(sorted(added - set(sys.stdlib_module_names) - {"uploadkit_client"})))
"""


def test_imports_only_httpx_and_the_standard_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout) == []


def test_the_server_package_is_not_needed() -> None:
    """Block ``uploadkit_server`` and every third-party package but httpx's own dependencies."""
    probe = """
import importlib.abc, sys
allowed = set(sys.stdlib_module_names) | {
    "uploadkit_client", "httpx", "httpcore", "h11", "h2", "hpack", "hyperframe", "anyio",
    "sniffio", "idna", "certifi", "brotli", "brotlicffi", "zstandard", "socksio", "_cffi_backend",
    "typing_extensions", "exceptiongroup", "truststore",
}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] not in allowed:
            raise ImportError(f"blocked {name}")
        return None
sys.meta_path.insert(0, Block())
import uploadkit_client
client = uploadkit_client.UploadKit("uk_live_x", "http://127.0.0.1:9")
client.close()
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_public_names_are_exported() -> None:
    public = {name for name in dir(uploadkit_client) if not name.startswith("_")}
    modules = {
        "api_client",
        "client",
        "errors",
        "parts",
        "resources",
        "resume",
        "retry",
        "signatures",
        "sources",
        "transfer",
    }
    assert public - modules - {"uploader"} == set(uploadkit_client.__all__)
