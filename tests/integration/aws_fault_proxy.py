#!/usr/bin/env python3
"""aws_fault_proxy.py PORT UPSTREAM_PORT CONTROL LOG - AWS faults on demand.

A loopback HTTP proxy in front of the emulator (fauxqs), for the tests that
need an answer the emulators cannot be made to give (they answer every
request correctly): the throttling and server errors AWS gives under load
(bench/soak.py) and S3's AccessDenied (tests/integration/ingest_e2e.sh).
Before each request it reads CONTROL (re-read when its mtime changes), one
line "MODE [PROBABILITY | KEY]":

  ok           forward everything (also when CONTROL is missing or unreadable)
  throttle P   with probability P answer as AWS does when throttling:
               SQS (JSON protocol) 400 ThrottlingException, S3 503 SlowDown
  5xx P        with probability P answer 500 InternalError (S3) /
               InternalFailure (SQS)
  down P       with probability P close the connection without an answer
               (a dead endpoint, as a client sees a reset)
  deny KEY     every S3 GET of the object KEY gets 403 AccessDenied, as when
               the credentials lack s3:GetObject

Each injected fault is one line in LOG ("<time> <mode> <method> <service>
<path>"), so the driver counts what it injected. Listens on 127.0.0.1 only; one
thread per client connection, each with its own keep-alive connection
upstream.
"""
import http.client
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, UPSTREAM, CONTROL, LOG = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]

_mode = ("ok", 0.0, None)  # mode, probability (or KEY for deny), CONTROL's mtime when read
_lock = threading.Lock()


def mode():
    global _mode
    try:
        mtime = os.stat(CONTROL).st_mtime_ns
    except OSError:
        return "ok", 0.0
    with _lock:
        if _mode[2] != mtime:
            try:
                words = open(CONTROL).read().split()
                arg = words[1] if words[0] == "deny" else float(words[1]) if len(words) > 1 else 1.0
                _mode = (words[0], arg, mtime)
            except (OSError, IndexError, ValueError):
                _mode = ("ok", 0.0, mtime)
        return _mode[0], _mode[1]


def error_body(service, kind):
    if kind == "deny":
        return (403, "application/xml", b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                b'<Message>Access Denied</Message><RequestId>0000</RequestId></Error>')
    if service == "sqs":
        code = {"throttle": "com.amazonaws.sqs#ThrottlingException", "5xx": "InternalFailure"}[kind]
        text = {"throttle": "Rate exceeded", "5xx": "We encountered an internal error. Please try again."}[kind]
        return (400 if kind == "throttle" else 500, "application/x-amz-json-1.0",
                ('{"__type":"%s","message":"%s"}' % (code, text)).encode())
    code = {"throttle": "SlowDown", "5xx": "InternalError"}[kind]
    text = {"throttle": "Please reduce your request rate.",
            "5xx": "We encountered an internal error. Please try again."}[kind]
    return (503 if kind == "throttle" else 500, "application/xml",
            ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
             '<RequestId>soak</RequestId></Error>' % (code, text)).encode())


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None

    def log_message(self, *args):
        pass

    def fault(self, kind, service):
        with _lock, open(LOG, "a") as log:
            log.write(f"{time.time():.3f} {kind} {self.command} {service} {self.path}\n")

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        service = "sqs" if self.headers.get("X-Amz-Target", "").startswith("AmazonSQS") else "s3"
        kind, p = mode()
        if kind == "deny":
            denied = self.command == "GET" and service == "s3" and self.path.rstrip("/").endswith("/" + p)
        else:
            denied = kind != "ok" and random.random() < p
        if denied:
            self.fault(kind, service)
            if kind == "down":
                self.close_connection = True
                return
            if kind in ("throttle", "5xx", "deny"):
                status, ctype, data = error_body(service, kind)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        for attempt in (1, 2):
            try:
                if self.upstream is None:
                    self.upstream = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=120)
                self.upstream.request(self.command, self.path, body=body, headers=headers)
                resp = self.upstream.getresponse()
                data = resp.read()
                break
            except (http.client.HTTPException, OSError):
                if self.upstream is not None:
                    self.upstream.close()
                self.upstream = None
                if attempt == 2:  # the emulator is gone: the client sees a dead endpoint
                    self.close_connection = True
                    return
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


Server(("127.0.0.1", PORT), Proxy).serve_forever()
