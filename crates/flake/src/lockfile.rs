//! `flake.lock`, version 7, as current Nix reads and writes it: `{ "nodes": { KEY: NODE },
//! "root": KEY, "version": 7 }`, where the root node has only `inputs` and every other node
//! `inputs` (when it has any), `locked`, `original` and `"flake": false` for a plain source.
//! An input is a node key or, for `follows`, the path of input names from the root.
//!
//! The text is [`crate::json::to_nix_json`] of that object with a final newline, which is what
//! Nix writes byte for byte.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::flakeref::RefAttrs;
use crate::FlakeError;

/// One input of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockedInput {
    /// The key of the node it is locked to.
    Node(String),
    /// `follows`: the input at this path of input names from the root.
    Follows(Vec<String>),
}

/// One node of the lock file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    /// The node's inputs, by name.
    pub inputs: BTreeMap<String, LockedInput>,
    /// The locked reference (none for the root).
    pub locked: Option<RefAttrs>,
    /// The reference as written (none for the root).
    pub original: Option<RefAttrs>,
    /// Whether the source is a flake (`"flake": false` when not).
    pub flake: bool,
}

/// A lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockFile {
    /// The nodes, by key.
    pub nodes: BTreeMap<String, Node>,
    /// The root node's key.
    pub root: String,
}

fn bad(reason: impl Into<String>) -> FlakeError {
    FlakeError::BadLock(reason.into())
}

