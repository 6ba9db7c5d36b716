#!/usr/bin/env python3
"""A faithful local stand-in of GlobalSign's GCC SOAP ordering API, for certfs tests.

Follows GlobalSign's public GCC API documentation ("GCC API" user guides:
ManagedSSL service v2, GAS query service v1, ServerSSL service v1) as
condensed in certfs' shared NOTES-ca-apis.md ("GlobalSign GCC SOAP"):

* SOAP 1.1, document/literal, soapAction "", target namespaces
  https://system.globalsign.com/kb/ws/v1/ and .../v2/, child elements
  unqualified, `<ns:Op><Request>...</Request></ns:Op>` answered by
  `<ns:OpResponse><Response>...</Response></ns:OpResponse>`.
* Paths: /kb/ws/v2/ManagedSSLService (PVOrder, GetMSSLDomains,
  ModifyMSSLOrder), /kb/ws/v1/GASService (GetOrderByOrderID),
  /kb/ws/v1/ServerSSLService (ModifyOrder); `?wsdl` on each serves a minimal
  WSDL written for this stand-in (not GlobalSign's file).
* API errors ride in HTTP 200: SuccessCode -1 with Errors/Error{ErrorCode,
  ErrorField, ErrorMessage} in OrderResponseHeader / QueryResponseHeader:
  -4001 login failure, -102 mandatory parameter missing (ErrorField set),
  -101 invalid parameter, -4007 invalid CSR, -9401 unknown MSSLProfileID,
  -9440 unknown MSSLDomainID, -9916 order not found, -9915 already
  cancelled, -9938 status already changed. Unreadable XML gets a SOAP Fault
  with HTTP 500, as a SOAP 1.1 server does.
* Order and certificate status codes: 1 initial, 2 waiting phishing check,
  3 cancelled (not issued), 4 issued, 5 cancelled (issued), 6 waiting
  revocation, 7 revoked, 8 pending approval, 9 locked, 10 denied. Order ids
  in GCC style (CEAP + date + number).
* GetOrderByOrderID honours ReturnCertificateInfo, ReturnFulfillment and
  ReturnCACerts; the fulfillment holds X509Cert (PEM), PKCS7Cert and
  CACertificates (CACertType INTER, ROOT).

Certificates are signed by this stand-in's own test root and intermediate,
kept (with the orders, so a restart forgets nothing) in the directory given
with --dir. Listens on 127.0.0.1 (--port, 0 = any) and writes the port to
--port-file once it answers.

Stand-in extension, not GlobalSign's API, for tests to script behaviour:
  POST /_standin/hosts/<host>  {"mode": "issue"|"hold"|"refuse"|"deny"|"fault",
                                "polls": N, "code": "...", "message": "...",
                                "delay_ms": N}
      issue: issued after N GetOrderByOrderID calls (0: at once in PVOrder);
      hold: pending approval (8) until cancelled; refuse: PVOrder answers
      with error `code`/`message`; deny: denied (10) after N polls;
      fault: PVOrder answers a SOAP Fault (faultcode `code`, default
      soap:Server, faultstring `message`) with HTTP 500, as GlobalSign
      does for a request it will not process;
      delay_ms: PVOrder for that host answers that much later. Open orders
      follow the rule as it is at each poll (hold, then issue, releases one).
  GET /_standin/calls          every SOAP call seen, as JSON
  GET /_standin/orders/<id>    one order, as JSON
  GET /_standin/health         "ok"
"""

import argparse
import datetime
import json
import os
import threading
import time
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NS_V1 = "https://system.globalsign.com/kb/ws/v1/"
NS_V2 = "https://system.globalsign.com/kb/ws/v2/"

SERVICES = {
    "/kb/ws/v2/ManagedSSLService": (NS_V2, ["PVOrder", "GetMSSLDomains", "ModifyMSSLOrder"]),
    "/kb/ws/v1/GASService": (NS_V1, ["GetOrderByOrderID"]),
    "/kb/ws/v1/ServerSSLService": (NS_V1, ["ModifyOrder"]),
}

