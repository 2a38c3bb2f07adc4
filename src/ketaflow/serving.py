"""Runs the WSGI app under gunicorn. The access log leaves out query strings (they can hold PHI)."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


class KetaflowServer(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from ketaflow.config.wsgi import application

        return application


def run_gunicorn(*, host: str, port: int, workers: int, threads: int) -> None:
    KetaflowServer(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "accesslog": "-",
            "errorlog": "-",
            "access_log_format": ACCESS_LOG_FORMAT,
            "timeout": 60,
            "graceful_timeout": 10,
            "forwarded_allow_ips": "127.0.0.1",
            # gunicorn's control socket lives at one path per machine; ketaflow does not use it
            "control_socket_disable": True,
        }
    ).run()
