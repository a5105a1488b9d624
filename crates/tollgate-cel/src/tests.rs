//! The language as CEL and Kubernetes define it, and the budget on inputs
//! written to exhaust it.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::{Activation, Budget, Error, Session, Value, Variables, compile};

fn activation() -> Activation {
    let mut a = Activation::new(crate::parse_timestamp("2026-12-02T10:00:00Z").expect("valid"));
    a.set(
        "object",
        Value::from_json(&json!({
            "metadata": {"name": "web", "labels": {"app": "web", "team": "a"}},
            "spec": {
                "replicas": 3,
                "containers": [
                    {"name": "app", "image": "nginx:1.27", "resources": {"limits": {"memory": "512Mi"}}},
                    {"name": "sidecar", "image": "envoy"}
                ]
            }
        })),
    );
    for lib in crate::kyverno::LIBRARY_VARIABLES {
        a.set(lib, crate::kyverno::library_value(lib));
    }
    a.set("authorizer", crate::authorizer());
    a
}

const DECLARED: &[&str] =
    &["object", "variables", "json", "yaml", "resource", "http", "globalContext", "image", "authorizer"];

fn eval(expr: &str) -> Result<Value, String> {
    let program = compile(expr, DECLARED).map_err(|e| format!("compile: {e}"))?;
    let a = activation();
    let mut s = Session::new(&a, None, Budget::default());
    s.eval(&program).map_err(|e| e.to_string())
}

fn yes(expr: &str) {
    assert_eq!(eval(expr), Ok(Value::Bool(true)), "{expr}");
}

#[test]
fn the_standard_language() {
    for e in [
        "1 + 2 == 3",
        "object.spec.replicas + 1 == 4",
        "object.spec.replicas * 2 == 6 && 7 / 2 == 3 && 7 % 2 == 1",
        "1u + 2u == 3u && 1 == 1u && 1 == 1.0",
        "'ab' + 'cd' == 'abcd' && size('héllo') == 5",
        "[1, 2] + [3] == [1, 2, 3] && 2 in [1, 2]",
        "{'a': 1}['a'] == 1 && 'a' in {'a': 1}",
        "has(object.metadata.labels) && !has(object.metadata.annotations)",
        "object.spec.containers.all(c, has(c.name))",
        "object.spec.containers.exists(c, c.image == 'envoy')",
        "object.spec.containers.exists_one(c, c.image.startsWith('nginx'))",
        "object.spec.containers.map(c, c.name) == ['app', 'sidecar']",
        "object.spec.containers.filter(c, c.image.contains(':')).size() == 1",
        "object.spec.containers.map(c, c.image.contains(':'), c.name) == ['app']",
        "object.metadata.labels.all(k, k in ['app', 'team'])",
        "true ? 1 == 1 : 1 / 0 == 0",
        "type(1) == int && type('a') == string && int('42') == 42 && string(3) == '3'",
        "double(1) == 1.0 && uint(3) == 3u && string(1.5) == '1.5' && bool('true')",
        "dyn(1) == 1",
        "duration('1h') > duration('30m') && timestamp('2026-01-01T00:00:00Z').getFullYear() == 2026",
        "timestamp('2026-01-02T03:04:05Z') - timestamp('2026-01-01T03:04:05Z') == duration('24h')",
        "'abc'.matches('^a.c$') && matches('abc', 'b')",
    ] {
        yes(e);
    }
}

#[test]
fn errors_are_absorbed_by_a_decisive_operand() {
    yes("1 / 0 == 0 || true");
    yes("!(false && 1 / 0 == 0)");
    yes("[1, 0].exists(x, 1 / x == 1)");
    assert!(eval("[0, 1].all(x, 1 / x == 1)").is_err_and(|e| e.contains("division by zero")));
    assert_eq!(eval("[0, 2].all(x, 1 / x == 1)"), Ok(Value::Bool(false)));
    assert!(eval("object.spec.missing == 1").is_err_and(|e| e.contains("no such key: missing")));
}