MESSAGES = {
    "-101": "Invalid parameter entered.",
    "-102": "Mandatory parameter missing.",
    "-4001": "Login failure invalid user ID or password.",
    "-4007": "Invalid CSR.",
    "-9401": "No profile was found using the supplied MSSLProfileID. Please make sure that the supplied MSSLProfileID is correct.",
    "-9440": "No domain was found using the supplied MSSLDomainID. Please make sure that the supplied MSSLDomainID is correct.",
    "-9450": "This order cannot be placed for the requested domain.",
    "-9915": "Certificate was already canceled.",
    "-9916": "Cannot find the certificate that is associated with the order id you have supplied.",
    "-9938": "The status of the certificate has already been changed.",
}

PRODUCTS = {"PV_SHA2", "PEV_SHA2", "PV_INTRA_SHA2"}
PENDING = {"1", "2", "8", "9"}


class ApiError(Exception):
    """A GCC error answered in the response header (HTTP 200)."""

    def __init__(self, code, field=None, message=None):
        super().__init__(code)
        self.code = code
        self.field = field
        self.message = message or MESSAGES.get(code, "Error.")


class Fault(Exception):
    """A SOAP Fault (HTTP 500), with its faultcode."""

    def __init__(self, message, code="soap:Client"):
        super().__init__(message)
        self.code = code


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def valid_after(cert):
    """notAfter as an aware datetime (cryptography < 42 has no *_utc)."""
    t = getattr(cert, "not_valid_after_utc", None)
    return t if t is not None else cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def valid_before(cert):
    t = getattr(cert, "not_valid_before_utc", None)
    return t if t is not None else cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)


def stamp(t=None):
    return (t or now()).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")


# --- the test CA -------------------------------------------------------------


