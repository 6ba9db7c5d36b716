//! GlobalSign GCC SOAP 1.1 on the wire: envelopes built with every value escaped, and answers read into a small element tree (quick-xml).
//!
//! GCC's services are document/literal with **unqualified** child
//! elements: only the operation element carries the service's namespace,
//! and the request sits in a `Request` wrapper (`<ns:PVOrder><Request>…`);
//! answers come back as `<ns:PVOrderResponse><Response>…`. API errors ride
//! in HTTP 200 in an `OrderResponseHeader` or `QueryResponseHeader`
//! (`SuccessCode` −1 with `Errors/Error{ErrorCode, ErrorField,
//! ErrorMessage}`); a SOAP `Fault` is only for input the server cannot
//! read.

use std::error::Error;
use std::fmt;

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use zeroize::Zeroizing;

use crate::issuers::CaError;

/// Target namespace of ServerSSL, GAS and Account services.
pub const NS_V1: &str = "https://system.globalsign.com/kb/ws/v1/";
/// Target namespace of the ManagedSSL (v2) service.
pub const NS_V2: &str = "https://system.globalsign.com/kb/ws/v2/";

/// Deepest nesting of an answer read (GCC answers nest about 8 deep).
const MAX_DEPTH: usize = 64;

/// One element of a request: a name and text, or a name and children.
/// Names are fixed by the code (never user input); texts are escaped.
#[derive(Clone)]
pub enum Node {
    /// `<name>text</name>` (the text may be a secret: zeroed on drop).
    Text(&'static str, Zeroizing<String>),
    /// `<name>children…</name>`.
    Parent(&'static str, Vec<Node>),
}

// A request holds the password: never show its texts.
impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Node::Text(name, _) => write!(f, "<{name}>…"),
            Node::Parent(name, children) => f.debug_tuple(name).field(children).finish(),
        }
    }
}

/// `<name>value</name>`.
pub fn text(name: &'static str, value: impl Into<String>) -> Node {
    Node::Text(name, Zeroizing::new(value.into()))
}

/// `<name>children…</name>`.
pub fn parent(name: &'static str, children: Vec<Node>) -> Node {
    Node::Parent(name, children)
}

impl Node {
    /// An upper bound of the written size (every character escaped at worst).
    fn size_bound(&self) -> usize {
        match self {
            Node::Text(name, value) => 2 * name.len() + 5 + 6 * value.len(),
            Node::Parent(name, children) => {
                2 * name.len() + 5 + children.iter().map(Node::size_bound).sum::<usize>()
            }
        }
    }

    fn write(&self, out: &mut String) {
        match self {
            Node::Text(name, value) => {
                open(out, name);
                escape_into(out, value);
                close(out, name);
            }
            Node::Parent(name, children) => {
                open(out, name);
                for child in children {
                    child.write(out);
                }
                close(out, name);
            }
        }
    }
}

fn open(out: &mut String, name: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
}

fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Appends `value` as XML character data: the five markup characters as
/// entities, and CR as a character reference (a parser would turn a raw CR
/// into LF). Written straight into `out`, so a password is copied only into
/// the (zeroizing) envelope.
pub fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// A SOAP 1.1 envelope calling `operation` of the service in `namespace`
/// with `request` as the children of its `Request` wrapper. The text may
/// hold the account's password: it lives in memory zeroed on drop,
/// allocated once at a size it cannot outgrow.
pub fn envelope(namespace: &str, operation: &'static str, request: Vec<Node>) -> Zeroizing<String> {
    const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:ns=\"";
    let wrapper = parent("Request", request);
    let bound = HEAD.len() + namespace.len() + 2 * operation.len() + wrapper.size_bound() + 160;
    let mut out = Zeroizing::new(String::with_capacity(bound));
    out.push_str(HEAD);
    escape_into(&mut out, namespace);
    out.push_str("\"><soapenv:Header/><soapenv:Body><ns:");
    out.push_str(operation);
    out.push('>');
    wrapper.write(&mut out);
    out.push_str("</ns:");
    out.push_str(operation);
    out.push_str("></soapenv:Body></soapenv:Envelope>");
    debug_assert!(out.len() <= bound, "envelope outgrew its buffer");
    out
}