#[test]
fn optionals_and_bind() {
    for e in [
        "object.metadata.?annotations.orValue({}) == {}",
        "object.metadata.labels.?team.hasValue()",
        "!object.metadata.?annotations.?x.hasValue()",
        "object.spec.containers[?5].orValue('none') == 'none'",
        "optional.of(1).value() == 1 && !optional.none().hasValue()",
        "optional.none().or(optional.of(2)).value() == 2",
        "optional.ofNonZeroValue('').orValue('x') == 'x'",
        "object.metadata.?labels.optMap(l, l.size()).value() == 2",
        "[?optional.none(), ?optional.of(1)] == [1]",
        "{?'a': optional.none(), 'b': 2} == {'b': 2}",
        "cel.bind(n, object.spec.containers.size(), n * n == 4)",
        "object.spec.containers[0].?resources.limits.memory.orValue('') == '512Mi'",
        "object.spec.containers[1].?securityContext.privileged.orValue(false) == false",
        "object.metadata.?labels['app'].orValue('') == 'web'",
    ] {
        yes(e);
    }
}

#[test]
fn two_variable_comprehensions() {
    for e in [
        "object.spec.containers.all(i, c, i < 2 && has(c.image))",
        "object.metadata.labels.exists(k, v, k == 'app' && v == 'web')",
        "object.spec.containers.transformList(i, c, c.name) == ['app', 'sidecar']",
        "object.metadata.labels.transformMap(k, v, v + '!') == {'app': 'web!', 'team': 'a!'}",
        "object.metadata.labels.transformMapEntry(k, v, {v: k}) == {'web': 'app', 'a': 'team'}",
        "[3, 1, 2].sortBy(x, -x) == [3, 2, 1]",
    ] {
        yes(e);
    }
}

#[test]
fn strings_extension() {
    for e in [
        "'a,b,c'.split(',') == ['a', 'b', 'c'] && 'a,b,c'.split(',', 2) == ['a', 'b,c']",
        "['a', 'b'].join('-') == 'a-b' && ['a', 'b'].join() == 'ab'",
        "'Hello'.lowerAscii() == 'hello' && 'Hello'.upperAscii() == 'HELLO'",
        "'  x '.trim() == 'x' && 'abc'.substring(1) == 'bc' && 'abc'.substring(0, 2) == 'ab'",
        "'abcabc'.indexOf('c') == 2 && 'abcabc'.lastIndexOf('c') == 5 && 'abc'.charAt(1) == 'b'",
        "'aaa'.replace('a', 'b') == 'bbb' && 'aaa'.replace('a', 'b', 1) == 'baa'",
        "'abc'.reverse() == 'cba' && strings.quote('a\"b') == '\"a\\\\\"b\"'",
        "'%s has %d replicas'.format(['web', 3]) == 'web has 3 replicas'",
        "'%.2f'.format([1.234]) == '1.23'",
    ] {
        yes(e);
    }
}

#[test]
fn kubernetes_libraries() {
    for e in [
        "[1, 2, 3].isSorted() && [1, 2, 3].sum() == 6 && [3, 1].min() == 1 && [3, 1].max() == 3",
        "[1, 2, 1].indexOf(1) == 0 && [1, 2, 1].lastIndexOf(1) == 2",
        "'abc123def456'.find('[0-9]+') == '123' && 'abc123def456'.findAll('[0-9]+') == ['123', '456']",
        "url('https://example.com:8080/a?b=c').getHostname() == 'example.com' && url('https://example.com:8080/a').getPort() == '8080'",
        "isURL('https://x.io') && !isURL('not a url')",
        "ip('10.0.0.1').family() == 4 && cidr('10.0.0.0/8').containsIP('10.1.2.3') && !cidr('10.0.0.0/8').containsIP(ip('11.0.0.1'))",
        "cidr('192.168.0.0/16').containsCIDR('192.168.1.0/24') && cidr('10.1.2.3/8').masked() == cidr('10.0.0.0/8')",
        "isIP('::1') && !isIP('::ffff:1.2.3.4') && ip('127.0.0.1').isLoopback()",
        "quantity(object.spec.containers[0].resources.limits.memory).isLessThan(quantity('1Gi'))",
        "quantity('1.5').asApproximateFloat() == 1.5 && quantity('2k').asInteger() == 2000 && isQuantity('1Mi')",
        "quantity('500m').add(quantity('500m')).compareTo(quantity('1')) == 0",
        "semver('1.2.3').isLessThan(semver('1.10.0')) && semver('v1.2', true).major() == 1 && isSemver('1.0.0')",
        "!format.dns1123Label().validate('web').hasValue() && format.dns1123Label().validate('Web_1').hasValue()",
        "format.named('labelValue').hasValue()",
        "lists.range(3) == [0, 1, 2] && [[1], [2, [3]]].flatten() == [1, 2, [3]] && [1, 1, 2].distinct() == [1, 2]",
        "sets.contains([1, 2, 3], [1, 3]) && sets.intersects([1], [1, 2]) && sets.equivalent([1, 2], [2, 1])",
        "math.greatest(1, 5, 3) == 5 && math.least([4, 2]) == 2 && math.abs(-3) == 3 && math.bitAnd(6, 3) == 2",
        "base64.decode(base64.encode(b'hi')) == b'hi'",
    ] {
        yes(e);
    }
}

