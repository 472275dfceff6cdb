"""A real Milvus server on this machine: for the server tests, and to try the notebooks against a server.

    make milvus-server                                   # foreground, port 19530, data in .milvus-data/
    .venv/bin/python tests/milvus_server.py --data DIR --port 19530

It is Milvus standalone from the ``milvus`` package on PyPI (MILVUS_VERSION below: a 57 MB wheel
that carries the server binary and has no Python dependencies), installed once with pip into its
own folder beside the virtual environment, ``<sys.prefix>/milvus-server-<version>/``, so none of
its files mix with the project's packages. The server keeps everything (metadata, write-ahead log,
segments, logs) under ``--data``.

What this launcher adds to the package's own ``default_server``:

* every port is chosen free (``--port`` fixes the client port only), including embedded etcd's
  (the package leaves them at 2379/2380, so a second server on the machine fails to start);
* the components address each other on 127.0.0.1 (not the machine's first network address).
  Milvus 2.3 still *listens* on every interface, on the ports chosen; the tests connect to
  127.0.0.1 only;
* a bounded start: it fails with the log's last lines if the server dies or is not healthy in
  ``--timeout`` seconds (the package waits three minutes, and for ever if the binary dies);
* a clean stop on Ctrl+C, SIGTERM, or (``--parent-pipe``) when the process that started it
  closes its stdin: the tests' finalizer, or the test process dying.

``start()`` (used by tests/test_search_milvus.py) runs this file in a child process and returns
once the server answers; ``Server.stop()`` stops it.
"""
from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

MILVUS_VERSION = "2.3.5"
#: The folder the ``milvus`` package is installed into (override with MMLAB_MILVUS_SERVER_HOME).
HOME_ENV = "MMLAB_MILVUS_SERVER_HOME"
# The components' own addresses (config keys that exist in the package's template).
_COMPONENT_IPS = ("rootCoord.ip", "proxy.ip", "queryCoord.ip", "queryNode.ip", "indexNode.ip",
                  "dataCoord.ip", "dataNode.ip")


def package_home() -> Path:
    """Where the ``milvus`` package lives: ``$MMLAB_MILVUS_SERVER_HOME`` or beside the virtual environment."""
    chosen = os.environ.get(HOME_ENV)
    return Path(chosen) if chosen else Path(sys.prefix) / f"milvus-server-{MILVUS_VERSION}"


def install(home: Path | None = None, timeout: float = 600) -> Path:
    """Install ``milvus==MILVUS_VERSION`` into ``home`` once (pip, no dependencies); return ``home``."""
    home = package_home() if home is None else home
    if (home / "milvus" / "__init__.py").is_file():
        return home
    from mmlab.cache import atomic_folder  # a half-installed folder never takes the final name

    with atomic_folder(home) as tmp:
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
               "--target", str(tmp), f"milvus=={MILVUS_VERSION}"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"could not install the Milvus server (pip install milvus=={MILVUS_VERSION} into "
                               f"{home}): {(done.stderr or done.stdout)[-2000:]}")
    return home


