"""Real PostgreSQL and Redis servers on 127.0.0.1 with TLS on, for the tests, the local pipeline and the
benchmarks: the stand-ins for RDS and ElastiCache (Debian's postgresql and redis-server packages).

PostgreSQL accepts only `hostssl` connections with SCRAM passwords on 127.0.0.1 (plain TCP is refused);
Redis listens only on its TLS port and requires AUTH. Both are started and stopped by their owner; `kill()`
stops a server abruptly (fault tests)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from localenv.emulator import free_port
from localenv.tls import TlsFiles
from platform_spec import contract

PG_BIN = Path(os.environ.get("STREAMTECH_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_ADMIN = "streamtech"


class ServerError(RuntimeError):
    """A local data server could not be set up or started (message says which and why)."""


def missing_servers() -> list[str]:
    """The Debian packages of the local data servers that this machine lacks (empty: both can run)."""
    missing = []
    if not all((PG_BIN / tool).exists() for tool in ("initdb", "pg_ctl")):
        missing.append("postgresql")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    return missing


def _wait_for_port(port: int, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
    raise ServerError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f}s; log:\n{tail}")


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise ServerError(f"{what} failed ({' '.join(cmd[:3])}…, exit {done.returncode}): "
                          f"{(done.stderr or done.stdout).strip()[-2000:]}")


class PostgresServer:
    """A PostgreSQL cluster in `directory`, TLS-only on 127.0.0.1:`port`, with database `database`."""

    def __init__(self, tls: TlsFiles, *, password: str, database: str, user: str = PG_ADMIN,
                 port: int | None = None, directory: Path | None = None) -> None:
        # Default: a fresh directory right under the temporary directory, so that the `postgres` user can
        # reach it when we run as root (pytest's and mkdtemp's own directories are 0700 root).
        self.directory = directory or Path(tempfile.mkdtemp(prefix="streamtech-pg-"))
        self.tls, self.password, self.database = tls, password, database
        self.port = port or free_port()
        self.user = user
        self.data = self.directory / "pgdata"
        self.log = self.directory / "postgres.log"
        # PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` system user.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _pg(self, tool: str, *args: str) -> list[str]:
        if not (PG_BIN / tool).exists():
            raise ServerError(f"{PG_BIN / tool} not found: install PostgreSQL (apt-get install postgresql) or "
                              f"set STREAMTECH_PG_BIN")
        return [*self._as, str(PG_BIN / tool), *args]

    def _initdb(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        pwfile = self.directory / "pwfile"
        pwfile.write_text(self.password + "\n")
        for name, source in (("server.pem", self.tls.cert), ("server.key", self.tls.key)):
            shutil.copyfile(source, self.directory / name)
        (self.directory / "server.key").chmod(0o600)
        if self._as:
            shutil.chown(self.directory, "postgres", "postgres")
            for child in self.directory.iterdir():
                shutil.chown(child, "postgres", "postgres")
        _run(self._pg("initdb", "-D", str(self.data), "-U", self.user, f"--pwfile={pwfile}",
                      "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"),
             "initdb")
        pwfile.unlink()
        # TLS only: no `host` lines, so a connection without TLS is refused outright.
        (self.data / "pg_hba.conf").write_text(
            "# StreamTech local stand-in for RDS: TLS + SCRAM on loopback only\n"
            "local   all  all                 scram-sha-256\n"
            "hostssl all  all  127.0.0.1/32   scram-sha-256\n")
        # fsync and full_page_writes off: the WAL still reaches the kernel, so only a crash of the machine could
        # lose it. synchronous_commit stays on: with it off, a commit answers before its WAL leaves PostgreSQL's
        # memory, and the immediate shutdown that `kill` is loses it, which RDS never does to a committed
        # transaction (a migration applied just before `kill` was gone after the restart).
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.directory}'\n"
                f"ssl = on\nssl_cert_file = '{self.directory / 'server.pem'}'\n"
                f"ssl_key_file = '{self.directory / 'server.key'}'\nssl_min_protocol_version = 'TLSv1.2'\n"
                "password_encryption = 'scram-sha-256'\nfsync = off\nsynchronous_commit = on\n"
                "full_page_writes = off\nmax_connections = 200\nshared_buffers = '128MB'\n")

    def start(self) -> PostgresServer:
        fresh = not self.data.exists()
        if fresh:
            self._initdb()
        _run(self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start"),
             "pg_ctl start")
        _wait_for_port(self.port, 30, "PostgreSQL", self.log)
        if fresh:
            env = {**os.environ, "PGPASSWORD": self.password}  # in the environment, not in the process list
            done = subprocess.run(
                [*self._as, str(PG_BIN / "psql"), "-h", str(self.directory),
                 "-p", str(self.port), "-U", self.user, "-d", "postgres", "-v", "ON_ERROR_STOP=1",
                 "-c", f'CREATE DATABASE "{self.database}"'], capture_output=True, text=True, env=env)
            if done.returncode != 0:
                raise ServerError(f"creating database {self.database} failed: {done.stderr.strip()}")
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop"),
                           capture_output=True, text=True)

    def kill(self) -> None:
        """Stop abruptly (immediate shutdown: clients see their connections drop)."""
        self.stop("immediate")

    def remove(self) -> None:
        """Stop and delete the cluster's directory."""
        self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)

    def environment(self) -> dict[str, str]:
        """The variables ECS gives the services for RDS (endpoint, database, credentials, CA bundle)."""
        return {contract.DB_HOST: "127.0.0.1", contract.DB_PORT: str(self.port), contract.DB_NAME: self.database,
                contract.DB_USERNAME: self.user, contract.DB_PASSWORD: self.password,
                contract.DB_SSLMODE: contract.DB_SSLMODE_REQUIRED,
                contract.DB_CA_BUNDLE: str(self.tls.ca)}


class RedisServer:
    """redis-server on 127.0.0.1:`port`, TLS port only, AUTH required, no persistence."""

    def __init__(self, directory: Path, tls: TlsFiles, *, password: str, port: int | None = None) -> None:
        self.directory, self.tls, self.password = directory, tls, password
        self.port = port or free_port()
        self.log = directory / "redis.log"
        self._process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerError("redis-server not found: install Redis (apt-get install redis-server)")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", "0", "--tls-port", str(self.port),
             "--tls-cert-file", str(self.tls.cert), "--tls-key-file", str(self.tls.key),
             "--tls-ca-cert-file", str(self.tls.ca), "--tls-auth-clients", "no",
             "--requirepass", self.password, "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), "--logfile", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.port, 15, "Redis", self.log)
        return self

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:  # pragma: no cover - redis exits on SIGTERM
                self._process.kill()
                self._process.wait()

    def kill(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def environment(self) -> dict[str, str]:
        """The variables ECS gives the services for ElastiCache (endpoint, TLS, AUTH token, CA bundle)."""
        return {contract.REDIS_HOST: "127.0.0.1", contract.REDIS_PORT: str(self.port), contract.REDIS_TLS: "true",
                contract.REDIS_AUTH_TOKEN: self.password, contract.REDIS_CA_BUNDLE: str(self.tls.ca)}
