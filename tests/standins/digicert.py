#!/usr/bin/env python3
"""A local stand-in of DigiCert CertCentral Services API v2, for certfs' tests.

Follows DigiCert's public CertCentral Services API v2 documentation
(dev.digicert.com, "CertCentral Services API": Order certificate, Order
info, Update order status, Download certificate by format, Errors, Rate
limits), as condensed in the project's NOTES-ca-apis.md. What it serves,
under /services/v2:

  POST /order/certificate/{name_id}            -> 201 {"id", "requests"[, "certificate_id", "certificate_chain"]}
  GET  /order/certificate/{order_id}           -> 200 order info ("status", "certificate", "product", "requests", ...)
  PUT  /order/certificate/{order_id}/status    -> 204 ({"status": "canceled"|"CANCELED", "note": ...})
  GET  /certificate/{certificate_id}/download/format/{pem_all|pem_noroot|pem_nointermediate}
  GET  /certificate/download/order/{order_id}/format/{pem_all|pem_noroot|pem_nointermediate}
       -> 200 application/x-pem-file, leaf, intermediate, root in that order

Every call needs `X-DC-DEVKEY`; errors are {"errors": [{"code", "message"}]}
with Content-Type application/json: 401 for a missing or wrong key (the
documentation does not show that error; code chosen here), 404
`not_found|route`, `not_found|product`, `not_found|order`, 400
`bad_request_format`, `csr_invalid_cannot_parse`, 429
`request_limit_exceeded` (when --rate-burst is given). Codes that the
documentation does not list (an unknown organization, a missing field, a
bad signature hash, too long a validity, cancelling a finished order) are
marked "(stand-in)" below.

Orders move pending -> issued after --polls order-info calls (0: issued in
the 201 answer); they are signed by the stand-in's own root and
intermediate CA, kept in --dir (root.pem is what chains verify against), so
that a restart on the same --dir keeps the same CA and the orders
(state.json).

Stand-in extension (not DigiCert's API), for tests to script the CA per
host name (the order's common_name):

  POST /_standin/hosts/<host>  {"mode": "issue"|"hold"|"refuse"|"error",
                                "polls": N, "delay": SECONDS, "message": "...", "code": "..."}
      The rule applies to the host's orders from then on (a held order is
      released by scripting "issue"); "polls" counts the order's status
      calls since it was placed; "delay" makes the order and status calls
      for the host answer that much later (a slow CA).
      issue:  pending, issued at the N-th order-info call (0: at once)
      hold:   pending until cancelled
      refuse: pending, then "rejected" at the N-th order-info call, with
              `message` as the request's processor_comment
      error:  the order itself is refused: 400 {"errors":[{code, message}]}
  GET  /_standin/held          {"calls": N}: calls being held by a "delay" now
  GET  /_standin/orders        every order: id, common_name, status, product, days, polls, cancel_note
  GET  /_standin/health        200 "ok"

Run: digicert.py --dir DIR [--port 0] [--api-key KEY] [--org-id 7890]
[--polls 1] [--rate-burst N --rate-window SECONDS]. It listens on 127.0.0.1,
prints "listening on PORT" and writes PORT to DIR/port.
"""

import argparse
import datetime
import hashlib
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PREFIX = "/services/v2"

# name_id -> (name, validation_type)
PRODUCTS = {
    "ssl_basic": ("Basic OV", "ov"),
    "ssl_securesite_flex": ("Secure Site OV", "ov"),
    "ssl_securesite_pro": ("Secure Site Pro SSL", "ov"),
    "ssl_ev_basic": ("Basic EV", "ev"),
    "ssl_ev_securesite_flex": ("Secure Site EV", "ev"),
    "ssl_ev_securesite_pro": ("Secure Site Pro EV SSL", "ev"),
    "ssl_plus": ("Standard SSL", "ov"),
    "ssl_multi_domain": ("Multi-Domain SSL", "ov"),
    "ssl_wildcard": ("WildCard SSL", "ov"),
    "ssl_ev_plus": ("EV SSL Plus", "ev"),
    "ssl_ev_multi_domain": ("EV Multi-Domain SSL", "ev"),
}

