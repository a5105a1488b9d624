//! Kyverno's `x509.decode` (CEL) and `x509_decode` (JMESPath): a PEM
//! certificate or certificate request with an RSA key, decoded into the
//! JSON that Go's `x509.Certificate` (or `CertificateRequest`) marshals to,
//! the public key as `{N, E}` with `N` in decimal.
//!
//! A small DER reader written here: the few structures X.509 needs are
//! fixed, and the crates that parse them would add a dependency tree for
//! one policy function.

use serde_json::{Map, Value as Json, json};

use base64::Engine as _;

/// One DER element: its tag, its contents, and the whole encoding.
#[derive(Clone, Copy)]
struct Der<'a> {
    tag: u8,
    body: &'a [u8],
    raw: &'a [u8],
}

/// Reads the elements of `input` one after the other.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(input: &'a [u8]) -> Reader<'a> {
        Reader { rest: input }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn next(&mut self) -> Result<Der<'a>, DerError> {
        let input = self.rest;
        let (&tag, after) = input.split_first().ok_or("truncated DER: no tag")?;
        if tag & 0x1f == 0x1f {
            return Err("DER tags above 30 are not used in certificates".into());
        }
        let (&first, mut after) = after.split_first().ok_or("truncated DER: no length")?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || after.len() < n {
                return Err("bad DER length".into());
            }
            let mut len = 0usize;
            for &b in &after[..n] {
                len = (len << 8) | usize::from(b);
            }
            after = &after[n..];
            len
        };
        if after.len() < len {
            return Err("truncated DER element".into());
        }
        let header = input.len() - after.len();
        let element = Der { tag, body: &after[..len], raw: &input[..header + len] };
        self.rest = &after[len..];
        Ok(element)
    }

    fn expect(&mut self, tag: u8, what: &'static str) -> Result<Der<'a>, DerError> {
        let e = self.next()?;
        if e.tag == tag { Ok(e) } else { Err(DerError::Expected { what, tag: e.tag }) }
    }

    /// The next element when it has `tag`.
    fn optional(&mut self, tag: u8) -> Result<Option<Der<'a>>, DerError> {
        if self.rest.first() == Some(&tag) { self.next().map(Some) } else { Ok(None) }
    }
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const BOOLEAN: u8 = 0x01;

fn b64(bytes: &[u8]) -> Json {
    Json::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn oid(body: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    let mut value = 0u64;
    for (i, &b) in body.iter().enumerate() {
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if out.is_empty() && i < body.len() {
                let first = value.min(80) / 40;
                out.push(first);
                out.push(value - first * 40);
            } else {
                out.push(value);
            }
            value = 0;
        }
    }
    out
}

fn oid_is(body: &[u8], want: &[u64]) -> bool {
    oid(body) == want
}

