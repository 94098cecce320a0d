"""A real, throwaway redis-server on a free port (never the machine's 6379)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support.server import free_port


class RedisServer:
    """`redis-server --port N --save '' --appendonly no`, or with an append-only file when
    `persistent` (so that a restart keeps the data, as a production Redis would)."""

    def __init__(
        self, port: int | None = None, persistent: bool = False, extra: list[str] | None = None
    ) -> None:
        self.port = port or free_port()
        self.persistent = persistent
        self.extra = list(extra or ())
        self.dir = Path(tempfile.mkdtemp(prefix="cs-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing: run scripts/install-test-deps.sh")
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        args += ["--save", ""]
        if self.persistent:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        return args + self.extra

    def start(self, timeout: float = 10) -> RedisServer:
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = self.client()
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self.process.returncode}")
                try:
                    client.ping()
                    return self
                except redis.exceptions.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=5)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class SentinelServer(RedisServer):
    """One Redis Sentinel (quorum 1) watching `master_port` as service `name`; it fails over
    a second after the master stops answering."""

    def __init__(self, master_port: int, name: str = "mymaster") -> None:
        super().__init__()
        self.master_port = master_port
        self.name = name

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.port}/{self.name}/0"

    def command(self) -> list[str]:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing: run scripts/install-test-deps.sh")
        config = self.dir / "sentinel.conf"
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
            f"sentinel monitor {self.name} 127.0.0.1 {self.master_port} 1\n"
            f"sentinel down-after-milliseconds {self.name} 1000\n"
            f"sentinel failover-timeout {self.name} 3000\n"
        )
        return [binary, str(config), "--sentinel"]

    def master(self) -> tuple[str, int] | None:
        client = self.client()
        try:
            found = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.name)
        finally:
            client.close()
        return (found[0].decode(), int(found[1])) if found else None
