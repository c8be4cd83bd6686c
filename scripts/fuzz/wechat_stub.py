"""A minimal stand-in for WeChat's jscode2session, for the fuzzing run only: any code
logs in as the openid it names (`fuzz-<anything>`), as the documented contract answers
({"openid", "session_key"}, HTTP 200, text/plain). The Rust suite has the full stand-in."""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        q = parse_qs(urlparse(self.path).query)
        code = (q.get("js_code") or [""])[0]
        if urlparse(self.path).path != "/sns/jscode2session" or not code:
            body = {"errcode": 40029, "errmsg": "invalid code"}
        else:
            body = {"openid": "fuzz-" + code, "session_key": "fuzz-session-key"}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
