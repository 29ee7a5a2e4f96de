#!/usr/bin/env python3
"""aws_fault_proxy.py PORT UPSTREAM_PORT KEY LOG - a stand-in for one fault.

Forwards every request to the emulator on 127.0.0.1:UPSTREAM_PORT, except an
S3 GET of an object whose key is KEY, which gets the 403 AccessDenied answer
AWS gives when the credentials lack s3:GetObject (the emulators accept every
request and cannot be made to refuse). Logs one line per request to LOG.
Listens on 127.0.0.1 only.
"""
import http.client
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, UPSTREAM, KEY, LOG = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
DENIED = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
          b'<Message>Access Denied</Message><RequestId>0000</RequestId></Error>')


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        with open(LOG, "a") as log:
            log.write(f"{time.time():.3f} {self.command} {self.path}\n")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.command == "GET" and self.path.rstrip("/").endswith("/" + KEY):
            self.send_response(403)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(DENIED)))
            self.end_headers()
            self.wfile.write(DENIED)
            return
        conn = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


ThreadingHTTPServer(("127.0.0.1", PORT), Proxy).serve_forever()