# The longest public TLS validity in days from each date on (DigiCert's steps).
VALIDITY_CAPS = [("2029-02-24", 46), ("2027-02-24", 99), ("2026-02-24", 199)]

CANCELLABLE = ("needs_approval", "pending", "waiting_pickup", "reissue_pending")


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def validity_cap(today):
    for start, days in VALIDITY_CAPS:
        if today.isoformat() >= start:
            return days
    return 397


HELD = {"calls": 0}
HELD_LOCK = threading.Lock()


def delay(rule):
    """Answers slowly for a host whose rule asks for it (a slow CA); the
    calls being held are counted (GET /_standin/held)."""
    seconds = float(rule.get("delay", 0) or 0)
    if seconds > 0:
        with HELD_LOCK:
            HELD["calls"] += 1
        try:
            time.sleep(min(seconds, 60.0))
        finally:
            with HELD_LOCK:
                HELD["calls"] -= 1


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class CA:
    """The stand-in's root and intermediate, made once per directory."""

    def __init__(self, directory):
        self.dir = directory
        paths = [os.path.join(directory, n) for n in ("root.pem", "root.key", "intermediate.pem", "intermediate.key")]
        if not all(os.path.exists(p) for p in paths):
            self._make(*paths)
        with open(paths[0], "rb") as f:
            self.root = x509.load_pem_x509_certificate(f.read())
        with open(paths[2], "rb") as f:
            self.inter = x509.load_pem_x509_certificate(f.read())
        with open(paths[3], "rb") as f:
            self.inter_key = serialization.load_pem_private_key(f.read(), None)

    @staticmethod
    def _ca_cert(subject, issuer, public_key, signing_key, issuer_key_public, days, path_len):
        start = now() - datetime.timedelta(minutes=5)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key_public), critical=False)
            .sign(signing_key, hashes.SHA256())
        )

    def _make(self, root_pem, root_key_path, inter_pem, inter_key_path):
        root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        inter_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        root_name = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certfs test"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Stand-in DigiCert Test Root CA"),
        ])
        inter_name = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certfs test"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Stand-in DigiCert Test TLS RSA SHA256 CA1"),
        ])
        root = self._ca_cert(root_name, root_name, root_key.public_key(), root_key, root_key.public_key(), 3650, 1)
        inter = self._ca_cert(inter_name, root_name, inter_key.public_key(), root_key, root_key.public_key(), 1825, 0)
        pem_key = lambda k: k.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        for path, data in (
            (root_key_path, pem_key(root_key)),
            (inter_key_path, pem_key(inter_key)),
            (root_pem, root.public_bytes(serialization.Encoding.PEM)),
            (inter_pem, inter.public_bytes(serialization.Encoding.PEM)),
        ):
            tmp = path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)

    def sign(self, csr, common_name, dns_names, days, product):
        start = now() - datetime.timedelta(minutes=5)
        rsa_key = isinstance(csr.public_key(), rsa.RSAPublicKey)
        names = [common_name] + [d for d in dns_names if d != common_name]
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        if PRODUCTS[product][1] in ("ov", "ev"):
            attrs = [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Stand-in Organization"),
            ] + attrs
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(self.inter.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, rsa_key, False, False, False, False, False, False), critical=True
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.inter_key.public_key()), critical=False
            )
        )
        cert = builder.sign(self.inter_key, hashes.SHA256())
        return cert

    def chain_pems(self, leaf_pem):
        return [
            leaf_pem,
            self.inter.public_bytes(serialization.Encoding.PEM).decode(),
            self.root.public_bytes(serialization.Encoding.PEM).decode(),
        ]