#[test]
fn kyverno_libraries() {
    for e in [
        "image('nginx').registry() == 'index.docker.io' && image('nginx').repository() == 'library/nginx'",
        "image('ghcr.io/a/b:1.0').tag() == '1.0' && !image('ghcr.io/a/b:1.0').containsDigest() && isImage('nginx:1')",
        "parseServiceAccount('system:serviceaccount:ns:sa').Namespace == 'ns'",
        "json.unmarshal('{\"a\": [1]}').a[0] + 1 == 2 && json.marshal({'a': 1}) == '{\"a\":1}'",
        "yaml.parse('a: 3').a == 3",
        "sha256('abc') == 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'",
        "md5('abc') == '900150983cd24fb0d6963f7d28e17f72' && sha1('abc') == 'a9993e364706816aba3e25717850c26c9cd0d89d'",
        "listObjToMap([{'k': 'a'}], [{'v': 1}], 'k', 'v') == {'a': 1}",
        "time.now() == timestamp('2026-12-02T10:00:00Z') && math.round(1.256, 2) == 1.26",
    ] {
        yes(e);
    }
}

#[test]
fn live_data_needs_a_mock() {
    for e in [
        "resource.Get('v1', 'configmaps', 'ns', 'cm').data.x == 'y'",
        "authorizer.group('').resource('pods').namespace('ns').check('create').allowed()",
        "image.GetMetadata('nginx').config != null",
    ] {
        let program = compile(e, DECLARED).expect("compiles");
        let a = activation();
        let mut s = Session::new(&a, None, Budget::default());
        assert!(matches!(s.eval(&program), Err(Error::LiveData(_))), "{e}");
    }
}

#[test]
fn a_mock_answers_live_data() {
    struct Mock;
    impl crate::LiveData for Mock {
        fn call(&self, library: &str, function: &str, args: &[Value]) -> Option<Result<Value, crate::LiveDataError>> {
            (library == "resource" && function == "Get" && args.len() == 4).then(|| {
                if args[3].as_str() == Some("cm") {
                    Ok(Value::from_json(&json!({"data": {"x": "y"}})))
                } else {
                    Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no such configmap").into())
                }
            })
        }
    }
    let program = compile("resource.Get('v1', 'configmaps', 'ns', 'cm').data.x == 'y'", DECLARED).expect("compiles");
    let mut a = activation();
    a.set_live_data(std::sync::Arc::new(Mock));
    let mut s = Session::new(&a, None, Budget::default());
    assert_eq!(s.eval(&program), Ok(Value::Bool(true)));
    // What the mock does not hold fails the expression with its reason.
    let missing = compile("resource.Get('v1', 'configmaps', 'ns', 'other').data.x == 'y'", DECLARED).expect("compiles");
    assert_eq!(s.eval(&missing), Err(Error::Runtime("resource.Get(): no such configmap".into())));
}

#[test]
fn compile_errors_have_places() {
    let e = compile("object.spec.\n  containers.all(c, ", DECLARED).expect_err("syntax error");
    assert_eq!(e.line, 2);
    let e = compile("objct.spec", DECLARED).expect_err("undeclared");
    assert!(e.message.contains("undeclared reference to 'objct'"), "{e}");
    let e = compile("object.spec.containers.size() > 0 && 'a'.nosuch()", DECLARED).expect_err("undeclared function");
    assert!(e.message.contains("nosuch"), "{e}");
    assert_eq!((e.line, e.column), (1, 42), "{e}");
}

