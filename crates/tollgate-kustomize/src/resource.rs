//! Resources of a render: an object, its identity, and the identities it had
//! before transformers renamed it (name references are rewritten with them).

use crate::node::{FileId, RNode};

/// A resource's identity: group, version, kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ResId {
    /// API group (`apps`; empty for the core group).
    pub group: String,
    /// API version (`v1`).
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace (empty when unset).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ResId {
    /// The identity of an object.
    pub fn of(node: &RNode) -> ResId {
        let api = node.str_at("apiVersion").unwrap_or_default();
        let (group, version) = match api.rsplit_once('/') {
            Some((g, v)) => (g.to_owned(), v.to_owned()),
            None => (String::new(), api.to_owned()),
        };
        ResId {
            group,
            version,
            kind: node.str_at("kind").unwrap_or_default().to_owned(),
            namespace: node.str_at("metadata/namespace").unwrap_or_default().to_owned(),
            name: node.str_at("metadata/name").unwrap_or_default().to_owned(),
        }
    }

    /// Same object: kustomize treats an unset namespace and `default` alike.
    pub fn same(&self, other: &ResId) -> bool {
        self.group == other.group
            && self.version == other.version
            && self.kind == other.kind
            && self.name == other.name
            && same_namespace(&self.namespace, &other.namespace)
    }

    /// Same kind, name and namespace, whatever the group and version.
    pub fn same_object(&self, other: &ResId) -> bool {
        self.kind == other.kind && self.name == other.name && same_namespace(&self.namespace, &other.namespace)
    }

    /// kustomize's effective namespace: none (`~X`) for a cluster-scoped
    /// kind, `default` for an unset one.
    pub fn effective_namespace(&self) -> &str {
        if crate::transform::cluster_scoped(&self.group, &self.kind) {
            "~X"
        } else if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        }
    }

    /// `Kind.version.group/name.namespace`, as kustomize prints ids.
    pub fn display(&self) -> String {
        let group = if self.group.is_empty() { "[noGrp]" } else { &self.group };
        let ns = if self.namespace.is_empty() { "[noNs]" } else { &self.namespace };
        format!("{}.{}.{group}/{}.{ns}", self.kind, self.version, self.name)
    }
}

fn same_namespace(a: &str, b: &str) -> bool {
    let norm = |n: &str| if n.is_empty() { "default" } else { n }.to_owned();
    norm(a) == norm(b)
}

/// How a generated resource joins resources of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behavior {
    /// A new resource; a second with the same id is an error.
    #[default]
    Create,
    /// Merged into the existing one.
    Merge,
    /// Replaces the existing one.
    Replace,
}

/// One resource being rendered.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The object.
    pub node: RNode,
    /// The file it was read from (or the kustomization that generated it).
    pub file: FileId,
    /// Its identity when it was first read or generated.
    pub original: ResId,
    /// The identities stored before each transformer that may rename it
    /// (namespace, prefix, suffix, JSON patch, hash), oldest first, with the
    /// effective namespace (`default` for an unset one): kustomize's
    /// previous ids. Name references to any of them are rewritten.
    pub previous: Vec<ResId>,
    /// The name prefixes applied, innermost kustomization first.
    pub prefixes: Vec<String>,
    /// The name suffixes applied, innermost kustomization first.
    pub suffixes: Vec<String>,
    /// Set for generated ConfigMaps and Secrets.
    pub generated: Option<Generated>,
    /// The legacy `vars` whose value this object gives.
    pub ref_vars: Vec<String>,
}

/// What a generator said about a resource it made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    /// How it joins an existing resource of the same name.
    pub behavior: Behavior,
    /// Whether its name gets the content hash suffix.
    pub hash: bool,
}

impl Resource {
    /// A resource read from `file`.
    pub fn new(node: RNode, file: FileId) -> Resource {
        let original = ResId::of(&node);
        Resource {
            node,
            file,
            original,
            previous: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            generated: None,
            ref_vars: Vec::new(),
        }
    }

    /// The current identity.
    pub fn id(&self) -> ResId {
        ResId::of(&self.node)
    }

    /// Stores the current identity before a transformer that may change it
    /// (kustomize's `StorePreviousId`: every time, with the effective
    /// namespace).
    pub fn store_previous_id(&mut self) {
        let mut id = self.id();
        if id.namespace.is_empty() && !crate::transform::cluster_scoped(&id.group, &id.kind) {
            "default".clone_into(&mut id.namespace);
        }
        self.previous.push(id);
    }

    /// The previous identities as kustomize reads them back: kind, name and
    /// namespace as stored, group and version of the object as it is now.
    pub fn previous_ids(&self) -> Vec<ResId> {
        let now = self.id();
        self.previous
            .iter()
            .map(|p| ResId { group: now.group.clone(), version: now.version.clone(), ..p.clone() })
            .collect()
    }

    /// Whether `id` is one of the identities this resource had or has.
    pub fn was(&self, id: &ResId) -> bool {
        self.id().same(id) || self.original.same(id) || self.previous.iter().any(|p| p.same(id))
    }

    /// The kind.
    pub fn kind(&self) -> &str {
        self.node.str_at("kind").unwrap_or_default()
    }

    /// The name.
    pub fn name(&self) -> &str {
        self.node.str_at("metadata/name").unwrap_or_default()
    }
}
