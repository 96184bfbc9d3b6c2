"""Receivers for delivery tests, run as their own processes so tests can kill
them: a small SMTP server and a webhook (HTTP) receiver on 127.0.0.1.

    python tests/clocks/receivers.py smtp --log FILE [--port P] [--exit-after N]
    python tests/clocks/receivers.py http --log FILE [--port P] [--exit-after N]

Each prints "ready PORT" once listening, and appends one line per accepted
message to FILE: the Message-ID (SMTP) or Idempotency-Key (HTTP), a tab, and
the recipient (SMTP) or the text (HTTP). A message is written to FILE before
it is acknowledged. `--exit-after N` ends the process abruptly (os._exit, no
goodbye to the client, as a kill would) right after acknowledging the N-th
message, in the middle of the sender's pass. `--refuse ADDRESS` answers 550
to that recipient; `--status CODE` makes the HTTP receiver answer CODE;
`--password P` makes the SMTP server refuse a login with another password.
The SMTP server also appends each mail's Date header to FILE.date, the
HTTP receiver each accepted payload, whole, as one line of JSON to FILE.json.
Standard library only, no Django.
"""

from __future__ import annotations

import argparse
import base64
import email
import http.server
import json
import os
import socketserver
import sys
import threading

_lock = threading.Lock()
_accepted = 0


def accept(log_path: str, key: str, detail: str, exit_after: int | None) -> bool:
    """Record one message; True when the process must end once it is acked."""
    global _accepted
    with _lock:
        if exit_after is not None and _accepted >= exit_after:
            # Dying already: a connection accepted between the last
            # acknowledgement and the exit is taken in by no one, never
            # recorded without its answer.
            os._exit(0)
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"{key}\t{detail}\n")
            log.flush()
            os.fsync(log.fileno())
        _accepted += 1
        return exit_after is not None and _accepted >= exit_after


class SmtpHandler(socketserver.StreamRequestHandler):
    """Enough of RFC 5321 for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA."""

    options: argparse.Namespace

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        self.reply("220 127.0.0.1 test SMTP ready")
        recipients: list[str] = []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode(errors="replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.reply("250-127.0.0.1")
                self.reply("250 AUTH PLAIN")
            elif verb == "HELO":
                self.reply("250 127.0.0.1")
            elif verb == "AUTH":
                _, _, token = line.partition("PLAIN ")
                _, user, password = base64.b64decode(token).decode().split("\0")
                if self.options.password and password != self.options.password:
                    self.reply("535 5.7.8 authentication credentials invalid")
                    continue
                with open(self.options.log + ".auth", "a") as log:
                    log.write(user + "\n")
                self.reply("235 2.7.0 authenticated")
            elif verb == "MAIL":
                recipients = []
                self.reply("250 OK")
            elif verb == "RCPT":
                address = line.partition(":")[2].strip().strip("<>")
                if address == self.options.refuse:
                    self.reply("550 5.1.1 no such user")
                else:
                    recipients.append(address)
                    self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                body = self.read_data()
                message = email.message_from_bytes(body)
                with open(self.options.log + ".date", "a") as log:
                    log.write(message["Date"] + "\n")
                stop = accept(
                    self.options.log,
                    message["Message-ID"],
                    ",".join(recipients),
                    self.options.exit_after,
                )
                self.reply("250 OK queued")
                if stop:
                    os._exit(0)
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")

    def read_data(self) -> bytes:
        lines = []
        while True:
            raw = self.rfile.readline()
            if raw in (b".\r\n", b".\n", b""):
                return b"".join(lines)
            lines.append(raw[1:] if raw.startswith(b"..") else raw)


class HookHandler(http.server.BaseHTTPRequestHandler):
    options: argparse.Namespace

    def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
        length = int(self.headers.get("Content-Length", "0"))
        payload = json.loads(self.rfile.read(length))
        status = self.options.status
        stop = False
        if status == 200:
            text = payload["text"].replace("\n", " | ")
            key = self.headers.get("Idempotency-Key", "")
            stop = accept(self.options.log, key, text, self.options.exit_after)
            with open(self.options.log + ".json", "a", encoding="utf-8") as log:
                log.write(json.dumps(payload) + "\n")
        body = b"ok" if status == 200 else b"no"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if stop:
            os._exit(0)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=("smtp", "http"))
    parser.add_argument("--log", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--exit-after", type=int)
    parser.add_argument("--refuse", default="")
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--password", default="")
    options = parser.parse_args()

    if options.kind == "smtp":
        SmtpHandler.options = options
        server: socketserver.TCPServer = socketserver.ThreadingTCPServer(
            ("127.0.0.1", options.port), SmtpHandler, bind_and_activate=False
        )
    else:
        HookHandler.options = options
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", options.port), HookHandler, bind_and_activate=False
        )
    server.allow_reuse_address = True
    server.daemon_threads = True
    server.server_bind()
    server.server_activate()
    print(f"ready {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
