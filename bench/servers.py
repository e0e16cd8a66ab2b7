"""Server processes for the HTTP benchmarks: vecdex, the empty route, raw FAISS behind FastAPI."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """A server process on a free port: `vecdex serve --no-worker` over a data dir, the empty app (None),
    or another bench app given as its script and the arguments after the port."""

    def __init__(self, data: Path | None, app: list[str] | None = None) -> None:
        self.port = free_port()
        if app is not None:
            cmd = [sys.executable, str(ROOT / "bench" / app[0]), str(self.port), *app[1:]]
        elif data is None:
            cmd = [sys.executable, str(ROOT / "bench" / "empty_app.py"), str(self.port)]
        else:
            cmd = [str(Path(sys.executable).parent / "vecdex"), "serve", "--no-worker", "--port", str(self.port)]
        env = dict(os.environ, VECDEX_DATA_DIR=str(data or ""), VECDEX_LOG_LEVEL="warning")
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 600
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port)).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