impl LockFile {
    /// An empty lock file: a root node without inputs.
    pub fn empty() -> LockFile {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            "root".to_owned(),
            Node {
                flake: true,
                ..Node::default()
            },
        );
        LockFile {
            nodes,
            root: "root".to_owned(),
        }
    }

    /// Parses a lock file's text (version 7 only).
    pub fn parse(text: &str) -> Result<LockFile, FlakeError> {
        let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let obj = v.as_object().ok_or_else(|| bad("not a JSON object"))?;
        match obj.get("version").and_then(Value::as_u64) {
            Some(7) => {}
            Some(n) => return Err(bad(format!("version {n} is not supported (only 7)"))),
            None => return Err(bad("it has no version")),
        }
        let root = obj
            .get("root")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("'root' is not a string"))?
            .to_owned();
        let raw = obj
            .get("nodes")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("'nodes' is not an object"))?;
        let mut nodes = BTreeMap::new();
        for (key, n) in raw {
            let n = n
                .as_object()
                .ok_or_else(|| bad(format!("node '{key}' is not an object")))?;
            let mut node = Node {
                flake: true,
                ..Node::default()
            };
            if let Some(inputs) = n.get("inputs") {
                let inputs = inputs
                    .as_object()
                    .ok_or_else(|| bad(format!("the inputs of node '{key}' are not an object")))?;
                for (name, i) in inputs {
                    let input = match i {
                        Value::String(k) => LockedInput::Node(k.clone()),
                        Value::Array(path) => LockedInput::Follows(
                            path.iter()
                                .map(|p| p.as_str().map(str::to_owned))
                                .collect::<Option<Vec<_>>>()
                                .ok_or_else(|| {
                                    bad(format!(
                                        "input '{name}' of node '{key}' is not a path of names"
                                    ))
                                })?,
                        ),
                        _ => {
                            return Err(bad(format!(
                                "input '{name}' of node '{key}' is neither a node key nor a path"
                            )))
                        }
                    };
                    node.inputs.insert(name.clone(), input);
                }
            }
            let attrs = |k: &str| -> Result<Option<RefAttrs>, FlakeError> {
                match n.get(k) {
                    None => Ok(None),
                    Some(Value::Object(m)) => Ok(Some(m.clone())),
                    Some(_) => Err(bad(format!("'{k}' of node '{key}' is not an object"))),
                }
            };
            node.locked = attrs("locked")?;
            node.original = attrs("original")?;
            if let Some(f) = n.get("flake") {
                node.flake = f
                    .as_bool()
                    .ok_or_else(|| bad(format!("'flake' of node '{key}' is not a Boolean")))?;
            }
            if key != &root && (node.locked.is_none() || node.original.is_none()) {
                return Err(bad(format!("node '{key}' has no 'locked' or 'original'")));
            }
            nodes.insert(key.clone(), node);
        }
        if !nodes.contains_key(&root) {
            return Err(bad(format!("the root node '{root}' does not exist")));
        }
        for (key, node) in &nodes {
            for (name, i) in &node.inputs {
                if let LockedInput::Node(k) = i {
                    if !nodes.contains_key(k) {
                        return Err(bad(format!(
                            "input '{name}' of node '{key}' refers to the missing node '{k}'"
                        )));
                    }
                }
            }
        }
        Ok(LockFile { nodes, root })
    }

    /// The lock file as JSON.
    pub fn to_json(&self) -> Value {
        let mut nodes = Map::new();
        for (key, node) in &self.nodes {
            let mut n = Map::new();
            if !node.inputs.is_empty() {
                let mut inputs = Map::new();
                for (name, i) in &node.inputs {
                    let v = match i {
                        LockedInput::Node(k) => Value::String(k.clone()),
                        LockedInput::Follows(p) => {
                            Value::Array(p.iter().cloned().map(Value::String).collect())
                        }
                    };
                    inputs.insert(name.clone(), v);
                }
                n.insert("inputs".into(), Value::Object(inputs));
            }
            if let Some(l) = &node.locked {
                n.insert("locked".into(), Value::Object(l.clone()));
            }
            if let Some(o) = &node.original {
                n.insert("original".into(), Value::Object(o.clone()));
            }
            if !node.flake && key != &self.root {
                n.insert("flake".into(), Value::Bool(false));
            }
            nodes.insert(key.clone(), Value::Object(n));
        }
        let mut top = Map::new();
        top.insert("nodes".into(), Value::Object(nodes));
        top.insert("root".into(), Value::String(self.root.clone()));
        top.insert("version".into(), Value::from(7));
        Value::Object(top)
    }

    /// The text Nix writes (with its final newline).
    pub fn to_text(&self) -> String {
        let mut s = crate::json::to_nix_json(&self.to_json());
        s.push('\n');
        s
    }

    /// The key of the node at `path` (input names from the root), following `follows`.
    pub fn resolve(&self, path: &[String]) -> Result<String, FlakeError> {
        self.resolve_depth(path, 0)
    }

    fn resolve_depth(&self, path: &[String], depth: usize) -> Result<String, FlakeError> {
        if depth > 64 {
            return Err(bad(format!("'follows' loop at '{}'", path.join("/"))));
        }
        let mut key = self.root.clone();
        for name in path {
            let node = &self.nodes[&key];
            key = match node.inputs.get(name) {
                Some(LockedInput::Node(k)) => k.clone(),
                Some(LockedInput::Follows(p)) => self.resolve_depth(p, depth + 1)?,
                None => {
                    return Err(FlakeError::NoSuchInput {
                        path: path.join("/"),
                    })
                }
            };
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"{
  "nodes": {
    "a": {
      "inputs": {
        "b": [
          "b"
        ]
      },
      "locked": {
        "lastModified": 1,
        "narHash": "sha256-AAAA",
        "path": "/a",
        "type": "path"
      },
      "original": {
        "path": "/a",
        "type": "path"
      }
    },
    "b": {
      "flake": false,
      "locked": {
        "lastModified": 2,
        "narHash": "sha256-BBBB",
        "type": "tarball",
        "url": "file:///b.tar.gz"
      },
      "original": {
        "type": "tarball",
        "url": "file:///b.tar.gz"
      }
    },
    "root": {
      "inputs": {
        "a": "a",
        "b": "b"
      }
    }
  },
  "root": "root",
  "version": 7
}
"#;

    #[test]
    fn round_trips_byte_for_byte_and_resolves_follows() {
        let l = LockFile::parse(LOCK).unwrap();
        assert_eq!(l.to_text(), LOCK);
        assert_eq!(l.resolve(&["a".into(), "b".into()]).unwrap(), "b");
        assert!(!l.nodes["b"].flake);
        assert_eq!(LockFile::empty().to_text(), "{\n  \"nodes\": {\n    \"root\": {}\n  },\n  \"root\": \"root\",\n  \"version\": 7\n}\n");
    }

    #[test]
    fn bad_lock_files_are_errors_not_panics() {
        for text in [
            "",
            "[]",
            r#"{"version": 6, "root": "root", "nodes": {"root": {}}}"#,
            r#"{"version": 7, "root": "x", "nodes": {"root": {}}}"#,
            r#"{"version": 7, "root": "root", "nodes": {"root": {"inputs": {"a": "zz"}}}}"#,
            r#"{"version": 7, "root": "root", "nodes": {"root": {"inputs": {"a": 3}}}}"#,
            r#"{"version": 7, "root": "root", "nodes": {"root": {}, "a": {"locked": {}}}}"#,
            r#"{"version": 7, "root": "root", "nodes": {"root": {"inputs": {"a": [1]}}}}"#,
        ] {
            assert!(LockFile::parse(text).is_err(), "{text}");
        }
    }
}
