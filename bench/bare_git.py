"""The baseline for bench/git_clone.py: `git http-backend` behind a minimal threaded WSGI server (wsgiref), with
no authentication, permissions or rate limits. Usage: python bench/bare_git.py PORT GIT_PROJECT_ROOT"""

import os
import subprocess
import sys
from collections.abc import Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

CHUNK = 64 * 1024
ROOT = sys.argv[2] if len(sys.argv) > 2 else "."


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    env = {"PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": ROOT, "GIT_HTTP_EXPORT_ALL": "1",
           "PATH_INFO": environ["PATH_INFO"], "REQUEST_METHOD": environ["REQUEST_METHOD"],
           "QUERY_STRING": environ.get("QUERY_STRING", ""), "CONTENT_TYPE": environ.get("CONTENT_TYPE", ""),
           "HTTP_CONTENT_ENCODING": environ.get("HTTP_CONTENT_ENCODING", ""),
           "GIT_PROTOCOL": environ.get("HTTP_GIT_PROTOCOL", ""), "REMOTE_USER": "bench"}
    process = subprocess.Popen(["git", "http-backend"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert process.stdin and process.stdout
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"]
    while length > 0:
        chunk = body.read(min(CHUNK, length))
        if not chunk:
            break
        process.stdin.write(chunk)
        length -= len(chunk)
    process.stdin.close()
    status, headers = "200 OK", []
    while line := process.stdout.readline().decode("latin-1").rstrip("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = value.strip()
        else:
            headers.append((name.strip(), value.strip()))
    start_response(status, headers)
    while chunk := process.stdout.read(CHUNK):
        yield chunk
    process.wait()


if __name__ == "__main__":
    make_server("127.0.0.1", int(sys.argv[1]), app, server_class=ThreadingServer,
                handler_class=QuietHandler).serve_forever()