#[test]
fn variables_are_lazy_and_evaluated_once() {
    let vars = Variables::new(vec![
        ("containers".into(), compile("object.spec.containers", DECLARED).expect("compiles")),
        ("boom".into(), compile("1 / 0 == 1", DECLARED).expect("compiles")),
        ("names".into(), compile("variables.containers.map(c, c.name)", DECLARED).expect("compiles")),
    ]);
    let a = activation();
    let mut s = Session::new(&a, Some(&vars), Budget::default());
    let p = compile("variables.names == ['app', 'sidecar']", DECLARED).expect("compiles");
    assert_eq!(s.eval(&p), Ok(Value::Bool(true)));
    // `boom` is never evaluated unless used.
    let p = compile("variables.containers.all(c, c.image != '')", DECLARED).expect("compiles");
    assert_eq!(s.eval(&p), Ok(Value::Bool(true)));
    let p = compile("variables.boom", DECLARED).expect("compiles");
    assert!(s.eval(&p).is_err());
    // A variable that is an `object` path passes its path on.
    let p = compile("variables.containers.all(c, c.image.contains(':'))", DECLARED).expect("compiles");
    assert_eq!(s.eval(&p), Ok(Value::Bool(false)));
    let read: Vec<String> = s.last_read().expect("a path").iter().map(|p| format!("{p:?}")).collect();
    assert_eq!(read.join("/"), "Key(\"spec\")/Key(\"containers\")/Index(1)/Key(\"image\")");
}

fn budget_error(expr: &str) -> Error {
    let program = compile(expr, DECLARED).expect("compiles");
    let a = activation();
    let started = Instant::now();
    let mut s = Session::new(&a, None, Budget::default());
    let r = s.eval(&program);
    assert!(started.elapsed() < Duration::from_secs(5), "{expr} took {:?}", started.elapsed());
    r.expect_err(expr)
}

#[test]
fn runaway_expressions_end_within_the_budget() {
    // Exponential comprehension.
    let e = budget_error(
        "lists.range(100).all(a, lists.range(100).all(b, lists.range(100).all(c, lists.range(100).all(d, a + b + c + d >= 0))))",
    );
    assert!(matches!(e, Error::Budget(_)), "{e}");
    // A string doubled until it is 10 MB.
    let e = budget_error(
        "cel.bind(s, 'aaaaaaaaaa', cel.bind(s2, s + s + s + s + s + s + s + s + s + s, cel.bind(s3, s2 + s2 + s2 + s2 + s2 + s2 + s2 + s2 + s2 + s2, lists.range(1000).map(i, s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3 + s3).join().size() > 0)))",
    );
    assert!(matches!(e, Error::Budget(_)), "{e}");
    // `replace` growth: each step multiplies the size by 10.
    let e = budget_error(
        "'a'.replace('a', 'aaaaaaaaaa').replace('a', 'aaaaaaaaaa').replace('a', 'aaaaaaaaaa').replace('a', 'aaaaaaaaaa').replace('a', 'aaaaaaaaaa').replace('a', 'aaaaaaaaaa').replace('a', 'aaaaaaaaaa').replace('a', 'aaaaaaaaaa').size() > 0",
    );
    assert!(matches!(e, Error::Budget(_)), "{e}");
}

#[test]
fn a_catastrophic_regex_is_linear() {
    // Exponential for a backtracking engine; linear for RE2 and `regex`.
    let started = Instant::now();
    let r = eval(
        "('a' + 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' + '!').matches('^(a+)+$')",
    );
    assert_eq!(r, Ok(Value::Bool(false)));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(eval("'a'.matches('(')").is_err_and(|e| e.contains("invalid regular expression")));
}

#[test]
fn run_time_type_errors_are_errors() {
    assert!(eval("object.spec.replicas + 'a' == 1").is_err_and(|e| e.contains("no such overload")));
    assert!(eval("object.metadata.name.size() + object.spec > 1").is_err());
    assert!(eval("9223372036854775807 + 1 > 0").is_err_and(|e| e.contains("overflow")));
}