/// A DER INTEGER's magnitude as decimal digits (the modulus of an RSA key
/// has hundreds).
fn decimal(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = vec![0];
    for &byte in bytes {
        let mut carry = u32::from(byte);
        for d in &mut digits {
            let v = u32::from(*d) * 256 + carry;
            *d = (v % 10) as u8;
            carry = v / 10;
        }
        while carry > 0 {
            digits.push((carry % 10) as u8);
            carry /= 10;
        }
    }
    while digits.len() > 1 && digits.last() == Some(&0) {
        digits.pop();
    }
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

fn int64(bytes: &[u8]) -> i64 {
    // Go's `big.Int.Int64`: the low 64 bits.
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut v: u64 = if negative { u64::MAX } else { 0 };
    for &b in bytes {
        v = (v << 8) | u64::from(b);
    }
    v as i64
}

/// A `Name` as Go's `pkix.Name` marshals.
fn name(der: Der<'_>) -> Result<Json, DerError> {
    let mut fields: Map<String, Json> = Map::new();
    let mut names = Vec::new();
    let mut rdns = Reader::new(der.body);
    while !rdns.is_empty() {
        let set = rdns.expect(SET, "a relative distinguished name")?;
        let mut atvs = Reader::new(set.body);
        while !atvs.is_empty() {
            let atv = atvs.expect(SEQUENCE, "an attribute")?;
            let mut r = Reader::new(atv.body);
            let t = oid(r.expect(OID, "an attribute type")?.body);
            let v = r.next()?;
            let text = String::from_utf8_lossy(v.body).into_owned();
            names.push(json!({"Type": t, "Value": text}));
            let list = |k: &str, fields: &mut Map<String, Json>| {
                if let Some(Json::Array(a)) = fields.get_mut(k) {
                    a.push(Json::String(text.clone()));
                } else {
                    fields.insert(k.into(), json!([text.clone()]));
                }
            };
            match t.as_slice() {
                [2, 5, 4, 6] => list("Country", &mut fields),
                [2, 5, 4, 10] => list("Organization", &mut fields),
                [2, 5, 4, 11] => list("OrganizationalUnit", &mut fields),
                [2, 5, 4, 7] => list("Locality", &mut fields),
                [2, 5, 4, 8] => list("Province", &mut fields),
                [2, 5, 4, 9] => list("StreetAddress", &mut fields),
                [2, 5, 4, 17] => list("PostalCode", &mut fields),
                [2, 5, 4, 5] => {
                    fields.insert("SerialNumber".into(), Json::String(text.clone()));
                }
                [2, 5, 4, 3] => {
                    fields.insert("CommonName".into(), Json::String(text.clone()));
                }
                _ => {}
            }
        }
    }
    let mut out = Map::new();
    for k in ["Country", "Organization", "OrganizationalUnit", "Locality", "Province", "StreetAddress", "PostalCode"] {
        out.insert(k.into(), fields.remove(k).unwrap_or(Json::Null));
    }
    out.insert("SerialNumber".into(), fields.remove("SerialNumber").unwrap_or_else(|| Json::String(String::new())));
    out.insert("CommonName".into(), fields.remove("CommonName").unwrap_or_else(|| Json::String(String::new())));
    out.insert("Names".into(), if names.is_empty() { Json::Null } else { Json::Array(names) });
    out.insert("ExtraNames".into(), Json::Null);
    Ok(Json::Object(out))
}

/// `UTCTime` or `GeneralizedTime` as RFC 3339.
fn time(der: Der<'_>) -> Result<String, DerError> {
    let s = std::str::from_utf8(der.body).map_err(|_| "bad time")?;
    let s = s.strip_suffix('Z').ok_or("a certificate time must be in UTC")?;
    let full = match der.tag {
        0x17 if s.len() == 12 => {
            let yy: u32 = s[..2].parse().map_err(|_| "bad UTCTime")?;
            format!("{}{s}", if yy >= 50 { "19" } else { "20" })
        }
        0x18 if s.len() == 14 => s.to_string(),
        _ => return Err("bad certificate time".into()),
    };
    if !full.bytes().all(|b| b.is_ascii_digit()) {
        return Err("bad certificate time".into());
    }
    Ok(format!("{}-{}-{}T{}:{}:{}Z", &full[..4], &full[4..6], &full[6..8], &full[8..10], &full[10..12], &full[12..14]))
}

/// The RSA key of a `SubjectPublicKeyInfo`: `{N, E}`.
fn rsa_key(spki: Der<'_>) -> Result<Json, DerError> {
    let mut r = Reader::new(spki.body);
    let alg = r.expect(SEQUENCE, "the key algorithm")?;
    let alg_oid = Reader::new(alg.body).expect(OID, "the key algorithm")?;
    if !oid_is(alg_oid.body, &[1, 2, 840, 113_549, 1, 1, 1]) {
        return Err("certificate should use rsa algorithm".into());
    }
    let bits = r.expect(BIT_STRING, "the public key")?;
    let key = bits.body.get(1..).ok_or("empty public key")?;
    let mut k = Reader::new(Reader::new(key).expect(SEQUENCE, "an RSA public key")?.body);
    let n = k.expect(INTEGER, "the modulus")?;
    let e = k.expect(INTEGER, "the exponent")?;
    let n = n.body.iter().skip_while(|b| **b == 0).copied().collect::<Vec<u8>>();
    Ok(json!({"N": decimal(&n), "E": int64(e.body)}))
}

/// Go's `x509.ExtKeyUsage` numbering.
fn ext_key_usage(o: &[u64]) -> Option<u64> {
    Some(match o {
        [2, 5, 29, 37, 0] => 0,
        [1, 3, 6, 1, 5, 5, 7, 3, n @ 1..=9] => *n,
        [1, 3, 6, 1, 4, 1, 311, 10, 3, 3] => 10,
        [2, 16, 840, 1, 113_730, 4, 1] => 11,
        [1, 3, 6, 1, 4, 1, 311, 2, 1, 22] => 12,
        [1, 3, 6, 1, 4, 1, 311, 61, 1, 1] => 13,
        _ => return None,
    })
}

fn push(out: &mut Map<String, Json>, key: &str, value: Json) {
    match out.get_mut(key) {
        Some(Json::Array(a)) => a.push(value),
        _ => {
            out.insert(key.into(), Json::Array(vec![value]));
        }
    }
}

/// The URIs, names and addresses of a `GeneralNames`.
fn general_names(body: &[u8], out: &mut Map<String, Json>, uris: &str) -> Result<(), DerError> {
    let mut r = Reader::new(body);
    while !r.is_empty() {
        let g = r.next()?;
        let text = || Json::String(String::from_utf8_lossy(g.body).into_owned());
        match g.tag {
            0x81 => push(out, "EmailAddresses", text()),
            0x82 => push(out, "DNSNames", text()),
            0x86 => push(out, uris, text()),
            0x87 => {
                let ip = match g.body.len() {
                    4 => std::net::IpAddr::from(<[u8; 4]>::try_from(g.body).map_err(|_| "bad IP")?).to_string(),
                    16 => std::net::IpAddr::from(<[u8; 16]>::try_from(g.body).map_err(|_| "bad IP")?).to_string(),
                    _ => return Err("bad IP address in a subject alternative name".into()),
                };
                push(out, "IPAddresses", Json::String(ip));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The extensions, and what Go reads out of them, into `out`.
fn extensions(der: Der<'_>, out: &mut Map<String, Json>) -> Result<(), DerError> {
    let mut list = Vec::new();
    let mut r = Reader::new(der.body);
    while !r.is_empty() {
        let ext = r.expect(SEQUENCE, "an extension")?;
        let mut e = Reader::new(ext.body);
        let id = oid(e.expect(OID, "an extension id")?.body);
        let critical = e.optional(BOOLEAN)?.is_some_and(|b| b.body.first().is_some_and(|v| *v != 0));
        let value = e.expect(OCTET_STRING, "an extension value")?.body;
        list.push(json!({"Id": id, "Critical": critical, "Value": b64(value)}));
        match id.as_slice() {
            [2, 5, 29, 15] => {
                let bits = Reader::new(value).expect(BIT_STRING, "key usage")?;
                let mut usage = 0u64;
                for (i, byte) in bits.body.iter().skip(1).enumerate().take(2) {
                    for bit in 0..8 {
                        if byte & (0x80 >> bit) != 0 {
                            usage |= 1 << (i * 8 + bit);
                        }
                    }
                }
                out.insert("KeyUsage".into(), json!(usage));
            }
            [2, 5, 29, 19] => {
                let mut bc = Reader::new(Reader::new(value).expect(SEQUENCE, "basic constraints")?.body);
                let ca = bc.optional(BOOLEAN)?.is_some_and(|b| b.body.first().is_some_and(|v| *v != 0));
                let path = bc.optional(INTEGER)?.map(|i| int64(i.body));
                out.insert("BasicConstraintsValid".into(), json!(true));
                out.insert("IsCA".into(), json!(ca));
                out.insert("MaxPathLen".into(), json!(path.unwrap_or(-1)));
                out.insert("MaxPathLenZero".into(), json!(path == Some(0)));
            }
            [2, 5, 29, 37] => {
                let mut ek = Reader::new(Reader::new(value).expect(SEQUENCE, "extended key usage")?.body);
                while !ek.is_empty() {
                    if let Some(n) = ext_key_usage(&oid(ek.expect(OID, "a key purpose")?.body)) {
                        push(out, "ExtKeyUsage", json!(n));
                    }
                }
            }
            [2, 5, 29, 17] => {
                general_names(Reader::new(value).expect(SEQUENCE, "alternative names")?.body, out, "URIs")?;
            }
            [2, 5, 29, 35] => {
                let mut aki = Reader::new(Reader::new(value).expect(SEQUENCE, "authority key id")?.body);
                if let Some(id) = aki.optional(0x80)? {
                    out.insert("AuthorityKeyId".into(), b64(id.body));
                }
            }
            [1, 3, 6, 1, 5, 5, 7, 1, 1] => {
                let mut aia = Reader::new(Reader::new(value).expect(SEQUENCE, "authority information access")?.body);
                while !aia.is_empty() {
                    let desc = aia.expect(SEQUENCE, "an access description")?;
                    let mut d = Reader::new(desc.body);
                    let method = oid(d.expect(OID, "an access method")?.body);
                    let location = d.next()?;
                    if location.tag == 0x86 {
                        let url = Json::String(String::from_utf8_lossy(location.body).into_owned());
                        match method.as_slice() {
                            [1, 3, 6, 1, 5, 5, 7, 48, 1] => push(out, "OCSPServer", url),
                            [1, 3, 6, 1, 5, 5, 7, 48, 2] => push(out, "IssuingCertificateURL", url),
                            _ => {}
                        }
                    }
                }
            }
            [2, 5, 29, 31] => {
                // Every URI of every distribution point.
                let mut uris = Vec::new();
                collect_uris(value, &mut uris)?;
                for u in uris {
                    push(out, "CRLDistributionPoints", Json::String(u));
                }
            }
            [2, 5, 29, 32] => {
                let mut policies = Reader::new(Reader::new(value).expect(SEQUENCE, "certificate policies")?.body);
                while !policies.is_empty() {
                    let p = policies.expect(SEQUENCE, "a policy")?;
                    let id = oid(Reader::new(p.body).expect(OID, "a policy id")?.body);
                    push(out, "PolicyIdentifiers", json!(id));
                }
            }
            _ => {}
        }
    }
    out.insert("Extensions".into(), Json::Array(list));
    Ok(())
}

fn collect_uris(body: &[u8], out: &mut Vec<String>) -> Result<(), DerError> {
    let mut r = Reader::new(body);
    while !r.is_empty() {
        let e = r.next()?;
        if e.tag == 0x86 {
            out.push(String::from_utf8_lossy(e.body).into_owned());
        } else if e.tag & 0x20 != 0 {
            collect_uris(e.body, out)?;
        }
    }
    Ok(())
}

fn certificate(der: &[u8]) -> Result<Json, DerError> {
    let cert = Reader::new(der).expect(SEQUENCE, "a certificate")?;
    let mut c = Reader::new(cert.body);
    let tbs = c.expect(SEQUENCE, "the certificate body")?;
    let _alg = c.expect(SEQUENCE, "the signature algorithm")?;
    let signature = c.expect(BIT_STRING, "the signature")?;
    let mut t = Reader::new(tbs.body);
    t.optional(0xa0)?;
    let serial = t.expect(INTEGER, "the serial number")?;
    t.expect(SEQUENCE, "the signature algorithm")?;
    let issuer = t.expect(SEQUENCE, "the issuer")?;
    let validity = t.expect(SEQUENCE, "the validity")?;
    let subject = t.expect(SEQUENCE, "the subject")?;
    let spki = t.expect(SEQUENCE, "the public key")?;
    let mut v = Reader::new(validity.body);
    let (not_before, not_after) = (time(v.next()?)?, time(v.next()?)?);
    let public_key = rsa_key(spki)?;
    let mut out = Map::new();
    out.insert("Raw".into(), b64(cert.raw));
    out.insert("RawTBSCertificate".into(), b64(tbs.raw));
    out.insert("RawSubjectPublicKeyInfo".into(), b64(spki.raw));
    out.insert("RawSubject".into(), b64(subject.raw));
    out.insert("RawIssuer".into(), b64(issuer.raw));
    out.insert("Signature".into(), b64(signature.body.get(1..).unwrap_or_default()));
    out.insert("PublicKeyAlgorithm".into(), json!(1));
    out.insert("PublicKey".into(), public_key);
    out.insert("SerialNumber".into(), json!(int64(serial.body)));
    out.insert("Issuer".into(), name(issuer)?);
    out.insert("NotBefore".into(), Json::String(not_before));
    out.insert("NotAfter".into(), Json::String(not_after));
    out.insert("KeyUsage".into(), json!(0));
    out.insert("BasicConstraintsValid".into(), json!(false));
    out.insert("IsCA".into(), json!(false));
    out.insert("MaxPathLen".into(), json!(0));
    out.insert("MaxPathLenZero".into(), json!(false));
    while !t.is_empty() {
        let e = t.next()?;
        if e.tag == 0xa3 {
            extensions(Reader::new(e.body).expect(SEQUENCE, "the extensions")?, &mut out)?;
        }
    }
    out.remove("URIs");
    for k in [
        "Extensions",
        "ExtraExtensions",
        "ExtKeyUsage",
        "AuthorityKeyId",
        "OCSPServer",
        "IssuingCertificateURL",
        "DNSNames",
        "EmailAddresses",
        "IPAddresses",
        "PermittedDNSDomains",
        "ExcludedDNSDomains",
        "PermittedIPRanges",
        "ExcludedIPRanges",
        "PermittedEmailAddresses",
        "ExcludedEmailAddresses",
        "PermittedURIDomains",
        "ExcludedURIDomains",
        "CRLDistributionPoints",
        "PolicyIdentifiers",
    ] {
        out.entry(k).or_insert(Json::Null);
    }
    out.insert("PermittedDNSDomainsCritical".into(), json!(false));
    Ok(Json::Object(out))
}

fn certificate_request(der: &[u8]) -> Result<Json, DerError> {
    let csr = Reader::new(der).expect(SEQUENCE, "a certificate request")?;
    let mut c = Reader::new(csr.body);
    let info = c.expect(SEQUENCE, "the request body")?;
    let alg = c.expect(SEQUENCE, "the signature algorithm")?;
    let signature = c.expect(BIT_STRING, "the signature")?;
    let mut i = Reader::new(info.body);
    let version = i.expect(INTEGER, "the version")?;
    let subject = i.expect(SEQUENCE, "the subject")?;
    let spki = i.expect(SEQUENCE, "the public key")?;
    let mut out = Map::new();
    out.insert("Raw".into(), b64(csr.raw));
    out.insert("RawTBSCertificateRequest".into(), b64(info.raw));
    out.insert("RawSubjectPublicKeyInfo".into(), b64(spki.raw));
    out.insert("RawSubject".into(), b64(subject.raw));
    out.insert("Version".into(), json!(int64(version.body)));
    out.insert("Signature".into(), b64(signature.body.get(1..).unwrap_or_default()));
    let sig_oid = oid(Reader::new(alg.body).expect(OID, "the signature algorithm")?.body);
    // Go's `SignatureAlgorithm` for the RSA ones it knows.
    let sig_alg = match sig_oid.as_slice() {
        [1, 2, 840, 113_549, 1, 1, 4] => 2,
        [1, 2, 840, 113_549, 1, 1, 5] => 3,
        [1, 2, 840, 113_549, 1, 1, 11] => 4,
        [1, 2, 840, 113_549, 1, 1, 12] => 5,
        [1, 2, 840, 113_549, 1, 1, 13] => 6,
        _ => 0,
    };
    out.insert("SignatureAlgorithm".into(), json!(sig_alg));
    out.insert("PublicKeyAlgorithm".into(), json!(1));
    out.insert("PublicKey".into(), rsa_key(spki)?);
    out.insert("Subject".into(), name(subject)?);
    out.insert("Attributes".into(), Json::Null);
    out.insert("Extensions".into(), Json::Null);
    out.insert("ExtraExtensions".into(), Json::Null);
    for k in ["DNSNames", "EmailAddresses", "IPAddresses", "URIs"] {
        out.insert(k.into(), Json::Null);
    }
    Ok(Json::Object(out))
}

/// Why [`decode_pem`] refuses its input. The messages are Kyverno's, which
/// policies and their tests compare against.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PemError {
    /// No complete, base64-encoded PEM block.
    #[error("failed to decode PEM block")]
    Block,
    /// A PEM block of another type (a key, say).
    #[error("PEM block neither contains a CERTIFICATE or CERTIFICATE REQUEST")]
    NotACertificate,
    /// The block's DER is not a certificate or request tollgate can read.
    #[error("{0}")]
    Der(DerError),
}

/// Why a block's DER is not a certificate or request tollgate can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DerError {
    /// The encoding is broken or holds what tollgate does not read: a
    /// truncated element, a bad length or time, a key that is not RSA.
    #[error("{0}")]
    Malformed(&'static str),
    /// Another element than the structure needs at this place.
    #[error("expected {what}, found tag 0x{tag:02x}")]
    Expected {
        /// What the structure needs (`the serial number`).
        what: &'static str,
        /// The DER tag found instead.
        tag: u8,
    },
}

impl From<&'static str> for DerError {
    fn from(message: &'static str) -> Self {
        DerError::Malformed(message)
    }
}

/// Decodes the first PEM block of `input`: a `CERTIFICATE` or a
/// `CERTIFICATE REQUEST` with an RSA key.
pub fn decode_pem(input: &str) -> Result<Json, PemError> {
    let start = input.find("-----BEGIN ").ok_or(PemError::Block)?;
    let rest = &input[start + "-----BEGIN ".len()..];
    let (label, rest) = rest.split_once("-----").ok_or(PemError::Block)?;
    let end = format!("-----END {label}-----");
    let body = &rest[..rest.find(&end).ok_or(PemError::Block)?];
    let b64text: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64text.as_bytes()).map_err(|_| PemError::Block)?;
    match label {
        "CERTIFICATE" => certificate(&der).map_err(PemError::Der),
        "CERTIFICATE REQUEST" => certificate_request(&der).map_err(PemError::Der),
        _ => Err(PemError::NotACertificate),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_digits_of_big_integers() {
        assert_eq!(decimal(&[0x01, 0x00]), "256");
        assert_eq!(decimal(&[0xff; 8]), u64::MAX.to_string());
        assert_eq!(decimal(&[]), "0");
    }

    #[test]
    fn object_identifiers() {
        assert_eq!(oid(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]), vec![1, 2, 840, 113_549, 1, 1, 1]);
        assert_eq!(oid(&[0x55, 0x1d, 0x0f]), vec![2, 5, 29, 15]);
    }

    /// A self-signed certificate made with `openssl req -x509 -newkey
    /// rsa:1024` for this test (its key was thrown away); the figures below
    /// are what `openssl x509 -noout -modulus -dates -serial` prints.
    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIICvzCCAiigAwIBAgIUL9as4vTKFhON5cW1p6ottW0zXZAwDQYJKoZIhvcNAQEL\nBQAwPTELMAkGA1UEBhMCREUxFjAUBgNVBAoMDVRvbGxnYXRlIFRlc3QxFjAUBgNV\nBAMMDXRvbGxnYXRlLnRlc3QwHhcNMjYxMjAyMTgwNDI2WhcNMzYxMTI5MTgwNDI2\nWjA9MQswCQYDVQQGEwJERTEWMBQGA1UECgwNVG9sbGdhdGUgVGVzdDEWMBQGA1UE\nAwwNdG9sbGdhdGUudGVzdDCBnzANBgkqhkiG9w0BAQEFAAOBjQAwgYkCgYEA5q34\nhnQjaCMip24Hcqy7GYetbU2y+wMgF9zxO3//CaH7pJ7HHmh+AeQHrdu7FNoWvIzP\nnQ5R/lSIQEW30ymRkjxtxAgmH7waUGHFFsMUt5ckJtadZPSYCWqEzPVRGY3yVWEg\nLg20NscGHS67xBX+j/v9AvET4mqvWamztSxrkLsCAwEAAaOBuzCBuDAdBgNVHQ4E\nFgQUGgQ68G9j0YGTC6EUKlel1ruvoEcwHwYDVR0jBBgwFoAUGgQ68G9j0YGTC6EU\nKlel1ruvoEcwMwYDVR0RBCwwKoIPYS50b2xsZ2F0ZS50ZXN0hwQKAQIDgRFvcHNA\ndG9sbGdhdGUudGVzdDAOBgNVHQ8BAf8EBAMCAoQwHQYDVR0lBBYwFAYIKwYBBQUH\nAwEGCCsGAQUFBwMCMBIGA1UdEwEB/wQIMAYBAf8CAQAwDQYJKoZIhvcNAQELBQAD\ngYEALvsipGglqP1w0eaWlPT0OUUekTcfHc/ArnehNoDoIDIft+Xk5h2iN7AOaAQ3\nRUUo6QTTUcAwo+5LRkb0w2oYFBuLfIlVxhHBnFCMdOwAus3H7bflMIf742LTc904\ngwF4YGZPjE/wmIaInt/kMwmOvpuURdArJQB7j68dZ7yhsdw=\n-----END CERTIFICATE-----";

    #[test]
    fn a_certificate_decodes_as_go_marshals_it() {
        let c = decode_pem(CERT).expect("decodes");
        assert_eq!(
            c["PublicKey"]["N"],
            "161988705286249061429064349938970329608443316682769900242852819591078366876363116165124927817629923515603935458818477151049888765450861525508156989977722461483440019034380688972834098128799709951864054437566804661913873237495339741254461202557555196510801548632841356271014861678922917501670696170439953846459"
        );
        assert_eq!(c["PublicKey"]["E"], 65537);
        assert_eq!(c["NotBefore"], "2026-12-02T18:04:26Z");
        assert_eq!(c["NotAfter"], "2036-11-29T18:04:26Z");
        // The low 64 bits of serial 2FD6ACE2F4CA16138DE5C5B5A7AA2DB56D335D90.
        assert_eq!(c["SerialNumber"], 0xA7AA_2DB5_6D33_5D90_u64 as i64);
        assert_eq!(c["Issuer"]["CommonName"], "tollgate.test");
        assert_eq!(c["Issuer"]["Organization"], json!(["Tollgate Test"]));
        assert_eq!(c["Issuer"]["Country"], json!(["DE"]));
        assert_eq!(c["DNSNames"], json!(["a.tollgate.test"]));
        assert_eq!(c["IPAddresses"], json!(["10.1.2.3"]));
        assert_eq!(c["EmailAddresses"], json!(["ops@tollgate.test"]));
        // digitalSignature | keyCertSign; serverAuth, clientAuth.
        assert_eq!(c["KeyUsage"], 33);
        assert_eq!(c["ExtKeyUsage"], json!([1, 2]));
        assert_eq!(
            (c["IsCA"].clone(), c["MaxPathLen"].clone(), c["MaxPathLenZero"].clone()),
            (json!(true), json!(0), json!(true))
        );
        assert_eq!(c["Extensions"].as_array().map(Vec::len), Some(6));
        assert!(c["AuthorityKeyId"].is_string());
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(decode_pem("no pem"), Err(PemError::Block));
        // DER `00 00 00`: an element of tag 0, where a SEQUENCE must be.
        assert_eq!(
            decode_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
            Err(PemError::Der(DerError::Expected { what: "a certificate", tag: 0 }))
        );
        // DER `30 05`: a SEQUENCE said to hold 5 bytes, and none follows.
        assert_eq!(
            decode_pem("-----BEGIN CERTIFICATE-----\nMAU=\n-----END CERTIFICATE-----").map_err(|e| e.to_string()),
            Err("truncated DER element".to_owned())
        );
        assert_eq!(
            decode_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
            Err(PemError::NotACertificate)
        );
    }
}
