"""``ml-connector fleet``: the whole fleet on one machine, the way the platform runs it.

Runs the Procfile's ``release`` process to completion first (the schema migration: a failed
release stops here, as on Heroku), then starts the long-running processes (``web``,
``worker``, ``beat``, ``flower``) and supervises them like honcho does — their output
prefixed with their name; when one exits, or on Ctrl-C / SIGTERM, every other one is stopped
(SIGTERM to its process group, SIGKILL after a grace period). ``honcho start`` cannot do this
with our Procfile: it stops the fleet as soon as ``release`` exits.

Against the configured servers (``DATABASE_URL``, ``REDIS_URL``) or the embedded default,
started here once so every process joins the same ones. Flower and ``/ops/`` need an operator
login: without ``MLC_ADMIN_USER``/``MLC_ADMIN_PASSWORD`` one is generated for this machine and
kept (0600) in ``MLC_DATA_DIR/admin-password``. Prometheus multiprocess metrics go to
``MLC_DATA_DIR/metrics`` unless ``PROMETHEUS_MULTIPROC_DIR`` says otherwise.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import click

from connector.cli.common import bootstrap, fail

#: The Procfile this code ships with (used when none is found): a test keeps them equal.
DEFAULT_PROCFILE = """\
release: ml-connector db upgrade
web: ml-connector web --bind 0.0.0.0:${PORT:-8000}
worker: ml-connector worker
beat: ml-connector beat
flower: ml-connector flower --address 0.0.0.0 --port ${FLOWER_PORT:-5555}
"""
RELEASE = "release"
GRACE_S = 20.0
_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")


def parse_procfile(text: str) -> dict[str, str]:
    """``name: command`` lines, in order (comments and blank lines skipped)."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            raise click.UsageError(f"not a Procfile line: {raw!r}")
        out[m.group(1)] = m.group(2)
    return out


def _command(line: str) -> list[str]:
    """The shell line with ``ml-connector`` run by this interpreter (no PATH lookups)."""
    runner = f"{shlex.quote(sys.executable)} -m connector.cli"
    line = re.sub(r"^ml-connector\b", runner, line.strip())
    return ["/bin/sh", "-c", f"exec {line}"]


class Process:
    def __init__(self, name: str, line: str, width: int) -> None:
        self.name, self.line, self.width = name, line, width
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str]) -> Process:
        self.popen = subprocess.Popen(_command(self.line), env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        threading.Thread(target=self._pump, args=(self.popen.stdout,), daemon=True).start()
        click.echo(f"{self.name:<{self.width}} | started (pid {self.popen.pid})")
        return self

    def _pump(self, stream: IO[bytes] | None) -> None:
        assert stream is not None
        for raw in iter(stream.readline, b""):
            text = raw.decode(errors="replace").rstrip("\n")
            click.echo(f"{self.name:<{self.width}} | {text}")

    def poll(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def signal(self, sig: int) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)


def stop_all(procs: list[Process], grace_s: float = GRACE_S) -> None:
    for p in procs:
        p.signal(signal.SIGTERM)
    deadline = time.time() + grace_s
    while time.time() < deadline and any(p.poll() is None for p in procs):
        time.sleep(0.2)
    for p in procs:
        if p.poll() is None:
            click.echo(f"{p.name:<{p.width}} | did not stop in {grace_s:.0f}s: killed")
            p.signal(signal.SIGKILL)


def _environment() -> dict[str, str]:
    from connector.config import get_settings

    settings = get_settings()
    env = dict(os.environ)  # the embedded servers' URLs and key are there after bootstrap
    if not settings.admin_user or not settings.admin_password:
        path = settings.data_dir / "admin-password"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(18) + "\n")
            path.chmod(0o600)
        env.setdefault("MLC_ADMIN_USER", settings.admin_user or "admin")
        env["MLC_ADMIN_PASSWORD"] = path.read_text().strip()
        click.echo(f"fleet | operator login for Flower and /ops/: user "
                   f"{env['MLC_ADMIN_USER']}, password in {path}")
    if not env.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = settings.data_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)  # counts of a previous fleet
        metrics_dir.mkdir(parents=True, exist_ok=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    return env


@click.command()
@click.option("--procfile", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("Procfile"), show_default=True,
              help="Procfile to run (the built-in one when the file is absent).")
@click.option("--only", help="Comma-separated processes to start (default: all but release).")
@click.option("--no-release", is_flag=True, help="Skip the release phase.")
def fleet(procfile: Path, only: str | None, no_release: bool) -> None:
    """Run the whole fleet locally: release, then web, worker, beat and flower."""
    bootstrap()
    table = parse_procfile(procfile.read_text() if procfile.exists() else DEFAULT_PROCFILE)
    names = [n for n in table if n != RELEASE]
    if only:
        wanted = [n.strip() for n in only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            fail(f"not in the Procfile: {', '.join(unknown)} (has {', '.join(names)})", 2)
        names = wanted
    env = _environment()
    width = max(len(n) for n in [*names, RELEASE, "fleet"])
    if RELEASE in table and not no_release:
        click.echo(f"{'fleet':<{width}} | release: {table[RELEASE]}")
        release = Process(RELEASE, table[RELEASE], width).start(env)
        assert release.popen is not None
        code = release.popen.wait()
        time.sleep(0.1)  # let its last lines out
        if code != 0:
            fail(f"release exited with {code}: not starting the fleet", 1)
    procs = [Process(n, table[n], width) for n in names]
    stopping: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    exit_code = 0
    try:
        for p in procs:
            p.start(env)
        while not stopping:
            ended = [p for p in procs if p.poll() is not None]
            if ended:
                first = ended[0]
                click.echo(f"{first.name:<{width}} | exited with {first.poll()}: stopping "
                           "the fleet")
                exit_code = 1
                break
            time.sleep(0.2)
    finally:
        click.echo(f"{'fleet':<{width}} | stopping {', '.join(p.name for p in procs)}")
        stop_all(procs)
        for s, handler in previous.items():
            signal.signal(s, handler)
    click.echo(f"{'fleet':<{width}} | stopped")
    sys.exit(exit_code)
