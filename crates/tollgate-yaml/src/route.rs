//! Routes: symbolic locations inside a document.

use std::fmt;

/// One step of a [`Route`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// A path of keys and indices from a document's root, printed as a JSON
/// pointer (`/spec/template/spec/containers/0/image`).
///
/// ```
/// use tollgate_yaml::Route;
/// let r = Route::root().key("spec").index(0).key("a/b");
/// assert_eq!(r.to_string(), "/spec/0/a~1b");
/// assert_eq!(Route::parse("/spec/0/a~1b"), Route::root().key("spec").key("0").key("a/b"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Route {
    segments: Vec<Segment>,
}

impl Route {
    /// The document root.
    pub fn root() -> Route {
        Route::default()
    }

    /// A route from its segments.
    pub fn from_segments(segments: Vec<Segment>) -> Route {
        Route { segments }
    }

    /// Parses a JSON pointer. Every segment is read as a key; a key that is a
    /// number also addresses a sequence index when the route is followed.
    /// A trailing `/` (as Kyverno writes paths) is ignored.
    pub fn parse(pointer: &str) -> Route {
        let trimmed = pointer.trim_start_matches('/').trim_end_matches('/');
        if trimmed.is_empty() {
            return Route::root();
        }
        Route { segments: trimmed.split('/').map(|s| Segment::Key(s.replace("~1", "/").replace("~0", "~"))).collect() }
    }

    /// This route extended by a key.
    #[must_use]
    pub fn key(mut self, key: &str) -> Route {
        self.segments.push(Segment::Key(key.to_owned()));
        self
    }

    /// This route extended by an index.
    #[must_use]
    pub fn index(mut self, index: usize) -> Route {
        self.segments.push(Segment::Index(index));
        self
    }

    /// Appends a segment in place.
    pub fn push(&mut self, segment: Segment) {
        self.segments.push(segment);
    }

    /// Removes the last segment in place.
    pub fn pop(&mut self) -> Option<Segment> {
        self.segments.pop()
    }

    /// The segments, root first.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// True for the document root.
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segments.is_empty() {
            return f.write_str("/");
        }
        for s in &self.segments {
            match s {
                Segment::Key(k) => write!(f, "/{}", k.replace('~', "~0").replace('/', "~1"))?,
                Segment::Index(i) => write!(f, "/{i}")?,
            }
        }
        Ok(())
    }
}