class State:
    """Orders, certificates and host rules, kept in DIR/state.json."""

    def __init__(self, directory, default_polls):
        self.path = os.path.join(directory, "state.json")
        self.lock = threading.Lock()
        self.default_polls = default_polls
        self.data = {"next_order": 12340001, "next_cert": 7770001, "next_request": 550001,
                     "orders": {}, "certificates": {}, "hosts": {}}
        if os.path.exists(self.path):
            with open(self.path) as f:
                self.data.update(json.load(f))

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f)
        os.replace(tmp, self.path)

    def rule(self, host):
        return self.data["hosts"].get(host.lower(), {"mode": "issue", "polls": self.default_polls})


class Limiter:
    """DigiCert's rolling request limit, scaled down for tests: `burst` calls per `window` seconds."""

    def __init__(self, burst, window):
        self.burst, self.window = burst, window
        self.calls = []
        self.lock = threading.Lock()

    def allow(self):
        if not self.burst:
            return True
        with self.lock:
            t = time.monotonic()
            self.calls = [c for c in self.calls if t - c < self.window]
            if len(self.calls) >= self.burst:
                return False
            self.calls.append(t)
            return True


class Handler(BaseHTTPRequestHandler):
    server_version = "digicert-standin/1"
    # Set on the class by main().
    ca = None
    state = None
    limiter = None
    api_key = None
    org_id = None

    def log_message(self, fmt, *args):
        sys.stderr.write("digicert stand-in: " + (fmt % args) + "\n")

    # --- plumbing -----------------------------------------------------

    def _send(self, status, body=None, content_type="application/json"):
        data = b""
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if status != 204:
            self.wfile.write(data)

    def _error(self, e):
        self._send(e.status, {"errors": [{"code": e.code, "message": e.message}]})

    def _json_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            raise ApiError(400, "bad_request_format", "The request body is not valid JSON.")
        if not isinstance(body, dict):
            raise ApiError(400, "bad_request_format", "The request body must be a JSON object.")
        return body

    def _dispatch(self, method):
        path = self.path.split("?", 1)[0]
        try:
            if path.startswith("/_standin/"):
                return self._control(method, path)
            if not path.startswith(PREFIX + "/"):
                raise ApiError(404, "not_found|route", "Route not found.")
            if not self.limiter.allow():
                raise ApiError(429, "request_limit_exceeded", "Service unavailable, please limit request volume")
            if self.headers.get("X-DC-DEVKEY", "") != self.api_key:
                # (stand-in) the documentation does not show the bad-key error.
                raise ApiError(401, "access_denied|invalid_api_key",
                               "The API key is missing or invalid (X-DC-DEVKEY).")
            route = path[len(PREFIX):]
            for pattern, want, handler in ROUTES:
                m = re.fullmatch(pattern, route)
                if m and method == want:
                    return handler(self, *m.groups())
            raise ApiError(404, "not_found|route", "Route not found.")
        except ApiError as e:
            self._error(e)

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    # --- the stand-in extension ---------------------------------------

    def _control(self, method, path):
        if path == "/_standin/health" and method == "GET":
            return self._send(200, b"ok", "text/plain")
        if path == "/_standin/held" and method == "GET":
            with HELD_LOCK:
                return self._send(200, {"calls": HELD["calls"]})
        if path == "/_standin/orders" and method == "GET":
            with self.state.lock:
                orders = [
                    {"id": int(i), "common_name": o["common_name"], "status": o["status"],
                     "product": o["product"], "days": o["days"], "polls": o["polls"],
                     "cancel_note": o.get("cancel_note")}
                    for i, o in sorted(self.state.data["orders"].items())
                ]
            return self._send(200, {"orders": orders})
        m = re.fullmatch(r"/_standin/hosts/([A-Za-z0-9.*-]+)", path)
        if m and method == "POST":
            body = self._json_body()
            mode = body.get("mode", "issue")
            if mode not in ("issue", "hold", "refuse", "error"):
                raise ApiError(400, "bad_request_format", "mode must be issue, hold, refuse or error")
            rule = {"mode": mode, "polls": int(body.get("polls", self.state.default_polls)),
                    "delay": float(body.get("delay", 0))}
            for key in ("message", "code"):
                if key in body:
                    rule[key] = str(body[key])
            with self.state.lock:
                self.state.data["hosts"][m.group(1).lower()] = rule
                self.state.save()
            return self._send(200, rule)
        raise ApiError(404, "not_found|route", "Route not found.")

    # --- DigiCert's API -----------------------------------------------

    def order_certificate(self, name_id):
        if name_id not in PRODUCTS:
            raise ApiError(404, "not_found|product", "Product not found.")
        body = self._json_body()
        cert = body.get("certificate")
        if not isinstance(cert, dict):
            raise ApiError(400, "missing_field|certificate", "certificate is required. (stand-in)")
        org = body.get("organization")
        if not isinstance(org, dict) or "id" not in org:
            raise ApiError(400, "missing_field|organization.id", "organization.id is required. (stand-in)")
        if not isinstance(org["id"], int) or str(org["id"]) != self.org_id:
            raise ApiError(404, "not_found|organization",
                           "Organization %s not found in this account. (stand-in)" % str(org["id"])[:40])
        common_name = cert.get("common_name")
        if not isinstance(common_name, str) or not common_name:
            raise ApiError(400, "missing_field|certificate.common_name",
                           "certificate.common_name is required. (stand-in)")
        if cert.get("signature_hash") not in ("sha256", "sha384", "sha512"):
            raise ApiError(400, "invalid_signature_hash",
                           "signature_hash must be sha256, sha384 or sha512. (stand-in)")
        dns_names = cert.get("dns_names") or []
        if not isinstance(dns_names, list) or not all(isinstance(d, str) for d in dns_names):
            raise ApiError(400, "bad_request_format", "dns_names must be a list of names.")
        platform = cert.get("server_platform")
        if platform is not None and not (isinstance(platform, dict) and isinstance(platform.get("id"), int)):
            raise ApiError(400, "bad_request_format", "server_platform must be {\"id\": N}.")
        try:
            csr = x509.load_pem_x509_csr(str(cert.get("csr", "")).encode())
            if not csr.is_signature_valid:
                raise ValueError("signature")
        except Exception:
            raise ApiError(400, "csr_invalid_cannot_parse", "Unable to parse the CSR.")
        days = self._validity_days(body)

        rule = self.state.rule(common_name)
        delay(rule)
        if rule["mode"] == "error":
            raise ApiError(400, rule.get("code", "caa_check_failed|" + common_name),
                           rule.get("message", "CAA records for %s do not allow DigiCert to issue." % common_name))
        with self.state.lock:
            d = self.state.data
            order_id, request_id = d["next_order"], d["next_request"]
            d["next_order"] += 1
            d["next_request"] += 1
            order = {
                "status": "pending", "polls": 0, "product": name_id,
                "common_name": common_name, "dns_names": dns_names, "days": days,
                "csr": cert["csr"], "signature_hash": cert["signature_hash"],
                "comments": str(body.get("comments", ""))[:1000],
                "request": {"id": request_id, "date": now().strftime("%Y-%m-%d %H:%M:%S"),
                            "type": "new_request", "status": "pending"},
                "date_created": now().strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            }
            d["orders"][str(order_id)] = order
            answer = {"id": order_id, "requests": [{"id": request_id, "status": "pending"}]}
            if rule["mode"] == "issue" and rule["polls"] <= 0:
                self._issue(order_id, order)
                answer["requests"][0]["status"] = "approved"
                answer["certificate_id"] = order["certificate_id"]
                answer["certificate_chain"] = [
                    {"subject_common_name": cn, "pem": p}
                    for cn, p in zip(
                        [common_name, self.ca.inter.subject.rfc4514_string(), self.ca.root.subject.rfc4514_string()],
                        self.ca.chain_pems(d["certificates"][str(order["certificate_id"])]["pem"]),
                    )
                ]
            self.state.save()
        self._send(201, answer)

    def _validity_days(self, body):
        given = [k for k in ("validity_years", "order_validity", "custom_expiration_date") if k in body]
        if len(given) != 1:
            raise ApiError(400, "bad_request_format",
                           "Give exactly one of validity_years, order_validity, custom_expiration_date.")
        today = now().date()
        try:
            if given[0] == "validity_years":
                days = int(body["validity_years"]) * 365
            elif given[0] == "order_validity":
                v = body["order_validity"]
                if "days" in v:
                    days = int(v["days"])
                elif "years" in v:
                    days = int(v["years"]) * 365
                else:
                    raise ValueError
            else:
                end = datetime.date.fromisoformat(str(body["custom_expiration_date"]))
                days = (end - today).days
        except (TypeError, ValueError, AttributeError):
            raise ApiError(400, "bad_request_format", "The validity is not valid.")
        if days < 1:
            raise ApiError(400, "invalid_validity", "The validity must be in the future. (stand-in)")
        if days > validity_cap(today):
            raise ApiError(400, "invalid_validity",
                           "The validity exceeds the maximum of %d days. (stand-in)" % validity_cap(today))
        return days

    def _issue(self, order_id, order):
        """Signs the order's CSR (the state lock is held)."""
        d = self.state.data
        csr = x509.load_pem_x509_csr(order["csr"].encode())
        cert = self.ca.sign(csr, order["common_name"], order["dns_names"], order["days"], order["product"])
        cert_id = d["next_cert"]
        d["next_cert"] += 1
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        d["certificates"][str(cert_id)] = {"order_id": order_id, "pem": pem}
        order.update({
            "status": "issued", "certificate_id": cert_id,
            "serial_number": "%X" % cert.serial_number,
            "thumbprint": hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper(),
            "valid_from": cert.not_valid_before_utc.date().isoformat(),
            "valid_till": cert.not_valid_after_utc.date().isoformat(),
            "date_issued": now().strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        })
        order["request"]["status"] = "approved"

    def _order(self, order_id):
        order = self.state.data["orders"].get(order_id)
        if order is None:
            raise ApiError(404, "not_found|order", "Order not found.")
        return order

    def order_info(self, order_id):
        with self.state.lock:
            host = self.state.data["orders"].get(order_id, {}).get("common_name", "")
        delay(self.state.rule(host))
        with self.state.lock:
            order = self._order(order_id)
            order["polls"] += 1
            rule = self.state.rule(order["common_name"])
            if order["status"] == "pending" and order["polls"] >= rule["polls"]:
                if rule["mode"] == "issue":
                    self._issue(int(order_id), order)
                elif rule["mode"] == "refuse":
                    order["status"] = "rejected"
                    order["request"]["status"] = "rejected"
                    order["request"]["processor_comment"] = rule.get(
                        "message", "Organization validation failed: the organization could not be verified.")
            self.state.save()
            view = self._order_view(int(order_id), order)
        self._send(200, view)

    def _order_view(self, order_id, order):
        name, validation = PRODUCTS[order["product"]]
        certificate = {
            "common_name": order["common_name"],
            "dns_names": [order["common_name"]] + [n for n in order["dns_names"] if n != order["common_name"]],
            "csr": order["csr"], "signature_hash": order["signature_hash"],
            "server_platform": {"id": -1, "name": "OTHER"},
            "organization": {"id": int(self.org_id)},
            "ca_cert": {"id": "STANDIN1", "name": self.ca.inter.subject.rfc4514_string()},
        }
        if "certificate_id" in order:
            certificate.update({
                "id": order["certificate_id"], "serial_number": order["serial_number"],
                "thumbprint": order["thumbprint"], "date_issued": order["date_issued"],
                "valid_from": order["valid_from"], "valid_till": order["valid_till"],
            })
        request = dict(order["request"])
        request["comments"] = order["comments"]
        return {
            "id": order_id, "status": order["status"], "date_created": order["date_created"],
            "certificate": certificate, "is_renewal": False, "payment_method": "balance",
            "organization": {"id": int(self.org_id), "name": "Stand-in Organization"},
            "product": {"name_id": order["product"], "name": name, "type": "ssl_certificate",
                        "validation_type": validation},
            "requests": [request],
        }

    def update_status(self, order_id):
        body = self._json_body()
        status = body.get("status")
        if not isinstance(body.get("note"), str) or not body["note"].strip():
            raise ApiError(400, "missing_field|note", "note is required. (stand-in)")
        if status not in ("canceled", "CANCELED", "renewed", "not_renewed"):
            raise ApiError(400, "bad_request_format", "status must be canceled, renewed or not_renewed.")
        with self.state.lock:
            order = self._order(order_id)
            if status.lower() == "canceled":
                if order["status"] not in CANCELLABLE:
                    raise ApiError(400, "invalid_order_status|" + order["status"],
                                   "An order that is %s cannot be canceled. (stand-in)" % order["status"])
                order["status"] = "canceled"
                order["cancel_note"] = body["note"][:1000]
            self.state.save()
        self._send(204)

    def download(self, cert_id, fmt):
        with self.state.lock:
            cert = self.state.data["certificates"].get(cert_id)
        if cert is None:
            raise ApiError(404, "not_found|certificate", "Certificate not found.")
        self._send_pem(cert["pem"], fmt)

    def download_by_order(self, order_id, fmt):
        with self.state.lock:
            order = self._order(order_id)
            cert = self.state.data["certificates"].get(str(order.get("certificate_id")))
        if cert is None:
            raise ApiError(404, "not_found|certificate", "The order has no issued certificate.")
        self._send_pem(cert["pem"], fmt)

    def _send_pem(self, leaf_pem, fmt):
        leaf, inter, root = self.ca.chain_pems(leaf_pem)
        parts = {"pem_all": [leaf, inter, root], "pem_noroot": [leaf, inter],
                 "pem_nointermediate": [leaf, root]}.get(fmt)
        if parts is None:
            raise ApiError(404, "not_found|format", "Unknown format. (stand-in: only PEM formats)")
        self._send(200, "".join(parts).encode(), "application/x-pem-file")


