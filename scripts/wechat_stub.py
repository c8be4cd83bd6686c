"""A minimal stand-in for WeChat's server APIs, for the fuzzing and soak runs (the Rust
suite has the full stand-in with every documented error code). Answers as the documented
contract does — HTTP 200, errors as {"errcode", "errmsg"}:
  GET  /sns/jscode2session          any code logs in as openid `fuzz-<code>`
  POST /cgi-bin/stable_token        a token valid for 7200 s
  POST /wxa/msg_sec_check           every text passes (suggest "pass")
  POST /cgi-bin/message/subscribe/send   accepted
Usage: python3 scripts/wechat_stub.py PORT"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

INVALID = {"errcode": 40029, "errmsg": "invalid code"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        code = (parse_qs(url.query).get("js_code") or [""])[0]
        if url.path != "/sns/jscode2session" or not code:
            return self.answer(INVALID)
        self.answer({"openid": "fuzz-" + code, "session_key": "fuzz-session-key"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        path = urlparse(self.path).path
        if path == "/cgi-bin/stable_token":
            return self.answer({"access_token": "stub-access-token", "expires_in": 7200})
        if path == "/wxa/msg_sec_check":
            return self.answer({"errcode": 0, "errmsg": "ok",
                                "result": {"suggest": "pass", "label": 100}})
        if path == "/cgi-bin/message/subscribe/send":
            return self.answer({"errcode": 0, "errmsg": "ok"})
        self.answer({"errcode": 40001, "errmsg": "invalid credential"})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