class Server:
    """A running server started by ``start()``: ``uri``, ``data``, ``version``; ``stop()`` ends it."""

    def __init__(self, proc: subprocess.Popen, info: dict) -> None:
        self.proc = proc
        self.uri: str = info["uri"]
        self.port: int = info["port"]
        self.data: str = info["data"]
        self.version: str = info["version"]
        self.seconds_to_start: float = info["seconds"]

    def stop(self, timeout: float = 60) -> None:
        """Ask the launcher to stop the server; kill the group (launcher and server) if it has not after ``timeout``."""
        if self.proc.poll() is not None:
            return
        if self.proc.stdin is not None:
            self.proc.stdin.close()  # the launcher's cue (--parent-pipe)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the launcher and the server binary: its own group
            self.proc.wait(timeout=10)

    def kill(self) -> None:
        """Kill the launcher and the server at once (a watchdog's last resort: pending requests then fail)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)

    def __repr__(self) -> str:
        return f"Server({self.uri!r}, version={self.version!r}, data={self.data!r})"


def start(data: str | os.PathLike, *, port: int = 0, timeout: float = 180, stop_timeout: float = 10) -> Server:
    """Install the package if needed, start a server on ``data`` and return once it is healthy.

    ``stop_timeout``: seconds the server gets to shut down cleanly when stopped, before it is killed.
    (Milvus 2.3.5's clean shutdown stalled for more than 30 s here once collections were loaded;
    after the kill, a restart on the same data found every row: writes are logged when acknowledged.)

    Raises:
        RuntimeError: it could not be installed or started in ``timeout`` seconds (the message holds
            the server's last log lines).
    """
    home = install()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(home), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    cmd = [sys.executable, os.path.abspath(__file__), "--data", os.fspath(data), "--port", str(port),
           "--timeout", str(timeout), "--stop-timeout", str(stop_timeout), "--parent-pipe", "--json"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    assert proc.stdout is not None and proc.stderr is not None
    deadline = time.monotonic() + timeout + 30
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline and proc.poll() is None:
            if sel.select(timeout=1.0):
                line = proc.stdout.readline()
                if line.startswith("{"):
                    return Server(proc, json.loads(line))
    server = Server(proc, {"uri": "", "port": port, "data": os.fspath(data), "version": MILVUS_VERSION, "seconds": 0})
    server.stop(timeout=stop_timeout + 15)
    raise RuntimeError(f"the Milvus server {MILVUS_VERSION} did not start (data in {data}):\n{proc.stderr.read()[-3000:]}")


# --------------------------------------------------------------------------- the launcher (a child process)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(data: Path, lines: int = 30) -> str:
    tails = []
    for name in ("milvus-stdout.log", "milvus-stderr.log"):
        path = data / "logs" / name
        if path.is_file():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            tails.append(f"--- {path}\n" + "\n".join(text))
    return "\n".join(tails) or f"(no log under {data / 'logs'})"


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
            return "OK" in resp.read().decode("utf-8", "replace")
    except OSError:
        return False


def serve(data: Path, port: int, timeout: float, stop_timeout: float, parent_pipe: bool, as_json: bool) -> int:
    from milvus import MilvusServer, MilvusServerConfig, __version__  # from package_home(), on PYTHONPATH

    data.mkdir(parents=True, exist_ok=True)
    config = MilvusServerConfig()
    ports = {key: _free_port() for key in config.configurable_items if key.endswith("_port")}
    if port:
        ports["proxy_port"] = port
    server = MilvusServer(config, wait_for_started=False, **ports)
    server.set_base_dir(str(data))
    for key in _COMPONENT_IPS:
        config.set(key, "127.0.0.1")
    server.webservice_port = _free_port()  # the health and metrics port (9091 by default)
    # Embedded etcd: its client port from the config, its peer port free, both on 127.0.0.1 only.
    etcd_file = data / "embedEtcd.yaml"
    client_url, peer_url = f"http://127.0.0.1:{ports['etcd_port']}", f"http://127.0.0.1:{_free_port()}"
    etcd_file.write_text(f"listen-client-urls: {client_url}\nadvertise-client-urls: {client_url}\n"
                         f"listen-peer-urls: {peer_url}\ninitial-advertise-peer-urls: {peer_url}\n"
                         f"initial-cluster: default={peer_url}\n")
    os.environ["ETCD_CONFIG_PATH"] = str(etcd_file)

    stopping = threading.Event()

    def stop(*_) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if parent_pipe:  # the parent closes our stdin (or dies): stop
        threading.Thread(target=lambda: (sys.stdin.read(), stopping.set()), daemon=True).start()

    began = time.monotonic()
    server.start()
    binary = server.server_proc
    try:
        while not _healthy(server.webservice_port):
            if binary.poll() is not None or stopping.is_set() or time.monotonic() - began > timeout:
                why = (f"exited with code {binary.poll()}" if binary.poll() is not None
                       else "was stopped" if stopping.is_set() else f"was not healthy after {timeout:.0f} s")
                print(f"milvus server {__version__} {why}\n{_log_tail(data)}", file=sys.stderr, flush=True)
                return 1
            time.sleep(0.2)
        proxy = server.listen_port
        info = {"uri": f"http://127.0.0.1:{proxy}", "port": proxy, "data": str(data), "version": __version__,
                "pid": binary.pid, "seconds": round(time.monotonic() - began, 1)}
        if as_json:
            print(json.dumps(info), flush=True)
        else:
            print(f"Milvus {__version__} standalone is up at {info['uri']} after {info['seconds']} s "
                  f"(data and logs in {data}). Ctrl+C stops it.", flush=True)
        while not stopping.wait(0.5):
            if binary.poll() is not None:
                print(f"milvus server exited with code {binary.poll()}\n{_log_tail(data)}", file=sys.stderr, flush=True)
                return 1
        return 0
    finally:
        if binary.poll() is None:
            binary.terminate()  # Milvus flushes and closes; give it time
            try:
                binary.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                binary.kill()
                binary.wait(timeout=10)
        server.server_proc = None
        server.stop()  # closes the log files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a Milvus standalone server in the foreground.")
    parser.add_argument("--data", default=".milvus-data", help="folder for its data and logs (kept)")
    parser.add_argument("--port", type=int, default=19530, help="client port (0: any free port)")
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for it to be healthy")
    parser.add_argument("--stop-timeout", type=float, default=10, help="seconds to shut down cleanly before a kill")
    parser.add_argument("--parent-pipe", action="store_true", help="stop when stdin closes")
    parser.add_argument("--json", action="store_true", help="print one JSON line when ready")
    args = parser.parse_args(argv)
    try:
        import milvus  # noqa: F401
    except ImportError:  # run by hand: install the package and re-run with it on the path
        home = install()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(home), os.environ.get("PYTHONPATH", "")])}
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *sys.argv[1:]], env)
    return serve(Path(args.data).resolve(), args.port, args.timeout, args.stop_timeout, args.parent_pipe, args.json)


if __name__ == "__main__":
    sys.exit(main())