class TestCA:
    """Root + intermediate, created once in `directory` and reused after."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        if not os.path.exists(self._p("intermediate.pem")):
            self._create()
        self.root = self._cert("root.pem")
        self.inter = self._cert("intermediate.pem")
        with open(self._p("intermediate.key"), "rb") as f:
            self.inter_key = serialization.load_pem_private_key(f.read(), None)

    def _p(self, name):
        return os.path.join(self.dir, name)

    def _cert(self, name):
        with open(self._p(name), "rb") as f:
            return x509.load_pem_x509_certificate(f.read())

    def _create(self):
        start = now() - datetime.timedelta(days=1)
        root_key = ec.generate_private_key(ec.SECP256R1())
        root_name = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certfs stand-in GlobalSign nv-sa"),
            x509.NameAttribute(NameOID.COMMON_NAME, "certfs stand-in GlobalSign Root R-TEST"),
        ])
        root = (
            x509.CertificateBuilder()
            .subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256())
        )
        inter_key = ec.generate_private_key(ec.SECP256R1())
        inter_name = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certfs stand-in GlobalSign nv-sa"),
            x509.NameAttribute(NameOID.COMMON_NAME, "certfs stand-in GlobalSign GCC R-TEST OV TLS CA"),
        ])
        inter = (
            x509.CertificateBuilder()
            .subject_name(inter_name).issuer_name(root_name)
            .public_key(inter_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=3000))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(inter_key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        files = {
            "root.pem": root.public_bytes(pem),
            "intermediate.pem": inter.public_bytes(pem),
            "intermediate.key": inter_key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        }
        for name in ["root.pem", "intermediate.key", "intermediate.pem"]:
            tmp = self._p(name + ".tmp")
            with open(tmp, "wb") as f:
                f.write(files[name])
            os.replace(tmp, self._p(name))

    def issue(self, csr, names, months, organization):
        start = now() - datetime.timedelta(minutes=5)
        end = min(start + datetime.timedelta(days=min(31 * months, 397)), valid_after(self.inter))
        cn = names[0]
        subject = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, organization["country"]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization["name"]),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ])
        key = csr.public_key()
        usage = x509.KeyUsage(True, isinstance(key, rsa.RSAPublicKey), False, False, False, False, False, False, False)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(self.inter.subject)
            .public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.inter_key.public_key()), critical=False)
            .sign(self.inter_key, hashes.SHA256())
        )
        return cert


# --- state ---------------------------------------------------------------------


class State:
    """Orders, host rules and the call log, saved to state.json on each change."""

    def __init__(self, directory, default_polls):
        self.path = os.path.join(directory, "state.json")
        self.lock = threading.Lock()
        self.default_polls = default_polls
        self.data = {"counter": 0, "orders": {}, "hosts": {}, "calls": []}
        if os.path.exists(self.path):
            with open(self.path) as f:
                self.data = json.load(f)

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f)
        os.replace(tmp, self.path)

    def rule(self, host):
        rule = dict(self.data["hosts"].get(host.lower(), {}))
        rule.setdefault("mode", "issue")
        rule.setdefault("polls", self.default_polls)
        return rule


# --- SOAP helpers ----------------------------------------------------------------


def child(element, path):
    """The element down an unqualified path, or None."""
    if element is None:
        return None
    return element.find(path)


def text(element, path):
    found = child(element, path)
    if found is None or found.text is None or not found.text.strip():
        return None
    return found.text.strip()


def required(element, path, field=None):
    value = text(element, path)
    if value is None:
        raise ApiError("-102", field or path.replace("/", "."))
    return value


def xml_value(tag, value):
    return "<%s>%s</%s>" % (tag, escape(str(value)), tag)


def node(tag, *children):
    return "<%s>%s</%s>" % (tag, "".join(children), tag)


def header(name, error=None):
    if error is None:
        return node(name, xml_value("SuccessCode", 0), xml_value("Timestamp", stamp()))
    parts = [xml_value("ErrorCode", error.code)]
    if error.field:
        parts.append(xml_value("ErrorField", error.field))
    parts.append(xml_value("ErrorMessage", error.message))
    return node(name, xml_value("SuccessCode", -1), node("Errors", node("Error", *parts)),
                xml_value("Timestamp", stamp()))


def envelope(namespace, operation, inner):
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soap:Envelope xmlns:soap="%s"><soap:Body>'
        '<ns2:%sResponse xmlns:ns2="%s"><Response>%s</Response></ns2:%sResponse>'
        "</soap:Body></soap:Envelope>" % (SOAP_ENV, operation, namespace, inner, operation)
    )


def fault(message, code="soap:Client"):
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soap:Envelope xmlns:soap="%s"><soap:Body><soap:Fault>'
        "<faultcode>%s</faultcode><faultstring>%s</faultstring>"
        "</soap:Fault></soap:Body></soap:Envelope>" % (SOAP_ENV, code, escape(message))
    )


def wsdl(path, namespace, operations):
    name = path.rsplit("/", 1)[1]
    types, messages, port_ops, binding_ops = [], [], [], []
    for op in operations:
        for suffix, part in (("", "Request"), ("Response", "Response")):
            types.append(
                '<xs:element name="%s%s"><xs:complexType><xs:sequence>'
                '<xs:element minOccurs="0" name="%s"><xs:complexType><xs:sequence>'
                '<xs:any processContents="lax" minOccurs="0" maxOccurs="unbounded"/>'
                "</xs:sequence></xs:complexType></xs:element>"
                "</xs:sequence></xs:complexType></xs:element>" % (op, suffix, part))
            messages.append('<wsdl:message name="%s%s"><wsdl:part name="parameters" element="tns:%s%s"/></wsdl:message>'
                            % (op, suffix, op, suffix))
        port_ops.append('<wsdl:operation name="%s"><wsdl:input message="tns:%s"/><wsdl:output message="tns:%sResponse"/></wsdl:operation>'
                        % (op, op, op))
        binding_ops.append(
            '<wsdl:operation name="%s"><soap:operation soapAction="" style="document"/>'
            '<wsdl:input><soap:body use="literal"/></wsdl:input><wsdl:output><soap:body use="literal"/></wsdl:output>'
            "</wsdl:operation>" % op)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<!-- Minimal WSDL of the certfs GlobalSign stand-in (not GlobalSign\'s file). -->'
        '<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="{ns}" name="{name}" targetNamespace="{ns}">'
        '<wsdl:types><xs:schema elementFormDefault="unqualified" targetNamespace="{ns}">{types}</xs:schema></wsdl:types>'
        "{messages}"
        '<wsdl:portType name="{name}">{port}</wsdl:portType>'
        '<wsdl:binding name="{name}SoapBinding" type="tns:{name}"><soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>{binding}</wsdl:binding>'
        '<wsdl:service name="{name}"><wsdl:port name="{name}Port" binding="tns:{name}SoapBinding">'
        '<soap:address location="http://127.0.0.1{path}"/></wsdl:port></wsdl:service>'
        "</wsdl:definitions>"
    ).format(ns=namespace, name=name, types="".join(types), messages="".join(messages),
             port="".join(port_ops), binding="".join(binding_ops), path=path)


# --- the service ------------------------------------------------------------------


class GlobalSign:
    def __init__(self, args):
        self.user = args.user
        self.password = args.password
        self.ca = TestCA(args.dir)
        self.state = State(args.dir, args.polls)
        self.organization = {"name": "certfs Test Organization", "country": "GB"}
        self.profiles = {"MP_CERTFS_0001": {"ev": True}, "MP_OTHER_0002": {"ev": False}}
        self.domains = [
            {"id": "DSMS2000000%04d" % (i + 1), "profile": "MP_CERTFS_0001", "name": name, "status": "3"}
            for i, name in enumerate(args.domain)
        ] + [{"id": "DSMS20000000099", "profile": "MP_OTHER_0002", "name": "other.test", "status": "3"}]

    # Every operation: (request element) -> inner response XML.

    def authenticate(self, request, header_name):
        token = child(request, header_name + "/AuthToken")
        if text(token, "UserName") != self.user or (child(token, "Password") is None) or \
                (child(token, "Password").text or "") != self.password:
            raise ApiError("-4001")

    def get_mssl_domains(self, request):
        self.authenticate(request, "QueryRequestHeader")
        profile = text(request, "MSSLProfileID")
        name = text(request, "MSSLDomainName")
        rows = []
        for d in self.domains:
            if profile and d["profile"] != profile or name and d["name"] != name:
                continue
            rows.append(node("SearchMsslDomainDetail", xml_value("MSSLDomainID", d["id"]),
                             xml_value("MSSLProfileID", d["profile"]), xml_value("MSSLDomainName", d["name"]),
                             xml_value("MSSLDomainStatus", d["status"])))
        return header("QueryResponseHeader") + node("SearchMsslDomainDetails", *rows)

    def pv_order(self, request):
        self.authenticate(request, "OrderRequestHeader")
        p = child(request, "OrderRequestParameter")
        if p is None:
            raise ApiError("-102", "OrderRequestParameter")
        product = required(p, "ProductCode", "OrderRequestParameter.ProductCode")
        kind = required(p, "OrderKind", "OrderRequestParameter.OrderKind")
        required(p, "Licenses", "OrderRequestParameter.Licenses")
        months = required(p, "ValidityPeriod/Months", "OrderRequestParameter.ValidityPeriod.Months")
        csr_text = required(p, "CSR", "OrderRequestParameter.CSR")
        profile = required(request, "MSSLProfileID")
        domain_id = required(request, "MSSLDomainID")
        contact = {}
        for field in ("FirstName", "LastName", "Phone", "Email"):
            contact[field] = required(request, "ContactInfo/" + field, "ContactInfo." + field)
        if product not in PRODUCTS:
            raise ApiError("-101", "OrderRequestParameter.ProductCode")
        if kind.lower() not in ("new", "renewal"):
            raise ApiError("-101", "OrderRequestParameter.OrderKind")
        if not months.isdigit() or not 1 <= int(months) <= 13:
            raise ApiError("-101", "OrderRequestParameter.ValidityPeriod.Months")
        if "@" not in contact["Email"]:
            raise ApiError("-101", "ContactInfo.Email")
        if profile not in self.profiles:
            raise ApiError("-9401", "MSSLProfileID")
        domain = next((d for d in self.domains if d["id"] == domain_id and d["profile"] == profile), None)
        if domain is None:
            raise ApiError("-9440", "MSSLDomainID")
        if product == "PEV_SHA2" and not self.profiles[profile]["ev"]:
            raise ApiError("-9450", "ProductCode", "This MSSL profile cannot order EV certificates.")
        try:
            csr = x509.load_pem_x509_csr(csr_text.encode())
            if not csr.is_signature_valid:
                raise ValueError("bad signature")
            cns = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            cn = str(cns[0].value).lower() if cns else None
        except Exception:
            raise ApiError("-4007", "OrderRequestParameter.CSR")
        if not cn:
            raise ApiError("-4007", "OrderRequestParameter.CSR", "Invalid CSR: the CSR has no common name.")
        names = [cn]
        sans = child(request, "SANEntries")
        for entry in (sans.findall("SANEntry") if sans is not None else []):
            kind_code = text(entry, "SANOptionType")
            name = (text(entry, "SubjectAltName") or "").lower()
            if kind_code not in ("7", "13") or not name or (kind_code == "13") != name.startswith("*."):
                raise ApiError("-101", "SANEntries.SANEntry")
            if name not in names:
                names.append(name)
        for name in names:
            bare = name[2:] if name.startswith("*.") else name
            if bare != domain["name"] and not bare.endswith("." + domain["name"]):
                raise ApiError("-101", "OrderRequestParameter.CSR",
                               "Invalid parameter entered: %s is not in MSSL domain %s." % (name, domain["name"]))
        with self.state.lock:
            rule = self.state.rule(cn)
        if rule.get("delay_ms"):
            time.sleep(rule["delay_ms"] / 1000.0)
        if rule["mode"] == "fault":
            raise Fault(rule.get("message", "The order for %s cannot be processed." % cn),
                        rule.get("code", "soap:Server"))
        if rule["mode"] == "refuse":
            raise ApiError(rule.get("code", "-9450"), rule.get("field"),
                           rule.get("message", "This order cannot be placed for %s." % cn))
        with self.state.lock:
            self.state.data["counter"] += 1
            order_id = "CEAP%s%06d" % (now().strftime("%Y%m%d"), self.state.data["counter"])
            order = {
                "id": order_id, "product": product, "cn": cn, "names": names, "months": int(months),
                "csr": csr_text, "contact": contact, "status": "1", "polls_seen": 0,
                "date": stamp(),
                "complete_date": None, "canceled_date": None, "cert": None,
            }
            if rule["mode"] == "issue" and int(rule["polls"]) <= 0:
                self._issue(order)
            self.state.data["orders"][order_id] = order
            self.state.save()
            detail = node("PVOrderDetail", self._certificate_info(order),
                          self._fulfillment(order, True, True) if order["cert"] else "")
        return header("OrderResponseHeader") + xml_value("OrderID", order_id) + detail

    def _issue(self, order):
        csr = x509.load_pem_x509_csr(order["csr"].encode())
        cert = self.ca.issue(csr, order["names"], order["months"], self.organization)
        order["cert"] = cert.public_bytes(serialization.Encoding.PEM).decode()
        order["status"] = "4"
        order["complete_date"] = stamp()

    def _advance(self, order):
        """One GetOrderByOrderID moves a pending order on, as its host's rule
        says now (a test may change the rule while an order is open)."""
        if order["status"] == "6":
            order["status"] = "7"
            return
        if order["status"] not in PENDING:
            return
        order["polls_seen"] += 1
        rule = self.state.rule(order["cn"])
        mode, polls = rule["mode"], int(rule["polls"])
        if mode == "hold":
            order["status"] = "8"
        elif order["polls_seen"] >= polls:
            if mode == "deny":
                order["status"] = "10"
            else:
                self._issue(order)
        else:
            order["status"] = ["2", "8"][min(order["polls_seen"], 2) - 1]

    def _certificate_info(self, order):
        parts = [xml_value("CertificateStatus", order["status"])]
        if order["cert"]:
            cert = x509.load_pem_x509_certificate(order["cert"].encode())
            parts += [xml_value("StartDate", stamp(valid_before(cert))),
                      xml_value("EndDate", stamp(valid_after(cert))),
                      xml_value("CommonName", order["cn"]),
                      xml_value("SerialNumber", format(cert.serial_number, "X")),
                      xml_value("SubjectName", cert.subject.rfc4514_string()),
                      xml_value("DNSNames", ",".join(order["names"]))]
        return node("CertificateInfo", *parts)

    def _fulfillment(self, order, with_ca, with_server):
        if not order["cert"]:
            return ""
        parts = []
        pem = serialization.Encoding.PEM
        if with_ca:
            parts.append(node("CACertificates",
                              node("CACertificate", xml_value("CACertType", "INTER"),
                                   xml_value("CACert", self.ca.inter.public_bytes(pem).decode())),
                              node("CACertificate", xml_value("CACertType", "ROOT"),
                                   xml_value("CACert", self.ca.root.public_bytes(pem).decode()))))
        if with_server:
            leaf = x509.load_pem_x509_certificate(order["cert"].encode())
            p7 = pkcs7.serialize_certificates([leaf, self.ca.inter, self.ca.root], pem).decode()
            parts.append(node("ServerCertificate", xml_value("X509Cert", order["cert"]), xml_value("PKCS7Cert", p7)))
        return node("Fulfillment", *parts)

    def get_order_by_order_id(self, request):
        self.authenticate(request, "QueryRequestHeader")
        order_id = required(request, "OrderID")
        option = child(request, "OrderQueryOption")
        flag = lambda name: (text(option, name) or "false").lower() == "true"  # noqa: E731
        with self.state.lock:
            order = self.state.data["orders"].get(order_id)
            if order is None:
                raise ApiError("-9916", "OrderID")
            self._advance(order)
            self.state.save()
            info = node("OrderInfo", xml_value("OrderId", order_id), xml_value("ProductCode", order["product"]),
                        xml_value("OrderKind", "new"), xml_value("Licenses", 1),
                        xml_value("DomainName", order["cn"]), xml_value("OrderDate", order["date"]),
                        xml_value("OrderCompleteDate", order["complete_date"]) if order["complete_date"] else "",
                        xml_value("OrderCanceledDate", order["canceled_date"]) if order["canceled_date"] else "",
                        xml_value("OrderStatus", order["status"]), xml_value("Price", "0.00"),
                        xml_value("Currency", "USD"), node("ValidityPeriod", xml_value("Months", order["months"])))
            detail = [info, node("OrderSubInfo")]
            if flag("ReturnCertificateInfo"):
                detail.append(self._certificate_info(order))
            if flag("ReturnFulfillment"):
                detail.append(self._fulfillment(order, flag("ReturnCACerts"), True))
        return header("OrderResponseHeader") + xml_value("OrderID", order_id) + node("OrderDetail", *detail)

    def modify_order(self, request):
        self.authenticate(request, "OrderRequestHeader")
        order_id = required(request, "OrderID")
        operation = required(request, "ModifyOrderOperation").upper()
        with self.state.lock:
            order = self.state.data["orders"].get(order_id)
            if order is None:
                raise ApiError("-9916", "OrderID")
            status = order["status"]
            if operation == "CANCEL":
                if status in ("3", "5"):
                    raise ApiError("-9915", "OrderID")
                if status in PENDING:
                    order["status"] = "3"
                elif status == "4":
                    order["status"] = "5"
                else:
                    raise ApiError("-9938", "OrderID")
                order["canceled_date"] = stamp()
            elif operation == "REVOKE":
                if status != "4":
                    raise ApiError("-9938", "OrderID")
                order["status"] = "6"
            else:
                raise ApiError("-101", "ModifyOrderOperation")
            self.state.save()
        return header("OrderResponseHeader")

    def handle(self, operation, request):
        method = {
            "PVOrder": self.pv_order,
            "GetMSSLDomains": self.get_mssl_domains,
            "ModifyMSSLOrder": self.modify_order,
            "ModifyOrder": self.modify_order,
            "GetOrderByOrderID": self.get_order_by_order_id,
        }[operation]
        header_name = "QueryResponseHeader" if operation == "GetMSSLDomains" else "OrderResponseHeader"
        try:
            return method(request)
        except ApiError as e:
            return header(header_name, e)


# --- HTTP ---------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    service = None  # set in main

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, content_type="text/xml; charset=UTF-8"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path in SERVICES and query.lower() == "wsdl":
            ns, ops = SERVICES[path]
            return self.reply(200, wsdl(path, ns, ops))
        if path == "/_standin/health":
            return self.reply(200, "ok", "text/plain")
        if path == "/_standin/calls":
            with self.service.state.lock:
                return self.reply(200, json.dumps(self.service.state.data["calls"]), "application/json")
        if path.startswith("/_standin/orders/"):
            with self.service.state.lock:
                order = self.service.state.data["orders"].get(path.rsplit("/", 1)[1])
            if order is None:
                return self.reply(404, "{}", "application/json")
            return self.reply(200, json.dumps(order), "application/json")
        self.reply(404, "Not Found", "text/plain")

    def do_POST(self):
        path = self.path.partition("?")[0]
        body = self.body()
        if path.startswith("/_standin/hosts/"):
            host = path.rsplit("/", 1)[1].lower()
            rule = json.loads(body or b"{}")
            if rule.get("mode") not in ("issue", "hold", "refuse", "deny", "fault"):
                return self.reply(400, '{"error":"mode must be issue, hold, refuse, deny or fault"}', "application/json")
            with self.service.state.lock:
                self.service.state.data["hosts"][host] = rule
                self.service.state.save()
            return self.reply(200, '{"ok":true}', "application/json")
        if path not in SERVICES:
            return self.reply(404, "Not Found", "text/plain")
        content_type = self.headers.get("Content-Type", "")
        if not content_type.lower().startswith("text/xml"):
            return self.reply(415, "Unsupported Media Type: SOAP 1.1 wants text/xml", "text/plain")
        namespace, operations = SERVICES[path]
        try:
            try:
                root = ET.fromstring(body)
            except ET.ParseError as e:
                raise Fault("Unmarshalling Error: %s" % e)
            if root.tag != "{%s}Envelope" % SOAP_ENV:
                raise Fault("Message is not a SOAP 1.1 Envelope")
            soap_body = root.find("{%s}Body" % SOAP_ENV)
            if soap_body is None or len(soap_body) != 1:
                raise Fault("The SOAP Body must hold exactly one operation")
            wrapper = soap_body[0]
            operation = next((op for op in operations if wrapper.tag == "{%s}%s" % (namespace, op)), None)
            if operation is None:
                raise Fault("Unexpected wrapper element %s found. Expected one of %s in {%s}."
                            % (wrapper.tag, ", ".join(operations), namespace))
            request = wrapper.find("Request")
            if request is None:
                raise Fault("Unmarshalling Error: %s needs an unqualified Request element" % operation)
            record = {
                "path": path, "operation": operation, "soapaction": self.headers.get("SOAPAction"),
                "content_type": content_type,
                "order_id": text(request, "OrderID"),
                "modify_operation": text(request, "ModifyOrderOperation"),
            }
            with self.service.state.lock:
                self.service.state.data["calls"].append(record)
                self.service.state.save()
            inner = self.service.handle(operation, request)
        except Fault as f:
            return self.reply(500, fault(str(f), f.code))
        self.reply(200, envelope(namespace, operation, inner))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, help="CA files and state")
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default="PAR12345_certfs")
    parser.add_argument("--password", default="s3cret<&>pass")
    parser.add_argument("--polls", type=int, default=2, help="GetOrderByOrderID calls before issue")
    parser.add_argument("--domain", action="append", default=None, help="MSSL domain (repeatable)")
    args = parser.parse_args()
    args.domain = args.domain or ["certfs.test"]
    Handler.service = GlobalSign(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