ROUTES = [
    (r"/order/certificate/([a-z_]+)", "POST", Handler.order_certificate),
    (r"/order/certificate/(\d+)", "GET", Handler.order_info),
    (r"/order/certificate/(\d+)/status", "PUT", Handler.update_status),
    (r"/certificate/(\d+)/download/format/([a-z_]+)", "GET", Handler.download),
    (r"/certificate/download/order/(\d+)/format/([a-z_]+)", "GET", Handler.download_by_order),
]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", required=True, help="CA files, state.json and the port file")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--api-key", default="standin-api-key")
    p.add_argument("--org-id", default="7890")
    p.add_argument("--polls", type=int, default=1, help="order-info calls before an order is issued")
    p.add_argument("--rate-burst", type=int, default=0, help="calls allowed per window (0: no limit)")
    p.add_argument("--rate-window", type=float, default=5.0)
    args = p.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    Handler.ca = CA(args.dir)
    Handler.state = State(args.dir, args.polls)
    Handler.limiter = Limiter(args.rate_burst, args.rate_window)
    Handler.api_key = args.api_key
    Handler.org_id = args.org_id
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    tmp = os.path.join(args.dir, "port.tmp")
    with open(tmp, "w") as f:
        f.write(str(port))
    os.replace(tmp, os.path.join(args.dir, "port"))
    print("listening on %d" % port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
