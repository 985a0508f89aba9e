#!/usr/bin/python3
"""HTTPS, mutual TLS and the bearer token on the REST port, end to end: the real fovea-server with the bundled model,
called with Python's own TLS client (ssl, http.client) and raw sockets, with certificates made by `openssl` for each
run (a CA, a server certificate for 127.0.0.1, a client certificate, and one from an unrelated CA), as
security_test.cc does for the gRPC port. Also: a kept-alive connection serves many requests, a body the server does
not read ends its connection instead of being parsed as a next request, and impossible flag combinations stop the
server at start-up naming the flag.

Usage: rest_security_test.py --server-bin BIN --models DIR [unittest args]
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import warnings
import zlib

ARGS = None
OPENSSL = "/usr/bin/openssl"
TOKEN = "s3cret-token_for.rest"
MODEL = "fashion-mnist"
IMAGE_SIDE = 28
STARTUP_SECONDS = 60
TIMEOUT_SECONDS = 30
KEEP_ALIVE_REQUESTS = 20
SEND_GAP_SECONDS = 0.3
# Every route that needs the token: (method, path, body).
PROTECTED_ROUTES = [
    ("GET", "/", None),
    ("GET", "/v2", None),
    ("GET", f"/v2/models/{MODEL}", None),
    ("GET", f"/v2/models/{MODEL}/ready", None),
    ("GET", f"/v2/models/{MODEL}/config", None),
    ("GET", "/v2/models/stats", None),
    ("POST", "/v2/repository/index", b"{}"),
    ("POST", f"/v2/models/{MODEL}/infer", b"{}"),
    ("POST", f"/v2/models/{MODEL}/localize", b"x"),
    # Paths that start like the open health routes are not open.
    ("POST", f"/v2/health/../models/{MODEL}/infer", b"{}"),
    ("GET", "/v2/health/live/", None),
    ("GET", "/v2/health/readyx", None),
]
HEALTH_ROUTES = ["/v2/health/live", "/v2/health/ready"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gray_png(side):
    """A side x side 8-bit grayscale PNG of a diagonal gradient, encoded here so the test needs no image library."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + bytes((x + y) * 255 // (2 * side) for x in range(side)) for y in range(side))
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class Certificates:
    """A CA, a server certificate for 127.0.0.1 and localhost, a client certificate from the CA, and a client
    certificate from an unrelated CA, in a temporary folder."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fovea-rest-tls-")
        self.make_ca("ca")
        self.make_signed("server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
        self.make_signed("client", "ca", "extendedKeyUsage=clientAuth\n")
        self.make_ca("stranger-ca")
        self.make_signed("stranger", "stranger-ca", "extendedKeyUsage=clientAuth\n")
        with open(self.file("token"), "w") as f:
            f.write(TOKEN + "\n")

    def file(self, name):
        return os.path.join(self.dir, name)

    def openssl(self, *args):
        result = subprocess.run([OPENSSL, *args], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"openssl {args[0]}: {result.stderr}")

    def make_ca(self, name):
        self.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", self.file(name + ".key"), "-out", self.file(name + ".pem"), "-days", "2",
                     "-subj", "/CN=" + name)

    def make_signed(self, name, ca, extensions):
        with open(self.file(name + ".ext"), "w") as f:
            f.write(extensions)
        self.openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                     self.file(name + ".key"), "-out", self.file(name + ".csr"), "-subj", "/CN=" + name)
        self.openssl("x509", "-req", "-in", self.file(name + ".csr"), "-CA", self.file(ca + ".pem"), "-CAkey",
                     self.file(ca + ".key"), "-CAcreateserial", "-out", self.file(name + ".pem"), "-days", "2",
                     "-extfile", self.file(name + ".ext"))

    def client_context(self, client=None):
        """A TLS client context trusting our CA (verifying the server's name), presenting `client`'s certificate."""
        context = ssl.create_default_context(cafile=self.file("ca.pem"))
        if client is not None:
            context.load_cert_chain(self.file(client + ".pem"), self.file(client + ".key"))
        return context

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def server_command(http_port, *flags):
    return [ARGS.server_bin, "--address", f"127.0.0.1:{free_port()}", "--model-repository", ARGS.models,
            "--metrics-port", "0", "--http-port", str(http_port), "--threads", "2", *flags]


class Server:
    """The real fovea-server with the REST port on a free loopback port and the given TLS and token flags."""

    def __init__(self, certificates, flags, client=None):
        self.port = free_port()
        self.context = certificates.client_context(client)
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(server_command(self.port, *flags), stdout=subprocess.DEVNULL,
                                        stderr=self.log)
        deadline = time.time() + STARTUP_SECONDS
        while time.time() < deadline:
            try:
                if self.request("GET", "/v2/health/ready")[0] == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("fovea-server did not become ready:\n" + self.log_text())

    def connect(self, context=None):
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=TIMEOUT_SECONDS,
                                           context=context or self.context)

    def request(self, method, path, body=None, headers=None, context=None):
        """(status, headers, body) of one call on a new connection."""
        connection = self.connect(context)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def log_text(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def read_until_closed(connection):
    answer = b""
    while True:
        try:
            chunk = connection.recv(65536)
        except (ConnectionError, ssl.SSLError):
            break
        if not chunk:
            break
        answer += chunk
    return answer


class MutualTlsWithTokenTest(unittest.TestCase):
    """--tls-cert, --tls-key, --tls-client-ca and --auth-token-file together."""

    @classmethod
    def setUpClass(cls):
        cls.certificates = Certificates()
        files = cls.certificates.file
        cls.server = Server(cls.certificates, ["--tls-cert", files("server.pem"), "--tls-key", files("server.key"),
                                               "--tls-client-ca", files("ca.pem"), "--auth-token-file",
                                               files("token")], client="client")
        cls.authorized = {"Authorization": "Bearer " + TOKEN}

    @classmethod
    def tearDownClass(cls):
        exit_code = cls.server.stop()
        cls.certificates.remove()
        assert exit_code == 0, cls.server.log_text()

    def test_https_inference_with_client_certificate_and_token(self):
        status, headers, body = self.server.request(
            "POST", f"/v2/models/{MODEL}/infer?classification=3", gray_png(IMAGE_SIDE),
            {**self.authorized, "Content-Type": "image/png"})
        self.assertEqual(status, 200, body)
        answer = json.loads(body)
        self.assertEqual(answer["model_name"], MODEL)
        self.assertEqual(len(answer["outputs"][0]["data"]), 3)

    def test_health_is_open_without_a_token(self):
        for path in HEALTH_ROUTES:
            status, _, body = self.server.request("GET", path)
            self.assertEqual(status, 200, (path, body))

    def test_every_other_route_needs_the_token(self):
        for method, path, body in PROTECTED_ROUTES:
            status, headers, answer = self.server.request(method, path, body)
            self.assertEqual(status, 401, (method, path, answer))
            self.assertEqual(headers["WWW-Authenticate"], 'Bearer realm="fovea"')
            self.assertEqual(headers["Content-Type"], "application/json")
            message = json.loads(answer)["error"]
            self.assertIn("missing bearer token", message)
            self.assertIn("Authorization: Bearer <token>", message)
            self.assertIn("--auth-token-file", message)

    def test_wrong_token_or_scheme_is_401(self):
        for value in ["Bearer not-the-token", "Bearer " + TOKEN + "x", "Basic " + TOKEN, TOKEN, "Bearer "]:
            status, headers, answer = self.server.request("GET", "/v2", headers={"Authorization": value})
            self.assertEqual(status, 401, value)
            self.assertIn('error="invalid_token"', headers["WWW-Authenticate"])
            self.assertIn("invalid bearer token", json.loads(answer)["error"])
        status, _, answer = self.server.request("GET", "/v2", headers=self.authorized)
        self.assertEqual(status, 200, answer)
        self.assertEqual(json.loads(answer)["name"], "fovea")

    def test_client_without_certificate_is_refused(self):
        for context in [self.certificates.client_context(), self.certificates.client_context("stranger")]:
            # Under TLS 1.3 the client's side of the handshake completes first; the server's refusal arrives on the
            # first read, so no HTTP answer ever comes.
            with self.assertRaises((ssl.SSLError, ConnectionError)):
                self.server.request("GET", "/v2/health/ready", context=context)

    def test_plain_http_to_the_tls_port_gets_no_http_answer(self):
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=TIMEOUT_SECONDS)
            connection.request("GET", "/v2/health/ready")
            connection.getresponse().read()
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=TIMEOUT_SECONDS) as connection:
            connection.sendall(b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = read_until_closed(connection)
        self.assertNotIn(b"HTTP/1.1", answer)

    def test_kept_alive_connection_serves_many_requests(self):
        connection = self.server.connect()
        try:
            for index in range(KEEP_ALIVE_REQUESTS):
                method, path, body = ("GET", "/v2/health/ready", None) if index % 2 else (
                    "POST", f"/v2/models/{MODEL}/infer", gray_png(IMAGE_SIDE))
                connection.request(method, path, body=body, headers={**self.authorized, "Content-Type": "image/png"})
                if index == 0:
                    first_socket = connection.sock
                response = connection.getresponse()
                self.assertEqual(response.status, 200, response.read())
                response.read()
                self.assertNotEqual(response.headers.get("Connection"), "close")
                self.assertIs(connection.sock, first_socket, f"the connection was reopened at request {index}")
        finally:
            connection.close()

    def smuggle(self, head):
        """Sends `head` whose body is a complete second request over TLS; the whole answer until the server closes."""
        second = b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
        context = self.certificates.client_context("client")
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=TIMEOUT_SECONDS) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as connection:
                # Apart, in their own TLS records: the server must not have read the second part with the first.
                connection.sendall(head.replace(b"LENGTH", str(len(second)).encode()))
                time.sleep(SEND_GAP_SECONDS)
                connection.sendall(second)
                return read_until_closed(connection)

    def test_an_unread_body_ends_the_connection_instead_of_becoming_a_request(self):
        # Refused for want of a token: its body is read and thrown away, never parsed (the connection stays open
        # until it idles out).
        answer = self.smuggle(b"POST /v2/models/" + MODEL.encode() + b"/infer HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Type: image/png\r\nContent-Length: LENGTH\r\n\r\n")
        self.assertTrue(answer.startswith(b"HTTP/1.1 401"), answer[:200])
        self.assertEqual(answer.count(b"HTTP/1.1 "), 1, answer)
        # A GET, whose route reads no body, sent with one.
        answer = self.smuggle(b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\nContent-Length: LENGTH\r\n\r\n")
        self.assertTrue(answer.startswith(b"HTTP/1.1 200"), answer[:200])
        self.assertIn(b"Connection: close", answer)
        self.assertEqual(answer.count(b"HTTP/1.1 "), 1, answer)


class TlsOnlyTest(unittest.TestCase):
    """--tls-cert and --tls-key alone: HTTPS for any client that trusts the CA, no token, no client certificate."""

    @classmethod
    def setUpClass(cls):
        cls.certificates = Certificates()
        files = cls.certificates.file
        cls.server = Server(cls.certificates, ["--tls-cert", files("server.pem"), "--tls-key", files("server.key")])

    @classmethod
    def tearDownClass(cls):
        exit_code = cls.server.stop()
        cls.certificates.remove()
        assert exit_code == 0, cls.server.log_text()

    def test_https_without_client_certificate_or_token(self):
        status, _, body = self.server.request("POST", f"/v2/models/{MODEL}/infer", gray_png(IMAGE_SIDE),
                                              {"Content-Type": "image/png"})
        self.assertEqual(status, 200, body)
        status, _, body = self.server.request("GET", f"/v2/models/{MODEL}")
        self.assertEqual(status, 200, body)

    def test_old_protocols_are_refused(self):
        # The client offers TLS 1.1 only, at security level 0 so that its own OpenSSL lets it: the server must refuse.
        context = self.certificates.client_context()
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1_1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            self.server.request("GET", "/v2/health/ready", context=context)


class StartupTest(unittest.TestCase):
    """Flag combinations that cannot work stop the server at start-up with exit 1, naming the flag."""

    @classmethod
    def setUpClass(cls):
        cls.certificates = Certificates()

    @classmethod
    def tearDownClass(cls):
        cls.certificates.remove()

    def assert_refused(self, flags, fragment):
        result = subprocess.run(server_command(free_port(), *flags), capture_output=True, text=True,
                                timeout=STARTUP_SECONDS)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn(fragment, result.stderr)

    def test_impossible_combinations(self):
        files = self.certificates.file
        self.assert_refused(["--auth-token-file", files("token")], "--auth-token-file needs --tls-cert")
        self.assert_refused(["--tls-client-ca", files("ca.pem")], "--tls-client-ca needs --tls-cert")
        self.assert_refused(["--tls-cert", files("server.pem")], "--tls-cert and --tls-key must be given together")
        self.assert_refused(["--tls-cert", files("server.pem"), "--tls-key", files("server.key"),
                             "--auth-token-file", files("absent")], "--auth-token-file")


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-bin", required=True)
    parser.add_argument("--models", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