/// An element of an answer: its local name (prefix dropped), its text
/// (entities resolved, trimmed) and its child elements in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name, without namespace prefix.
    pub name: String,
    /// Character data directly inside, trimmed.
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All children named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The element down `path` (first match at each step).
    pub fn at(&self, path: &[&str]) -> Option<&Element> {
        path.iter().try_fold(self, |e, name| e.child(name))
    }

    /// The non-empty text of the element down `path`.
    pub fn text_at(&self, path: &[&str]) -> Option<&str> {
        self.at(path)
            .map(|e| e.text.as_str())
            .filter(|t| !t.is_empty())
    }
}

/// Why a text is not an XML document [`parse`] reads.
#[derive(Debug)]
pub enum XmlError {
    /// quick-xml refused what ends at byte `at` (syntax, mismatched tags,
    /// a bad character reference, text that does not decode).
    Malformed { at: u64, source: quick_xml::Error },
    /// An entity other than XML's five and character references.
    UnknownEntity(String),
    /// A second element at the top level.
    MoreThanOneRoot,
    /// Elements nest deeper than [`MAX_DEPTH`].
    TooDeep,
    /// An end tag with no element open.
    EndWithoutStart,
    /// A `DOCTYPE` (refused: it could declare entities).
    DocType,
    /// Text that is not whitespace outside the root element.
    TextOutsideRoot,
    /// The document ends inside an element.
    Unclosed,
    /// No element at all.
    NoElement,
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XmlError::Malformed { at, source } => {
                write!(f, "not well-formed XML at byte {at}: {source}")
            }
            XmlError::UnknownEntity(name) => write!(f, "unknown entity &{name};"),
            XmlError::MoreThanOneRoot => f.write_str("more than one root element"),
            XmlError::TooDeep => write!(f, "elements nest deeper than {MAX_DEPTH}"),
            XmlError::EndWithoutStart => f.write_str("an end tag without a start"),
            XmlError::DocType => f.write_str("a DOCTYPE is not accepted"),
            XmlError::TextOutsideRoot => f.write_str("text outside the root element"),
            XmlError::Unclosed => f.write_str("the document ends inside an element"),
            XmlError::NoElement => f.write_str("no element in the document"),
        }
    }
}

impl Error for XmlError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            XmlError::Malformed { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Reads an XML document into its root [`Element`]. Namespaces are
/// ignored (GCC's children are unqualified anyway); DTDs, unknown
/// entities, mismatched tags and nesting past 64 levels are errors.
pub fn parse(xml: &str) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let malformed = |r: &Reader<&[u8]>, e: quick_xml::Error| XmlError::Malformed {
        at: r.buffer_position(),
        source: e,
    };
    loop {
        let event = reader.read_event().map_err(|e| malformed(&reader, e))?;
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() && stack.is_empty() => {
                return Err(XmlError::MoreThanOneRoot);
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                stack.push(Element {
                    name: local_name(start.local_name().as_ref()),
                    ..Default::default()
                });
            }
            Event::Empty(start) => {
                let element = Element {
                    name: local_name(start.local_name().as_ref()),
                    ..Default::default()
                };
                attach(&mut stack, &mut root, element);
            }
            Event::End(_) => {
                let mut element = stack.pop().ok_or(XmlError::EndWithoutStart)?;
                element.text = element.text.trim().to_owned();
                attach(&mut stack, &mut root, element);
            }
            Event::Text(t) => {
                let text = t
                    .xml10_content()
                    .map_err(|e| malformed(&reader, e.into()))?;
                push_text(&mut stack, &text)?;
            }
            Event::CData(t) => {
                let text = t
                    .xml10_content()
                    .map_err(|e| malformed(&reader, e.into()))?;
                push_text(&mut stack, &text)?;
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|e| malformed(&reader, e))? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| malformed(&reader, e.into()))?;
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| XmlError::UnknownEntity(name.into_owned()))?
                            .to_owned()
                    }
                };
                push_text(&mut stack, &resolved)?;
            }
            Event::DocType(_) => return Err(XmlError::DocType),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Unclosed);
    }
    root.ok_or(XmlError::NoElement)
}

fn local_name(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(current) => {
            current.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(XmlError::TextOutsideRoot),
    }
}

