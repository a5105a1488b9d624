//! Wildcard matching shared by CODEOWNERS segments, Rego namespace
//! selection and Gatekeeper `name` matches.

/// Whether `text` matches `pattern`: `*` any run of characters, `?` one,
/// `\` escapes the next character. No path semantics (`*` crosses `/`).
///
/// ```
/// assert!(tollgate_core::wildcard_match("k8s.*", "k8s.pods"));
/// assert!(tollgate_core::wildcard_match("a?c", "abc"));
/// assert!(!tollgate_core::wildcard_match(r"a\*", "ab"));
/// ```
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    if !pattern.contains(['*', '?', '\\']) {
        return pattern == text;
    }
    if pattern.is_ascii() && text.is_ascii() {
        return wildcard(pattern.as_bytes(), text.as_bytes());
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    wildcard(&p, &t)
}

/// Wildcard matching over any symbols: `*` any run, `?` one, `\\` escapes.
fn wildcard<T: PartialEq + Copy + From<u8>>(p: &[T], t: &[T]) -> bool {
    let (star_c, any_c, esc_c) = (T::from(b'*'), T::from(b'?'), T::from(b'\\'));
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == esc_c && pi + 1 < p.len() && p[pi + 1] == t[ti] {
            pi += 2;
            ti += 1;
        } else if pi < p.len() && (p[pi] == any_c || (p[pi] == t[ti] && p[pi] != star_c && p[pi] != esc_c)) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == star_c {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(sp) = star {
            pi = sp + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == star_c {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn whole_string_globs() {
        assert!(
            wildcard_match("main", "main") && wildcard_match("k8s.*", "k8s.pods") && !wildcard_match("k8s.*", "main")
        );
        assert!(wildcard_match("*-system", "kube-system") && wildcard_match("é?", "éa") && !wildcard_match("a", "ab"));
    }
}