/// The `Response` element of `operation`'s answer
/// (`Envelope/Body/<operation>Response/Response`). A SOAP Fault is the
/// server refusing the request (`Rejected` with its faultcode and
/// faultstring); anything else that is not this shape is `Unavailable`
/// (a proxy's page, a truncated answer): worth another try later.
pub fn response_of(root: &Element, operation: &str) -> Result<Element, CaError> {
    let malformed = |why: &str| {
        CaError::Unavailable(format!(
            "GlobalSign's answer to {operation} is not the SOAP answer expected: {why}"
        ))
    };
    if root.name != "Envelope" {
        return Err(malformed("no SOAP Envelope"));
    }
    let body = root
        .child("Body")
        .ok_or_else(|| malformed("no SOAP Body"))?;
    if let Some(fault) = body.child("Fault") {
        let code = fault.text_at(&["faultcode"]).unwrap_or("Fault");
        let message = fault
            .text_at(&["faultstring"])
            .unwrap_or("GlobalSign answered with a SOAP Fault");
        return Err(CaError::Rejected {
            code: code.to_owned(),
            message: message.to_owned(),
        });
    }
    let wrapper = format!("{operation}Response");
    body.at(&[&wrapper, "Response"])
        .cloned()
        .ok_or_else(|| malformed(&format!("no {wrapper}/Response")))
}

/// Checks the answer's `OrderResponseHeader` or `QueryResponseHeader`:
/// `SuccessCode` 0 (success) or 1 (success with warnings) pass; −1 is
/// `Rejected` with GlobalSign's error codes and messages.
pub fn check_header(response: &Element) -> Result<(), CaError> {
    let header = response
        .child("OrderResponseHeader")
        .or_else(|| response.child("QueryResponseHeader"))
        .ok_or_else(|| CaError::Unavailable("GlobalSign's answer has no response header".into()))?;
    let code: i64 = header
        .text_at(&["SuccessCode"])
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            CaError::Unavailable("GlobalSign's response header has no SuccessCode".into())
        })?;
    if code >= 0 {
        return Ok(());
    }
    let errors: Vec<&Element> = header
        .child("Errors")
        .map(|e| e.all("Error").collect())
        .unwrap_or_default();
    let first_code = errors
        .iter()
        .find_map(|e| e.text_at(&["ErrorCode"]))
        .unwrap_or("-1")
        .to_owned();
    let messages: Vec<String> = errors
        .iter()
        .map(|e| {
            let code = e.text_at(&["ErrorCode"]).unwrap_or("?");
            let mut m = e
                .text_at(&["ErrorMessage"])
                .map(str::to_owned)
                .unwrap_or_else(|| format!("GlobalSign error {code}"));
            if let Some(field) = e.text_at(&["ErrorField"]) {
                m.push_str(&format!(" (field {field})"));
            }
            m
        })
        .collect();
    let message = if messages.is_empty() {
        format!("GlobalSign refused the request (SuccessCode {code}) without saying why")
    } else {
        messages.join("; ")
    };
    Err(CaError::Rejected {
        code: first_code,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_says_what_is_wrong() {
        let refused = |xml: &str| parse(xml).expect_err(xml);
        assert!(matches!(refused(""), XmlError::NoElement));
        assert!(matches!(refused("  "), XmlError::NoElement));
        assert!(matches!(refused("<a>"), XmlError::Unclosed));
        assert!(matches!(refused("<a/><b/>"), XmlError::MoreThanOneRoot));
        assert!(matches!(refused("text"), XmlError::TextOutsideRoot));
        assert!(matches!(refused("<!DOCTYPE a><a/>"), XmlError::DocType));
        match refused("<a>&bogus;</a>") {
            XmlError::UnknownEntity(name) => assert_eq!(name, "bogus"),
            other => panic!("{other:?}"),
        }
        let deep = format!("{}{}", "<a>".repeat(65), "</a>".repeat(65));
        let err = refused(&deep);
        assert!(matches!(err, XmlError::TooDeep), "{err:?}");
        assert_eq!(err.to_string(), "elements nest deeper than 64");
    }

    #[test]
    fn malformed_xml_keeps_quick_xmls_error_and_the_position() {
        for xml in ["<a></b>", "<a>&#0;</a>", "<a><b></a>"] {
            let err = parse(xml).expect_err(xml);
            let XmlError::Malformed { at, .. } = &err else {
                panic!("{xml}: {err:?}");
            };
            assert!(*at > 0 && *at <= xml.len() as u64, "{xml}: {at}");
            let source = err.source().expect("quick-xml's error");
            assert!(source.is::<quick_xml::Error>(), "{source:?}");
            assert_eq!(
                err.to_string(),
                format!("not well-formed XML at byte {at}: {source}")
            );
        }
    }

    #[test]
    fn refusals_of_our_own_have_no_source() {
        for xml in ["", "<a>", "<a/><b/>", "<a>&bogus;</a>"] {
            assert!(parse(xml).expect_err(xml).source().is_none(), "{xml}");
        }
    }
}
